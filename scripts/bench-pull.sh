#!/usr/bin/env bash
# Benchmark (not a test): pulling a multi-layer image from a registry on
# loopback, podrt vs `skopeo copy` vs `podman pull`, in one run.
#
# What it measures, and why:
#   The wall time from nothing stored to the image usable, the latency a user
#   waiting for a pull sees:
#     podrt:  podrt --image-root FRESH image pull -q REGISTRY/bench/multi:1
#             (fetches, verifies and unpacks every layer into the store)
#     podman: podman --root FRESH pull -q --tls-verify=false REGISTRY/...
#             (fetches, verifies and unpacks into its overlay storage)
#     skopeo: skopeo copy --src-tls-verify=false docker://REGISTRY/...
#             oci:FRESH:1 (fetches and verifies only: no unpacking, so it is
#             the floor of what the network part costs)
#   Each run starts from an empty store (removed before the next run, outside
#   the timed region). Runs are interleaved so drift on the machine hits all
#   three alike; each tool gets one untimed warm-up, which also checks that it
#   pulled (podrt images / podman images list the image; skopeo's layout has
#   an index). Printed: min/median/max per tool and each tool's median over
#   podrt's (above 1: podrt is faster).
#
# The image: BENCH_PULL_LAYERS (default 16) gzip layers of about
# BENCH_PULL_LAYER_MB (default 6) MB each, cut in file order from this host's
# Debian files (/usr/bin, then /usr/share/locale), with an OCI config; made as
# an OCI layout by the Python below and pushed with skopeo to Debian's
# docker-registry, which serves plain HTTP on 127.0.0.1:5000 in the script's own
# network namespace (the whole script re-executes itself in private mount and
# network namespaces, so nothing it starts is reachable from outside, and a
# tmpfs there hides /var/lib/containers, where podman would otherwise write its
# host-wide blob-info cache whatever --root says).
#
# Env: BENCH_PULL_RUNS (default 5), BENCH_PULL_LAYERS, BENCH_PULL_LAYER_MB,
#      PODRT (default target/release/podrt; built with `cargo build --release
#      --bins` only when missing).
# Needs root, docker-registry, skopeo and podman (scripts/apt-packages*.txt).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs="${BENCH_PULL_RUNS:-5}"
layers="${BENCH_PULL_LAYERS:-16}"
layer_mb="${BENCH_PULL_LAYER_MB:-6}"
podrt="${PODRT:-$repo/target/release/podrt}"
addr=127.0.0.1:5000
image="$addr/bench/multi:1"

