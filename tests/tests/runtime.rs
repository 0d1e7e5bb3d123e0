//! The runtime's story as a user of runc would tell it: a container from a bundle is
//! PID 1 with its own hostname and mounts, has exactly the capabilities and seccomp
//! rules its spec gives, is held by its cgroup limits, and goes through
//! create → start → kill → delete with nothing left behind.

use podrt_tests::*;
use serde_json::json;

#[test]
fn container_is_pid1_with_own_hostname_and_mounts() {
    let env = Env::new();
    let id = env.id("pid1");
    let b = env.bundle(&id, |c| {
        args(c, &["sh", "-c", "echo pid=$$; hostname; cat /proc/mounts"]);
        c["hostname"] = json!("box-one");
    });
    let (code, out, err) = env.run_container(&id, &b);
    assert_eq!(code, 0, "stderr: {err}");
    assert!(out.contains("pid=1\n"), "{out}");
    assert!(out.contains("box-one\n"), "{out}");
    assert!(out.contains("proc /proc proc"), "{out}");
    assert!(out.contains("/dev/pts devpts"), "{out}");
    assert!(
        out.lines().any(|l| l.contains(" / ") && l.contains("ro,")),
        "root should be read-only: {out}"
    );
}

#[test]
fn masked_and_readonly_proc_paths() {
    // An escape test on a path the host does not have proves nothing.
    for p in [
        "/proc/timer_list",
        "/proc/keys",
        "/proc/acpi",
        "/sys/firmware",
    ] {
        assert!(
            std::path::Path::new(p).exists(),
            "host lacks {p}: this test needs it"
        );
    }
    let env = Env::new();
    let id = env.id("mask");
    let b = env.bundle(&id, |c| {
        args(
            c,
            &["sh", "-c", "wc -c < /proc/timer_list; ls /proc/acpi | wc -l; echo 1 > /proc/sys/kernel/printk && echo WROTE || echo ROFS"],
        );
    });
    let (code, out, err) = env.run_container(&id, &b);
    assert_eq!(code, 0, "stderr: {err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0].trim(), "0", "timer_list must read empty: {out}");
    assert_eq!(lines[1].trim(), "0", "acpi must be an empty dir: {out}");
    assert_eq!(lines[2], "ROFS", "/proc/sys must be read-only: {out}");
}

#[test]
fn capabilities_and_no_new_privs_match_the_spec() {
    let env = Env::new();
    let id = env.id("caps");
    let b = env.bundle(&id, |c| {
        let caps = json!(["CAP_CHOWN", "CAP_KILL"]);
        c["process"]["capabilities"] = json!({
            "bounding": caps, "effective": caps, "permitted": caps
        });
        c["process"]["noNewPrivileges"] = json!(true);
        args(
            c,
            &[
                "grep",
                "-E",
                "^(CapEff|CapBnd|CapPrm|CapInh|NoNewPrivs)",
                "/proc/self/status",
            ],
        );
    });
    let (code, out, err) = env.run_container(&id, &b);
    assert_eq!(code, 0, "stderr: {err}");
    // CAP_CHOWN = bit 0, CAP_KILL = bit 5.
    assert!(out.contains("CapEff:\t0000000000000021"), "{out}");
    assert!(out.contains("CapBnd:\t0000000000000021"), "{out}");
    assert!(out.contains("CapPrm:\t0000000000000021"), "{out}");
    assert!(out.contains("CapInh:\t0000000000000000"), "{out}");
    assert!(out.contains("NoNewPrivs:\t1"), "{out}");
}

#[test]
fn seccomp_rule_makes_an_applet_fail_with_its_errno() {
    let env = Env::new();
    let id = env.id("seccomp");
    let b = env.bundle(&id, |c| {
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 122}]
        });
        args(c, &["sh", "-c", "mkdir /tmp/x 2>&1; touch /dev/shm/ok && echo touched"]);
    });
    let (code, out, err) = env.run_container(&id, &b);
    assert_eq!(code, 0, "stderr: {err}");
    // errno 122 is EDQUOT: the message can only come from our rule.
    assert!(out.contains("Disk quota exceeded"), "{out}");
    assert!(
        out.contains("touched"),
        "other syscalls stay allowed: {out}"
    );

    // A process exec'd into the container gets the same filter.
    let id2 = env.id("seccomp-exec");
    let b2 = env.bundle(&id2, |c| {
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 122}]
        });
        args(c, &["sleep", "30"]);
    });
    env.create_detached(&id2, &b2, true);
    let out = env.run(&[
        "exec",
        &id2,
        "sh",
        "-c",
        "mkdir /tmp/y 2>&1; grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Disk quota exceeded"), "{text}");
    assert!(text.contains("Seccomp:\t2"), "filter mode: {text}");
}

