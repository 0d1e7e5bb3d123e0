#!/usr/bin/env bash
# Benchmark (not a test): what the pod network costs, and whether it stays flat
# as pods accumulate.
#
# What it measures, and why:
#   1. Sandbox + network creation per pod: `podrt apply` (returns once the
#      container runs) and `podrt delete --grace-period=0 --force` of a
#      one-container busybox pod on podrt's built-in CNI network (bridge +
#      host-local + portmap), interleaved with the same pod with
#      `hostNetwork: true` (no CNI at all). The difference of the medians is what
#      the network adds: making the netns pin's veth, the IP lease, the routes,
#      and tearing them down.
#   2. Growth from 1 to 100 pods alive at once: 100 pods are applied one after
#      another and kept; each apply is timed, and the medians are printed per
#      ten pods (pods 1-10, 11-20, ... 91-100 alive). Then they are deleted one by
#      one, timed the same way. A flat line means no step scans what the other
#      pods made (bridge ports, leases, NAT rules) in a way that grows with them.
#      At the peak the script checks 100 leases, 100 bridge ports and 100
#      distinct pod IPs; at the end none of them.
#
# Everything runs in a private network and mount namespace (the script
# re-executes itself under `unshare`), so the bridge podrt0, the veths, leases and
# NAT rules live and die with it and the host's network is never touched.
#
# Env: BENCH_RUNS (default 20), BENCH_PODS (default 100),
#      PODRT (default target/release/podrt; built when missing).
# Needs root, iproute2, iptables and containernetworking-plugins (scripts/setup.sh
# installs them from scripts/apt-packages.txt).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs="${BENCH_RUNS:-20}"
pods="${BENCH_PODS:-100}"
podrt="${PODRT:-$repo/target/release/podrt}"
oci_dir="$repo/vendor-images/build/oci-image"
cg=/podrt-bench-network

die() { echo "error: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "scripts/bench-network.sh must run as root"
for v in runs pods; do
    case "${!v}" in '' | *[!0-9]* | 0) die "BENCH_RUNS and BENCH_PODS must be positive integers" ;; esac
done
for tool in unshare python3 ip iptables; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found (run scripts/setup.sh)"
done
[ -x /usr/lib/cni/bridge ] || die "no CNI plugins in /usr/lib/cni: apt-get install -y containernetworking-plugins"

if [ "${PODRT_BENCH_NET_IN_NS:-}" != 1 ]; then
    exec unshare --mount --net --propagation private -- \
        env PODRT_BENCH_NET_IN_NS=1 bash "${BASH_SOURCE[0]}" "$@"
fi
ip link set lo up

if [ ! -x "$podrt" ]; then
    echo "building podrt (missing: $podrt)"
    (cd "$repo" && cargo build --release --bins)
fi
[ -f "$oci_dir/index.json" ] || "$repo/vendor-images/build.sh"

tmp="$(mktemp -d /tmp/podrt-bench-network.XXXXXX)"
root="$tmp/root"
# The vendored image is busybox:latest, which Kubernetes' default policy would
# pull from Docker Hub each time: offline, use the store's.
printf 'defaultImagePullPolicy: IfNotPresent\n' > "$tmp/podrt-config.yaml"
pr=("$podrt" --config "$tmp/podrt-config.yaml" --root "$root" --cgroup-parent "$cg" --cni-conf-dir "$tmp/net.d")

