#!/usr/bin/env bash
# Benchmark (not a test): how long the node agent (`podrt serve`) takes to bring
# a Deployment up, to heal it and to roll it over, what the agent costs in memory
# meanwhile, and how long Debian's podman takes to play the same Deployment.
#
# What it measures, per run (issue 17 gives the goals; they are printed beside
# the figures, nothing fails on them):
#   1. apply → all Ready: `podrt apply` of a BENCH_REPLICAS-replica (50) busybox
#      Deployment until `podrt rollout status` says it rolled out (the pods made
#      by the agent's controllers, each through the sandbox API with its own
#      supervisor). On the way `get pods` is polled every 0.1 s, so the time
#      until every pod shows 1/1 Running is printed too; the rest is the
#      Deployment's status catching up (written by the agent's next pass).
#   2. deletion → replacement Running, BENCH_DELETES (10) times: with the
#      Deployment rolled out, `podrt delete pod NAME --grace-period=0 --force`
#      of one of its pods, timed from just before the command is issued until
#      `get pods -l app=web` (polled back to back) shows a pod that was not there
#      before as 1/1 Running. The delete waits until the pod is gone and then
#      nudges the agent, as a user's delete does. Goal: median ≤ 200 ms.
#   3. the agent's memory: VmRSS (/proc/PID/status) of the `podrt serve` process
#      the script started, idle (before the first apply) and with the Deployment's
#      pods up; and its VmHWM (peak) in the first run after each step. Goal:
#      ≤ 15 MiB. The pods' supervisors are separate processes, not the agent's:
#      their VmRSS summed is a line of its own.
#   4. rollout: `podrt apply` of the same Deployment with a new env value
#      (RollingUpdate, maxSurge 25%, maxUnavailable 25%) until `rollout status`
#      says it rolled out: every pod replaced within the limits.
#   5. podman: `podman kube play` of the same manifest (podman 4.3 makes one pod
#      per replica, each an infra container and the busybox one, on its default
#      kube bridge network as podrt's pods are on podrt's bridge) until every
#      container runs, then `podman kube down`. podman does not reconcile: a
#      deleted pod stays deleted, so it has no deletion → replacement figure.
#      Skipped, saying so, when podman, conmon or crun is missing or fails.
# Then both Deployments are deleted (with their pods) before the next run. The
# medians over BENCH_RUNS runs (for deletions: over all samples) are printed.
#
# Everything runs in a private mount and network namespace (the script
# re-executes itself under `unshare`), so the pod networks (bridges, veths, NAT
# rules) and mounts live and die with it and the host's network is never touched.
# podman gets private --root/--runroot/--tmpdir, network config dir and
# containers.conf under the temp dir, and tmpfs mounts (in the private mount
# namespace) hide /var/lib/containers, /var/lib/cni and /run/netns, where podman
# and its CNI plugins would otherwise write host-wide state whatever --root says.
# Only public tools: bash (≥ 5 for $EPOCHREALTIME), awk, grep, sort, and podman.
#
# Env: BENCH_RUNS (default 3), BENCH_REPLICAS (default 50), BENCH_DELETES
#      (default 10, deletion samples per run), BENCH_PODMAN (default 1; 0 skips
#      podman), PODRT (default target/release/podrt; built when missing).
# Needs root; for the comparison Debian's podman (apt-get install -y podman).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs="${BENCH_RUNS:-3}"
replicas="${BENCH_REPLICAS:-50}"
deletes="${BENCH_DELETES:-10}"
podrt="${PODRT:-$repo/target/release/podrt}"
oci_dir="$repo/vendor-images/build/oci-image"
oci_tar="$repo/vendor-images/build/busybox-oci.tar"
cgroup_parent=/podrt-bench-workloads

die() { echo "error: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "scripts/bench-workloads.sh must run as root (pods need namespaces, mounts and cgroups)"
for v in runs replicas deletes; do
    case "${!v}" in '' | *[!0-9]* | 0) die "BENCH_RUNS, BENCH_REPLICAS and BENCH_DELETES must be positive integers" ;; esac
