#!/bin/sh
# podrt-runc on pure cgroup v2, run inside the VM that scripts/vm/run-v2.sh boots.
# Prints one line per check, `RESULT <name> PASS|FAIL <detail>`, `INFO ...` lines
# with timings, and `DONE` last so the host knows the script ran to its end.
# The bundles are the ones scripts/vm/make-bundles.py wrote under /bundles.
export PATH=/bin
CG=/sys/fs/cgroup
B=/bundles
R="podrt-runc --root /run/podrt"
LIM=$CG/podrt-vm/lim

# result NAME PASS|FAIL DETAIL...: one line, whatever the detail holds.
result() {
    name=$1 verdict=$2
    shift 2
    printf 'RESULT %s %s %s\n' "$name" "$verdict" "$(echo "$*" | tr '\r\n\t' '   ' | cut -c1-600)"
}
# Centiseconds since boot.
now() { cut -d' ' -f1 /proc/uptime | tr -d .; }
# wait_for SECONDS COMMAND...: poll every 50 ms.
wait_for() {
    n=$(($1 * 20))
    shift
    while [ "$n" -gt 0 ]; do
        "$@" && return 0
        n=$((n - 1))
        usleep 50000
    done
    "$@"
}
empty_procs() { [ -z "$(cat "$LIM/cgroup.procs" 2>/dev/null)" ]; }

echo "INFO kernel $(uname -r) uptime_cs $(now)"

# The VM is what it claims: cgroup2 alone at /sys/fs/cgroup, no v1 hierarchy.
fstype=$(awk '$2 == "/sys/fs/cgroup" { print $3 }' /proc/mounts)
v1=$(awk '$3 == "cgroup" { print $2 }' /proc/mounts)
ctrl=$(cat $CG/cgroup.subtree_control)
if [ "$fstype" = cgroup2 ] && [ -z "$v1" ] && [ -n "$ctrl" ]; then
    result vm_is_cgroup2 PASS "subtree_control: $ctrl"
else
    result vm_is_cgroup2 FAIL "fstype=$fstype v1=$v1 subtree_control=$ctrl"
fi

# (a) run echo hi.
t=$(now)
out=$($R run --bundle $B/echo echo 2>/tmp/echo.err)
rc=$?
echo "INFO run_echo_cs $(($(now) - t))"
if [ $rc = 0 ] && [ "$out" = hi ]; then
    result run_echo PASS "stdout=hi"
else
    result run_echo FAIL "exit=$rc stdout=$out stderr=$(cat /tmp/echo.err)"
fi

# (b) limits land in the container's cgroup.
t=$(now)
if $R create --bundle $B/lim lim > /tmp/lim.log 2>&1 && $R start lim >> /tmp/lim.log 2>&1; then
    lim_up=1
else
    lim_up=0
fi
echo "INFO create_start_cs $(($(now) - t))"
if [ $lim_up = 1 ]; then
    mem=$(cat $LIM/memory.max 2>&1)
    pids=$(cat $LIM/pids.max 2>&1)
    if [ "$mem" = 67108864 ] && [ "$pids" = 32 ]; then
        result limits_in_cgroup PASS "memory.max=$mem pids.max=$pids"
    else
        result limits_in_cgroup FAIL "memory.max=$mem pids.max=$pids"
    fi
else
    result limits_in_cgroup FAIL "create/start failed: $(cat /tmp/lim.log)"
fi

# CPU: cpu.max is "quota period"; shares 1024 become cpu.weight 39 (runc's and
# crun's conversion, 1 + (shares - 2) * 9999 / 262142).
if [ $lim_up = 1 ]; then
    cmax=$(cat $LIM/cpu.max 2>&1)
    weight=$(cat $LIM/cpu.weight 2>&1)
    if [ "$cmax" = "50000 200000" ] && [ "$weight" = 39 ]; then
        result cpu_limits PASS "cpu.max=$cmax cpu.weight=$weight"
    else
        result cpu_limits FAIL "cpu.max=$cmax cpu.weight=$weight (want 50000 200000, 39)"
    fi
else
    result cpu_limits FAIL "no container: create/start of lim failed (see limits_in_cgroup)"
fi

