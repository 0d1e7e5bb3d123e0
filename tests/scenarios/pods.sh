#!/bin/sh
# podrt's pod scenarios, one script for two kernels: tests/tests/pod_scenarios.rs
# runs it on this host (hybrid cgroups, v1 controllers) inside a test network
# namespace, and scripts/vm/run-v2.sh runs it inside a VM with pure cgroup v2.
# It is plain POSIX sh for busybox, which both run it with.
#
# Prints `RESULT <name> PASS|FAIL <detail>` per scenario, `INFO ...` lines, and
# `DONE` last. Each scenario cleans up its own pods; the last checks that the
# pod cgroups, mounts and veths are all gone.
#
# Env: PODRT      the podrt binary
#      SC_ROOT    --root (a directory of its own, on a filesystem that can be
#                 idmapped: ext4, xfs, btrfs, or tmpfs from Linux 6.3)
#      SC_CG      --cgroup-parent (a cgroup of its own, e.g. /podrt-scenarios)
#      SC_CONFIG  --config (an existing, usually empty, file)
#      SC_NETD    --cni-conf-dir (empty: podrt's built-in network)
#      SC_CNI_BIN --cni-bin-dir (bridge and host-local)
#      SC_LAYOUT  the busybox OCI image layout
#      SC_WORK    a scratch directory for manifests
#      SC_ONLY    run only these scenarios (space-separated), default all
#      SC_TAG     printed before each RESULT (e.g. `FAULT `), default nothing

: "${PODRT:?}" "${SC_ROOT:?}" "${SC_CG:?}" "${SC_CONFIG:?}" "${SC_NETD:?}"
: "${SC_CNI_BIN:?}" "${SC_LAYOUT:?}" "${SC_WORK:?}"
CG=/sys/fs/cgroup
MAX_PIDS=64
P="$PODRT --root $SC_ROOT --cgroup-parent $SC_CG --config $SC_CONFIG --cni-conf-dir $SC_NETD --cni-bin-dir $SC_CNI_BIN --pod-max-pids $MAX_PIDS"

if [ "$(awk '$2 == "/sys/fs/cgroup" { print $3 }' /proc/mounts)" = cgroup2 ]; then
    V=2
else
    V=1
fi

result() {
    name=$1 verdict=$2
    shift 2
    printf '%sRESULT %s %s %s\n' "${SC_TAG:-}" "$name" "$verdict" "$(echo "$*" | tr '\r\n\t' '   ' | cut -c1-600)"
}
wanted() { [ -z "${SC_ONLY:-}" ] || case " $SC_ONLY " in *" $1 "*) true ;; *) false ;; esac; }
# wait_for SECONDS COMMAND...: poll every 100 ms.
wait_for() {
    n=$(($1 * 10))
    shift
    while [ "$n" -gt 0 ]; do
        "$@" && return 0
        n=$((n - 1))
        usleep 100000
    done
    "$@"
}
# pod_uid NAME: metadata.uid from `get -o json`.
pod_uid() { $P get pod "$1" -o json | sed -n 's/^ *"uid": "\([^"]*\)".*/\1/p' | head -n 1; }
# cg_dir CONTROLLER REL: the directory of cgroup REL for CONTROLLER (v1) or the unified one.
cg_dir() { if [ $V = 2 ]; then echo "$CG$2"; else echo "$CG/$1$2"; fi; }
# only_child DIR: the one subdirectory of DIR (a one-container pod's container cgroup).
only_child() { find "$1" -mindepth 1 -maxdepth 1 -type d | head -n 1; }
# pod NAME: the YAML on stdin becomes NAME.yaml; apply it.
apply() { cat > "$SC_WORK/$1.yaml" && $P apply -f "$SC_WORK/$1.yaml"; }
gone() { $P delete pod "$@" --grace-period=0 --force > /dev/null 2>&1; }
in_pod() { pod=$1 c=$2; shift 2; $P exec "$pod" -c "$c" -- "$@" 2>&1; }

echo "INFO kernel $(uname -r) cgroup v$V"
touch "$SC_CONFIG"

# The image every scenario runs.
if $P image import "$SC_LAYOUT" --name busybox > "$SC_WORK/import.log" 2>&1; then
    result import_image PASS "busybox imported"
