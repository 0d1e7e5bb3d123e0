#!/usr/bin/env bash
# Benchmark (not a test): how long the node agent (`podrt serve`) takes to bring
# a Deployment up and to roll it over.
#
# What it measures, per run:
#   1. apply → all Ready: `podrt apply` of a 10-replica busybox Deployment until
#      `podrt rollout status` says it rolled out (10 pods made by the agent's
#      controllers, each through the sandbox API with its own supervisor).
#   2. rollout: `podrt apply` of the same Deployment with a new env value
#      (RollingUpdate, maxSurge 25%, maxUnavailable 25%) until `rollout status`
#      says it rolled out: 10 new pods made and 10 old ones deleted within the
#      limits.
# Then the Deployment is deleted (with its pods) before the next run. The medians
# over BENCH_RUNS runs are printed.
#
# No comparison: there is no kubelet (or other Deployment controller) on this
# machine to run the same Deployment, so these are podrt's own figures, to watch
# for regressions.
#
# Everything runs in a private mount and network namespace (the script
# re-executes itself under `unshare`), so the pod network (bridge, veths, NAT
# rules) and mounts live and die with it and the host's network is never touched.
# Only public tools: bash, date, sort.
#
# Env: BENCH_RUNS (default 3), BENCH_REPLICAS (default 10),
#      PODRT (default target/release/podrt; built when missing).
# Needs root.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs="${BENCH_RUNS:-3}"
replicas="${BENCH_REPLICAS:-10}"
podrt="${PODRT:-$repo/target/release/podrt}"
oci_dir="$repo/vendor-images/build/oci-image"
cgroup_parent=/podrt-bench-workloads

die() { echo "error: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "scripts/bench-workloads.sh must run as root (pods need namespaces, mounts and cgroups)"
for v in runs replicas; do
    case "${!v}" in '' | *[!0-9]* | 0) die "BENCH_RUNS and BENCH_REPLICAS must be positive integers" ;; esac
done
command -v unshare >/dev/null 2>&1 || die "unshare not found (util-linux)"

# Everything below runs in private namespaces (see the header).
if [ "${PODRT_BENCH_WORKLOADS_IN_NS:-}" != 1 ]; then
    exec unshare --mount --net --propagation private -- \
        env PODRT_BENCH_WORKLOADS_IN_NS=1 bash "${BASH_SOURCE[0]}" "$@"
fi
ip link set lo up 2>/dev/null || true

if [ ! -x "$podrt" ]; then
    echo "building podrt (missing: $podrt)"
    (cd "$repo" && cargo build --release --bins)
fi
[ -x "$podrt" ] || die "no podrt binary at $podrt"
[ -f "$oci_dir/index.json" ] || "$repo/vendor-images/build.sh"

tmp="$(mktemp -d /tmp/podrt-bench-workloads.XXXXXX)"
pr=("$podrt" --root "$tmp/root" --state-dir "$tmp/state" --cgroup-parent "$cgroup_parent" --cni-conf-dir "$tmp/net.d")
agent_pid=""

# On any exit: stop our agent (by its PID), delete what is left, unmount what is
# left under the temp dir, remove it and the benchmark's cgroups if empty.
cleanup() {
    set +e
    [ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
    "${pr[@]}" delete deployment web --ignore-not-found >/dev/null 2>&1
    for p in $("${pr[@]}" get pods -o name 2>/dev/null); do
        "${pr[@]}" delete "$p" --grace-period=0 --force >/dev/null 2>&1
    done
    grep -o " $tmp[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m"; done
    rm -rf "$tmp"
    find /sys/fs/cgroup -depth -type d -path "*$cgroup_parent*" -exec rmdir {} + 2>/dev/null
}
trap cleanup EXIT

"${pr[@]}" image import "$oci_dir" --name busybox >/dev/null

deployment() {
    cat >"$tmp/web.yaml" <<EOF
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: $replicas
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: c
        image: busybox
        env: [{name: GREETING, value: "$1"}]
        command: ["sleep", "3600"]
EOF
    echo "$tmp/web.yaml"
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# Milliseconds from `apply` of the Deployment with GREETING $1 to rolled out.
timed_apply() {
    local file start
    file="$(deployment "$1")"
    start="$(now_ms)"
    "${pr[@]}" apply -f "$file" >/dev/null
    "${pr[@]}" rollout status deployment web --timeout 300s >/dev/null ||
        die "deployment web did not roll out: $("${pr[@]}" get pods 2>&1)"
    echo $(($(now_ms) - start))
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

"${pr[@]}" serve 2>"$tmp/agent.log" &
agent_pid=$!

ups=()
rolls=()
for run in $(seq 1 "$runs"); do
    up="$(timed_apply "one-$run")"
    roll="$(timed_apply "two-$run")"
    ups+=("$up")
    rolls+=("$roll")
    echo "run $run: apply → $replicas ready ${up} ms, rollout ${roll} ms"
    "${pr[@]}" delete deployment web >/dev/null
done

echo
echo "podrt serve, Deployment of $replicas busybox pods, medians of $runs runs:"
echo "  apply → all Ready:  $(printf '%s\n' "${ups[@]}" | median) ms"
echo "  rollout (new env):  $(printf '%s\n' "${rolls[@]}" | median) ms"