# (c) a cgroup mount in the container shows its own cgroup.
out=$($R run --bundle $B/incg incg 2>/tmp/incg.err)
rc=$?
first=$(echo "$out" | head -n1)
if [ $rc = 0 ] && [ "$first" = 32 ]; then
    result cgroup_mount_is_own PASS "pids.max=$first /proc/self/cgroup=$(echo "$out" | tail -n1)"
else
    result cgroup_mount_is_own FAIL "exit=$rc stdout=$out stderr=$(cat /tmp/incg.err)"
fi

if [ $lim_up = 1 ]; then
    # exec joins the container's cgroup.
    out=$($R exec lim cat /sys/fs/cgroup/pids.max /proc/self/cgroup 2>&1)
    rc=$?
    if [ $rc = 0 ] && [ "$(echo "$out" | head -n1)" = 32 ]; then
        result exec_in_cgroup PASS "$out"
    else
        result exec_in_cgroup FAIL "exit=$rc output=$out"
    fi

    # update rewrites the limits in place.
    uerr=$($R update --memory 134217728 --memory-swap 268435456 --pids-limit 64 lim 2>&1)
    urc=$?
    mem=$(cat $LIM/memory.max 2>&1)
    swap=$(cat $LIM/memory.swap.max 2>&1)
    pids=$(cat $LIM/pids.max 2>&1)
    detail="exit=$urc $uerr memory.max=$mem memory.swap.max=$swap pids.max=$pids"
    if [ $urc = 0 ] && [ "$mem" = 134217728 ] && [ "$swap" = 134217728 ] && [ "$pids" = 64 ]; then
        result update_limits PASS "$detail"
    else
        result update_limits FAIL "$detail"
    fi

    # (d) pause freezes the cgroup, resume thaws it.
    perr=$($R pause lim 2>&1)
    prc=$?
    freeze=$(cat $LIM/cgroup.freeze 2>&1)
    wait_for 5 grep -q '^frozen 1' $LIM/cgroup.events
    frozen=$(grep '^frozen' $LIM/cgroup.events)
    pstate=$($R state lim 2>&1 | grep -o '"status": *"[a-z]*"')
    rerr=$($R resume lim 2>&1)
    rrc=$?
    thaw=$(cat $LIM/cgroup.freeze 2>&1)
    rstate=$($R state lim 2>&1 | grep -o '"status": *"[a-z]*"')
    detail="pause: exit=$prc $perr cgroup.freeze=$freeze events:$frozen state:$pstate; resume: exit=$rrc $rerr cgroup.freeze=$thaw state:$rstate"
    if [ $prc = 0 ] && [ "$freeze" = 1 ] && [ "$frozen" = "frozen 1" ] &&
        echo "$pstate" | grep -q paused && [ $rrc = 0 ] && [ "$thaw" = 0 ] &&
        echo "$rstate" | grep -q running; then
        result pause_resume PASS "$detail"
    else
        result pause_resume FAIL "$detail"
    fi

    # (f) kill --all reaches every process of the cgroup.
    before=$(wc -l < $LIM/cgroup.procs)
    kerr=$($R kill --all lim KILL 2>&1)
    krc=$?
    if [ $krc = 0 ] && wait_for 5 empty_procs; then
        result kill_all PASS "processes before=$before after=0"
    else
        result kill_all FAIL "exit=$krc $kerr processes before=$before left=$(cat $LIM/cgroup.procs 2>&1 | tr '\n' ' ')"
    fi

    # (e) delete removes the cgroup directory.
    derr=$($R delete --force lim 2>&1)
    drc=$?
    if [ $drc = 0 ] && [ ! -d $LIM ]; then
        parent=kept
        [ -d $CG/podrt-vm ] || parent=removed
        result delete_removes_cgroup PASS "parent /podrt-vm $parent"
    else
        result delete_removes_cgroup FAIL "exit=$drc $derr; $LIM exists: $([ -d $LIM ] && echo yes || echo no)"
    fi
else
    for n in exec_in_cgroup update_limits pause_resume kill_all delete_removes_cgroup; do
        result $n FAIL "no container: create/start of lim failed (see limits_in_cgroup)"
    done
fi