die() { echo "error: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "scripts/bench-pull.sh must run as root (podman's storage and the private namespaces need it)"
for v in runs layers layer_mb; do
    case "${!v}" in '' | *[!0-9]* | 0) die "BENCH_PULL_RUNS, BENCH_PULL_LAYERS and BENCH_PULL_LAYER_MB must be positive integers" ;; esac
done
for tool in docker-registry skopeo podman unshare python3 ip; do
    command -v "$tool" >/dev/null 2>&1 ||
        die "$tool not found; install it: apt-get install -y docker-registry skopeo podman (scripts/setup.sh does)"
done

if [ "${PODRT_BENCH_PULL_IN_NS:-}" != 1 ]; then
    exec unshare --mount --net --propagation private -- \
        env PODRT_BENCH_PULL_IN_NS=1 bash "${BASH_SOURCE[0]}" "$@"
fi
ip link set lo up

if [ ! -x "$podrt" ]; then
    echo "building podrt (missing: $podrt)"
    (cd "$repo" && cargo build --release --bins)
fi
[ -x "$podrt" ] || die "no podrt binary at $podrt"

tmp="$(mktemp -d /tmp/podrt-bench-pull.XXXXXX)"
registry_pid=
made_varlib=0
cleanup() {
    set +e
    [ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null && wait "$registry_pid" 2>/dev/null
    if [ -d "$tmp/podman/storage" ]; then
        podman --root "$tmp/podman/storage" --runroot "$tmp/podman/run" system reset -f >/dev/null 2>&1
    fi
    while read -r m; do
        umount -l "$m" 2>/dev/null
    done < <(awk -v t="$tmp/" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
    rm -rf --one-file-system "$tmp"
    umount /var/lib/containers 2>/dev/null
    [ "$made_varlib" = 1 ] && rmdir /var/lib/containers 2>/dev/null
    return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ ! -d /var/lib/containers ]; then
    mkdir /var/lib/containers
    made_varlib=1
fi
mount -t tmpfs -o size=16m,mode=0700 podrt-bench /var/lib/containers

# The registry, plain HTTP on loopback in our network namespace.
mkdir -p "$tmp/registry"
cat >"$tmp/registry/config.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $tmp/registry/data
http:
  addr: $addr
EOF
docker-registry serve "$tmp/registry/config.yml" >"$tmp/registry/log" 2>&1 &
registry_pid=$!
for _ in $(seq 100); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', 5000), 0.2)" 2>/dev/null && break
    sleep 0.1
done
python3 -c "import socket; socket.create_connection(('127.0.0.1', 5000), 0.2)" ||
    die "docker-registry did not start: $(cat "$tmp/registry/log")"

# The image: an OCI layout of $layers gzip layers cut from Debian's files.
echo "making a $layers-layer image of about $layer_mb MB per layer from /usr/bin and /usr/share/locale"
python3 - "$tmp/layout" "$layers" "$layer_mb" <<'PY'
import gzip, hashlib, io, json, os, sys, tarfile

out, n, mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
blobs = os.path.join(out, "blobs", "sha256")
os.makedirs(blobs)

def put(data):
    d = hashlib.sha256(data).hexdigest()
    with open(os.path.join(blobs, d), "wb") as f:
        f.write(data)
    return "sha256:" + d

def files():
    for top in ("/usr/bin", "/usr/share/locale"):
        for dirpath, dirs, names in os.walk(top):
            dirs.sort()
            for name in sorted(names):
                p = os.path.join(dirpath, name)
                if os.path.isfile(p) and not os.path.islink(p):
                    yield p

source = files()
layers, diff_ids = [], []
for i in range(n):
    raw = io.BytesIO()
    size = 0
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for p in source:
            tar.add(p, arcname=f"layer{i}{p}", recursive=False)
            size += os.path.getsize(p)
            if size >= mb * 1000 * 1000:
                break
    if size == 0:
        sys.exit(f"ran out of files after {i} layers")
    tar_bytes = raw.getvalue()
    diff_ids.append("sha256:" + hashlib.sha256(tar_bytes).hexdigest())
    gz = gzip.compress(tar_bytes, compresslevel=6, mtime=0)
    layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                   "digest": put(gz), "size": len(gz)})
arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)
config = json.dumps({"architecture": arch, "os": "linux",
                     "config": {"Cmd": ["/bin/sh"]},
                     "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
manifest = json.dumps({"schemaVersion": 2,
                       "mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                  "digest": put(config), "size": len(config)},
                       "layers": layers}).encode()
index = {"schemaVersion": 2, "manifests": [{
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "digest": put(manifest), "size": len(manifest),
    "annotations": {"org.opencontainers.image.ref.name": "1"}}]}
with open(os.path.join(out, "index.json"), "w") as f:
    json.dump(index, f)
with open(os.path.join(out, "oci-layout"), "w") as f:
    json.dump({"imageLayoutVersion": "1.0.0"}, f)
total = sum(l["size"] for l in layers)
print(f"image: {n} layers, {total / 1e6:.1f} MB compressed")
PY
skopeo copy -q --dest-tls-verify=false "oci:$tmp/layout:1" "docker://$image"

printf 'registries:\n  insecure: ["%s"]\n' "$addr" >"$tmp/podrt-config.yaml"
export CONTAINERS_CONF="$tmp/containers.conf"
cat >"$CONTAINERS_CONF" <<EOF
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF

echo "podrt:  $("$podrt" --version 2>/dev/null || echo "$podrt"), $podrt"
echo "podman: $(podman --version); skopeo: $(skopeo --version)"
echo "runs: $runs per tool (interleaved), each from an empty store"

python3 - "$runs" "$tmp" "$image" "$podrt" <<'PY'
import os, shutil, statistics, subprocess, sys, time

runs, tmp, image, podrt = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
cfg = os.path.join(tmp, "podrt-config.yaml")

def podrt_cmd(store):
    return [podrt, "--config", cfg, "--root", os.path.join(tmp, "podrt-root"),
            "--image-root", store]

def podman_cmd(store):
    return ["podman", "--root", store, "--runroot", os.path.join(tmp, "podman", "run"),
            "--tmpdir", os.path.join(tmp, "podman", "tmp")]

tools = {
    "podrt": (lambda d: podrt_cmd(d) + ["image", "pull", "-q", image],
              lambda d: image.split(":1")[0] in subprocess.run(
                  podrt_cmd(d) + ["images"], capture_output=True, text=True).stdout),
    "podman": (lambda d: podman_cmd(d) + ["pull", "-q", "--tls-verify=false", image],
               lambda d: "bench/multi" in subprocess.run(
                   podman_cmd(d) + ["images"], capture_output=True, text=True).stdout),
    "skopeo": (lambda d: ["skopeo", "copy", "-q", "--src-tls-verify=false",
                          "docker://" + image, "oci:" + d + ":1"],
               lambda d: os.path.exists(os.path.join(d, "index.json"))),
}

def fresh(name):
    d = os.path.join(tmp, "store-" + name)
    if name == "podman" and os.path.isdir(d):
        subprocess.run(podman_cmd(d) + ["system", "reset", "-f"], capture_output=True)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(os.path.join(tmp, "podman", "tmp"), exist_ok=True)
    return d

def once(name):
    d = fresh(name)
    cmd, _ = tools[name]
    t = time.perf_counter_ns()
    r = subprocess.run(cmd(d), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    dt = (time.perf_counter_ns() - t) / 1e9
    if r.returncode != 0:
        sys.exit(f"{name} failed: {r.stderr.strip()}")
    return d, dt

for name in tools:
    d, _ = once(name)
    if not tools[name][1](d):
        sys.exit(f"{name}'s warm-up pull left no image")
times = {name: [] for name in tools}
for _ in range(runs):
    for name in tools:
        times[name].append(once(name)[1])
for name in tools:
    fresh(name)
med = {n: statistics.median(t) for n, t in times.items()}
print(f"{'tool':8} {'min':>8} {'median':>8} {'max':>8}  (seconds)")
for n, t in times.items():
    print(f"{n:8} {min(t):8.3f} {med[n]:8.3f} {max(t):8.3f}")
for n in ("podman", "skopeo"):
    print(f"{n}/podrt (median): {med[n] / med['podrt']:.2f}")
PY
