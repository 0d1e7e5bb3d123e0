#!/usr/bin/env bash
# Benchmark (not a test): what Services cost, and whether it stays flat.
#
# What it measures, and why:
#   1. The cluster DNS from a pod: queries per second (a few outstanding at a
#      time) and the median latency of single queries, for a Service name,
#      asked from the network namespace of a running pod to the agent's
#      resolver on the bridge's address. Beside it, the same queries to
#      dnsmasq (Debian's dnsmasq-base, a common host resolver) serving a
#      static name on another address of the same bridge, when installed: the
#      host's own resolver is not asked, as nothing here leaves the private
#      network namespace.
#   2. The rules: connection setup time (TCP connect to ClusterIP:80 and
#      back, median of many) from the pod through one Service with 3 endpoints,
#      then with 100 such Services (300 endpoint rules) in the table; the goal
#      is flat, <= 1.2x. Also how long the agent takes to carry 100 new
#      Services (apply until every cluster IP answers) and the table's size.
#
# Everything runs in a private network and mount namespace (the script
# re-executes itself under `unshare`): the bridge, the nftables table and the
# agent's DNS address live and die with it.
#
# Env: BENCH_QUERIES (default 2000), BENCH_CONNECTS (default 300),
#      BENCH_SERVICES (default 100), PODRT (default target/release/podrt).
# Needs root, python3, nsenter, libnftables1 and the CNI plugins
# (scripts/setup.sh); dnsmasq is optional.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
queries="${BENCH_QUERIES:-2000}"
connects="${BENCH_CONNECTS:-300}"
services="${BENCH_SERVICES:-100}"
podrt="${PODRT:-$repo/target/release/podrt}"
oci_dir="$repo/vendor-images/build/oci-image"
cg=/podrt-bench-services

die() { echo "error: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "scripts/bench-services.sh must run as root"
for v in queries connects services; do
    case "${!v}" in '' | *[!0-9]* | 0) die "BENCH_QUERIES, BENCH_CONNECTS and BENCH_SERVICES must be positive integers" ;; esac
done
for tool in unshare python3 nsenter ip; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found (run scripts/setup.sh)"
done

if [ "${PODRT_BENCH_SVC_IN_NS:-}" != 1 ]; then
    exec unshare --mount --net --propagation private -- \
        env PODRT_BENCH_SVC_IN_NS=1 bash "${BASH_SOURCE[0]}" "$@"
fi
ip link set lo up

if [ ! -x "$podrt" ]; then
    echo "building podrt (missing: $podrt)"
    (cd "$repo" && cargo build --release --bins)
fi
[ -f "$oci_dir/index.json" ] || "$repo/vendor-images/build.sh"

tmp="$(mktemp -d /tmp/podrt-bench-services.XXXXXX)"
root="$tmp/root"
printf 'defaultImagePullPolicy: IfNotPresent\n' > "$tmp/podrt-config.yaml"
pr=("$podrt" --config "$tmp/podrt-config.yaml" --root "$root" --state-dir "$tmp/state"
    --cgroup-parent "$cg" --cni-conf-dir "$tmp/net.d")
agent=""
dnsmasq_pid=""

cleanup() {
    local name m d
    set +e
    [ -n "$agent" ] && kill "$agent" 2>/dev/null && wait "$agent" 2>/dev/null
    [ -n "$dnsmasq_pid" ] && kill "$dnsmasq_pid" 2>/dev/null
    if [ -d "$tmp/state/objects" ]; then
        "${pr[@]}" delete -f "$tmp/app.yaml" --grace-period=0 --force --ignore-not-found >/dev/null 2>&1
    fi
    if [ -d "$root/pods" ]; then
        for name in $("${pr[@]}" get pods -A -o name 2>/dev/null); do
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
echo "podrt: $("$podrt" --version), $podrt"
"${pr[@]}" serve --dns-upstream 127.0.0.1 >"$tmp/agent.log" 2>&1 &
agent=$!
for _ in $(seq 100); do [ -f "$root/dns/server.json" ] && break; sleep 0.05; done
[ -f "$root/dns/server.json" ] || die "the agent did not serve DNS: $(cat "$tmp/agent.log")"

cat > "$tmp/app.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: c
        image: busybox
        command: ["sh", "-c", "mkdir /w && hostname > /w/index.html && exec httpd -f -p 8080 -h /w"]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - {name: c, image: busybox, command: [sleep, "3600"]}
EOF
"${pr[@]}" apply -f "$tmp/app.yaml" >/dev/null

if command -v dnsmasq >/dev/null 2>&1; then
    # A second address on the bridge for it, once the bridge exists.
    ip addr add 10.88.255.253/32 dev podrt0
    dnsmasq --no-daemon --no-resolv --no-hosts --bind-interfaces --listen-address=10.88.255.253 \
        --port=53 --address=/ref.bench.test/10.96.7.7 --cache-size=1000 >"$tmp/dnsmasq.log" 2>&1 &
    dnsmasq_pid=$!
fi

python3 - "$queries" "$connects" "$services" "$tmp" "$root" "${dnsmasq_pid:+10.88.255.253}" -- "${pr[@]}" <<'PY'
import json, os, socket, statistics, struct, subprocess, sys, time

queries, connects, nservices = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
tmp, root, reference = sys.argv[4], sys.argv[5], sys.argv[6]
PODRT = sys.argv[8:]

def run(args, check=True):
    p = subprocess.run(PODRT + args, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if check and p.returncode != 0:
        sys.exit(f"error: podrt {' '.join(args)} failed (exit {p.returncode}):\n{p.stderr.strip()}")
    return p.stdout

def wait(what, f, secs=60):
    end = time.time() + secs
    while time.time() < end:
        if f():
            return
        time.sleep(0.05)
    sys.exit(f"error: timed out waiting for {what}")

def pods():
    return json.loads(run(["get", "pods", "-o", "json"]))["items"]

def ready(p):
    return any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))

