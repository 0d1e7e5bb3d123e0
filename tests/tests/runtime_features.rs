//! The rest of the runtime spec as a user meets it: user namespaces, hooks at each
//! point of the lifecycle, pause/resume, update, a terminal over --console-socket,
//! exec --process, rlimits, sysctls, bind mounts and the OOM score.

use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;

use podrt_tests::*;
use serde_json::json;

#[test]
fn user_namespace_maps_root_to_an_unprivileged_host_id() {
    let env = Env::new();
    let id = env.id("userns");
    let b = env.bundle(&id, |c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
        c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
        c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
        args(
            c,
            &[
                "sh",
                "-c",
                "id -u; cat /proc/self/uid_map; echo x > /dev/null && echo devnull-ok",
            ],
        );
    });
    let (code, out, err) = env.run_container(&id, &b);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "0", "{out}");
    let map: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(map, ["0", "200000", "65536"], "{out}");
    assert_eq!(
        lines[2], "devnull-ok",
        "default devices work in a user namespace: {out}"
    );
}

#[test]
fn hooks_run_at_each_point_with_the_state_on_stdin() {
    let env = Env::new();
    let id = env.id("hooks");
    let marks = env.dir.join("marks");
    std::fs::create_dir_all(&marks).unwrap();
    let hook = |name: &str| {
        // Each hook records the status it saw and the hostname of its UTS namespace.
        json!({
            "path": "/bin/sh",
            "args": ["sh", "-c", format!("cat > {m}/{name}.json; hostname > {m}/{name}.host", m = marks.display())]
        })
    };
    // Container-namespace hooks: same files (the host's filesystem is still the root
    // before pivot_root, and the mount namespace is a copy of the host's), but they
    // must see the container's hostname and mount namespace.
    let in_container = |name: &str| {
        json!({"path": "/bin/sh", "args": ["sh", "-c", format!(
            "hostname > {m}/{name}.host; readlink /proc/self/ns/mnt > {m}/{name}.mnt", m = marks.display())]})
    };
    let b = env.bundle(&id, |c| {
        c["hostname"] = json!("hooked");
        c["hooks"] = json!({
            "prestart": [hook("prestart")],
            "createRuntime": [hook("createRuntime")],
            "createContainer": [in_container("createContainer")],
            // startContainer runs after pivot_root: its path and files are the container's.
            "startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "hostname > /dev/shm/startContainer"]}],
            "poststart": [hook("poststart")],
            "poststop": [hook("poststop")]
        });
        args(c, &["sleep", "30"]);
    });
    env.create_detached(&id, &b, false);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let created: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(marks.join("createRuntime.json")).unwrap())
            .unwrap();
    assert_eq!(created["id"], json!(id));
    assert!(created["pid"].as_i64().unwrap() > 0);
    assert_eq!(
        std::fs::read_to_string(marks.join("createRuntime.host")).unwrap(),
        host,
        "createRuntime runs in the runtime's namespaces"
    );
    assert!(marks.join("prestart.json").exists());
    assert!(
        !marks.join("poststart.json").exists(),
        "poststart only after start"
    );
    let out = env.run(&["start", &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let post: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(marks.join("poststart.json")).unwrap())
            .unwrap();
    assert_eq!(post["status"], "running");
    // createContainer/startContainer ran in the container's UTS and mount namespaces.
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    let mnt = std::fs::read_link(format!("/proc/{pid}/ns/mnt")).unwrap();
    let host = std::fs::read_to_string(marks.join("createContainer.host")).unwrap();
    assert_eq!(
        host, "hooked\n",
        "createContainer sees the container's hostname"
    );
    let ns = std::fs::read_to_string(marks.join("createContainer.mnt")).unwrap();
    assert_eq!(
        ns.trim(),
        mnt.to_str().unwrap(),
        "createContainer runs in the container's mount namespace"
    );
    let seen = env.run(&["exec", &id, "cat", "/dev/shm/startContainer"]);
    assert_eq!(
        String::from_utf8_lossy(&seen.stdout),
        "hooked\n",
        "{}",
        String::from_utf8_lossy(&seen.stderr)
    );
    let out = env.run(&["delete", "--force", &id]);
    assert!(out.status.success());
    let stopped: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(marks.join("poststop.json")).unwrap())
            .unwrap();
    assert_eq!(stopped["status"], "stopped");
}

