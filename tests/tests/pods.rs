//! Pods from manifests, as a user runs them with `podrt`: containers of one pod share
//! hostname, IPC and localhost but not PIDs (unless asked), volumes are shared,
//! limits land in cgroups, and delete leaves nothing behind.

use podrt_tests::pods::{text, PodEnv};
use podrt_tests::{cgroup_exists, cgroup_file, wait_until};

/// Two containers: `web` serves "hello" on localhost:8080, `client` sleeps.
const TWO: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: two
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: busybox
    command: ["sh", "-c", "mkdir -p /www && echo hello > /www/index.html && exec httpd -f -p 127.0.0.1:8080 -h /www"]
    ports:
    - containerPort: 8080
  - name: client
    image: busybox
    command: ["sleep", "3600"]
"#;

#[test]
fn two_containers_share_hostname_ipc_and_localhost_but_not_pids() {
    let env = PodEnv::new();
    let out = env.apply(TWO);
    assert_eq!(out.trim(), "pod/two created");

    // UTS: the pod's hostname, in both.
    assert_eq!(env.sh("two", "web", "hostname"), "two");
    assert_eq!(env.sh("two", "client", "hostname"), "two");
    assert_eq!(env.sh("two", "client", "cat /etc/hostname"), "two");

    // IPC: the same namespace, and POSIX shm made in one is seen in the other.
    let ipc_a = env.sh("two", "web", "readlink /proc/self/ns/ipc");
    let ipc_b = env.sh("two", "client", "readlink /proc/self/ns/ipc");
    assert_eq!(ipc_a, ipc_b);
    assert_ne!(
        ipc_a,
        std::fs::read_link("/proc/self/ns/ipc")
            .unwrap()
            .to_string_lossy()
    );
    env.sh("two", "web", "echo shared-segment > /dev/shm/seg");
    assert_eq!(
        env.sh("two", "client", "cat /dev/shm/seg"),
        "shared-segment"
    );

    // Network: one namespace; localhost reaches the other container's server...
    assert!(
        wait_until(10, || env
            .exec("two", "client", &["wget", "-qO-", "http://127.0.0.1:8080/"])
            .1
            .trim()
            == "hello"),
        "client could not reach web on localhost:8080"
    );
    // ...and the port is taken for everyone in the pod.
    let (code, out, err) = env.exec("two", "client", &["nc", "-l", "-p", "8080", "127.0.0.1"]);
    assert_ne!(code, 0, "second bind on 8080 succeeded: {out}");
    assert!(err.contains("in use"), "expected EADDRINUSE, got: {err}");

    // PID: each its own namespace with its own PID 1; web's httpd is not visible.
    assert!(env
        .sh("two", "web", "cat /proc/1/cmdline | tr '\\0' ' '")
        .contains("httpd"));
    assert!(env
        .sh("two", "client", "cat /proc/1/cmdline | tr '\\0' ' '")
        .contains("sleep"));
    let ps = env.sh("two", "client", "ps -o comm");
    assert!(!ps.contains("httpd"), "client sees web's processes: {ps}");

    let table = env.ok(&["get", "pods"]);
    let row = table
        .lines()
        .find(|l| l.starts_with("two "))
        .expect("row for two");
    assert!(row.contains("2/2") && row.contains("Running"), "{table}");
}

#[test]
fn share_process_namespace_shows_each_others_processes() {
    let env = PodEnv::new();
    env.apply(
        r#"
apiVersion: v1
kind: Pod
metadata: {name: shared}
spec:
  shareProcessNamespace: true
  containers:
  - {name: a, image: busybox, command: ["sleep", "1001"]}
  - {name: b, image: busybox, command: ["sleep", "1002"]}
"#,
    );
    let ps = env.sh("shared", "b", "ps -o args");
    assert!(
        ps.contains("sleep 1001") && ps.contains("sleep 1002"),
        "{ps}"
    );
    assert_eq!(env.sh("shared", "a", "cat /proc/1/comm"), "podrt-pod-init");
}

