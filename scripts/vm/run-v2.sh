#!/usr/bin/env bash
# Test podrt-runc and podrt on a pure cgroup v2 host: boot Debian's 6.1 kernel under
# qemu's software emulation (this machine's hybrid cgroups and PVM /dev/kvm rule out
# both testing on the host and KVM), with an initramfs holding busybox, podrt-runc,
# podrt and their libraries, the vendored rootfs, bundles and OCI image, the CNI
# bridge and host-local plugins, and tests/scenarios/pods.sh, and a fresh ext4
# disk (virtio) for podrt's state root: the root is a tmpfs, and Linux 6.1 cannot
# idmap tmpfs (6.3 can), which pods with hostUsers: false need. The guest runs
# scripts/vm/guest-test.sh (podrt-runc checks, then the pod scenarios) and powers
# off; its `RESULT name PASS|FAIL detail` lines (and `FAULT RESULT` lines of the
# run with a deliberately broken v2 path) are printed here.
#
# Exit status: 0 when every RESULT is PASS, 1 when one is not (or the guest did not
# finish), 2 when something needed is missing (scripts/test.sh installs it).
# Env: PODRT_RUNC      podrt-runc to test (default target/fast/podrt-runc, built with fault-injection)
#      PODRT           podrt to test (default target/fast/podrt)
#      PODRT_CNI_BIN_DIR where the bridge and host-local plugins are (default /usr/lib/cni)
#      PODRT_VM_TIMEOUT seconds before the VM is stopped (default 300)
#      PODRT_VM_KEEP=1  keep the work directory (console log, results)
#      PODRT_VM_CACHE   where the guest kernel is unpacked (kernel/) and built
#                       initramfs images are kept by input hash
#                       (default /var/tmp/podrt-vm-cache; the three newest stay)
# The VM has no network device (-nic none) and writes nothing outside its work dir.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
runc="${PODRT_RUNC:-$repo/target/fast/podrt-runc}"
podrt="${PODRT:-$repo/target/fast/podrt}"
cni_bin="${PODRT_CNI_BIN_DIR:-/usr/lib/cni}"
rootfs="$repo/vendor-images/build/rootfs"
layout="$repo/vendor-images/build/oci-image"
base_config="$repo/vendor-images/build/bundle/config.json"
timeout_s="${PODRT_VM_TIMEOUT:-300}"
# Modules loaded in the guest, with their dependencies: overlay for image layers,
# loop for /dev/loop-control (the device-cgroup probe), veth and bridge for the
# pod network, virtio_pci, virtio_blk and ext4 for the state disk (crc32c_generic
# for ext4's checksums: the guest has no modprobe to load it on demand).
modules=(overlay loop veth bridge virtio_pci virtio_blk crc32c_generic ext4)

# modinfo lives in /sbin, which a test harness's PATH may lack.
export PATH="$PATH:/usr/sbin:/sbin"
die() { echo "run-v2: $*" >&2; exit 2; }
t_start=$(date +%s.%N)

cache="${PODRT_VM_CACHE:-/var/tmp/podrt-vm-cache}"

