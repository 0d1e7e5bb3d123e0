#!/usr/bin/env bash
# Build podrt's vendored test images from the host's Debian busybox-static
# package, fully offline:
#   OUTDIR/rootfs/          minimal busybox root filesystem
#   OUTDIR/bundle/          OCI runtime bundle (rootfs/ + config.json)
#   OUTDIR/oci-image/       OCI image layout (tag "latest")
#   OUTDIR/busybox-oci.tar  the same layout as one tar (podman load, ctr import)
#   OUTDIR/busybox-docker.tar  the same image as a docker-archive (docker load),
#                           tagged busybox:latest
# Usage: vendor-images/build.sh [OUTDIR]   (default: vendor-images/build)
# Re-running replaces the outputs; the layer and image digests are reproducible.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
outdir="${1:-$here/build}"
mkdir -p "$outdir"
outdir="$(cd "$outdir" && pwd)"

# Tests rely on exactly the Debian-packaged binary, not whatever busybox is on PATH.
if ! dpkg -s busybox-static >/dev/null 2>&1; then
    echo "error: Debian package busybox-static is not installed; run scripts/setup.sh (as root) first" >&2
    exit 1
fi
busybox=/bin/busybox
if [ ! -x "$busybox" ]; then
    echo "error: $busybox missing although busybox-static is installed; reinstall it (scripts/setup.sh)" >&2
    exit 1
fi
bb_version="$(dpkg-query -W -f='${Version}' busybox-static)"

# Fixed permissions and locale make the tar layer byte-for-byte reproducible.
umask 022
export LC_ALL=C

# Build everything in a staging dir next to the outputs and swap it in at the
# end, so a concurrent reader never sees a half-written bundle.
stage="$(mktemp -d "$outdir/.stage.XXXXXX")"
trap 'rm -rf "$stage"' EXIT

# --- a. rootfs -------------------------------------------------------------
rootfs="$stage/rootfs"
mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,etc,root,var,run,tmp}
chmod 1777 "$rootfs/tmp"
chmod 0700 "$rootfs/root"
install -m 0755 "$busybox" "$rootfs/bin/busybox"

# One relative symlink per applet, at the path busybox itself reports
# (bin/, sbin/, usr/bin/, usr/sbin/), so the links work in and out of a chroot.
while IFS= read -r applet; do
    case "$applet" in '' | bin/busybox) continue ;; esac  # the binary itself is listed too
    case "$applet" in
        bin/*) target=busybox ;;
        sbin/*) target=../bin/busybox ;;
        usr/bin/* | usr/sbin/*) target=../../bin/busybox ;;
        */*) echo "error: unexpected applet path $applet" >&2; exit 1 ;;
        *) target=bin/busybox ;;  # linuxrc at the top level
    esac
    ln -sfn "$target" "$rootfs/$applet"
done < <("$busybox" --list-full)

# Users/groups so tools resolve names; tty (gid 5) matches the devpts gid=5 mount option.
cat >"$rootfs/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$rootfs/etc/group" <<'EOF'
root:x:0:
tty:x:5:
nogroup:x:65534:
EOF

# --- b. OCI runtime bundle ------------------------------------------------
bundle="$stage/bundle"
mkdir -p "$bundle"
cp -a "$rootfs" "$bundle/rootfs"
# Same content as `runc spec` (runc 1.1), except: terminal false so it runs
# without a tty, hostname "podrt", no ambient caps, and a cgroup namespace.
python3 - "$bundle/config.json" <<'PY'
import json, sys

caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
spec = {
    "ociVersion": "1.0.2",
    "process": {
        "terminal": False,
        "user": {"uid": 0, "gid": 0},
        "args": ["sh"],
        "env": [
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "TERM=xterm",
        ],
        "cwd": "/",
        "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
        "noNewPrivileges": True,
    },
    "root": {"path": "rootfs", "readonly": True},
    "hostname": "podrt",
    "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
    ],
    "linux": {
        "resources": {"devices": [{"allow": False, "access": "rwm"}]},
        "namespaces": [{"type": t} for t in
                       ("pid", "network", "ipc", "uts", "mount", "cgroup")],
        "maskedPaths": [
            "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
            "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
            "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
        ],
        "readonlyPaths": [
            "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
        ],
    },
}
with open(sys.argv[1], "w") as f:
    json.dump(spec, f, indent="\t")
    f.write("\n")
PY

# --- c. OCI image layout --------------------------------------------------
layout="$stage/oci-image"
blobs="$layout/blobs/sha256"
mkdir -p "$blobs"

# Move FILE into blobs/sha256/<digest>; print "sha256:<hex> <size>".
put_blob() {
    local hex size
    hex="$(sha256sum "$1" | cut -d' ' -f1)"
    size="$(stat -c %s "$1")"
    mv -f "$1" "$blobs/$hex"
    echo "sha256:$hex $size"
}

# Layer: fixed order, mtimes and owners so the digest only changes with content.
tar -C "$rootfs" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
    -cf "$stage/layer.tar" .
diff_id="sha256:$(sha256sum "$stage/layer.tar" | cut -d' ' -f1)"
gzip -n -9 -c "$stage/layer.tar" >"$stage/layer.tar.gz"
rm -f "$stage/layer.tar"
read -r layer_digest layer_size < <(put_blob "$stage/layer.tar.gz")

