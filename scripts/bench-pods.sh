#!/usr/bin/env bash
# Benchmark (not a test): the pod lifecycle, podrt vs Debian's podman, in one run.
#
# What it measures, and why:
#   1. Wall time of one whole pod lifecycle, create -> all containers running ->
#      deleted, for a pod of three busybox `sleep 3600` containers:
#        podrt:  podrt apply -f pod.yaml            (returns once all 3 run)
#                podrt delete pod bench --grace-period=0 --force
#                (the pod joins podrt's built-in CNI network: veth, IP lease;
#                podman's pod has no network, so this handicaps podrt)
#        podman: podman pod create --network none   (+ its infra container)
#                podman run -d --pod benchp IMAGE sleep 3600   (x3)
#                podman pod rm -f -t 0 benchp
#      Both tools are daemonless CLIs, so this is the latency a user or a script
#      sees. Runs are interleaved (spread evenly when the counts differ) so drift
#      on the machine hits both alike; each tool gets one untimed warm-up, which
#      also checks the pod really runs (podrt get pods: 3/3 Running; podman: 4
#      containers running). Printed: min/median/max per tool, the median of the
#      "up" (create..running) and "down" (delete) halves, and podman/podrt.
#   2. What a running pod costs while it runs: with one pod of each up, the
#      resident processes that belong to the pod but are not its containers'
#      own processes (podrt: the pod's supervisor, plus its pod init with
#      shareProcessNamespace; podman: one conmon per container including the
#      infra container, plus the infra container's catatonit), with their
#      VmRSS (/proc/PID/status) and PSS (/proc/PID/smaps_rollup) summed.
#
# Both tools use the same vendored busybox image (vendor-images/build.sh) and
# private state under one temp dir: podrt a private --root and --cgroup-parent
# /podrt-bench; podman private --root/--runroot/--tmpdir, network config dir and
# containers.conf, and --cgroup-parent /podrt-bench-podman. The whole script
# re-executes itself in a private mount and network namespace, so the mounts and
# the pod network (bridge, veths) it or the tools make vanish with it, and a tmpfs there hides /var/lib/containers, where podman
# would otherwise write its host-wide blob-info cache whatever --root says.
#
# Env: BENCH_PODRT_RUNS (default 20), BENCH_PODMAN_RUNS (default 10),
#      PODRT (default target/release/podrt; built with `cargo build --release
#      --bins` only when missing).
# Needs root, podman, conmon and crun (`apt-get install -y podman`, which
# scripts/setup.sh does from scripts/apt-packages.txt).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs_podrt="${BENCH_PODRT_RUNS:-20}"
runs_podman="${BENCH_PODMAN_RUNS:-10}"
podrt="${PODRT:-$repo/target/release/podrt}"
oci_dir="$repo/vendor-images/build/oci-image"
oci_tar="$repo/vendor-images/build/busybox-oci.tar"
cg_podrt=/podrt-bench
cg_podman=/podrt-bench-podman

die() { echo "error: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "scripts/bench-pods.sh must run as root (pods need namespaces, mounts and cgroups)"
for v in runs_podrt runs_podman; do
    case "${!v}" in '' | *[!0-9]* | 0) die "BENCH_PODRT_RUNS and BENCH_PODMAN_RUNS must be positive integers" ;; esac
done
for tool in podman conmon crun; do
    command -v "$tool" >/dev/null 2>&1 ||
        die "$tool not found; install Debian's podman (it pulls in conmon and crun): apt-get install -y podman (or run scripts/setup.sh)"
done
for tool in unshare python3; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found"
done

# Everything below runs in a private mount namespace (see the header).
if [ "${PODRT_BENCH_PODS_IN_NS:-}" != 1 ]; then
    exec unshare --mount --net --propagation private -- \
        env PODRT_BENCH_PODS_IN_NS=1 bash "${BASH_SOURCE[0]}" "$@"
fi

# Inputs: build what is missing, never rebuild what exists.
if [ ! -x "$podrt" ]; then
    echo "building podrt (missing: $podrt)"
    (cd "$repo" && cargo build --release --bins)
fi
[ -x "$podrt" ] || die "no podrt binary at $podrt"
if [ ! -f "$oci_dir/index.json" ] || [ ! -f "$oci_tar" ]; then
    "$repo/vendor-images/build.sh"
fi