# The guest kernel: the package linux-image-amd64 depends on, fetched as a file
# and unpacked into the cache. Installing it would put initramfs-tools and boot
# hooks on this host for a kernel it never boots. The package leaves
# modules.dep to its postinst, so depmod writes it here for modinfo.
kpkg="$(apt-cache depends linux-image-amd64 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-6\.1/ { print $2; exit }' || true)"
if [ -n "$kpkg" ] && [ ! -d "$cache/kernel/$kpkg" ]; then
    command -v depmod >/dev/null || die "depmod missing: scripts/test.sh installs kmod"
    mkdir -p "$cache/kernel"
    ktmp="$(mktemp -d "$cache/kernel/.fetch.XXXXXX")"
    (cd "$ktmp" && apt-get download -q -o APT::Sandbox::User="$(id -un)" "$kpkg") >&2 \
        || { rm -rf "$ktmp"; die "apt-get download $kpkg failed"; }
    dpkg-deb -x "$ktmp"/*.deb "$ktmp/root"
    depmod -b "$ktmp/root" "${kpkg#linux-image-}"
    mv "$ktmp/root" "$cache/kernel/$kpkg"
    rm -rf "$ktmp"
    # One kernel is enough: drop those of older packages.
    find "$cache/kernel" -mindepth 1 -maxdepth 1 ! -name "$kpkg" -exec rm -rf {} +
    echo "INFO kernel fetched $kpkg"
fi
# Without apt's lists (no `apt-get update` yet) the kernel fetched last serves.
kroot="$(ls -d "$cache"/kernel/linux-image-6.1* 2>/dev/null | sort -V | tail -n1 || true)"
kernel="$([ -z "$kroot" ] || ls "$kroot"/boot/vmlinuz-6.1.*-amd64 2>/dev/null | sort -V | tail -n1 || true)"
[ -n "$kernel" ] || die "no Debian 6.1 kernel in $cache/kernel and apt knows no linux-image-amd64 to fetch (apt-get update)"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing: scripts/test.sh installs qemu-system-x86"
command -v cpio >/dev/null || die "cpio missing: scripts/test.sh installs it"
command -v modinfo >/dev/null || die "modinfo missing: scripts/test.sh installs kmod"
command -v mkfs.ext4 >/dev/null || die "mkfs.ext4 missing: scripts/test.sh installs e2fsprogs"
command -v python3 >/dev/null || die "python3 missing: run scripts/setup.sh"
[ -x /bin/busybox ] || die "/bin/busybox missing: run scripts/setup.sh (it installs busybox-static)"
[ -x "$runc" ] || die "$runc missing: build it with 'cargo build --profile fast --workspace --bins --features fault-injection'"
[ -x "$podrt" ] || die "$podrt missing: build it with 'cargo build --profile fast --workspace --bins --features fault-injection'"
for p in bridge host-local; do
    [ -x "$cni_bin/$p" ] || die "CNI plugin $cni_bin/$p missing: run scripts/setup.sh (it installs containernetworking-plugins)"
done
[ -f "$layout/index.json" ] || die "$layout missing: run vendor-images/build.sh"
if [ ! -x "$rootfs/bin/busybox" ] || [ ! -f "$base_config" ]; then
    die "vendored rootfs/bundle missing: run vendor-images/build.sh"
fi
kver="${kernel##*/vmlinuz-}"
[ -f "$kroot/lib/modules/$kver/modules.dep" ] || die "$kroot/lib/modules/$kver/modules.dep missing: remove $kroot to fetch it again"
# Modules of the unpacked kernel, not of this host's.
modinfo() { command modinfo -b "$kroot" "$@"; }