arch="$(dpkg --print-architecture)"
case "$arch" in  # Debian arch -> OCI/Go arch name
    amd64 | arm64 | s390x | riscv64) ;;
    i386) arch=386 ;;
    ppc64el) arch=ppc64le ;;
    armhf | armel) arch=arm ;;
esac

# Image config, then manifest, then index: each JSON blob names the previous
# one by digest. Compact, key-sorted JSON keeps the digests stable.
python3 - "$stage/config.json" "$arch" "$diff_id" "$bb_version" <<'PY'
import json, sys
out, arch, diff_id, version = sys.argv[1:]
cfg = {
    "created": "1970-01-01T00:00:00Z",
    "architecture": arch,
    "os": "linux",
    "config": {
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        "Cmd": ["sh"],
        "WorkingDir": "/",
    },
    "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    "history": [{"created": "1970-01-01T00:00:00Z",
                 "created_by": "podrt vendor-images/build.sh from Debian busybox-static " + version}],
}
with open(out, "w") as f:
    json.dump(cfg, f, sort_keys=True, separators=(",", ":"))
PY
read -r config_digest config_size < <(put_blob "$stage/config.json")

python3 - "$stage/manifest.json" "$config_digest" "$config_size" "$layer_digest" "$layer_size" <<'PY'
import json, sys
out, cd, cs, ld, ls = sys.argv[1:]
m = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
               "digest": cd, "size": int(cs)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": ld, "size": int(ls)}],
}
with open(out, "w") as f:
    json.dump(m, f, sort_keys=True, separators=(",", ":"))
PY
read -r manifest_digest manifest_size < <(put_blob "$stage/manifest.json")

python3 - "$layout/index.json" "$manifest_digest" "$manifest_size" "$arch" <<'PY'
import json, sys
out, md, ms, arch = sys.argv[1:]
idx = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.index.v1+json",
    "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": md, "size": int(ms),
        "platform": {"architecture": arch, "os": "linux"},
        "annotations": {"org.opencontainers.image.ref.name": "latest"},
    }],
}
with open(out, "w") as f:
    json.dump(idx, f, sort_keys=True, separators=(",", ":"))
PY
printf '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"

# Sanity check: every blob's name must be its sha256 (catches a bad mv/put_blob).
(cd "$blobs" && for b in *; do echo "$b  $b"; done | sha256sum --quiet -c -)

# The layout as one reproducible tar (oci-archive format).
tar -C "$layout" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
    -cf "$stage/busybox-oci.tar" oci-layout index.json blobs

# --- d. docker-archive ------------------------------------------------------
# The same image as `docker save` writes it: manifest.json, the config blob as
# <hex>.json (so the image id is the same) and the uncompressed layer tar.
docker="$stage/docker"
layer_dir="$docker/${diff_id#sha256:}"
mkdir -p "$layer_dir"
gzip -dc "$blobs/${layer_digest#sha256:}" >"$layer_dir/layer.tar"
if [ "sha256:$(sha256sum "$layer_dir/layer.tar" | cut -d' ' -f1)" != "$diff_id" ]; then
    echo "error: docker-archive layer does not match diff_id $diff_id" >&2
    exit 1
fi
printf '1.0' >"$layer_dir/VERSION"
cp "$blobs/${config_digest#sha256:}" "$docker/${config_digest#sha256:}.json"
python3 - "$docker" "${config_digest#sha256:}.json" "${diff_id#sha256:}" <<'PY'
import json, os, sys
out, config, layer = sys.argv[1:]
with open(os.path.join(out, "manifest.json"), "w") as f:
    json.dump([{"Config": config, "RepoTags": ["busybox:latest"],
                "Layers": [layer + "/layer.tar"]}], f, separators=(",", ":"))
with open(os.path.join(out, "repositories"), "w") as f:
    json.dump({"busybox": {"latest": layer}}, f, separators=(",", ":"))
PY
tar -C "$docker" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
    -cf "$stage/busybox-docker.tar" manifest.json repositories \
    "${config_digest#sha256:}.json" "${diff_id#sha256:}"
rm -rf "$docker"

# Optional cross-check with an independent OCI implementation.
if command -v skopeo >/dev/null 2>&1; then
    skopeo inspect --raw "oci:$layout:latest" >/dev/null
    skopeo inspect "oci-archive:$stage/busybox-oci.tar:latest" >/dev/null
    skopeo inspect "docker-archive:$stage/busybox-docker.tar" >/dev/null
    echo "skopeo: oci-image, busybox-oci.tar and busybox-docker.tar inspect OK"
fi

# --- swap the new outputs in ------------------------------------------------
for item in rootfs bundle oci-image busybox-oci.tar busybox-docker.tar; do
    rm -rf "${outdir:?}/$item"
    mv "$stage/$item" "$outdir/$item"
done

echo "built from busybox-static $bb_version ($arch) in $outdir:"
echo "  rootfs/           $(find "$outdir/rootfs" -type l | wc -l) applet symlinks + bin/busybox"
echo "  bundle/           config.json + rootfs/ (args [\"sh\"], hostname podrt)"
echo "  oci-image/        ref latest, manifest $manifest_digest"
echo "                    config $config_digest ($config_size bytes)"
echo "                    layer  $layer_digest ($layer_size bytes), diff_id $diff_id"
echo "  busybox-oci.tar   $(stat -c %s "$outdir/busybox-oci.tar") bytes"
echo "  busybox-docker.tar $(stat -c %s "$outdir/busybox-docker.tar") bytes, RepoTags busybox:latest"