#[test]
fn failing_create_hook_fails_create_and_cleans_up() {
    let env = Env::new();
    let id = env.id("badhook");
    let b = env.bundle(&id, |c| {
        c["hooks"] = json!({"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "echo nope >&2; exit 3"]}]});
        args(c, &["true"]);
    });
    let out = env.run(&["create", "--bundle", b.to_str().unwrap(), &id]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("createRuntime hook") && err.contains("nope"),
        "{err}"
    );
    assert!(!env.root.join(&id).exists());
    assert!(!cgroup_exists(&format!("/podrt-test/{id}")));
}

#[test]
fn pause_and_resume_freeze_the_container() {
    let env = Env::new();
    let id = env.id("pause");
    let b = env.bundle(&id, |c| args(c, &["sleep", "30"]));
    env.create_detached(&id, &b, true);
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    let out = env.run(&["pause", &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(env.state(&id)["status"], "paused");
    let frozen = wait_until(5, || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| {
                s.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('D')
            })
            .unwrap_or(false)
            || std::fs::read_to_string(format!("/proc/{pid}/status"))
                .map(|s| s.contains("frozen"))
                .unwrap_or(false)
            || cgroup_frozen(&format!("/podrt-test/{id}"))
    });
    assert!(frozen, "the freezer must report the cgroup frozen");
    let out = env.run(&["resume", &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(env.state(&id)["status"], "running");
    let again = env.run(&["resume", &id]);
    assert!(
        !again.status.success(),
        "resuming a running container is an error"
    );
}

fn cgroup_frozen(cg: &str) -> bool {
    std::fs::read_to_string(cgroup_file(cg, "freezer", "freezer.state", "cgroup.freeze"))
        .map(|s| s.trim() == "FROZEN" || s.trim() == "1")
        .unwrap_or(false)
}

#[test]
fn update_changes_limits_of_a_running_container() {
    let env = Env::new();
    let id = env.id("update");
    let cg = format!("/podrt-test/{id}");
    let b = env.bundle(&id, |c| {
        c["linux"]["resources"]["pids"] = json!({"limit": 50});
        args(c, &["sleep", "30"]);
    });
    env.create_detached(&id, &b, true);
    let out = env.run(&["update", "--pids-limit", "77", &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let max = std::fs::read_to_string(cgroup_file(&cg, "pids", "pids.max", "pids.max")).unwrap();
    assert_eq!(max.trim(), "77");
}

/// Receive one descriptor sent with SCM_RIGHTS on `sock`.
fn recv_fd(sock: &std::os::unix::net::UnixStream) -> OwnedFd {
    let mut data = [0u8; 256];
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    #[repr(C, align(8))]
    struct Cmsg([u8; 64]);
    let mut cbuf = Cmsg([0; 64]);
    // SAFETY: recvmsg into buffers we own; CMSG macros stay within `cbuf`.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.0.as_mut_ptr() as *mut libc::c_void;
        msg.msg_controllen = cbuf.0.len() as _;
        let n = libc::recvmsg(sock.as_raw_fd(), &mut msg, 0);
        assert!(n > 0, "recvmsg: {}", std::io::Error::last_os_error());
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        assert!(!cmsg.is_null(), "no descriptor received");
        assert_eq!((*cmsg).cmsg_type, libc::SCM_RIGHTS);
        let fd = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg) as *const i32);
        OwnedFd::from_raw_fd(fd)
    }
}

#[test]
fn terminal_master_goes_over_the_console_socket() {
    let env = Env::new();
    let id = env.id("tty");
    let sock_path = env.dir.join("console.sock");
    let listener = UnixListener::bind(&sock_path).unwrap();
    let b = env.bundle(&id, |c| {
        c["process"]["terminal"] = json!(true);
        args(c, &["sh", "-c", "tty; [ -t 0 ] && echo stdin-is-a-tty"]);
    });
    let runc = env.runc();
    let bundle = b.to_str().unwrap().to_string();
    let sock_arg = sock_path.to_str().unwrap().to_string();
    let id2 = id.clone();
    let handle = std::thread::spawn(move || {
        let mut runc = runc;
        runc.args([
            "run",
            "--detach",
            "--console-socket",
            &sock_arg,
            "--bundle",
            &bundle,
            &id2,
        ])
        .output()
        .unwrap()
    });
    let (conn, _) = listener.accept().unwrap();
    let master = recv_fd(&conn);
    let out = handle.join().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut f = std::fs::File::from(master);
    let mut text = String::new();
    let mut buf = [0u8; 512];
    // Read until the container closes the slave (EIO) or we have both lines.
    while !text.contains("stdin-is-a-tty") {
        match f.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => text.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    assert!(text.contains("/dev/pts/"), "{text}");
    assert!(text.contains("stdin-is-a-tty"), "{text}");
}

#[test]
fn exec_with_a_process_file() {
    let env = Env::new();
    let id = env.id("execproc");
    let b = env.bundle(&id, |c| args(c, &["sleep", "30"]));
    env.create_detached(&id, &b, true);
    let process = env.dir.join("process.json");
    std::fs::write(
        &process,
        serde_json::to_vec(&json!({
            "cwd": "/tmp", "user": {"uid": 65534, "gid": 65534},
            "args": ["sh", "-c", "pwd; id -u; echo $GREETING"],
            "env": ["PATH=/bin:/usr/bin", "GREETING=hello"]
        }))
        .unwrap(),
    )
    .unwrap();
    let out = env.run(&["exec", "--process", process.to_str().unwrap(), &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "/tmp\n65534\nhello\n");
}

#[test]
fn rlimits_sysctls_bind_mounts_and_oom_score_apply() {
    let env = Env::new();
    let id = env.id("misc");
    let shared = env.dir.join("shared");
    std::fs::create_dir_all(&shared).unwrap();
    std::fs::write(shared.join("from-host"), "host data\n").unwrap();
    let b = env.bundle(&id, |c| {
        c["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "hard": 900, "soft": 512}]);
        c["process"]["oomScoreAdj"] = json!(500);
        c["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1", "kernel.shm_rmid_forced": "1"});
        c["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/root", "type": "bind", "source": shared, "options": ["rbind", "rw"]
        }));
        c["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/var", "type": "bind", "source": shared, "options": ["bind", "ro"]
        }));
        args(c, &["sh", "-c", "ulimit -n; ulimit -Hn; cat /proc/self/oom_score_adj; cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shm_rmid_forced; cat /root/from-host; echo c > /root/from-container; echo x > /var/nope 2>/dev/null || echo ro-refused"]);
    });
    let (code, out, err) = env.run_container(&id, &b);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "512\n900\n500\n1\n1\nhost data\nro-refused\n");
    assert_eq!(
        std::fs::read_to_string(shared.join("from-container")).unwrap(),
        "c\n"
    );
}