tmp="$(mktemp -d /tmp/podrt-bench-pods.XXXXXX)"
root="$tmp/podrt-root"
pm_dir="$tmp/podman"
mkdir -p "$root" "$pm_dir/networks" "$pm_dir/tmp"
made_varlib=0
# /sys/fs/cgroup is one tmpfs for every mount namespace: a mount point made
# there for hugetlb outlives our namespace and must be removed on exit, or
# podman (and everything else) would take the empty dir for a controller.
made_hugetlb=0

# Debian's crun 1.8.1 rejects a hybrid cgroup host while a controller (here
# hugetlb) lives only in cgroup2; giving hugetlb a v1 hierarchy makes it accept
# the host (DESIGN.md section 7). Only mounted when not there already; being in
# our private mount namespace, this mount goes away with the script.
if [ "$(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null || true)" = cgroup2fs ] &&
    ! mountpoint -q /sys/fs/cgroup/hugetlb; then
    [ -d /sys/fs/cgroup/hugetlb ] || made_hugetlb=1
    mkdir -p /sys/fs/cgroup/hugetlb
    mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb
    echo "note: mounted the hugetlb cgroup v1 controller at /sys/fs/cgroup/hugetlb (private mount namespace) so crun accepts this hybrid cgroup host"
fi

export CONTAINERS_CONF="$pm_dir/containers.conf"
cat >"$CONTAINERS_CONF" <<EOF
[containers]
# This host lacks CAP_SYS_RESOURCE: podman's default rlimits exceed our hard limits.
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
[network]
network_config_dir = "$pm_dir/networks"
EOF
pm=(podman --root "$pm_dir/storage" --runroot "$pm_dir/run" --tmpdir "$pm_dir/tmp")
# The vendored image is busybox:latest, which Kubernetes' default policy would
# pull from Docker Hub each time: offline, use the store's.
printf 'defaultImagePullPolicy: IfNotPresent\n' > "$tmp/podrt-config.yaml"
pr=("$podrt" --config "$tmp/podrt-config.yaml" --root "$root" --cgroup-parent "$cg_podrt" --cni-conf-dir "$tmp/net.d")