done
[ -n "${EPOCHREALTIME:-}" ] || die "bash 5 or later needed (\$EPOCHREALTIME)"
command -v unshare >/dev/null 2>&1 || die "unshare not found (util-linux)"

# Everything below runs in private namespaces (see the header).
if [ "${PODRT_BENCH_WORKLOADS_IN_NS:-}" != 1 ]; then
    exec unshare --mount --net --propagation private -- \
        env PODRT_BENCH_WORKLOADS_IN_NS=1 bash "${BASH_SOURCE[0]}" "$@"
fi
ip link set lo up 2>/dev/null || true

podman_why=""
if [ "${BENCH_PODMAN:-1}" = 0 ]; then
    podman_why="BENCH_PODMAN=0"
else
    for tool in podman conmon crun; do
        command -v "$tool" >/dev/null 2>&1 || podman_why="$tool not found (apt-get install -y podman)"
    done
fi

if [ ! -x "$podrt" ]; then
    echo "building podrt (missing: $podrt)"
    (cd "$repo" && cargo build --release --bins)
fi
[ -x "$podrt" ] || die "no podrt binary at $podrt"
if [ ! -f "$oci_dir/index.json" ] || { [ -z "$podman_why" ] && [ ! -f "$oci_tar" ]; }; then
    "$repo/vendor-images/build.sh"
fi

tmp="$(mktemp -d /tmp/podrt-bench-workloads.XXXXXX)"
# The vendored image is busybox:latest, which Kubernetes' default policy would
# pull from Docker Hub each time: offline, use the store's.
printf 'defaultImagePullPolicy: IfNotPresent\n' > "$tmp/podrt-config.yaml"
pr=("$podrt" --config "$tmp/podrt-config.yaml" --root "$tmp/root" --state-dir "$tmp/state" --cgroup-parent "$cgroup_parent" --cni-conf-dir "$tmp/net.d")
pm_dir="$tmp/podman"
pm=(podman --root "$pm_dir/storage" --runroot "$pm_dir/run" --tmpdir "$pm_dir/tmp")
agent_pid=""
# Host directories this script made (to mount a tmpfs on) and removes on exit,
# and the tmpfs mounts it made (in its mount namespace).
made_dirs=()
tmpfs_mounts=()
# cgroup v1 hierarchies whose libpod_parent podman made here, removed on exit.
new_libpod_parents=()
made_hugetlb=0