else
    result import_image FAIL "$(cat "$SC_WORK/import.log")"
fi

# The pod sandbox: two containers share the network, IPC and UTS namespaces and
# an emptyDir; each has its own PID namespace.
if wanted shared_namespaces; then
    out=$(apply shared 2>&1 <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: shared}
spec:
  terminationGracePeriodSeconds: 1
  volumes: [{name: data, emptyDir: {}}]
  containers:
  - name: web
    image: busybox
    command: [sh, -c, "echo from-web > /data/msg; mkdir -p /www; echo hello-pod > /www/index.html; exec httpd -f -p 8080 -h /www"]
    volumeMounts: [{name: data, mountPath: /data}]
  - name: client
    image: busybox
    command: [sleep, "3600"]
    volumeMounts: [{name: data, mountPath: /data}]
EOF
    )
    if [ $? != 0 ]; then
        result shared_namespaces FAIL "apply: $out"
    else
        bad=""
        for ns in net ipc uts pid; do
            a=$(in_pod shared web readlink /proc/self/ns/$ns)
            b=$(in_pod shared client readlink /proc/self/ns/$ns)
            if [ $ns = pid ]; then
                [ "$a" != "$b" ] || bad="$bad pid-shared($a)"
            else
                [ "$a" = "$b" ] && [ -n "$a" ] || bad="$bad $ns:$a/$b"
            fi
        done
        page=$(wait_for 5 in_pod shared client timeout 5 wget -qO- http://127.0.0.1:8080/)
        [ "$page" = hello-pod ] || bad="$bad localhost:'$page'"
        msg=$(in_pod shared client cat /data/msg)
        [ "$msg" = from-web ] || bad="$bad emptyDir:'$msg'"
        h1=$(in_pod shared web hostname) h2=$(in_pod shared client hostname)
        [ "$h1" = shared ] && [ "$h2" = shared ] || bad="$bad hostname:$h1/$h2"
        ip=$($P get pod shared -o wide | awk 'NR == 2 { print $6 }')
        case "$ip" in 10.88.*) ;; *) bad="$bad podIP:'$ip'" ;; esac
        if [ -z "$bad" ]; then
            result shared_namespaces PASS "net/ipc/uts shared, pid separate, localhost and emptyDir work, podIP $ip"
        else
            result shared_namespaces FAIL "$bad"
        fi
    fi
    gone shared
fi

# Limits: the container's memory and cpu limits and the pod's pids limit in the
# cgroup files of this kernel's cgroup version.
if wanted limits; then
    out=$(apply lim 2>&1 <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: lim}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox
    command: [sleep, "3600"]
    resources:
      limits: {memory: 64Mi, cpu: 500m}
EOF
    )
    if [ $? != 0 ]; then
        result limits FAIL "apply: $out"
    else
        uid=$(pod_uid lim)
        if [ $V = 2 ]; then
            c=$(only_child "$CG$SC_CG/pod$uid")
            mem=$(cat "$c/memory.max" 2>&1)
            cpu=$(cat "$c/cpu.max" 2>&1)
            pids=$(cat "$CG$SC_CG/pod$uid/pids.max" 2>&1)
            want="memory.max=67108864 cpu.max=50000 100000 pids.max=$MAX_PIDS"
            got="memory.max=$mem cpu.max=$cpu pids.max=$pids"
        else
            c=$(only_child "$CG/memory$SC_CG/pod$uid")
            id=${c##*/}
            mem=$(cat "$c/memory.limit_in_bytes" 2>&1)
            quota=$(cat "$CG/cpu$SC_CG/pod$uid/$id/cpu.cfs_quota_us" 2>&1)
            period=$(cat "$CG/cpu$SC_CG/pod$uid/$id/cpu.cfs_period_us" 2>&1)
            pids=$(cat "$CG/pids$SC_CG/pod$uid/pids.max" 2>&1)
            want="memory.limit_in_bytes=67108864 cpu.cfs_quota_us=50000/100000 pids.max=$MAX_PIDS"
            got="memory.limit_in_bytes=$mem cpu.cfs_quota_us=$quota/$period pids.max=$pids"
        fi
        if [ "$got" = "$want" ]; then
            result limits PASS "$got"
        else
            result limits FAIL "got $got, want $want (container cgroup $c)"
        fi
    fi
    gone lim
fi

# A container over its memory limit is OOM-killed, and reported so.
if wanted oom_killed; then
    out=$(apply oom 2>&1 <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: oom}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox
    command: [dd, if=/dev/zero, of=/dev/null, bs=64M, count=1]
    resources:
      limits: {memory: 16Mi}
EOF
    )
    if [ $? != 0 ]; then
        result oom_killed FAIL "apply: $out"
    else
        oomed() { $P get pod oom | grep -q OOMKilled; }
        if wait_for 30 oomed; then
            code=$($P get pod oom -o json | sed -n 's/^ *"exitCode": \([0-9]*\).*/\1/p' | head -n 1)
            result oom_killed PASS "STATUS OOMKilled, exit code $code"
        else
            result oom_killed FAIL "$($P get pod oom 2>&1) $($P describe pod oom 2>&1 | grep -A3 State)"
        fi
    fi
    gone oom