#[test]
fn volumes_are_shared_read_only_tmpfs_and_host_paths() {
    let env = PodEnv::new();
    let host = env.dir.join("host-data");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("greeting"), "from the host\n").unwrap();
    let yaml = format!(
        r#"
apiVersion: v1
kind: Pod
metadata: {{name: vols}}
spec:
  containers:
  - name: writer
    image: busybox
    command: ["sleep", "3600"]
    volumeMounts:
    - {{name: scratch, mountPath: /scratch}}
    - {{name: mem, mountPath: /mem}}
    - {{name: host, mountPath: /host, readOnly: true}}
  - name: reader
    image: busybox
    command: ["sleep", "3600"]
    volumeMounts:
    - {{name: scratch, mountPath: /data, readOnly: true}}
    - {{name: scratch, mountPath: /sub, subPath: part}}
  volumes:
  - name: scratch
    emptyDir: {{}}
  - name: mem
    emptyDir: {{medium: Memory, sizeLimit: 16Mi}}
  - name: host
    hostPath: {{path: {}, type: Directory}}
"#,
        host.display()
    );
    env.apply(&yaml);
    env.sh("vols", "writer", "echo written-by-writer > /scratch/file");
    assert_eq!(
        env.sh("vols", "reader", "cat /data/file"),
        "written-by-writer"
    );
    let (code, _, err) = env.exec("vols", "reader", &["sh", "-c", "echo x > /data/other"]);
    assert_ne!(code, 0, "write to a readOnly mount succeeded");
    assert!(err.contains("Read-only"), "{err}");
    env.sh("vols", "reader", "echo in-sub > /sub/f");
    assert_eq!(env.sh("vols", "writer", "cat /scratch/part/f"), "in-sub");
    let mounts = env.sh("vols", "writer", "grep ' /mem ' /proc/mounts");
    assert!(
        mounts.starts_with("tmpfs /mem tmpfs") && mounts.contains("size=16384k"),
        "{mounts}"
    );
    assert_eq!(
        env.sh("vols", "writer", "cat /host/greeting"),
        "from the host"
    );
    let (code, _, _) = env.exec("vols", "writer", &["sh", "-c", "echo x > /host/new"]);
    assert_ne!(code, 0, "write to a readOnly hostPath succeeded");
}

#[test]
fn memory_and_cpu_limits_land_in_the_container_cgroup() {
    let env = PodEnv::new();
    env.apply(
        r#"
apiVersion: v1
kind: Pod
metadata: {name: limited}
spec:
  containers:
  - name: app
    image: busybox
    command: ["sleep", "3600"]
    resources:
      limits: {memory: 64Mi, cpu: 500m}
      requests: {memory: 32Mi, cpu: 250m}
"#,
    );
    let cg = env.container_cgroup("limited", "app");
    let mem = std::fs::read_to_string(cgroup_file(
        &cg,
        "memory",
        "memory.limit_in_bytes",
        "memory.max",
    ))
    .unwrap();
    assert_eq!(mem.trim(), (64u64 << 20).to_string());
    if podrt_tests::cgroup_v2() {
        let cpu = std::fs::read_to_string(cgroup_file(&cg, "cpu", "", "cpu.max")).unwrap();
        assert_eq!(cpu.trim(), "50000 100000");
    } else {
        let quota =
            std::fs::read_to_string(cgroup_file(&cg, "cpu", "cpu.cfs_quota_us", "")).unwrap();
        let shares = std::fs::read_to_string(cgroup_file(&cg, "cpu", "cpu.shares", "")).unwrap();
        assert_eq!(quota.trim(), "50000");
        assert_eq!(shares.trim(), "256");
    }
    // The container's cgroup is below the pod's.
    let uid = env.pod_json("limited")["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(cg.starts_with(&format!("{}/pod{uid}/", env.cgroup_parent)));
}

#[test]
fn one_manifest_makes_independent_pods_under_other_names() {
    let env = PodEnv::new();
    let yaml = "apiVersion: v1\nkind: Pod\nmetadata: {name: tmpl}\nspec:\n  containers:\n  - {name: c, image: busybox, command: [sleep, '3600']}\n";
    let file = env.manifest("tmpl", yaml);
    let f = file.to_str().unwrap();
    assert_eq!(
        env.ok(&["apply", "-f", f, "--name", "one"]).trim(),
        "pod/one created"
    );
    assert_eq!(
        env.ok(&["apply", "-f", f, "--name", "two"]).trim(),
        "pod/two created"
    );
    let uid = |p: &str| {
        env.pod_json(p)["metadata"]["uid"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_ne!(uid("one"), uid("two"));
    let net_one = env.sh("one", "c", "readlink /proc/self/ns/net");
    let net_two = env.sh("two", "c", "readlink /proc/self/ns/net");
    assert_ne!(net_one, net_two);
    // Applying the same manifest again under a taken name changes nothing.
    assert_eq!(
        env.ok(&["apply", "-f", f, "--name", "one"]).trim(),
        "pod/one unchanged"
    );
}

#[test]
fn delete_leaves_no_mount_cgroup_pin_directory_or_process() {
    let env = PodEnv::new();
    env.apply(
        r#"
apiVersion: v1
kind: Pod
metadata: {name: gone}
spec:
  terminationGracePeriodSeconds: 2
  shareProcessNamespace: true
  containers:
  - {name: a, image: busybox, command: ["sleep", "3600"], volumeMounts: [{name: m, mountPath: /m}]}
  - {name: b, image: busybox, command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]}
  volumes: [{name: m, emptyDir: {medium: Memory}}]
"#,
    );
    let dir = env.pod_dir("gone");
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("pod.json")).unwrap()).unwrap();
    let mut pids: Vec<i64> = vec![
        record["supervisor"]["pid"]
            .as_i64()
            .expect("supervisor pid"),
        record["podInit"]["pid"].as_i64().expect("pod init pid"),
    ];
    let cgroups: Vec<String> = ["a", "b"]
        .iter()
        .map(|c| env.container_cgroup("gone", c))
        .collect();
    for cg in &cgroups {
        let procs =
            std::fs::read_to_string(cgroup_file(cg, "pids", "cgroup.procs", "cgroup.procs"))
                .unwrap();
        pids.extend(procs.lines().filter_map(|l| l.parse::<i64>().ok()));
    }
    assert!(pids.len() >= 4, "{pids:?}");
    assert!(!env.mounts_under_root().is_empty());

    let out = env.ok(&["delete", "pod", "gone"]);
    assert_eq!(out.trim(), "pod \"gone\" deleted");
    assert!(
        env.mounts_under_root().is_empty(),
        "mounts left: {:?}",
        env.mounts_under_root()
    );
    assert!(!dir.exists(), "{} left", dir.display());
    for cg in &cgroups {
        assert!(!cgroup_exists(cg), "cgroup {cg} left");
    }
    let uid = dir.file_name().unwrap().to_string_lossy().to_string();
    assert!(
        !cgroup_exists(&format!("{}/pod{uid}", env.cgroup_parent)),
        "pod cgroup left"
    );
    for pid in pids {
        let alive = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| !s.contains(") Z "))
            .unwrap_or(false);
        assert!(!alive, "process {pid} survived the delete");
    }
    let out = env.podrt(&["get", "pod", "gone"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("not found"));
}