# On any exit: stop our agent (by its PID), delete what is left of podrt's and
# podman's pods, kill whatever of ours survived (every such process names the
# temp dir on its command line), unmount what is left under the temp dir and
# the tmpfs mounts, remove the temp dir, the benchmark's cgroups if empty and
# the directories the script made.
cleanup() {
    local p pid m d
    set +e
    [ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
    if [ -d "$tmp/root" ]; then
        "${pr[@]}" delete deployment web --ignore-not-found >/dev/null 2>&1
        for p in $("${pr[@]}" get pods -o name 2>/dev/null); do
            "${pr[@]}" delete "$p" --grace-period=0 --force >/dev/null 2>&1
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
    for d in /sys/fs/cgroup"$cgroup_parent" /sys/fs/cgroup/*"$cgroup_parent" "${new_libpod_parents[@]}"; do
        [ -d "$d" ] || continue
        find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
        [ -d "$d" ] && echo "cleanup: $d is not empty, left in place" >&2
    done
    if [ "$made_hugetlb" = 1 ]; then
        umount /sys/fs/cgroup/hugetlb 2>/dev/null
        rmdir /sys/fs/cgroup/hugetlb 2>/dev/null
    fi
    for d in "${tmpfs_mounts[@]}"; do umount -l "$d" 2>/dev/null; done
    for d in "${made_dirs[@]}"; do rmdir "$d" 2>/dev/null; done
    return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A tmpfs over host directory $1, in our mount namespace only; the directory is
# made (and removed on exit) when missing.
private_tmpfs() {
    if [ ! -d "$1" ]; then
        mkdir -p "$1"
        made_dirs+=("$1")
    fi
    mount -t tmpfs -o size=16m,mode=0755 podrt-bench "$1"
    tmpfs_mounts+=("$1")
}

# podman's private setup, as scripts/bench-pods.sh does it (see there for why).
podman_setup() {
    local d
    mkdir -p "$pm_dir/networks" "$pm_dir/tmp"
    if [ "$(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null || true)" = cgroup2fs ] &&
        ! mountpoint -q /sys/fs/cgroup/hugetlb; then
        [ -d /sys/fs/cgroup/hugetlb ] || made_hugetlb=1
        mkdir -p /sys/fs/cgroup/hugetlb
        mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb
        echo "note: mounted the hugetlb cgroup v1 controller at /sys/fs/cgroup/hugetlb (private mount namespace) so crun accepts this hybrid cgroup host"
    fi
    # podman's pods go under libpod_parent (kube play has no --cgroup-parent):
    # remove on exit the ones that were not there before.
    for d in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
        [ -f "$d/cgroup.procs" ] && [ ! -d "${d}libpod_parent" ] && new_libpod_parents+=("${d}libpod_parent")
    done
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
    # Blob-info cache, CNI IPAM leases and results, network namespace files.
    for d in /var/lib/containers /var/lib/cni /run/netns; do private_tmpfs "$d"; done
    local loaded
    loaded="$("${pm[@]}" load -q -i "$oci_tar" | sed -n 's/^Loaded image[^:]*: *//p' | head -n1)"
    [ -n "$loaded" ] || return 1
    # The manifest's `image: busybox` resolves to this, offline.
    "${pm[@]}" tag "$loaded" localhost/busybox:latest
}

"${pr[@]}" image import "$oci_dir" --name busybox >/dev/null
if [ -z "$podman_why" ] && ! podman_setup; then
    podman_why="podman could not load the vendored image"
fi

# The Deployment with GREETING $1 and $2 replicas (default BENCH_REPLICAS).
deployment() {
    cat >"$tmp/web.yaml" <<EOF
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: ${2:-$replicas}
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

# Microseconds since the epoch, without a fork.
now_us() { local t="${EPOCHREALTIME/[.,]/}"; echo "$t"; }
ms_since() { echo $((($(now_us) - $1) / 1000)); }

# The web pods `get pods` shows as 1/1 Running, one name a line.
running_pods() {
    "${pr[@]}" get pods -l app=web 2>/dev/null | awk 'NR > 1 && $2 == "1/1" && $3 == "Running" { print $1 }'
}

# Milliseconds from `apply` of the Deployment with GREETING $1 to rolled out.
# With $2 = poll, `get pods` is polled until every replica runs first, and the
# milliseconds until then follow, after a space.
timed_apply() {
    local file start running_ms=""
    file="$(deployment "$1")"
    start="$(now_us)"
    "${pr[@]}" apply -f "$file" >/dev/null
    if [ "${2:-}" = poll ]; then
        while [ "$(running_pods | wc -l)" -lt "$replicas" ]; do
            [ "$(ms_since "$start")" -lt 300000 ] ||
                die "the pods of deployment web did not all run: $("${pr[@]}" get pods 2>&1)"
            sleep 0.1
        done
        running_ms="$(ms_since "$start")"
    fi
    "${pr[@]}" rollout status deployment web --timeout 300s >/dev/null ||
        die "deployment web did not roll out: $("${pr[@]}" get pods 2>&1)"
    echo "$(ms_since "$start") $running_ms"
}

# One deletion sample: deletes a running web pod and prints the milliseconds
# until a pod that was not there shows as Running, and (after a space) those the
# delete command itself took.
timed_replacement() {
    local before victim start deleted_ms seen
    before="$(running_pods)"
    victim="$(head -n1 <<<"$before")"
    [ -n "$victim" ] || die "no running web pod to delete"
    start="$(now_us)"
    "${pr[@]}" delete pod "$victim" --grace-period=0 --force >/dev/null
    deleted_ms="$(ms_since "$start")"
    while :; do
        seen="$(running_pods | grep -vxF -e "$before" | head -n1 || true)"
        [ -n "$seen" ] && break
        [ "$(ms_since "$start")" -lt 60000 ] ||
            die "no replacement for pod $victim ran within 60 s: $("${pr[@]}" get pods 2>&1)"
    done
    echo "$(ms_since "$start") $deleted_ms"
}

# KiB of VmRSS (or field $2) of process $1.
rss_kib() { awk -v f="${2:-VmRSS}:" '$1 == f { print $2 }' "/proc/$1/status"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# The pods' supervisors: their count and VmRSS summed (KiB).
supervisors_rss() {
    local pid n=0 sum=0 k
    while read -r pid; do
        grep -qaF __podrt-supervise "/proc/$pid/cmdline" 2>/dev/null || continue
        k="$(rss_kib "$pid" 2>/dev/null)" || continue
        n=$((n + 1))
        sum=$((sum + ${k:-0}))
    done < <(grep -laF -- "$tmp/root/pods/" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3)
    echo "$n $sum"
}

# Waits until no web pod is left (the Deployment's pods go after it).
wait_no_pods() {
    local start
    start="$(now_us)"
    while [ -n "$("${pr[@]}" get pods -l app=web -o name 2>/dev/null)" ]; do
        [ "$(ms_since "$start")" -lt 120000 ] || die "the pods of deployment web are not gone after 120 s"
        sleep 0.1
    done
}

# podman: milliseconds from `kube play` to every container running ($1: the
# manifest, $2: the replicas), or nothing when podman failed (its error is in
# $tmp/podman.err).
podman_play() {
    local start want n
    start="$(now_us)"
    "${pm[@]}" kube play "$1" >/dev/null 2>"$tmp/podman.err" || return 0
    want=$((2 * $2)) # an infra container and busybox per pod
    while :; do
        n="$("${pm[@]}" ps -q --filter status=running | wc -l)"
        [ "$n" -ge "$want" ] && break
        if [ "$(ms_since "$start")" -ge 300000 ]; then
            echo "$n of $want containers running after 300 s" >"$tmp/podman.err"
            return 0
        fi
        sleep 0.1
    done
    ms_since "$start"
}

# podman: milliseconds `kube down` of manifest $1 takes.
podman_down() {
    local start
    start="$(now_us)"
    "${pm[@]}" kube down "$1" >/dev/null 2>>"$tmp/podman.err" || return 0
    ms_since "$start"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
spread() { sort -n | awk '{ v[NR] = $1 } END { printf "min %d, p90 %d, max %d", v[1], v[int(NR * 0.9 + 0.999)], v[NR] }'; }

echo "podrt:  $("$podrt" --version 2>/dev/null || echo "$podrt"), $podrt"
if [ -z "$podman_why" ]; then
    echo "podman: $("${pm[@]}" --version), $(crun --version | head -n1), conmon $(conmon --version | sed -n 's/^conmon version //p')"
    # Untimed warm-up: podman builds its pause image on first use.
    file="$(deployment warm-up 1)"
    if [ -z "$(podman_play "$file" 1)" ] || [ -z "$(podman_down "$file")" ]; then
        podman_why="podman kube play failed: $(tr '\n' ' ' <"$tmp/podman.err")"
    fi
fi
[ -z "$podman_why" ] || echo "podman: skipped ($podman_why)"
echo "Deployment: $replicas busybox pods running 'sleep 3600', on the pod network; runs: $runs, deletion samples per run: $deletes"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) CPUs)"

"${pr[@]}" serve 2>"$tmp/agent.log" &
agent_pid=$!
# Let the agent start and make a few idle passes (its resync is 1 s).
sleep 3
kill -0 "$agent_pid" 2>/dev/null || die "podrt serve exited: $(cat "$tmp/agent.log")"
rss_idle="$(rss_kib "$agent_pid")"

ups=()
runnings=()
rolls=()
repl=()
repl_delete=()
rss_up=()
sup_up=()
pm_ups=()
pm_downs=()
for run in $(seq 1 "$runs"); do
    sample="$(timed_apply "one-$run" poll)"
    read -r up running <<<"$sample"
    ups+=("$up")
    runnings+=("$running")
    sleep 1 # a resync pass with every pod up
    rss_up+=("$(rss_kib "$agent_pid")")
    [ "$run" != 1 ] || hwm_apply="$(rss_kib "$agent_pid" VmHWM)"
    sup_up+=("$(supervisors_rss)")
    for _ in $(seq 1 "$deletes"); do
        "${pr[@]}" rollout status deployment web --timeout 120s >/dev/null ||
            die "deployment web did not recover: $("${pr[@]}" get pods 2>&1)"
        sleep 0.3
        sample="$(timed_replacement)"
        read -r total del <<<"$sample"
        repl+=("$total")
        repl_delete+=("$del")
    done
    [ "$run" != 1 ] || hwm_deletes="$(rss_kib "$agent_pid" VmHWM)"
    sample="$(timed_apply "two-$run")"
    roll="${sample%% *}"
    [ "$run" != 1 ] || hwm_rollout="$(rss_kib "$agent_pid" VmHWM)"
    rolls+=("$roll")
    "${pr[@]}" delete deployment web >/dev/null
    wait_no_pods
    line="run $run: podrt apply → $replicas Running ${running} ms, → Ready ${up} ms, deletion → replacement $(printf '%s\n' "${repl[@]: -$deletes}" | median) ms (median of $deletes), rollout ${roll} ms, agent VmRSS with the pods up $(mib "${rss_up[-1]}") MiB"
    if [ -z "$podman_why" ]; then
        file="$(deployment "one-$run")"
        pm_up="$(podman_play "$file" "$replicas")"
        pm_down="$(podman_down "$file")"
        if [ -z "$pm_up" ] || [ -z "$pm_down" ]; then
            podman_why="podman kube play failed in run $run: $(tr '\n' ' ' <"$tmp/podman.err")"
            "${pm[@]}" pod rm -a -f -t 0 >/dev/null 2>&1 || true
        else
            pm_ups+=("$pm_up")
            pm_downs+=("$pm_down")
            line+="; podman kube play → running ${pm_up} ms, kube down ${pm_down} ms"
        fi
    fi
    echo "$line"
done

kill -0 "$agent_pid" 2>/dev/null || die "podrt serve exited: $(cat "$tmp/agent.log")"

echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
med() { printf '%s\n' "$@" | median; }
echo
echo "podrt serve, Deployment of $replicas busybox pods, medians of $runs runs:"
echo "  apply → all Running (get pods):     $(med "${runnings[@]}") ms"
echo "  apply → all Ready (rollout status): $(med "${ups[@]}") ms"
if [ -n "$podman_why" ]; then
    echo "  podman: skipped ($podman_why)"
else
    pm_up="$(med "${pm_ups[@]}")"
    echo "  podman kube play → all running:     $pm_up ms (podman kube down: $(med "${pm_downs[@]}") ms)"
    awk -v a="$(med "${ups[@]}")" -v b="$pm_up" 'BEGIN { printf "  podrt/podman, apply → ready:        %.2f (podman/podrt %.1f)\n", a / b, b / a }'
fi
echo "  deletion → replacement Running:     $(med "${repl[@]}") ms median of ${#repl[@]} ($(printf '%s\n' "${repl[@]}" | spread)); goal ≤ 200 ms"
echo "    of which the delete command:      $(med "${repl_delete[@]}") ms median"
[ -n "$podman_why" ] || echo "    podman: no replacement (kube play does not reconcile)"
echo "  rollout (new env):                  $(med "${rolls[@]}") ms"
echo "  podrt serve VmRSS idle:             $(mib "$rss_idle") MiB; goal ≤ 15 MiB"
rss_up_kib="$(med "${rss_up[@]}")"
echo "  podrt serve VmRSS, $replicas pods up:     $(mib "$rss_up_kib") MiB; goal ≤ 15 MiB"
echo "  podrt serve peak (VmHWM) in run 1: $(mib "$hwm_apply") MiB after apply, $(mib "$hwm_deletes") after the deletions, $(mib "$hwm_rollout") after the rollout"
read -r n sup <<<"${sup_up[-1]}"
echo "  supervisors (separate processes):   $n, $(mib "$sup") MiB VmRSS summed ($(awk -v s="$sup" -v n="$n" 'BEGIN { printf "%.2f", n ? s / n / 1024 : 0 }') MiB each)"