fi

# A privileged container against a default one: capabilities, host devices, mount.
if wanted privileged_vs_default; then
    out=$(apply pd 2>&1 <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: pd}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: def
    image: busybox
    command: [sleep, "3600"]
  - name: priv
    image: busybox
    command: [sleep, "3600"]
    securityContext: {privileged: true}
EOF
    )
    if [ $? != 0 ]; then
        result privileged_vs_default FAIL "apply: $out"
    else
        bad=""
        cap() { in_pod pd "$1" cat /proc/self/status | awk '$1 == "CapEff:" { print $2 }'; }
        held=$(awk '$1 == "CapPrm:" { print $2 }' /proc/self/status)
        d=$(cap def) p=$(cap priv)
        [ "$d" = 00000000a80425fb ] || bad="$bad default-CapEff:$d"
        [ "$p" = "$held" ] || bad="$bad privileged-CapEff:$p(want $held)"
        in_pod pd def test -e /dev/loop-control && bad="$bad default-sees-loop-control"
        in_pod pd priv test -e /dev/loop-control || bad="$bad privileged-lacks-loop-control"
        in_pod pd def mount -t tmpfs t /tmp > /dev/null && bad="$bad default-can-mount"
        m=$(in_pod pd priv mount -t tmpfs t /tmp) || bad="$bad privileged-cannot-mount($m)"
        if [ -z "$bad" ]; then
            result privileged_vs_default PASS "CapEff $d vs $p, /dev/loop-control and tmpfs mount only when privileged"
        else
            result privileged_vs_default FAIL "$bad"
        fi
    fi
    gone pd
fi

