#!/usr/bin/env bash
# Benchmark (not a test): wall time of `RUNTIME run` of /bin/true on the
# vendored busybox bundle, podrt-runc vs crun vs runc, interleaved per round.
# Env: BENCH_RUNS (rounds, default 30), PODRT_RUNC (default target/release/podrt-runc).
# Must run as root. Prints median/min ms per runtime and podrt/crun, podrt/runc ratios.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs="${BENCH_RUNS:-30}"
podrt="${PODRT_RUNC:-$repo/target/release/podrt-runc}"
src_bundle="$repo/vendor-images/build/bundle"

if [ "$(id -u)" -ne 0 ]; then
    echo "error: scripts/bench.sh must run as root (the runtimes create namespaces, mounts and cgroups)" >&2
    exit 1
fi
case "$runs" in '' | *[!0-9]* | 0) echo "error: BENCH_RUNS must be a positive integer" >&2; exit 1 ;; esac

# The bundle is cheap to build offline, so build it rather than fail.
[ -f "$src_bundle/config.json" ] || "$repo/vendor-images/build.sh"

# Pick the runtimes that exist; a missing one is skipped, not fatal.
names=() paths=()
add_runtime() {
    if [ -n "$2" ] && [ -x "$2" ]; then
        names+=("$1") paths+=("$2")
    else
        echo "skipping $1: not installed (${2:-not on PATH})"
    fi
}
add_runtime podrt-runc "$podrt"
add_runtime crun "$(command -v crun || true)"
add_runtime runc "$(command -v runc || true)"
[ "${#names[@]}" -gt 0 ] || { echo "error: no runtime to benchmark" >&2; exit 1; }

# Debian's crun 1.8.1 rejects a hybrid cgroup host ("cgroups in hybrid mode not
# supported") while any controller (here hugetlb) lives only in cgroup2; giving
# hugetlb its own v1 hierarchy makes it accept the host. Left mounted on purpose.
if [[ " ${names[*]} " == *" crun "* ]] &&
    [ "$(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null || true)" = cgroup2fs ] &&
    ! mountpoint -q /sys/fs/cgroup/hugetlb; then
    mkdir -p /sys/fs/cgroup/hugetlb
    mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb
    echo "note: mounted the hugetlb cgroup v1 controller at /sys/fs/cgroup/hugetlb so crun accepts this hybrid cgroup host"
fi

tmp="$(mktemp -d /tmp/podrt-bench.XXXXXX)"
# On any exit: force-delete containers left in each runtime's private --root
# (every subdirectory there is a container id), then drop the temp dir.
cleanup() {
    local i dir
    for i in "${!names[@]}"; do
        for dir in "$tmp/root-${names[$i]}"/*/; do
            [ -d "$dir" ] || continue
            "${paths[$i]}" --root "$tmp/root-${names[$i]}" delete --force "$(basename "$dir")" >/dev/null 2>&1 || true
        done
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Private bundle copy: run /bin/true without a tty, and never ask for an
# rlimit above our own hard limit (this host lacks CAP_SYS_RESOURCE).
cp -a "$src_bundle" "$tmp/bundle"
python3 - "$tmp/bundle/config.json" <<'PY'
import json, resource, sys
path = sys.argv[1]
with open(path) as f:
    spec = json.load(f)
proc = spec["process"]
proc["args"] = ["/bin/true"]
proc["terminal"] = False
for rl in proc.get("rlimits", []):
    res = getattr(resource, rl["type"], None)
    if res is not None:
        hard = resource.getrlimit(res)[1]
        if hard != resource.RLIM_INFINITY:
            rl["hard"] = min(rl["hard"], hard)
            rl["soft"] = min(rl["soft"], rl["hard"])
with open(path, "w") as f:
    json.dump(spec, f, indent="\t")
PY

args=()
for i in "${!names[@]}"; do
    mkdir -p "$tmp/root-${names[$i]}"
    args+=("${names[$i]}" "${paths[$i]}" "$tmp/root-${names[$i]}")
done

echo "benchmark: $runs rounds of '<runtime> --root DIR run --bundle BUNDLE ID' running /bin/true"
# A python driver times each run with perf_counter_ns (no shell or `date`
# fork inside the timed region).
python3 - "$runs" "$tmp/bundle" "${args[@]}" <<'PY'
import os, statistics, subprocess, sys, time

runs, bundle, rest = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
rts = [tuple(rest[i:i + 3]) for i in range(0, len(rest), 3)]  # (name, path, root)

def run_once(name, path, root, tag):
    cid = f"podrt-bench-{os.getpid()}-{name}-{tag}"
    t0 = time.perf_counter_ns()
    p = subprocess.run([path, "--root", root, "run", "--bundle", bundle, cid],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    dt = time.perf_counter_ns() - t0
    # `run` removes the container itself; force-delete anything it left.
    if os.path.exists(os.path.join(root, cid)):
        subprocess.run([path, "--root", root, "delete", "--force", cid],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return p.returncode, dt, p.stderr.decode(errors="replace").strip()

# One untimed warm-up each (page cache, first cgroup creation); a runtime
# that cannot run the bundle at all is reported and dropped.
active = []
for rt in rts:
    rc, _, err = run_once(*rt, "warmup")
    if rc == 0:
        active.append(rt)
    else:
        print(f"skipping {rt[0]}: warm-up run failed (exit {rc}): {err}")

times = {rt[0]: [] for rt in active}
fails = {rt[0]: 0 for rt in active}
for i in range(runs):
    for rt in active:  # interleaved A/B/C so drift hits every runtime alike
        rc, dt, err = run_once(*rt, i)
        if rc == 0:
            times[rt[0]].append(dt / 1e6)
        else:
            fails[rt[0]] += 1
            if fails[rt[0]] == 1:
                print(f"{rt[0]}: run {i} failed (exit {rc}): {err}")

print(f"\n{'runtime':<12} {'ok':>4} {'fail':>4} {'median ms':>10} {'min ms':>8}")
stats = {}
for name, t in times.items():
    if t:
        stats[name] = (statistics.median(t), min(t))
        print(f"{name:<12} {len(t):>4} {fails[name]:>4} {stats[name][0]:>10.2f} {stats[name][1]:>8.2f}")
    else:
        print(f"{name:<12} {0:>4} {fails[name]:>4} {'-':>10} {'-':>8}")

print()
for other in ("crun", "runc"):
    if "podrt-runc" in stats and other in stats:
        (pm, pn), (om, on) = stats["podrt-runc"], stats[other]
        print(f"podrt/{other}: median {pm / om:.2f}x  min {pn / on:.2f}x")
    else:
        print(f"podrt/{other}: n/a (need both podrt-runc and {other} results)")
PY