# On any exit: delete the pods, reset podman's private storage, kill whatever
# of ours survived (every such process names the temp dir on its command line),
# unmount what is left under the temp dir (in our namespace: only mounts the
# tools made), remove it, and remove the benchmark's cgroups if empty.
cleanup() {
    local name pid m d
    set +e
    if [ -d "$root/pods" ]; then
        for name in $("${pr[@]}" get pods -o name 2>/dev/null); do
            "${pr[@]}" delete pod "${name#pod/}" --grace-period=0 --force --ignore-not-found >/dev/null 2>&1
        done
    fi
    if [ -d "$pm_dir/storage" ]; then
        "${pm[@]}" pod rm -a -f -t 0 >/dev/null 2>&1
        "${pm[@]}" rm -a -f -t 0 >/dev/null 2>&1
        "${pm[@]}" system reset -f >/dev/null 2>&1
    fi
    # The bracket keeps grep from matching its own command line.
    while read -r pid; do
        [ "$pid" != $$ ] && [ "$pid" != "$BASHPID" ] && kill -9 "$pid" 2>/dev/null &&
            echo "cleanup: killed leftover process $pid" >&2
    done < <(grep -lE -- "${tmp%.*}[.]${tmp##*.}" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3)
    sleep 0.2
    while read -r m; do
        umount -l "$m" 2>/dev/null
    done < <(awk -v t="$tmp/" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
    rm -rf --one-file-system "$tmp"
    for d in /sys/fs/cgroup/*"$cg_podrt" /sys/fs/cgroup/*"$cg_podman"; do
        [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
        [ -d "$d" ] && echo "cleanup: $d is not empty, left in place" >&2
    done
    if [ "$made_hugetlb" = 1 ]; then
        umount /sys/fs/cgroup/hugetlb 2>/dev/null
        rmdir /sys/fs/cgroup/hugetlb 2>/dev/null
    fi
    umount /var/lib/containers 2>/dev/null
    [ "$made_varlib" = 1 ] && rmdir /var/lib/containers 2>/dev/null
    return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# podman's blob-info cache lives in /var/lib/containers/cache whatever --root says.
if [ ! -d /var/lib/containers ]; then
    mkdir /var/lib/containers
    made_varlib=1
fi
mount -t tmpfs -o size=16m,mode=0700 podrt-bench /var/lib/containers

# The same image in both stores.
"${pr[@]}" image import "$oci_dir" --name busybox >/dev/null
loaded="$("${pm[@]}" load -q -i "$oci_tar" | sed -n 's/^Loaded image[^:]*: *//p' | head -n1)"
[ -n "$loaded" ] || die "podman load printed no image name"
"${pm[@]}" tag "$loaded" localhost/bench-busybox:latest

cat >"$tmp/pod.yaml" <<'EOF'
apiVersion: v1
kind: Pod
metadata:
  name: bench
spec:
  containers:
  - {name: a, image: busybox, command: ["sleep", "3600"]}
  - {name: b, image: busybox, command: ["sleep", "3600"]}
  - {name: c, image: busybox, command: ["sleep", "3600"]}
EOF

echo "podrt:  $("$podrt" --version 2>/dev/null || echo "$podrt"), $podrt"
echo "podman: $("${pm[@]}" --version), $(crun --version | head -n1), conmon $(conmon --version | sed -n 's/^conmon version //p')"
echo "pod: 3 busybox containers running 'sleep 3600'; podrt's on its built-in CNI network, podman's with --network none; runs: podrt $runs_podrt, podman $runs_podman (interleaved)"

# The driver times each iteration with perf_counter_ns (no shell or `date` fork
# inside the timed region) and does the process accounting.
python3 - "$runs_podrt" "$runs_podman" "$tmp/pod.yaml" "$root" "$cg_podman" -- \
    "${pr[@]}" -- "${pm[@]}" <<'PY'
import glob, json, os, statistics, subprocess, sys, time

argv = sys.argv[1:]
n_podrt, n_podman, pod_yaml, root, cg_podman = int(argv[0]), int(argv[1]), argv[2], argv[3], argv[4]
rest = argv[6:]
sep = rest.index("--")
PODRT, PODMAN = rest[:sep], rest[sep + 1:]
IMAGE = "localhost/bench-busybox:latest"


def run(cmd):
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"error: {' '.join(cmd)} failed (exit {p.returncode}):\n{p.stderr.strip()}")
    return p.stdout


def podrt_up():
    run(PODRT + ["apply", "-f", pod_yaml])


def podrt_down():
    run(PODRT + ["delete", "pod", "bench", "--grace-period=0", "--force"])


def podman_up():
    run(PODMAN + ["pod", "create", "--name", "benchp", "--network", "none",
                  "--cgroup-parent", cg_podman])
    for _ in range(3):
        run(PODMAN + ["run", "-d", "--pod", "benchp", IMAGE, "sleep", "3600"])


def podman_down():
    run(PODMAN + ["pod", "rm", "-f", "-t", "0", "benchp"])


def podrt_check():
    lines = run(PODRT + ["get", "pods"]).splitlines()
    row = [l.split() for l in lines[1:] if l.split()[:1] == ["bench"]]
    if not row or row[0][1:3] != ["3/3", "Running"]:
        sys.exit("error: podrt get pods does not show bench 3/3 Running:\n" + "\n".join(lines))


def podman_check():
    ids = run(PODMAN + ["ps", "-a", "-q", "--no-trunc", "--filter", "pod=benchp"]).split()
    states = run(PODMAN + ["inspect", "--format", "{{.State.Status}}"] + ids).split() if ids else []
    if states != ["running"] * 4:
        sys.exit(f"error: podman pod benchp: container states {states}, want 4 running (infra + 3)")


TOOLS = {"podrt": (podrt_up, podrt_down, podrt_check), "podman": (podman_up, podman_down, podman_check)}


def iteration(tool):
    up, down, _ = TOOLS[tool]
    t0 = time.perf_counter_ns()
    up()
    t1 = time.perf_counter_ns()
    down()
    t2 = time.perf_counter_ns()
    return (t2 - t0) / 1e6, (t1 - t0) / 1e6, (t2 - t1) / 1e6


# Untimed warm-up with a correctness check (podman also builds its pause image here).
for tool, (up, down, check) in TOOLS.items():
    up()
    check()
    down()
print("check: podrt get pods showed bench 3/3 Running; podman showed infra + 3 containers running")

# Interleave, spreading the tool with more runs evenly: next is whichever tool
# has done the smaller fraction of its runs (podrt first on ties).
want = {"podrt": n_podrt, "podman": n_podman}
times = {t: [] for t in want}
while any(len(times[t]) < want[t] for t in want):
    tool = min((t for t in want if len(times[t]) < want[t]), key=lambda t: len(times[t]) / want[t])
    times[tool].append(iteration(tool))

med = {}
print(f"\n{'tool':<7} {'runs':>4} {'min ms':>8} {'median ms':>10} {'max ms':>8}   {'up ms':>7} {'down ms':>8}  (medians)")
for tool, t in times.items():
    total = [x[0] for x in t]
    med[tool] = statistics.median(total)
    print(f"{tool:<7} {len(t):>4} {min(total):>8.1f} {med[tool]:>10.1f} {max(total):>8.1f}   "
          f"{statistics.median(x[1] for x in t):>7.1f} {statistics.median(x[2] for x in t):>8.1f}")
ratio = med["podman"] / med["podrt"]
print(f"\nmedian podman/podrt = {ratio:.1f}: podrt is {ratio:.1f}x faster per pod create->running->delete")

# ---- resident cost of a running pod ----


def procs():
    """pid -> (ppid, comm) for every process."""
    out = {}
    for d in glob.glob("/proc/[0-9]*"):
        try:
            with open(d + "/stat") as f:
                s = f.read()
        except OSError:
            continue
        comm = s[s.index("(") + 1:s.rindex(")")]
        out[int(d[6:])] = (int(s[s.rindex(")") + 2:].split()[1]), comm)
    return out


def children(table, pid):
    return [p for p, (pp, _) in table.items() if pp == pid]


def mem_kib(pid):
    rss = pss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                pss = int(line.split()[1])
    return rss, pss


def podrt_pod_procs():
    """The pod's own resident processes and its containers' main processes."""
    for path in glob.glob(os.path.join(root, "pods", "*", "pod.json")):
        with open(path) as f:
            rec = json.load(f)
        if rec.get("name") == "bench":
            break
    else:
        sys.exit("error: no pod.json for pod bench")
    runtime = [rec["supervisor"]["pid"]]
    if rec.get("podInit"):
        runtime.append(rec["podInit"]["pid"])
    table = procs()
    # Every other child of the supervisor / pod init is a container's process.
    ctrs = [c for p in runtime for c in children(table, p) if c not in runtime]
    return runtime, ctrs, table


def podman_pod_procs():
    ids = run(PODMAN + ["ps", "-a", "-q", "--no-trunc", "--filter", "pod=benchp"]).split()
    fmt = "{{.State.Pid}} {{.State.ConmonPid}} {{.IsInfra}}"
    runtime, ctrs = [], []
    for line in run(PODMAN + ["inspect", "--format", fmt] + ids).splitlines():
        pid, conmon, infra = line.split()
        runtime.append(int(conmon))
        (runtime if infra == "true" else ctrs).append(int(pid))
    return runtime, ctrs, procs()


podrt_up()
podman_up()
podrt_check()
podman_check()
time.sleep(1)  # let both settle after start-up

rows = []
for tool, find in (("podrt", podrt_pod_procs), ("podman", podman_pod_procs)):
    runtime, ctrs, table = find()
    # Anything else under the pod's processes that is not a container's main
    # process (nor below one) would be the runtime's too: count it, and say so.
    extra = [c for p in runtime for c in children(table, p) if c not in runtime and c not in ctrs]
    if extra:
        print(f"note: {tool}: extra processes under the pod: {extra}")
        runtime += extra
    mem = {p: mem_kib(p) for p in runtime}
    rss, pss = sum(m[0] for m in mem.values()), sum(m[1] for m in mem.values())
    detail = ", ".join(f"{table[p][1]}[{p}] {mem[p][0] / 1024:.1f}" for p in runtime)
    ctr_comm = sorted({table[c][1] for c in ctrs if c in table})
    rows.append((tool, len(runtime), rss, pss, detail, len(ctrs), ctr_comm))

print(f"\nresident processes per running pod (not counting the containers' own processes)")
print(f"{'tool':<7} {'procs':>5} {'RSS MiB':>8} {'RSS/proc':>9} {'PSS MiB':>8}")
for tool, n, rss, pss, *_ in rows:
    print(f"{tool:<7} {n:>5} {rss / 1024:>8.1f} {rss / 1024 / n:>9.2f} {pss / 1024:>8.1f}")
print()
for tool, n, rss, pss, detail, nctr, comm in rows:
    print(f"{tool}: {detail} (MiB RSS each); not counted: {nctr} container processes ({'/'.join(comm)})")

podrt_down()
podman_down()
PY