# User namespaces: a pod with hostUsers: false gets a user namespace of its own
# with 65536 host ids, its root being the range's first id on the host; image
# layers and disk-backed volumes are idmapped, so what is 0 on disk is 0 in the
# pod and what the pod's root writes is 0 on disk. A default pod keeps the host's
# identity map; two pods get different ranges, and deleting them gives both back.
# An emptyDir of medium Memory (a tmpfs) can be idmapped only from Linux 6.3 on:
# before, the pod must be refused naming the field.
if wanted user_namespaces; then
    bad="" seen=""
    # fs_of DIR: the type of the filesystem DIR is on (its longest mount point).
    fs_of() { awk -v d="$1/" '{ m = $2; if (m != "/") m = m "/" } index(d, m) == 1 && length(m) > n { n = length(m); t = $3 } END { print t }' /proc/mounts; }
    # kernel_at_least MAJOR MINOR
    kernel_at_least() {
        kv=$(uname -r | cut -d- -f1)
        kmaj=${kv%%.*} kmin=${kv#*.}
        kmin=${kmin%%.*}
        [ "$kmaj" -gt "$1" ] || { [ "$kmaj" = "$1" ] && [ "$kmin" -ge "$2" ]; }
    }
    # map_of POD FILE: /proc/self/uid_map or gid_map in POD, one line per extent, `;` between.
    map_of() { in_pod "$1" c cat "/proc/self/$2" | awk '{ print $1, $2, $3 }' | tr '\n' ';' | sed 's/;$//'; }
    # main_pid POD: the host pid of the one container's PID 1.
    main_pid() {
        c=$(only_child "$(cg_dir pids "$SC_CG/pod$(pod_uid "$1")")")
        for p in $(cat "$c/cgroup.procs" 2>/dev/null); do
            [ "$(awk '$1 == "NSpid:" { print $NF }' "/proc/$p/status" 2>/dev/null)" = 1 ] && echo "$p" && return
        done
    }
    rootfs_type=$(fs_of "$SC_ROOT")
    # The state root must be idmappable, or nothing below can be checked.
    if [ "$rootfs_type" = tmpfs ] && ! kernel_at_least 6 3; then
        bad="the state root $SC_ROOT is on tmpfs, which Linux $(uname -r) cannot idmap (6.3 can): put it on ext4, xfs or btrfs;"
    fi
    for pod in userns-a userns-b; do
        out=$(apply $pod 2>&1 <<EOF
apiVersion: v1
kind: Pod
metadata: {name: $pod}
spec:
  hostUsers: false
  terminationGracePeriodSeconds: 1
  volumes: [{name: data, emptyDir: {}}]
  containers:
  - name: c
    image: busybox
    command: [sh, -c, "echo by-root > /data/by-root; exec sleep 3600"]
    volumeMounts: [{name: data, mountPath: /data}]
EOF
        ) || bad="$bad apply $pod (state root on $rootfs_type): $out;"
    done
    out=$(apply userns-host 2>&1 <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: userns-host}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox
    command: [sleep, "3600"]
EOF
    ) || bad="$bad apply userns-host: $out;"
    if [ -z "$bad" ]; then
        # The pod's maps: uid 0 is the first id of a range of 65536, not 0.
        map=$(map_of userns-a uid_map) gmap=$(map_of userns-a gid_map)
        first=$(echo "$map" | awk '$1 == 0 && $3 == 65536 && $2 != 0 { print $2 }')
        [ -n "$first" ] && [ "$gmap" = "$map" ] || bad="$bad uid_map:'$map' gid_map:'$gmap';"
        u=$(in_pod userns-a c id -u)
        [ "$u" = 0 ] || bad="$bad id-u:'$u';"
        # On the host: the container's PID 1 runs as that first id, in a user
        # namespace that is not the host's.
        pid=$(main_pid userns-a)
        huid=$(awk '$1 == "Uid:" { print $2, $3, $4, $5 }' "/proc/$pid/status" 2>&1)
        [ -n "$pid" ] && [ "$huid" = "$first $first $first $first" ] || bad="$bad host-Uid(pid '$pid'):'$huid';"
        ns=$(readlink "/proc/$pid/ns/user") hostns=$(readlink /proc/self/ns/user)
        [ -n "$ns" ] && [ "$ns" != "$hostns" ] || bad="$bad userns:'$ns'(host $hostns);"
        # The disk-backed emptyDir: written by the pod's root, 0 inside and on disk.
        f="$SC_ROOT/pods/$(pod_uid userns-a)/volumes/data/by-root"
        wait_for 5 test -f "$f"
        inside=$(in_pod userns-a c stat -c %u:%g /data/by-root)
        ondisk=$(stat -c %u:%g "$f" 2>&1)
        [ "$inside" = 0:0 ] && [ "$ondisk" = 0:0 ] ||
            bad="$bad emptyDir-on-$rootfs_type(inside $inside, on disk $ondisk at $f$(ls -ln "${f%/*}" 2>&1 | tr '\n' ' '));"
        # An image layer's file: 0 on disk, and 0 to the pod through the idmapped layer.
        lf=$(find "$SC_ROOT/images" -path '*/bin/busybox' -type f | head -n 1)
        lhost=$(stat -c %u:%g "$lf" 2>&1) lpod=$(in_pod userns-a c stat -c %u:%g /bin/busybox)
        [ -n "$lf" ] && [ "$lhost" = 0:0 ] && [ "$lpod" = 0:0 ] || bad="$bad layer(on disk '$lhost' at '$lf', in pod '$lpod');"
        # A default pod keeps the host's identity map.
        hmap=$(map_of userns-host uid_map)
        [ "$hmap" = "0 0 4294967295" ] || bad="$bad default-pod-uid_map:'$hmap';"
        # Two pods, two ranges that do not overlap, two files under userns/.
        map_b=$(map_of userns-b uid_map)
        first_b=$(echo "$map_b" | awk '$1 == 0 && $3 == 65536 { print $2 }')
        d=$(( ${first_b:-0} - ${first:-0} ))
        [ -n "$first_b" ] && { [ "$d" -ge 65536 ] || [ "$d" -le -65536 ]; } || bad="$bad ranges:'$map'/'$map_b';"
        files=$(find "$SC_ROOT/userns" -type f 2>/dev/null | wc -l)
        [ "$files" = 2 ] || bad="$bad userns-files-while-running:$files;"
        seen="uid_map 0 $first 65536 (other pod $first_b), id -u 0, host Uid $first in $ns, emptyDir on $rootfs_type 0:0 inside and on disk, layer busybox 0:0, default pod 0 0 4294967295"
    fi
    gone userns-a userns-b userns-host
    left=$(find "$SC_ROOT/userns" -type f 2>/dev/null)
    [ -z "$left" ] || bad="$bad userns-files-after-delete:'$left';"

    # emptyDir medium: Memory in a pod with hostUsers: false.
    out=$(apply userns-mem 2>&1 <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: userns-mem}
spec:
  hostUsers: false
  terminationGracePeriodSeconds: 1
  volumes: [{name: mem, emptyDir: {medium: Memory}}]
  containers:
  - name: c
    image: busybox
    command: [sleep, "3600"]
    volumeMounts: [{name: mem, mountPath: /mem}]
EOF
    )
    rc=$?
    if kernel_at_least 6 3; then
        w=$(in_pod userns-mem c sh -c 'echo x > /mem/f && stat -c %u:%g /mem/f')
        if [ $rc = 0 ] && [ "$w" = 0:0 ]; then
            mem="Linux $(uname -r) >= 6.3: medium Memory works, its file 0:0 in the pod"
        else
            bad="$bad medium-Memory on $(uname -r) >= 6.3 (exit $rc: $out; write: $w);"
        fi
    else
        case "$rc:$out" in
            [1-9]*spec.volumes\[0\].emptyDir.medium*)
                if $P get pod userns-mem > /dev/null 2>&1; then
                    bad="$bad medium-Memory refused but the pod exists: $out;"
                else
                    mem="Linux $(uname -r) < 6.3: medium Memory refused: $(echo "$out" | sed -n 's/.*\(spec\.volumes\[0\][^,]*\).*/\1/p')"
                fi
                ;;
            *) bad="$bad medium-Memory on $(uname -r) < 6.3 must be refused naming spec.volumes[0].emptyDir.medium (exit $rc: $out);" ;;
        esac
    fi
    gone userns-mem
    left=$(find "$SC_ROOT/userns" -type f 2>/dev/null)
    [ -z "$left" ] || bad="$bad userns-files-after-medium-Memory:'$left';"
    if [ -z "$bad" ]; then
        result user_namespaces PASS "$seen; $mem; userns/ empty after delete"
    else
        result user_namespaces FAIL "$bad"
    fi
fi

# Nothing of any pod is left: no pods, pod cgroups, mounts under the root or veths.
if wanted nothing_left; then
    bad=""
    left=$($P get pods -A 2>&1)
    [ "$left" = "No resources found" ] || bad="$bad pods:'$left'"
    cgs=$(find $CG -path "*$SC_CG/*" -type d 2>/dev/null | head -n 5)
    [ -z "$cgs" ] || bad="$bad cgroups:$cgs"
    mounts=$(awk -v r="$SC_ROOT/" 'index($5, r) == 1 { print $5 }' /proc/self/mountinfo | head -n 5)
    [ -z "$mounts" ] || bad="$bad mounts:$mounts"
    veths=$(ip -o link 2>/dev/null | grep veth | head -n 5)
    [ -z "$veths" ] || bad="$bad veths:$veths"
    if [ -z "$bad" ]; then
        result nothing_left PASS "no pods, pod cgroups, mounts or veths"
    else
        result nothing_left FAIL "$bad"
    fi
fi
echo DONE