wait("4 ready pods", lambda: sum(1 for p in pods() if ready(p)) == 4)
client = next(p for p in pods() if p["metadata"]["name"] == "client")
netns = os.path.join(root, "pods", client["metadata"]["uid"], "ns", "net")
if not os.path.exists(netns):
    sys.exit(f"error: no network namespace pin at {netns}")
dns = json.load(open(os.path.join(root, "dns", "server.json")))["address"]

def in_pod(code, *args):
    """Runs python `code` in the client pod's network namespace; its stdout."""
    p = subprocess.run(["nsenter", f"--net={netns}", sys.executable, "-c", code, *args],
                       capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"error: in the pod's netns: {p.stderr.strip()}")
    return p.stdout

DNS_CLIENT = r'''
import socket, statistics, struct, sys, time
server, name, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
def query(i):
    q = struct.pack(">HHHHHH", i & 0xffff, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.connect((server, 53))
lat = []
for i in range(n // 4):  # single queries: latency
    t = time.perf_counter_ns(); s.send(query(i)); r = s.recv(4096)
    if struct.unpack(">H", r[6:8])[0] < 1: sys.exit(f"no answer for {name}")
    lat.append((time.perf_counter_ns() - t) / 1e3)
window, sent, got = 8, 0, 0  # a few outstanding: throughput
t0 = time.perf_counter()
while got < n:
    while sent < n and sent - got < window:
        s.send(query(sent)); sent += 1
    s.recv(4096); got += 1
qps = n / (time.perf_counter() - t0)
print(f"{qps:.0f} {statistics.median(lat):.1f}")
'''

print(f"\n1. DNS from a pod: {queries} queries with 8 outstanding (qps), {queries // 4} single (median latency)")
print(f"{'resolver':<34} {'qps':>8} {'median us':>10}")
rows = [("podrt serve", dns, "web.default.svc.cluster.local")]
if reference:
    rows.append(("dnsmasq (static name)", reference, "ref.bench.test"))
else:
    print("(dnsmasq not installed: no reference resolver; apt-get install -y dnsmasq-base)")
results = {}
for label, server, name in rows:
    qps, med = in_pod(DNS_CLIENT, server, name, str(queries)).split()
    results[label] = (float(qps), float(med))
    print(f"{label + ' ' + server:<34} {float(qps):>8.0f} {float(med):>10.1f}")
if reference:
    a, b = results["podrt serve"], results["dnsmasq (static name)"]
    print(f"podrt / dnsmasq: {a[0] / b[0]:.2f}x the qps, {a[1] / b[1]:.2f}x the latency")

CONNECT = r'''
import socket, statistics, sys, time
ip, n = sys.argv[1], int(sys.argv[2])
lat = []
for _ in range(n):
    t = time.perf_counter_ns()
    s = socket.create_connection((ip, 80), timeout=2)
    s.close()
    lat.append((time.perf_counter_ns() - t) / 1e3)
print(f"{statistics.median(lat):.1f}")
'''

def cluster_ip(name):
    return json.loads(run(["get", "svc", name, "-o", "json"]))["spec"]["clusterIP"]

def answers(ip):
    code = "import socket,sys\ntry:\n socket.create_connection((sys.argv[1], 80), timeout=1).close()\nexcept OSError:\n sys.exit(1)\n"
    return subprocess.run(["nsenter", f"--net={netns}", sys.executable, "-c", code, ip]).returncode == 0

web = cluster_ip("web")
wait("the web Service to answer", lambda: answers(web))
one = float(in_pod(CONNECT, web, str(connects)))

with open(os.path.join(tmp, "many.yaml"), "w") as f:
    for i in range(nservices):
        f.write(f"---\napiVersion: v1\nkind: Service\nmetadata: {{name: s{i}}}\nspec:\n"
                "  selector: {app: web}\n  ports: [{port: 80, targetPort: 8080}]\n")
t0 = time.perf_counter()
run(["apply", "-f", os.path.join(tmp, "many.yaml")])
ips = [cluster_ip(f"s{i}") for i in range(nservices)]
wait(f"{nservices} Services to answer", lambda: answers(ips[-1]) and answers(ips[0]))
carried = time.perf_counter() - t0
many = float(in_pod(CONNECT, ips[len(ips) // 2], str(connects)))
table = subprocess.run(["nft", "-j", "list", "ruleset"], capture_output=True, text=True)
rules = table.stdout.count('"rule"') if table.returncode == 0 else None

print(f"\n2. TCP connect through a ClusterIP (3 endpoints), median of {connects}")
print(f"{'Services in the table':<24} {'connect median us':>18}")
print(f"{1:<24} {one:>18.1f}")
print(f"{nservices + 1:<24} {many:>18.1f}")
print(f"with {nservices + 1} / with 1: {many / one:.2f}x (goal <= 1.2x)")
print(f"apply of {nservices} Services until they answer: {carried * 1000:.0f} ms"
      + (f"; rules in the table: {rules}" if rules is not None else " (nft not installed: no rule count)"))
PY
