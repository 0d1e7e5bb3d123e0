#!/bin/sh
# /init of the cgroup v2 test VM (built by scripts/vm/run-v2.sh; runs as PID 1).
# Stage 1 copies the initramfs onto a tmpfs and switch_roots to it, because
# pivot_root(2) refuses to run while the root is the initial ramfs, and podrt
# pivot_roots into every container. Stage 2 mounts the kernel filesystems with
# cgroup2 alone at /sys/fs/cgroup, mounts the state disk (ext4, virtio) at
# /var/lib/podrt, runs the test script with its RESULT lines on
# the second serial port (ttyS1), and powers the VM off.
export PATH=/bin

if [ "$1" != stage2 ]; then
    mkdir -p /newroot
    mount -t tmpfs -o mode=755 tmpfs /newroot
    for d in bin lib lib64 bundles modules init test.sh pods.sh cni images dev etc; do
        [ -e "/$d" ] && cp -a "/$d" /newroot/
    done
    exec switch_root /newroot /init stage2
fi

mkdir -p /proc /sys /dev /run /tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm /dev/mqueue
mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t mqueue mqueue /dev/mqueue
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
# Delegate what a container runtime on a systemd host gets (where available).
for c in cpu memory pids io cpuset; do
    echo "+$c" > /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null
done
# Modules, in the dependency order run-v2.sh wrote.
if [ -f /modules/order ]; then
    while read -r m; do
        insmod "/modules/$m" || echo "vm: insmod $m failed" >&2
    done < /modules/order
fi
# podrt's state root for the pod scenarios: ext4 can be idmapped on 6.1, the
# tmpfs root cannot. devtmpfs makes /dev/vda shortly after virtio_blk is loaded.
mkdir -p /var/lib/podrt
n=50
while [ ! -b /dev/vda ] && [ $n -gt 0 ]; do usleep 100000; n=$((n - 1)); done
mount -t ext4 /dev/vda /var/lib/podrt || echo "vm: mounting the state disk /dev/vda failed" >&2

if [ -c /dev/ttyS1 ]; then out=/dev/ttyS1; else out=/dev/console; fi
/bin/sh /test.sh > "$out" 2>&1
sync
poweroff -f