cleanup() {
    local name m d
    set +e
    if [ -d "$root/pods" ]; then
        for name in $("${pr[@]}" get pods -o name 2>/dev/null); do
            "${pr[@]}" delete pod "${name#pod/}" --grace-period=0 --force --ignore-not-found >/dev/null 2>&1
        done
    fi
    while read -r m; do
        umount -l "$m" 2>/dev/null
    done < <(awk -v t="$tmp/" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
    rm -rf --one-file-system "$tmp"
    for d in /sys/fs/cgroup/*"$cg"; do
        [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
        [ -d "$d" ] && echo "cleanup: $d is not empty, left in place" >&2
    done
    return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"${pr[@]}" image import "$oci_dir" --name busybox >/dev/null
echo "podrt: $("$podrt" --version), $podrt; runs: $runs; pods alive at the peak: $pods"
echo "plugins: $(dpkg-query -W -f='containernetworking-plugins ${Version}' containernetworking-plugins 2>/dev/null || echo unknown)"

python3 - "$runs" "$pods" "$tmp" "$root" -- "${pr[@]}" <<'PY'
import os, statistics, subprocess, sys, time

runs, pods, tmp, root = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
PODRT = sys.argv[6:]

def run(cmd):
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"error: {' '.join(cmd)} failed (exit {p.returncode}):\n{p.stderr.strip()}")
    return p.stdout

def manifest(name, host_network):
    path = os.path.join(tmp, f"{name}.yaml")
    hn = "  hostNetwork: true\n" if host_network else ""
    with open(path, "w") as f:
        f.write(f"apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nspec:\n{hn}"
                "  containers:\n  - {name: c, image: busybox, command: [sleep, '3600']}\n")
    return path

def timed(cmd):
    t0 = time.perf_counter_ns()
    run(cmd)
    return (time.perf_counter_ns() - t0) / 1e6

def leases():
    d = os.path.join(root, "cni", "networks", "podrt")
    try:
        return [n for n in os.listdir(d) if n != "lock" and not n.startswith("last_reserved_ip")]
    except FileNotFoundError:
        return []

def bridge_ports():
    # Not /sys/class/net: this sysfs is the host's, mounted before our netns.
    p = subprocess.run(["ip", "-o", "link", "show", "master", "podrt0"], capture_output=True, text=True)
    return len(p.stdout.splitlines()) if p.returncode == 0 else 0

def pod_ip(name):
    out = run(PODRT + ["get", "pods", name, "-o", "wide"]).splitlines()[1].split()
    return out[5]

# ---- 1. network vs hostNetwork, interleaved ----
kinds = {"network": manifest("netpod", False), "hostNetwork": manifest("hostpod", True)}
names = {"network": "netpod", "hostNetwork": "hostpod"}
for k, m in kinds.items():  # warm-up and check
    run(PODRT + ["apply", "-f", m])
    ip = pod_ip(names[k])
    if (k == "network") != ip.startswith("10.88."):
        sys.exit(f"error: {k} pod has IP {ip!r}")
    run(PODRT + ["delete", "pod", names[k], "--grace-period=0", "--force"])
times = {k: [] for k in kinds}
for _ in range(runs):
    for k, m in kinds.items():
        up = timed(PODRT + ["apply", "-f", m])
        down = timed(PODRT + ["delete", "pod", names[k], "--grace-period=0", "--force"])
        times[k].append((up, down))
print(f"\n1. one-container pod, apply (until running) and delete, {runs} interleaved runs each")
print(f"{'pod':<12} {'apply min':>10} {'median':>8} {'max':>8}   {'delete median':>13}")
med = {}
for k, t in times.items():
    ups = [x[0] for x in t]
    med[k] = (statistics.median(ups), statistics.median(x[1] for x in t))
    print(f"{k:<12} {min(ups):>10.1f} {med[k][0]:>8.1f} {max(ups):>8.1f}   {med[k][1]:>13.1f}  ms")
print(f"the network adds {med['network'][0] - med['hostNetwork'][0]:.1f} ms to apply and "
      f"{med['network'][1] - med['hostNetwork'][1]:.1f} ms to delete (difference of medians)")

# ---- 2. growth with pods alive ----
path = manifest("grow", False)
ups, ips = [], set()
for i in range(pods):
    ups.append(timed(PODRT + ["apply", "-f", path, "--name", f"p{i + 1}"]))
for i in range(pods):
    ips.add(pod_ip(f"p{i + 1}"))
peak = (len(leases()), bridge_ports(), len(ips))
if peak != (pods, pods, pods):
    sys.exit(f"error: at the peak: {peak[0]} leases, {peak[1]} bridge ports, {peak[2]} distinct IPs; want {pods} each")
downs = []
for i in range(pods):
    downs.append(timed(PODRT + ["delete", "pod", f"p{pods - i}", "--grace-period=0", "--force"]))
end = (len(leases()), bridge_ports())
if end != (0, 0):
    sys.exit(f"error: after deleting all: {end[0]} leases, {end[1]} bridge ports left")

print(f"\n2. {pods} pods applied one after another and kept, then deleted one by one")
print(f"checked: {pods} leases, {pods} bridge ports, {pods} distinct IPs at the peak; 0 leases and ports at the end")
print(f"{'pods alive':>12} {'apply median ms':>16} {'delete median ms':>17}")
step = max(1, pods // 10)
for lo in range(0, pods, step):
    hi = min(pods, lo + step)
    # The delete of pod k ran with k pods alive; downs[j] had pods - j alive.
    d = [downs[pods - k] for k in range(lo + 1, hi + 1)]
    print(f"{lo + 1:>5}-{hi:<6} {statistics.median(ups[lo:hi]):>16.1f} {statistics.median(d):>17.1f}")
first, last = statistics.median(ups[:step]), statistics.median(ups[-step:])
print(f"apply with {pods} alive / with 1-{step} alive: {last / first:.2f}x")
PY