#[test]
fn sysctl_that_is_not_namespaced_is_refused() {
    let env = Env::new();
    let id = env.id("sysctl");
    let b = env.bundle(&id, |c| {
        c["linux"]["sysctl"] = json!({"vm.swappiness": "10"});
        args(c, &["true"]);
    });
    let out = env.run(&["create", "--bundle", b.to_str().unwrap(), &id]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("linux.sysctl.vm.swappiness"));
    assert!(!env.root.join(&id).exists());
}

#[test]
fn strict_seccomp_allow_list_without_no_new_privs() {
    // A profile that allows only what a shell needs (no close_range, no seccomp) with
    // noNewPrivileges off: the filter goes in early, so everything the runtime does
    // after it must be on the list or done before it.
    let env = Env::new();
    let id = env.id("strictsec");
    let allowed = [
        "read",
        "write",
        "openat",
        "open",
        "close",
        "fstat",
        "newfstatat",
        "statx",
        "stat",
        "lstat",
        "mmap",
        "munmap",
        "mprotect",
        "brk",
        "rt_sigaction",
        "rt_sigprocmask",
        "rt_sigreturn",
        "ioctl",
        "access",
        "execve",
        "exit",
        "exit_group",
        "getpid",
        "getppid",
        "getuid",
        "geteuid",
        "getgid",
        "getegid",
        "arch_prctl",
        "set_tid_address",
        "prctl",
        "capget",
        "capset",
        "setgroups",
        "setresuid",
        "setresgid",
        "setuid",
        "setgid",
        "chdir",
        "fcntl",
        "umask",
        "sendto",
        "sendmsg",
        "write",
        "uname",
        "getcwd",
        "wait4",
        "readlink",
        "dup2",
        "dup3",
        "getrandom",
        "prlimit64",
        "futex",
        "set_robust_list",
        "rseq",
        "clone",
        "fork",
        "vfork",
    ];
    let b = env.bundle(&id, |c| {
        c["process"]["noNewPrivileges"] = json!(false);
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [{"names": allowed.to_vec(), "action": "SCMP_ACT_ALLOW"}]
        });
        args(
            c,
            &[
                "sh",
                "-c",
                "echo allowed-ran; grep Seccomp: /proc/self/status",
            ],
        );
    });
    let (code, out, err) = env.run_container(&id, &b);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("allowed-ran") && out.contains("Seccomp:\t2"),
        "{out}"
    );
}

#[test]
fn shared_rootfs_propagation_still_pivots() {
    let env = Env::new();
    let id = env.id("shared");
    let b = env.bundle(&id, |c| {
        c["linux"]["rootfsPropagation"] = json!("shared");
        args(c, &["awk", "$5 == \"/\"", "/proc/self/mountinfo"]);
    });
    let (code, out, err) = env.run_container(&id, &b);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("shared:"),
        "the new root is a shared mount: {out}"
    );
}