# (g) a deny-all device policy with allow rules (runc's default spec).
if true < /dev/loop-control; then
    out=$($R run --bundle $B/devices devices 2>/tmp/dev.err)
    rc=$?
    if [ $rc = 0 ] && echo "$out" | grep -q NULL_OK && echo "$out" | grep -q PROBE_DENIED; then
        result devices_policy PASS "/dev/null usable, unlisted 10:237 denied"
    else
        result devices_policy FAIL "exit=$rc stdout=$out stderr=$(cat /tmp/dev.err)"
    fi
else
    result devices_policy FAIL "probe /dev/loop-control cannot be opened in the VM itself: the check would prove nothing"
fi

# (h) update replaces the device filter: 10:237 denied, then allowed, /dev/null kept.
if true < /dev/loop-control; then
    probe='if true < /dev/probe; then echo PROBE_OPENED; else echo PROBE_DENIED; fi; echo x > /dev/null && echo NULL_OK'
    $R run -d --bundle $B/devupdate devupdate 2>/tmp/devu.err
    before=$($R exec devupdate sh -c "$probe" 2>&1)
    echo '{"devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":10,"minor":237,"access":"rw"}]}' > /tmp/devu.json
    $R update --resources /tmp/devu.json devupdate 2>>/tmp/devu.err
    urc=$?
    after=$($R exec devupdate sh -c "$probe" 2>&1)
    progs=$(ls $CG/podrt-vm/devupdate >/dev/null 2>&1 && echo present)
    $R delete --force devupdate 2>>/tmp/devu.err
    if [ $urc = 0 ] && echo "$before" | grep -q PROBE_DENIED && echo "$after" | grep -q PROBE_OPENED && echo "$after" | grep -q NULL_OK; then
        result devices_update PASS "denied before update, allowed after, /dev/null still usable"
    else
        result devices_update FAIL "update=$urc before=[$before] after=[$after] $progs err=$(cat /tmp/devu.err)"
    fi
else
    result devices_update FAIL "probe /dev/loop-control cannot be opened in the VM itself"
fi

# Nothing left behind: no state, no cgroup.
left=$(find /run/podrt -mindepth 1 -maxdepth 1 2>/dev/null | tr '\n' ' ')
cgs=$(find $CG/podrt-vm -mindepth 1 -type d 2>/dev/null | tr '\n' ' ')
if [ -z "$left$cgs" ]; then
    result nothing_left_behind PASS "state and cgroups gone"
else
    result nothing_left_behind FAIL "state=[$left] cgroups=[$cgs]"
fi
echo "INFO uptime_cs $(now)"

# The pod scenarios (tests/scenarios/pods.sh, the same list the host runs), then
# the limits scenario once more with the v2 limits path broken on purpose: its
# lines start with FAULT and it must fail, which shows the checks can.
if [ -x /bin/podrt ] && [ -f /pods.sh ]; then
    mkdir -p /tmp/sc/work /tmp/sc/net.d /tmp/scf/work
    echo 'defaultImagePullPolicy: IfNotPresent' > /tmp/sc/config.yaml  # busybox:latest, offline
    t=$(now)
    PODRT=/bin/podrt SC_ROOT=/var/lib/podrt/pods SC_CG=/podrt-scenarios SC_CONFIG=/tmp/sc/config.yaml \
        SC_NETD=/tmp/sc/net.d SC_CNI_BIN=/cni SC_LAYOUT=/images/oci-image SC_WORK=/tmp/sc/work \
        sh /pods.sh 2>&1 | grep -v '^DONE$'
    echo "INFO pod_scenarios_cs $(($(now) - t))"
    PODRT_TEST_FAULT=cgroup-v2-limits SC_ONLY=limits SC_TAG='FAULT ' \
        PODRT=/bin/podrt SC_ROOT=/var/lib/podrt/fault SC_CG=/podrt-fault SC_CONFIG=/tmp/sc/config.yaml \
        SC_NETD=/tmp/sc/net.d SC_CNI_BIN=/cni SC_LAYOUT=/images/oci-image SC_WORK=/tmp/scf/work \
        sh /pods.sh 2>/dev/null | grep '^FAULT RESULT'
else
    echo "INFO no podrt in the VM: pod scenarios not run"
fi
echo DONE
