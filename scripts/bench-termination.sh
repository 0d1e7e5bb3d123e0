#!/usr/bin/env bash
# Benchmark (not a test): how fast podrt's graceful delete is.
#   1. A pod of 10 containers that each exit on SIGTERM: time from `podrt delete`
#      to the pod being gone (containers are stopped in parallel, so this should
#      be far below a second).
#   2. A container that ignores SIGTERM, deleted with --grace-period 2: the delete's
#      wall time minus the 2 s grace period is how late the SIGKILL came, plus the
#      removal of the pod (an upper bound on the lateness; target <= 50 ms).
# Needs root, target/release/podrt and vendor-images/build (scripts/setup.sh).
# Runs in a private network namespace (re-executed under `unshare --net`), so the
# pods' built-in CNI network lives and dies with the script, never on the host.
# Env: RUNS (default 10).
set -euo pipefail
[ "$(id -u)" -eq 0 ] || { echo "error: run as root" >&2; exit 1; }
if [ "${PODRT_BENCH_TERM_IN_NS:-}" != 1 ]; then
    exec unshare --net -- env PODRT_BENCH_TERM_IN_NS=1 bash "${BASH_SOURCE[0]}" "$@"
fi
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
podrt="$repo/target/release/podrt"
[ -x "$podrt" ] || (cd "$repo" && cargo build --release --bins)
[ -d "$repo/vendor-images/build/oci-image" ] || "$repo/vendor-images/build.sh"
runs="${RUNS:-10}"
tmp="$(mktemp -d /tmp/podrt-bench-term.XXXXXX)"
cg="/podrt-bench-term-$$"
# The vendored image is busybox:latest, which Kubernetes' default policy would
# pull from Docker Hub each time: offline, use the store's.
printf 'defaultImagePullPolicy: IfNotPresent\n' > "$tmp/podrt-config.yaml"
P=("$podrt" --config "$tmp/podrt-config.yaml" --root "$tmp/root" --cgroup-parent "$cg" --cni-conf-dir "$tmp/net.d")
cleanup() {
    for p in $("${P[@]}" get pods -o name 2>/dev/null); do
        "${P[@]}" delete pod "${p#pod/}" --grace-period=0 --force >/dev/null 2>&1 || true
    done
    rm -rf "$tmp"
    for d in /sys/fs/cgroup/*/"${cg#/}" /sys/fs/cgroup/"${cg#/}"; do
        [ -d "$d" ] && rmdir "$d" 2>/dev/null || true
    done
}
trap cleanup EXIT
"${P[@]}" image import "$repo/vendor-images/build/oci-image" --name busybox >/dev/null

{
    echo "apiVersion: v1"; echo "kind: Pod"; echo "metadata: {name: ten}"; echo "spec:"
    echo "  terminationGracePeriodSeconds: 30"; echo "  containers:"
    for i in $(seq 1 10); do
        echo "  - {name: c$i, image: busybox, command: [sh, -c, \"trap 'exit 0' TERM; while true; do sleep 0.1; done\"]}"
    done
} > "$tmp/ten.yaml"
cat > "$tmp/stubborn.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: stubborn}
spec:
  terminationGracePeriodSeconds: 30
  containers:
  - {name: c, image: busybox, command: [sh, -c, "trap '' TERM; while true; do sleep 0.1; done"]}
YAML

python3 - "$runs" "${P[@]}" <<'PY'
import statistics, subprocess, sys, time
runs = int(sys.argv[1]); P = sys.argv[2:]
def ok(*a):
    subprocess.run(P + list(a), check=True, stdout=subprocess.DEVNULL)
def timed(*a):
    t = time.perf_counter(); ok(*a); return (time.perf_counter() - t) * 1000
ten, late = [], []
tmp = P[P.index("--root") + 1].rsplit("/", 1)[0]
for _ in range(runs):
    ok("apply", "-f", f"{tmp}/ten.yaml"); time.sleep(0.3)
    ten.append(timed("delete", "pod", "ten"))
    ok("apply", "-f", f"{tmp}/stubborn.yaml"); time.sleep(0.3)
    late.append(timed("delete", "pod", "stubborn", "--grace-period", "2") - 2000)
def row(name, xs):
    print(f"{name:<48} {min(xs):8.1f} {statistics.median(xs):8.1f} {max(xs):8.1f}")
print(f"{'(ms, ' + str(runs) + ' runs)':<48} {'min':>8} {'median':>8} {'max':>8}")
row("delete of 10 TERM-handling containers", ten)
row("SIGKILL lateness after a 2 s grace (+ removal)", late)
PY