#[test]
fn logs_and_exec_exit_codes() {
    let env = PodEnv::new();
    env.apply(
        r#"
apiVersion: v1
kind: Pod
metadata: {name: talk}
spec:
  containers:
  - name: c
    image: busybox
    env: [{name: WHO, value: world}]
    command: ["sh", "-c", "echo hello $(WHO); echo to-stderr >&2; exec sleep 3600"]
"#,
    );
    assert!(wait_until(10, || env
        .ok(&["logs", "talk"])
        .contains("to-stderr")));
    let logs = env.ok(&["logs", "talk", "-c", "c"]);
    assert!(logs.contains("hello world\n"), "{logs}");
    let (code, _, _) = env.exec("talk", "c", &["sh", "-c", "exit 7"]);
    assert_eq!(code, 7);
    let (code, _, err) = env.exec("talk", "nope", &["true"]);
    assert_eq!(code, 1);
    assert!(err.contains("container nope is not valid"), "{err}");
}

#[test]
fn exits_are_recorded_by_the_supervisor_and_shown_as_kubectl_does() {
    let env = PodEnv::new();
    env.apply(
        r#"
apiVersion: v1
kind: Pod
metadata: {name: ends}
spec:
  restartPolicy: Never
  containers:
  - {name: bad, image: busybox, command: ["sh", "-c", "exit 3"]}
  - {name: ok, image: busybox, command: ["true"]}
"#,
    );
    let terminated = |name: &str| {
        let v = env.pod_json("ends");
        v["status"]["containerStatuses"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .map(|s| s["state"]["terminated"].clone())
            .unwrap()
    };
    assert!(wait_until(10, || !terminated("bad").is_null()
        && !terminated("ok").is_null()));
    assert_eq!(terminated("ok")["exitCode"], 0);
    assert_eq!(terminated("ok")["reason"], "Completed");
    assert_eq!(terminated("bad")["exitCode"], 3);
    assert_eq!(terminated("bad")["reason"], "Error");
    assert_eq!(env.pod_json("ends")["status"]["phase"], "Failed");
    // kubectl shows the reason of the first container that has one.
    let table = env.ok(&["get", "pods"]);
    assert!(table.contains("0/2") && table.contains("Error"), "{table}");
}

#[test]
fn a_running_pod_keeps_only_its_supervisor_resident() {
    let env = PodEnv::new();
    env.apply("apiVersion: v1\nkind: Pod\nmetadata: {name: lean}\nspec:\n  containers:\n  - {name: a, image: busybox, command: [sleep, '3600']}\n  - {name: b, image: busybox, command: [sleep, '3600']}\n");
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(env.pod_dir("lean").join("pod.json")).unwrap())
            .unwrap();
    let sup = record["supervisor"]["pid"].as_i64().unwrap();
    // The supervisor's children are exactly the two containers' processes: no
    // process holds the pinned namespaces.
    let children: Vec<i64> = std::fs::read_to_string(format!("/proc/{sup}/task/{sup}/children"))
        .unwrap()
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(children.len(), 2, "{children:?}");
    for c in &children {
        let comm = std::fs::read_to_string(format!("/proc/{c}/comm")).unwrap();
        assert_eq!(comm.trim(), "sleep");
    }
    assert!(record["podInit"].is_null());
}