#[test]
fn joining_another_containers_pid_namespace_by_path() {
    let env = Env::new();
    let first = env.id("pidns-owner");
    let b = env.bundle(&first, |c| args(c, &["sleep", "30"]));
    env.create_detached(&first, &b, true);
    let pid = env.state(&first)["pid"].as_i64().unwrap();
    let second = env.id("pidns-joiner");
    let b2 = env.bundle(&second, |c| {
        for ns in c["linux"]["namespaces"].as_array_mut().unwrap() {
            if ns["type"] == "pid" {
                ns["path"] = json!(format!("/proc/{pid}/ns/pid"));
            }
        }
        args(
            c,
            &[
                "sh",
                "-c",
                "cat /proc/1/cmdline | tr '\\0' ' '; echo; echo $$",
            ],
        );
    });
    let (code, out, err) = env.run_container(&second, &b2);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0].trim(),
        "sleep 30",
        "PID 1 is the owner's init: {out}"
    );
    assert_ne!(lines[1], "1", "the joiner is not PID 1: {out}");
}

#[test]
fn fifo_devices_and_unknown_hugepage_sizes() {
    let env = Env::new();
    let id = env.id("fifo");
    let b = env.bundle(&id, |c| {
        c["linux"]["devices"] =
            json!([{"path": "/dev/myfifo", "type": "p", "major": 0, "minor": 0, "fileMode": 420}]);
        args(c, &["sh", "-c", "[ -p /dev/myfifo ] && echo is-fifo"]);
    });
    let (code, out, err) = env.run_container(&id, &b);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "is-fifo\n");

    let id2 = env.id("hugetlb");
    let b2 = env.bundle(&id2, |c| {
        c["linux"]["resources"]["hugepageLimits"] = json!([{"pageSize": "3MB", "limit": 1048576}]);
        args(c, &["true"]);
    });
    let out = env.run(&["create", "--bundle", b2.to_str().unwrap(), &id2]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("hugepageLimits[0].pageSize"));
}

#[test]
fn foreground_run_and_exec_relay_their_own_terminal() {
    // `script` gives podrt-runc a terminal, as a user's shell would; with no
    // --console-socket the runtime relays the pty itself, as runc does.
    assert!(
        std::process::Command::new("script")
            .arg("--version")
            .output()
            .is_ok(),
        "`script` (util-linux) is needed for this test"
    );
    let env = Env::new();
    let id = env.id("fgtty");
    let b = env.bundle(&id, |c| {
        c["process"]["terminal"] = json!(true);
        args(c, &["sh", "-c", "tty; read x; echo got-$x; exit 5"]);
    });
    let runc = binary("podrt-runc");
    let cmd = format!(
        "{} --root {} run --bundle {} {}",
        runc.display(),
        env.root.display(),
        b.display(),
        id
    );
    let mut child = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"hello\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(5), "{text}");
    assert!(text.contains("/dev/pts/"), "{text}");
    assert!(text.contains("got-hello"), "{text}");

    let id2 = env.id("fgtty-exec");
    let b2 = env.bundle(&id2, |c| args(c, &["sleep", "30"]));
    env.create_detached(&id2, &b2, true);
    let cmd = format!(
        "{} --root {} exec -t {} sh -c 'tty; exit 3'",
        runc.display(),
        env.root.display(),
        id2
    );
    let out = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stdout).contains("/dev/pts/"));
}

#[test]
fn personality_io_priority_and_scheduler_apply() {
    let env = Env::new();
    let id = env.id("sched");
    let b = env.bundle(&id, |c| {
        c["linux"]["personality"] = json!({"domain": "LINUX32"});
        c["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 6});
        c["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 5});
        // Field 19 of /proc/self/stat is nice, field 41 the policy (3 = SCHED_BATCH).
        args(
            c,
            &[
                "sh",
                "-c",
                "uname -m; awk '{print $19, $41}' /proc/self/stat",
            ],
        );
    });
    let (code, out, err) = env.run_container(&id, &b);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    if cfg!(target_arch = "x86_64") {
        assert_eq!(lines[0], "i686", "LINUX32 personality: {out}");
    }
    assert_eq!(lines[1], "5 3", "nice 5 under SCHED_BATCH: {out}");

    let id2 = env.id("rdt");
    let b2 = env.bundle(&id2, |c| {
        c["linux"]["intelRdt"] = json!({"closID": "podrt"});
        args(c, &["true"]);
    });
    let out = env.run(&["create", "--bundle", b2.to_str().unwrap(), &id2]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("linux.intelRdt"));
    assert!(!env.root.join(&id2).exists());
}
