#!/usr/bin/env bash
# Soak benchmark (not a test; tests/tests/soak.rs is its 50-cycle version):
#   1. BENCH_CYCLES (default 1000) create/delete cycles of a two-container pod
#      with a network, an emptyDir and a memory limit. Before and after, it
#      counts what a pod makes: mounts under the root, pod directories, pod
#      cgroups, network namespace pins, veths, IP leases, podrt processes and
#      files; any difference is a leak. Apply+delete medians are printed per
#      tenth of the run, so growth over time shows.
#   2. Beside it, a pod whose container exits at once and is restarted with no
#      back-off (--max-container-restart-period 0s) until it has restarted
#      BENCH_RESTARTS (default 1000) times: its supervisor's RSS is printed at
#      the start and at the end.
# Everything runs in a private network and mount namespace (the script
# re-executes itself under `unshare`), with its own root and cgroup parent.
# Env: BENCH_CYCLES, BENCH_RESTARTS, PODRT (default target/release/podrt).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cycles="${BENCH_CYCLES:-1000}"
restarts="${BENCH_RESTARTS:-1000}"
podrt="${PODRT:-$repo/target/release/podrt}"
oci_dir="$repo/vendor-images/build/oci-image"
cg=/podrt-bench-soak

die() { echo "error: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "scripts/bench-soak.sh must run as root"
for v in cycles restarts; do
    case "${!v}" in '' | *[!0-9]* | 0) die "BENCH_CYCLES and BENCH_RESTARTS must be positive integers" ;; esac
done
command -v unshare >/dev/null || die "unshare not found (util-linux)"
[ -x /usr/lib/cni/bridge ] || die "no CNI plugins in /usr/lib/cni: apt-get install -y containernetworking-plugins"

if [ "${PODRT_BENCH_SOAK_IN_NS:-}" != 1 ]; then
    exec unshare --mount --net --propagation private -- \
        env PODRT_BENCH_SOAK_IN_NS=1 bash "${BASH_SOURCE[0]}" "$@"
fi
ip link set lo up
[ -x "$podrt" ] || (cd "$repo" && cargo build --release --bins)
[ -f "$oci_dir/index.json" ] || "$repo/vendor-images/build.sh"

tmp="$(mktemp -d /tmp/podrt-bench-soak.XXXXXX)"
root="$tmp/root"
# The vendored image is busybox:latest, which Kubernetes' default policy would
# pull from Docker Hub each time: offline, use the store's.
printf 'defaultImagePullPolicy: IfNotPresent\n' > "$tmp/podrt-config.yaml"
pr=("$podrt" --config "$tmp/podrt-config.yaml" --root "$root" --cgroup-parent "$cg" --cni-conf-dir "$tmp/net.d" --max-container-restart-period 0s)
cleanup() {
    local name m d
    set +e
    for name in $("${pr[@]}" get pods -o name 2>/dev/null); do
        "${pr[@]}" delete pod "${name#pod/}" --grace-period=0 --force --ignore-not-found >/dev/null 2>&1
    done
    while read -r m; do umount -l "$m" 2>/dev/null; done \
        < <(awk -v t="$tmp/" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
    rm -rf --one-file-system "$tmp"
    for d in /sys/fs/cgroup/*"$cg"; do
        [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
    done
    return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM
"${pr[@]}" image import "$oci_dir" --name busybox >/dev/null

# census SKIP_UID: one "name=count" per line, without the crasher pod's objects.
census() {
    local skip="$1"
    echo "mounts=$(awk -v t="$root/" -v s="$skip" 'index($5, t) == 1 && index($5, s) == 0' /proc/self/mountinfo | wc -l)"
    echo "pod_dirs=$(find "$root/pods" -mindepth 1 -maxdepth 1 -type d ! -name "$skip" | wc -l)"
    echo "cgroups=$(find /sys/fs/cgroup/ -path "*$cg/*" -type d ! -path "*$skip*" 2>/dev/null | wc -l)"
    echo "netns_pins=$(grep ' - nsfs ' /proc/self/mountinfo | awk -v t="$root/" -v s="$skip" 'index($5, t) == 1 && index($5, s) == 0' | wc -l)"
    echo "veths=$(ip -o link show type veth | wc -l)"
    echo "ip_leases=$(find "$root/cni/networks" -name '10.*' 2>/dev/null | wc -l)"
    local n=0 f
    for f in /proc/[0-9]*/cgroup; do
        grep -q -e "$cg" "$f" 2>/dev/null && ! grep -q -e "$skip" "$f" 2>/dev/null && n=$((n + 1))
    done
    echo "processes=$n"
    echo "files=$(find "$root/pods" -mindepth 1 ! -path "*$skip*" | wc -l)"
}
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
restart_count() {
    "${pr[@]}" get pod crasher -o json | sed -n 's/^ *"restartCount": \([0-9]*\).*/\1/p' | head -n 1
}

cat > "$tmp/crasher.yaml" <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: crasher}
spec:
  containers:
  - {name: c, image: busybox, command: [sh, -c, "exit 1"], resources: {limits: {memory: 32Mi}}}