work="$(mktemp -d /tmp/podrt-vm.XXXXXX)"
# shellcheck disable=SC2317 # called by the trap
cleanup() {
    if [ "${PODRT_VM_KEEP:-0}" = 1 ]; then echo "run-v2: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
# The initramfs is cached by a hash of everything that goes into it (this script,
# binaries and their libraries, scripts, rootfs, image, kernel modules), so a repeated run with
# the same inputs boots at once.
exes=("$runc" "$podrt" "$cni_bin/bridge" "$cni_bin/host-local" /bin/busybox)
libs() { for exe in "${exes[@]}"; do ldd "$exe" 2>/dev/null | awk '/=> \// { print $3 } /^\t\// { print $1 }'; done | sort -u; }
inputs_hash() {
    {
        echo "$kernel $kver ${modules[*]}"
        sha256sum "${BASH_SOURCE[0]}" "${exes[@]}" $(libs) "$here/guest-init.sh" "$here/guest-test.sh" \
            "$here/make-bundles.py" "$repo/tests/scenarios/pods.sh" "$base_config"
        for m in "${modules[@]}"; do modinfo -k "$kver" -F filename "$m" 2>/dev/null; done
        (cd "$rootfs" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
        (cd "$layout" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
    } | sha256sum | cut -c1-16
}
build_initramfs() {
    ird="$work/initramfs"
    mkdir -p "$ird"/{bin,dev,etc,modules,bundles,cni,images}

    # busybox and its applets.
    cp /bin/busybox "$ird/bin/busybox"
    for a in $(/bin/busybox --list); do
        [ "$a" = busybox ] || ln -s busybox "$ird/bin/$a"
    done
    # The kernel opens /dev/console before any devtmpfs exists.
    mknod -m 600 "$ird/dev/console" c 5 1

    # podrt-runc, podrt, the CNI plugins and the shared libraries they link, at the same paths.
    install -m 755 "$runc" "$ird/bin/podrt-runc"
    install -m 755 "$podrt" "$ird/bin/podrt"
    install -m 755 "$cni_bin/bridge" "$cni_bin/host-local" "$ird/cni/"
    for lib in $(libs); do
        mkdir -p "$ird$(dirname "$lib")"
        cp -L "$lib" "$ird$lib"
    done
    cp -a "$layout" "$ird/images/oci-image"
    install -m 644 "$repo/tests/scenarios/pods.sh" "$ird/pods.sh"

    # Modules in dependency order (a module's dependencies before it).
    declare -A seen=()
    add_module() {
        local m="$1" dep file
        [ -n "${seen[$m]:-}" ] && return 0
        seen[$m]=1
        file="$(modinfo -k "$kver" -F filename "$m" 2>/dev/null)" || die "module $m not found for $kver"
        case "$file" in
            (builtin|"(builtin)"|"") return 0 ;;
        esac
        for dep in $(modinfo -k "$kver" -F depends "$m" | tr ',' ' '); do
            add_module "$dep"
        done
        case "$file" in
            (*.ko) cp "$file" "$ird/modules/$m.ko" ;;
            (*.ko.xz) xz -dc "$file" > "$ird/modules/$m.ko" ;;
            (*.ko.zst) zstd -qdc "$file" > "$ird/modules/$m.ko" ;;
            (*) die "module $m: unknown file type $file" ;;
        esac
        echo "$m.ko" >> "$ird/modules/order"
    }
    for m in "${modules[@]}"; do add_module "$m"; done

    # The vendored rootfs, shared read-only by every bundle, and the bundles.
    cp -a "$rootfs" "$ird/bundles/rootfs"
    python3 "$here/make-bundles.py" "$base_config" "$ird/bundles" /bundles/rootfs
    install -m 755 "$here/guest-init.sh" "$ird/init"
    install -m 644 "$here/guest-test.sh" "$ird/test.sh"

    # Uncompressed: unpacking gzip under emulation costs more than reading more bytes.
    (cd "$ird" && find . -print0 | cpio --null -o -H newc --quiet) > "$1"
}
key="$(inputs_hash)"
initrd="$cache/initramfs-$key.cpio"
if [ -f "$initrd" ]; then
    echo "INFO initramfs cached $key"
else
    mkdir -p "$cache"
    build_initramfs "$initrd.$$"
    mv "$initrd.$$" "$initrd"
    # Keep the three newest.
    ls -t "$cache"/initramfs-*.cpio 2>/dev/null | tail -n +4 | xargs -r rm -f
    echo "INFO initramfs built $key"
fi
t_built=$(date +%s.%N)

# The state disk: sparse, made anew each run (guest-init.sh mounts it at /var/lib/podrt).
truncate -s 1G "$work/state.img"
mkfs.ext4 -q -F -L podrt-state "$work/state.img"

# Serial 0: the console (log); serial 1: the test script's output.
: > "$work/results.txt"
set +e
timeout --kill-after=5 "$timeout_s" qemu-system-x86_64 \
    -accel tcg -m 1024 -smp 2 -nographic -nic none -no-reboot \
    -kernel "$kernel" -initrd "$initrd" \
    -drive "file=$work/state.img,if=virtio,format=raw" \
    -append "console=ttyS0 loglevel=4 panic=-1 cgroup_no_v1=all mitigations=off" \
    -serial "file:$work/console.log" -serial "file:$work/results.txt" \
    -monitor none < /dev/null > "$work/qemu.out" 2>&1
qemu_rc=$?
set -e
t_end=$(date +%s.%N)

tr -d '\r' < "$work/results.txt" > "$work/results.clean"
grep -E '^(RESULT|INFO|FAULT) ' "$work/results.clean" || true
awk -v s="$t_start" -v b="$t_built" -v e="$t_end" \
    'BEGIN { printf "TIMING build_s %.1f vm_s %.1f total_s %.1f\n", b - s, e - b, e - s }'
fail=0
if ! grep -qx DONE "$work/results.clean"; then
    echo "run-v2: the guest did not finish (qemu exit $qemu_rc; timeout ${timeout_s}s)" >&2
    cat "$work/qemu.out" >&2 || true
    fail=1
fi
grep -q '^RESULT ' "$work/results.clean" || { echo "run-v2: no RESULT lines" >&2; fail=1; }
if grep -q '^RESULT [^ ]* FAIL' "$work/results.clean"; then fail=1; fi
if [ $fail = 1 ]; then
    echo "run-v2: VM console (last 60 lines):" >&2
    tail -n 60 "$work/console.log" >&2 || true
    echo "run-v2: guest output that is not a RESULT line (last 40):" >&2
    grep -vE '^(RESULT|INFO|FAULT) |^DONE$' "$work/results.clean" | tail -n 40 >&2 || true
fi
exit $fail