#[test]
fn memory_and_pids_limits_land_in_the_cgroup() {
    let env = Env::new();
    let id = env.id("limits");
    let cg = format!("/podrt-test/{id}");
    let b = env.bundle(&id, |c| {
        c["linux"]["resources"]["memory"] = json!({"limit": 67108864});
        c["linux"]["resources"]["pids"] = json!({"limit": 32});
        c["linux"]["resources"]["cpu"] =
            json!({"shares": 512, "quota": 50000, "period": 100000, "cpus": "0"});
        args(c, &["sleep", "30"]);
    });
    env.create_detached(&id, &b, true);
    if !cgroup_v2() {
        let read = |ctrl: &str, file: &str| {
            std::fs::read_to_string(cgroup_file(&cg, ctrl, file, file))
                .unwrap()
                .trim()
                .to_string()
        };
        assert_eq!(read("cpu", "cpu.shares"), "512");
        assert_eq!(read("cpu", "cpu.cfs_quota_us"), "50000");
        assert_eq!(read("cpu", "cpu.cfs_period_us"), "100000");
        assert_eq!(read("cpuset", "cpuset.cpus"), "0");
    } else {
        let max = std::fs::read_to_string(cgroup_file(&cg, "", "", "cpu.max")).unwrap();
        assert_eq!(max.trim(), "50000 100000");
    }
    let mem = std::fs::read_to_string(cgroup_file(
        &cg,
        "memory",
        "memory.limit_in_bytes",
        "memory.max",
    ))
    .unwrap();
    let pids = std::fs::read_to_string(cgroup_file(&cg, "pids", "pids.max", "pids.max")).unwrap();
    assert_eq!(mem.trim(), "67108864");
    assert_eq!(pids.trim(), "32");
    let out = env.run(&["delete", "--force", &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!cgroup_exists(&cg), "cgroup {cg} must be gone after delete");
}

#[test]
fn fork_bomb_stops_at_pids_max() {
    let env = Env::new();
    let id = env.id("forkbomb");
    let cg = format!("/podrt-test/{id}");
    let b = env.bundle(&id, |c| {
        c["linux"]["resources"]["pids"] = json!({"limit": 16});
        // The bomb runs in a subshell: busybox sh gives up when fork fails, and init
        // must survive so we can look at the cgroup.
        args(
            c,
            &["sh", "-c", "(i=0; while [ $i -lt 64 ]; do sleep 30 & i=$((i+1)); done); echo bomb-over; sleep 30"],
        );
    });
    let log = env.create_detached(&id, &b, true);
    let over = wait_until(10, || {
        std::fs::read_to_string(&log)
            .map(|s| s.contains("bomb-over"))
            .unwrap_or(false)
    });
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(over, "the fork loop never ended: {text}");
    assert!(text.contains("can't fork"), "fork must have failed: {text}");
    let current: u32 =
        std::fs::read_to_string(cgroup_file(&cg, "pids", "pids.current", "pids.current"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
    assert!(
        (14..=16).contains(&current),
        "pids.current {current}: the sleeps should fill the cgroup up to pids.max"
    );
    let events =
        std::fs::read_to_string(cgroup_file(&cg, "pids", "pids.events", "pids.events")).unwrap();
    let max_hits: u64 = events
        .lines()
        .find_map(|l| l.strip_prefix("max "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    assert!(
        max_hits > 0,
        "pids.events must count refused forks: {events}"
    );
}

#[test]
fn exit_codes_and_signals_propagate() {
    let env = Env::new();
    let id = env.id("exit");
    let b = env.bundle(&id, |c| args(c, &["sh", "-c", "exit 7"]));
    let (code, _, err) = env.run_container(&id, &b);
    assert_eq!(code, 7, "{err}");

    // A container killed by a signal exits 128+N, as with runc. (PID 1 cannot
    // SIGKILL itself from inside its namespace, so the kill comes from outside.)
    let id2 = env.id("killed");
    let b2 = env.bundle(&id2, |c| args(c, &["sleep", "30"]));
    let mut run = env
        .runc()
        .args(["run", "--bundle", b2.to_str().unwrap(), &id2])
        .spawn()
        .unwrap();
    assert!(wait_until(10, || {
        let out = env.run(&["state", &id2]);
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("running")
    }));
    let out = env.run(&["kill", &id2, "KILL"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(run.wait().unwrap().code(), Some(128 + 9));

    // SIGTERM to a foreground `run` is forwarded to the container.
    let id3 = env.id("forward");
    let b3 = env.bundle(&id3, |c| {
        args(
            c,
            &[
                "sh",
                "-c",
                "trap 'exit 42' TERM; echo ready; while :; do sleep 0.05; done",
            ],
        )
    });
    let mut child = env
        .runc()
        .args(["run", "--bundle", b3.to_str().unwrap(), &id3])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut buf = [0u8; 6];
    use std::io::Read;
    stdout.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ready\n");
    // SAFETY: signalling the podrt-runc process this test spawned.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(42));
}

#[test]
fn create_start_state_kill_delete() {
    let env = Env::new();
    let id = env.id("life");
    let cg = format!("/podrt-test/{id}");
    let b = env.bundle(&id, |c| {
        args(c, &["sleep", "60"]);
        c["annotations"] = json!({"org.podrt.test": "yes"});
    });
    env.create_detached(&id, &b, false);
    let st = env.state(&id);
    assert_eq!(st["status"], "created");
    assert_eq!(st["annotations"]["org.podrt.test"], "yes");
    assert_eq!(st["bundle"], json!(b));
    let pid = st["pid"].as_i64().unwrap();
    assert!(pid > 0);
    // A second start-less create with the same id is refused.
    let dup = env.run(&["create", "--bundle", b.to_str().unwrap(), &id]);
    assert!(!dup.status.success());
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already exists"));

    let out = env.run(&["start", &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(env.state(&id)["status"], "running");
    let again = env.run(&["start", &id]);
    assert!(
        !again.status.success(),
        "starting a running container must fail"
    );

    let busy = env.run(&["delete", &id]);
    assert!(
        !busy.status.success(),
        "deleting a running container needs --force"
    );

    let out = env.run(&["kill", &id, "KILL"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(wait_until(5, || env.state(&id)["status"] == "stopped"));

    let out = env.run(&["delete", &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!env.root.join(&id).exists(), "state directory must be gone");
    assert!(!cgroup_exists(&cg), "cgroup must be gone");
    let gone = env.run(&["state", &id]);
    assert!(!gone.status.success());
    // Gone, or a zombie waiting for whoever reaps orphans here (not a live process).
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .next()
        .unwrap_or("");
    assert!(
        stat.is_empty() || state == "Z",
        "init process must be gone: {stat}"
    );
}

#[test]
fn kill_all_reaches_every_process() {
    let env = Env::new();
    let id = env.id("killall");
    let b = env.bundle(&id, |c| {
        args(c, &["sh", "-c", "trap '' TERM; sleep 60 & sleep 60 & wait"])
    });
    env.create_detached(&id, &b, true);
    let cg = format!("/podrt-test/{id}");
    let procs = cgroup_file(&cg, "pids", "cgroup.procs", "cgroup.procs");
    assert!(wait_until(5, || std::fs::read_to_string(&procs)
        .map(|s| s.lines().count() == 3)
        .unwrap_or(false)));
    let out = env.run(&["kill", "--all", &id, "KILL"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(wait_until(5, || std::fs::read_to_string(&procs)
        .map(|s| s.trim().is_empty())
        .unwrap_or(true)));
}

#[test]
fn exec_joins_the_container_pid_namespace() {
    let env = Env::new();
    let id = env.id("exec");
    let b = env.bundle(&id, |c| args(c, &["sleep", "60"]));
    env.create_detached(&id, &b, true);
    let out = env.run(&[
        "exec",
        &id,
        "sh",
        "-c",
        "cat /proc/1/cmdline | tr '\\0' ' '; echo; echo $$; hostname",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0].trim(),
        "sleep 60",
        "PID 1 is the container's init: {text}"
    );
    let pid: u32 = lines[1].trim().parse().unwrap();
    assert!(
        pid > 1 && pid < 100,
        "exec'd process has a small PID in the container's namespace: {pid}"
    );
    assert_eq!(lines[2], "podrt");
    let code = env.run(&["exec", &id, "sh", "-c", "exit 3"]);
    assert_eq!(code.status.code(), Some(3));
    let ps = env.run(&["ps", "--format", "json", &id]);
    let pids: Vec<i64> = serde_json::from_slice(&ps.stdout).unwrap();
    assert_eq!(
        pids.len(),
        1,
        "exec'd processes are gone, init remains: {pids:?}"
    );
}

#[test]
fn containers_joining_pinned_namespaces_share_them() {
    let env = Env::new();
    // The "pinner" owns a network and UTS namespace; two others join them by path.
    let pin = env.id("pin");
    let b = env.bundle(&pin, |c| {
        args(c, &["sleep", "60"]);
        c["hostname"] = json!("shared-host");
    });
    env.create_detached(&pin, &b, true);
    let pid = env.state(&pin)["pid"].as_i64().unwrap();
    let net_ino = std::fs::read_link(format!("/proc/{pid}/ns/net")).unwrap();
    let mut seen = Vec::new();
    for n in 0..2 {
        let id = env.id(&format!("joiner{n}"));
        let b = env.bundle(&id, |c| {
            let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
            for entry in ns.iter_mut() {
                match entry["type"].as_str() {
                    Some("network") => entry["path"] = json!(format!("/proc/{pid}/ns/net")),
                    Some("uts") => entry["path"] = json!(format!("/proc/{pid}/ns/uts")),
                    _ => {}
                }
            }
            c.as_object_mut().unwrap().remove("hostname");
            args(
                c,
                &[
                    "sh",
                    "-c",
                    "hostname; readlink /proc/self/ns/net; ls /sys/class/net | tr '\\n' ' '",
                ],
            );
        });
        let (code, out, err) = env.run_container(&id, &b);
        assert_eq!(code, 0, "{err}");
        seen.push(out);
    }
    for out in &seen {
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "shared-host", "{out}");
        assert_eq!(lines[1], net_ino.to_str().unwrap(), "{out}");
    }
    assert_eq!(
        seen[0], seen[1],
        "both joiners see the same interfaces and hostname"
    );
}