#[test]
fn apply_returns_while_an_init_container_waits_and_the_pod_can_be_deleted() {
    let env = PodEnv::new();
    let file = env.manifest(
        "waits",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: waits}\nspec:\n  initContainers:\n  - {name: forever, image: busybox, command: [sleep, '3600']}\n  containers:\n  - {name: app, image: busybox, command: [sleep, '3600']}\n",
    );
    let mut apply = env
        .cmd()
        .args(["apply", "-f", file.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // kubectl's apply does not wait for init containers: neither does podrt's.
    let returned = wait_until(30, || apply.try_wait().is_ok_and(|s| s.is_some()));
    if !returned {
        let _ = apply.kill();
    }
    let out = apply.wait_with_output().unwrap();
    assert!(
        returned,
        "apply waited for an init container that never ends"
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "pod/waits created");
    assert!(env.ok(&["get", "pods"]).contains("Init:0/1"));
    let dir = env.pod_dir("waits");
    assert_eq!(
        env.ok(&["delete", "pod", "waits", "--grace-period=0", "--force"])
            .trim(),
        "pod \"waits\" deleted"
    );
    assert!(!dir.exists());
    assert!(
        env.mounts_under_root().is_empty(),
        "{:?}",
        env.mounts_under_root()
    );
    assert!(!cgroup_exists(&env.cgroup_parent));
}

#[test]
fn logs_follow_until_the_container_ends() {
    let env = PodEnv::new();
    env.apply(
        r#"
apiVersion: v1
kind: Pod
metadata: {name: follow}
spec:
  restartPolicy: Never
  containers:
  - {name: c, image: busybox, command: ["sh", "-c", "for i in 1 2 3; do echo line $i; sleep 0.3; done"]}
"#,
    );
    let out = env.ok(&["logs", "-f", "follow"]);
    assert_eq!(out, "line 1\nline 2\nline 3\n");
}

#[test]
fn host_network_ipc_and_pid_share_the_hosts_namespaces() {
    let env = PodEnv::new();
    env.apply(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: hosty}\nspec:\n  hostNetwork: true\n  hostIPC: true\n  hostPID: true\n  containers:\n  - {name: c, image: busybox, command: [sleep, '3600']}\n",
    );
    // The test's host is its own network namespace; IPC, UTS and PID are the machine's.
    let inside = env.sh("hosty", "c", "readlink /proc/self/ns/net");
    assert_eq!(inside, env.host.ns_link(), "net namespace");
    for ns in ["ipc", "uts", "pid"] {
        let host = std::fs::read_link(format!("/proc/self/ns/{ns}")).unwrap();
        let inside = env.sh("hosty", "c", &format!("readlink /proc/self/ns/{ns}"));
        assert_eq!(inside, host.to_string_lossy(), "{ns} namespace");
    }
    let host_name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(env.sh("hosty", "c", "hostname"), host_name.trim());
    // Its own mount namespace still: the host's root is not the container's.
    let mnt = std::fs::read_link("/proc/self/ns/mnt").unwrap();
    assert_ne!(
        env.sh("hosty", "c", "readlink /proc/self/ns/mnt"),
        mnt.to_string_lossy()
    );
    // Nothing was pinned.
    assert!(!env.pod_dir("hosty").join("ns/net").exists());
}