EOF
"${pr[@]}" apply -f "$tmp/crasher.yaml" >/dev/null
uid=$("${pr[@]}" get pod crasher -o json | sed -n 's/^ *"uid": "\([^"]*\)".*/\1/p' | head -n 1)
sup=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["supervisor"]["pid"])' "$root/pods/$uid/pod.json")
until [ "$(restart_count)" -ge 1 ]; do sleep 0.1; done
rss_start=$(rss "$sup") restarts_start=$(restart_count)

cat > "$tmp/soak.yaml" <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: soak}
spec:
  terminationGracePeriodSeconds: 1
  volumes: [{name: scratch, emptyDir: {}}]
  containers:
  - name: a
    image: busybox
    command: [sleep, "3600"]
    volumeMounts: [{name: scratch, mountPath: /scratch}]
    resources: {limits: {memory: 32Mi}}
  - name: b
    image: busybox
    command: [sh, -c, "echo hi > /scratch/hi; exec sleep 3600"]
    volumeMounts: [{name: scratch, mountPath: /scratch}]
EOF
census "$uid" > "$tmp/before"
echo "podrt $("$podrt" --version): $cycles cycles of a 2-container pod (network, emptyDir, 32Mi limit)"
batch=$(( cycles >= 10 ? cycles / 10 : 1 ))
times=()
for ((i = 1; i <= cycles; i++)); do
    t0=$(date +%s%N)
    "${pr[@]}" apply -f "$tmp/soak.yaml" >/dev/null
    "${pr[@]}" delete pod soak --grace-period=0 --force >/dev/null
    times+=($(( ($(date +%s%N) - t0) / 1000000 )))
    if (( i % batch == 0 )); then
        med=$(printf '%s\n' "${times[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
        printf 'cycles %5d-%5d: apply+delete median %4d ms\n' $((i - batch + 1)) "$i" "$med"
        times=()
    fi
done
census "$uid" > "$tmp/after"

echo
printf '%-12s %8s %8s\n' object before after
leak=0
paste -d= "$tmp/before" "$tmp/after" | while IFS== read -r name b _ a; do
    printf '%-12s %8s %8s%s\n' "$name" "$b" "$a" "$([ "$b" = "$a" ] || echo '   LEAK')"
done
cmp -s "$tmp/before" "$tmp/after" || leak=1

while [ "$(restart_count)" -lt "$restarts" ]; do sleep 0.5; done
rss_end=$(rss "$sup") restarts_end=$(restart_count)
echo
echo "supervisor of the restarting pod: RSS ${rss_start} KiB after ${restarts_start} restarts, ${rss_end} KiB after ${restarts_end}"
[ "$leak" = 0 ] || { echo "objects leaked" >&2; exit 1; }
