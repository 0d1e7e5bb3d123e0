//! Pods made over the CRI, as kubelet makes them: `RunPodSandbox`, then
//! containers created, started, stopped and removed one call at a time,
//! `StopPodSandbox` and `RemovePodSandbox`. kubelet's metadata, labels and
//! annotations come back unchanged; the CLI sees the same pod; the agent
//! SIGKILLed and started again finds every container as it was; stop and
//! remove are idempotent; bad requests name the field and leave nothing.
//! (What a failed test leaves, the test root's clean-up deletes: these are
//! ordinary podrt pods.)

use std::collections::HashMap;

use k8s_cri::v1;
use podrt_tests::cri::Cri;
use podrt_tests::pods::PodEnv;
use podrt_tests::workloads::{workload_env, Agent};

fn sandbox_config(name: &str, attempt: u32, log_dir: &std::path::Path) -> v1::PodSandboxConfig {
    v1::PodSandboxConfig {
        metadata: Some(v1::PodSandboxMetadata {
            name: name.into(),
            uid: format!("kubelet-uid-{name}"),
            namespace: "default".into(),
            attempt,
        }),
        hostname: name.into(),
        log_directory: log_dir.display().to_string(),
        labels: HashMap::from([("app".to_string(), name.to_string())]),
        annotations: HashMap::from([("seen.by/kubelet".to_string(), "yes".to_string())]),
        linux: Some(v1::LinuxPodSandboxConfig::default()),
        ..Default::default()
    }
}

fn container_config(name: &str, attempt: u32, script: &str) -> v1::ContainerConfig {
    v1::ContainerConfig {
        metadata: Some(v1::ContainerMetadata {
            name: name.into(),
            attempt,
        }),
        image: Some(v1::ImageSpec {
            image: "busybox".into(),
            ..Default::default()
        }),
        command: vec!["sh".into(), "-c".into(), script.into()],
        envs: vec![v1::KeyValue {
            key: "GREETING".into(),
            value: "hi".into(),
        }],
        labels: HashMap::from([("io.kubernetes.container.name".to_string(), name.to_string())]),
        annotations: HashMap::from([("restart".to_string(), attempt.to_string())]),
        log_path: format!("{name}/{attempt}.log"),
        ..Default::default()
    }
}

fn run_sandbox(cri: &Cri, config: v1::PodSandboxConfig) -> Result<String, tonic::Status> {
    cri.wait(cri.runtime().run_pod_sandbox(v1::RunPodSandboxRequest {
        config: Some(config),
        runtime_handler: String::new(),
    }))
    .map(|r| r.into_inner().pod_sandbox_id)
}

fn create(
    cri: &Cri,
    sandbox: &str,
    config: v1::ContainerConfig,
    sandbox_config: &v1::PodSandboxConfig,
) -> Result<String, tonic::Status> {
    cri.wait(cri.runtime().create_container(v1::CreateContainerRequest {
        pod_sandbox_id: sandbox.into(),
        config: Some(config),
        sandbox_config: Some(sandbox_config.clone()),
    }))
    .map(|r| r.into_inner().container_id)
}

fn status(cri: &Cri, id: &str) -> v1::ContainerStatus {
    cri.wait(cri.runtime().container_status(v1::ContainerStatusRequest {
        container_id: id.into(),
        verbose: false,
    }))
    .expect("ContainerStatus")
    .into_inner()
    .status
    .expect("a status")
}

fn sandbox_status(cri: &Cri, id: &str) -> Result<v1::PodSandboxStatus, tonic::Status> {
    cri.wait(
        cri.runtime()
            .pod_sandbox_status(v1::PodSandboxStatusRequest {
                pod_sandbox_id: id.into(),
                verbose: false,
            }),
    )
    .map(|r| r.into_inner().status.expect("a status"))
}

fn containers_of(cri: &Cri, sandbox: &str) -> Vec<v1::Container> {
    cri.wait(cri.runtime().list_containers(v1::ListContainersRequest {
        filter: Some(v1::ContainerFilter {
            pod_sandbox_id: sandbox.into(),
            ..Default::default()
        }),
    }))
    .expect("ListContainers")
    .into_inner()
    .containers
}

fn state(s: &v1::ContainerStatus) -> v1::ContainerState {
    v1::ContainerState::try_from(s.state).expect("a known state")
}

#[test]
fn kubelets_calls_make_run_stop_and_remove_a_pod_and_its_containers() {
    let env = workload_env();
    let mut agent = Agent::start(&env);
    let socket = env.root.join("cri.sock");
    let logs = env.dir.join("var-log-pods");
    let share = env.dir.join("share");
    std::fs::create_dir_all(&share).unwrap();
    std::fs::write(share.join("file"), "from the host\n").unwrap();
    let cri = Cri::connect(&socket);

    let config = sandbox_config("kpod", 0, &logs);
    let id = run_sandbox(&cri, config.clone()).expect("RunPodSandbox");
    let st = sandbox_status(&cri, &id).expect("PodSandboxStatus");
    assert_eq!(st.state, v1::PodSandboxState::SandboxReady as i32);
    let meta = st.metadata.clone().unwrap();
    assert_eq!(
        (meta.name.as_str(), meta.uid.as_str(), meta.attempt),
        ("kpod", "kubelet-uid-kpod", 0)
    );
    assert_eq!(st.labels, config.labels, "labels come back as given");
    assert_eq!(st.annotations, config.annotations);
    assert!(!st.network.unwrap().ip.is_empty(), "the pod has an IP");
    // The CLI sees the same pod.
    assert!(env.ok(&["get", "pods"]).contains("kpod"));

    // A container: created (not running), then started.
    // It says hello, then "more" each time /tmp/more appears.
    let mut first = container_config(
        "app",
        0,
        "echo hello $GREETING; while true; do [ -f /tmp/more ] && rm /tmp/more && echo more; sleep 0.1; done",
    );
    first.mounts = vec![v1::Mount {
        container_path: "/share".into(),
        host_path: share.display().to_string(),
        readonly: true,
        ..Default::default()
    }];
    let c1 = create(&cri, &id, first.clone(), &config).expect("CreateContainer");
    let s = status(&cri, &c1);
    assert_eq!(state(&s), v1::ContainerState::ContainerCreated, "{s:?}");
    assert_eq!(s.metadata.as_ref().unwrap().name, "app");
    assert_eq!(s.labels, first.labels);
    assert_eq!(s.annotations, first.annotations);
    assert_eq!(s.log_path, logs.join("app/0.log").display().to_string());
    cri.wait(cri.runtime().start_container(v1::StartContainerRequest {
        container_id: c1.clone(),
    }))
    .expect("StartContainer");
    assert_eq!(
        state(&status(&cri, &c1)),
        v1::ContainerState::ContainerRunning
    );
    let exec = cri
        .wait(cri.runtime().exec_sync(v1::ExecSyncRequest {
            container_id: c1.clone(),
            cmd: vec!["cat".into(), "/share/file".into()],
            timeout: 10,
        }))
        .expect("ExecSync")
        .into_inner();
    assert_eq!(String::from_utf8_lossy(&exec.stdout), "from the host\n");
    let log = logs.join("app/0.log");
    let logged = || std::fs::read_to_string(&log).is_ok_and(|t| t.contains(" stdout F hello hi"));
    assert!(
        podrt_tests::wait_until(5, logged),
        "the container's output reaches kubelet's log path as CRI lines: {:?}",
        std::fs::read_to_string(&log)
    );
    // kubelet rotates the log: renames it, asks for a new one.
    let rotated = logs.join("app/0.log.1");
    std::fs::rename(&log, &rotated).unwrap();
    cri.wait(
        cri.runtime()
            .reopen_container_log(v1::ReopenContainerLogRequest {
                container_id: c1.clone(),
            }),
    )
    .expect("ReopenContainerLog");
    cri.wait(cri.runtime().exec_sync(v1::ExecSyncRequest {
        container_id: c1.clone(),
        cmd: vec!["touch".into(), "/tmp/more".into()],
        timeout: 10,
    }))
    .expect("ExecSync touch");
    let more = || std::fs::read_to_string(&log).is_ok_and(|t| t.contains(" stdout F more"));
    assert!(
        podrt_tests::wait_until(5, more),
        "after ReopenContainerLog, output goes to a new file at the log path: {:?}",
        std::fs::read_to_string(&log)
    );
    let old = std::fs::read_to_string(&rotated).unwrap();
    assert!(old.contains("hello hi") && !old.contains("more"), "{old}");
    // Starting it again is refused.
    let again = cri.wait(cri.runtime().start_container(v1::StartContainerRequest {
        container_id: c1.clone(),
    }));
    assert!(
        again.is_err(),
        "a running container cannot be started again"
    );

    // Stopped: its PID 1 ignores SIGTERM, so SIGKILL after the 1 s timeout.
    cri.wait(cri.runtime().stop_container(v1::StopContainerRequest {
        container_id: c1.clone(),
        timeout: 1,
    }))
    .expect("StopContainer");
    let s = status(&cri, &c1);
    assert_eq!(state(&s), v1::ContainerState::ContainerExited, "{s:?}");
    assert_eq!(s.exit_code, 137, "{s:?}");
    assert!(s.finished_at >= s.started_at && s.started_at > 0, "{s:?}");
    // Nothing restarts it: kubelet decides that.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(
        state(&status(&cri, &c1)),
        v1::ContainerState::ContainerExited
    );

    // kubelet's next attempt, beside the exited one.
    let second = container_config("app", 1, "exec sleep 3600");
    let c2 = create(&cri, &id, second, &config).expect("CreateContainer, attempt 1");
    assert_ne!(c1, c2);
    cri.wait(cri.runtime().start_container(v1::StartContainerRequest {
        container_id: c2.clone(),
    }))
    .expect("StartContainer, attempt 1");
    assert_eq!(containers_of(&cri, &id).len(), 2);

    // The agent SIGKILLed and started again: the same containers, as they were.
    let _ = agent.0.kill();
    let _ = agent.0.wait();
    drop(cri);
    let gone = || std::os::unix::net::UnixStream::connect(&socket).is_err();
    assert!(
        podrt_tests::wait_until(5, gone),
        "the CRI server dies with the agent"
    );
    agent = Agent::start(&env);
    let cri = Cri::connect(&socket);
    assert_eq!(
        state(&status(&cri, &c1)),
        v1::ContainerState::ContainerExited
    );
    let s2 = status(&cri, &c2);
    assert_eq!(state(&s2), v1::ContainerState::ContainerRunning);
    assert_eq!(s2.metadata.unwrap().attempt, 1);

    // Removed, twice: the second does nothing.
    for _ in 0..2 {
        cri.wait(cri.runtime().remove_container(v1::RemoveContainerRequest {
            container_id: c1.clone(),
        }))
        .expect("RemoveContainer");
    }
    let left = containers_of(&cri, &id);
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0].id, c2);
    assert!(
        log.exists(),
        "the log is kubelet's: it stays until kubelet removes it"
    );

    // The sandbox stopped, twice: not ready, its containers exited, kept.
    for _ in 0..2 {
        cri.wait(cri.runtime().stop_pod_sandbox(v1::StopPodSandboxRequest {
            pod_sandbox_id: id.clone(),
        }))
        .expect("StopPodSandbox");
    }
    let st = sandbox_status(&cri, &id).expect("a stopped sandbox is still there");
    assert_eq!(st.state, v1::PodSandboxState::SandboxNotready as i32);
    assert_eq!(
        state(&status(&cri, &c2)),
        v1::ContainerState::ContainerExited
    );
    let refused = create(&cri, &id, container_config("late", 0, "true"), &config);
    assert!(refused.is_err(), "no container in a stopped sandbox");
    // A CLI command that tidies up (gc) leaves a stopped sandbox to kubelet.
    env.ok(&["gc"]);
    assert!(sandbox_status(&cri, &id).is_ok());

    // Removed, twice: gone, with its containers and its directory.
    for _ in 0..2 {
        cri.wait(
            cri.runtime()
                .remove_pod_sandbox(v1::RemovePodSandboxRequest {
                    pod_sandbox_id: id.clone(),
                }),
        )
        .expect("RemovePodSandbox");
    }
    let missing = sandbox_status(&cri, &id).expect_err("removed");
    assert_eq!(missing.code(), tonic::Code::NotFound);
    assert!(containers_of(&cri, "").is_empty());
    assert!(!env.root.join("pods").join(&id).exists());
    drop(agent);
}

#[test]
fn bad_cri_requests_name_the_field_and_leave_nothing() {
    let env: PodEnv = workload_env();
    let _agent = Agent::start(&env);
    let cri = Cri::connect(&env.root.join("cri.sock"));
    let logs = env.dir.join("logs");

    // A namespace mode a sandbox cannot have, and one that does not exist.
    let mut target = sandbox_config("bad", 0, &logs);
    target.linux = Some(v1::LinuxPodSandboxConfig {
        security_context: Some(v1::LinuxSandboxSecurityContext {
            namespace_options: Some(v1::NamespaceOption {
                network: v1::NamespaceMode::Target as i32,
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    });
    let e = run_sandbox(&cri, target).expect_err("network TARGET");
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    assert!(
        e.message().contains("namespace_options.network"),
        "{}",
        e.message()
    );
    let mut unknown = sandbox_config("bad", 0, &logs);
    unknown.linux = Some(v1::LinuxPodSandboxConfig {
        security_context: Some(v1::LinuxSandboxSecurityContext {
            namespace_options: Some(v1::NamespaceOption {
                ipc: 42,
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    });
    let e = run_sandbox(&cri, unknown).expect_err("an unknown mode");
    assert!(
        e.message().contains("namespace_options.ipc"),
        "{}",
        e.message()
    );
    let e = run_sandbox(&cri, v1::PodSandboxConfig::default()).expect_err("no metadata");
    assert!(e.message().contains("config.metadata"), "{}", e.message());
    let listed = |cri: &Cri| {
        cri.wait(
            cri.runtime()
                .list_pod_sandbox(v1::ListPodSandboxRequest { filter: None }),
        )
        .expect("ListPodSandbox")
        .into_inner()
        .items
    };
    assert!(
        listed(&cri).is_empty(),
        "nothing is left of refused sandboxes"
    );

    // A good sandbox; the same one again is refused.
    let config = sandbox_config("good", 0, &logs);
    let id = run_sandbox(&cri, config.clone()).expect("RunPodSandbox");
    let e = run_sandbox(&cri, config.clone()).expect_err("the same sandbox twice");
    assert_eq!(e.code(), tonic::Code::AlreadyExists, "{e}");

    // A missing image, a missing mount source, an unknown sandbox.
    let mut no_image = container_config("c", 0, "true");
    no_image.image = Some(v1::ImageSpec {
        image: "nothere:1.0".into(),
        ..Default::default()
    });
    let e = create(&cri, &id, no_image, &config).expect_err("a missing image");
    assert_eq!(e.code(), tonic::Code::NotFound, "{e}");
    assert!(
        e.message().contains("config.image.image"),
        "{}",
        e.message()
    );
    let mut no_source = container_config("c", 0, "true");
    no_source.mounts = vec![v1::Mount {
        container_path: "/data".into(),
        host_path: env.dir.join("not-there").display().to_string(),
        ..Default::default()
    }];
    let e = create(&cri, &id, no_source, &config).expect_err("a missing mount source");
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    assert!(
        e.message().contains("config.mounts[0].host_path"),
        "{}",
        e.message()
    );
    let e = create(&cri, "f00d", container_config("c", 0, "true"), &config)
        .expect_err("an unknown sandbox");
    assert_eq!(e.code(), tonic::Code::NotFound);
    // A command that is not there: refused at creation, nothing left.
    let mut no_command = container_config("c", 0, "true");
    no_command.command = vec!["/no/such/program".into()];
    let made = create(&cri, &id, no_command, &config);
    if let Ok(cid) = &made {
        let started = cri.wait(cri.runtime().start_container(v1::StartContainerRequest {
            container_id: cid.clone(),
        }));
        assert!(started.is_err(), "a missing program cannot start");
    }
    let pod = env.ok(&["get", "pod", "good", "-o", "json"]);
    let pod: serde_json::Value = serde_json::from_str(&pod).unwrap();
    let containers = pod["spec"]["containers"].as_array().map_or(0, Vec::len);
    assert_eq!(
        containers,
        usize::from(made.is_ok()),
        "refused containers leave nothing in the pod"
    );
    cri.wait(
        cri.runtime()
            .remove_pod_sandbox(v1::RemovePodSandboxRequest {
                pod_sandbox_id: id.clone(),
            }),
    )
    .expect("RemovePodSandbox");
    assert!(listed(&cri).is_empty(), "the sandbox is removed");
}

#[test]
fn a_sandboxs_port_mappings_reach_its_containers_from_the_host() {
    let env = workload_env();
    let _agent = Agent::start(&env);
    let cri = Cri::connect(&env.root.join("cri.sock"));
    // An address of the test host's own, outside the pod network.
    let host_addr = "192.168.232.1";
    for args in [
        &[
            "ip", "link", "add", "crihost0", "type", "veth", "peer", "name", "crihost1",
        ][..],
        &["ip", "addr", "add", "192.168.232.1/24", "dev", "crihost0"],
        &["ip", "link", "set", "crihost0", "up"],
        &["ip", "link", "set", "crihost1", "up"],
    ] {
        env.host.ok(args);
    }
    let logs = env.dir.join("logs");
    let mut config = sandbox_config("porty", 0, &logs);
    config.port_mappings = vec![
        v1::PortMapping {
            protocol: v1::Protocol::Tcp as i32,
            container_port: 8080,
            host_port: 18081,
            host_ip: String::new(),
        },
        // kubelet lists ports without a host port too: no mapping.
        v1::PortMapping {
            protocol: v1::Protocol::Tcp as i32,
            container_port: 9090,
            host_port: 0,
            host_ip: String::new(),
        },
    ];
    let id = run_sandbox(&cri, config.clone()).expect("RunPodSandbox");
    let web = container_config(
        "web",
        0,
        "mkdir -p /www && echo hello over the CRI > /www/index.html && exec httpd -f -p 8080 -h /www",
    );
    let c = create(&cri, &id, web, &config).expect("CreateContainer");
    cri.wait(cri.runtime().start_container(v1::StartContainerRequest {
        container_id: c.clone(),
    }))
    .expect("StartContainer");
    let busybox = podrt_tests::vendored_rootfs().join("bin/busybox");
    let url = format!("http://{host_addr}:18081/");
    let fetch = || {
        env.host.run(&[
            busybox.to_str().unwrap(),
            "timeout",
            "2",
            "wget",
            "-qO-",
            &url,
        ])
    };
    assert!(
        podrt_tests::wait_until(10, || fetch().status.success()),
        "the host port answers"
    );
    assert_eq!(
        String::from_utf8_lossy(&fetch().stdout),
        "hello over the CRI\n"
    );
    // Its annotations are kubelet's alone (the mapping is kept apart).
    let st = sandbox_status(&cri, &id).unwrap();
    assert_eq!(st.annotations, config.annotations);

    // Another sandbox wanting the same host port is refused, naming it.
    let mut second = sandbox_config("porty-two", 0, &logs);
    second.port_mappings = vec![config.port_mappings[0].clone()];
    let e = run_sandbox(&cri, second).expect_err("the host port is taken");
    assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e}");
    assert!(
        e.message().contains("port_mappings[0].host_port") && e.message().contains("18081"),
        "{}",
        e.message()
    );

    cri.wait(
        cri.runtime()
            .remove_pod_sandbox(v1::RemovePodSandboxRequest { pod_sandbox_id: id }),
    )
    .expect("RemovePodSandbox");
    let nat = env.host.nat_rules();
    assert!(
        !nat.contains("--dport 18081"),
        "the mapping goes with it:\n{nat}"
    );
}

#[test]
fn kubelets_cgroup_and_security_context_are_honoured() {
    let env = workload_env();
    let _agent = Agent::start(&env);
    let cri = Cri::connect(&env.root.join("cri.sock"));
    let logs = env.dir.join("logs");

    // The systemd driver's slices are refused, naming the field.
    let mut sliced = sandbox_config("sliced", 0, &logs);
    sliced.linux = Some(v1::LinuxPodSandboxConfig {
        cgroup_parent: "kubepods-besteffort-pod1.slice".into(),
        ..Default::default()
    });
    let e = run_sandbox(&cri, sliced).expect_err("a systemd slice");
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    assert!(e.message().contains("cgroup_parent"), "{}", e.message());

    // kubelet's pod cgroup (cgroupfs driver) holds the containers.
    let pod_cgroup = format!("{}/kubepods/besteffort/podk1", env.cgroup_parent);
    let mut config = sandbox_config("secure", 0, &logs);
    config.linux = Some(v1::LinuxPodSandboxConfig {
        cgroup_parent: pod_cgroup.clone(),
        ..Default::default()
    });
    let id = run_sandbox(&cri, config.clone()).expect("RunPodSandbox");
    let mut c = container_config("app", 0, "exec sleep 3600");
    c.linux = Some(v1::LinuxContainerConfig {
        security_context: Some(v1::LinuxContainerSecurityContext {
            run_as_user: Some(v1::Int64Value { value: 1000 }),
            masked_paths: vec!["/proc/cpuinfo".into()],
            readonly_paths: vec!["/proc/sys".into()],
            no_new_privs: true,
            ..Default::default()
        }),
        ..Default::default()
    });
    let cid = create(&cri, &id, c, &config).expect("CreateContainer");
    cri.wait(cri.runtime().start_container(v1::StartContainerRequest {
        container_id: cid.clone(),
    }))
    .expect("StartContainer");
    let exec = |cmd: &str| {
        let r = cri
            .wait(cri.runtime().exec_sync(v1::ExecSyncRequest {
                container_id: cid.clone(),
                cmd: vec!["sh".into(), "-c".into(), cmd.into()],
                timeout: 10,
            }))
            .expect("ExecSync")
            .into_inner();
        (
            r.exit_code,
            String::from_utf8_lossy(&r.stdout).trim().to_string(),
        )
    };
    assert_eq!(exec("id -u"), (0, "1000".to_string()), "run_as_user");
    assert_eq!(
        exec("wc -c < /proc/cpuinfo"),
        (0, "0".to_string()),
        "the request's masked path is masked"
    );
    assert_eq!(
        exec("grep -c 'NoNewPrivs:.1' /proc/self/status"),
        (0, "1".to_string())
    );
    let in_cgroup = |rel: &str| {
        ["/sys/fs/cgroup/memory", "/sys/fs/cgroup"].iter().any(|m| {
            std::path::Path::new(m)
                .join(rel.trim_start_matches('/'))
                .is_dir()
        })
    };
    assert!(
        in_cgroup(&format!("{pod_cgroup}/{cid}")),
        "the container's cgroup is below kubelet's pod cgroup"
    );
    cri.wait(
        cri.runtime()
            .remove_pod_sandbox(v1::RemovePodSandboxRequest { pod_sandbox_id: id }),
    )
    .expect("RemovePodSandbox");
    assert!(!in_cgroup(&format!("{pod_cgroup}/{cid}")));
    assert!(
        in_cgroup(&format!("{}/kubepods/besteffort", env.cgroup_parent)),
        "kubelet's QoS cgroup is kubelet's: not pruned"
    );
}

/// gRPC clients before cri-tools 1.31 (critest, crictl) send the socket's
/// path as HTTP/2's `:authority`; h2 alone would reset the request. Spoken
/// here frame by frame, as those clients send it.
#[test]
fn a_client_that_names_the_socket_as_authority_is_served() {
    use std::io::{Read, Write};
    let env = workload_env();
    let _agent = Agent::start(&env);
    let socket = env.root.join("cri.sock");
    drop(Cri::connect(&socket)); // waits until it is served
    let mut s = std::os::unix::net::UnixStream::connect(&socket).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let frame = |kind: u8, flags: u8, stream: u32, payload: &[u8]| {
        let len = payload.len();
        let mut f = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
        f.extend_from_slice(&stream.to_be_bytes());
        f.extend_from_slice(payload);
        f
    };
    let path = socket.display().to_string();
    let block = loona_hpack::Encoder::new().encode([
        (&b":method"[..], &b"POST"[..]),
        (b":scheme", b"http"),
        (b":path", b"/runtime.v1.RuntimeService/Version"),
        (b":authority", path.as_bytes()),
        (b"content-type", b"application/grpc"),
        (b"te", b"trailers"),
    ]);
    // VersionRequest { version: "0.1.0" }, in gRPC's length-prefixed frame.
    let message = [0, 0, 0, 0, 7, 0x0a, 5, b'0', b'.', b'1', b'.', b'0'];
    let mut out = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    out.extend(frame(0x4, 0, 0, &[]));
    out.extend(frame(0x1, 0x4, 1, &block));
    out.extend(frame(0x0, 0x1, 1, &message));
    s.write_all(&out).unwrap();
    let mut decoder = loona_hpack::Decoder::new();
    let mut headers = Vec::new();
    let mut data = Vec::new();
    loop {
        let mut head = [0u8; 9];
        s.read_exact(&mut head).expect("a frame from the server");
        let len = usize::from(head[0]) << 16 | usize::from(head[1]) << 8 | usize::from(head[2]);
        let mut payload = vec![0u8; len];
        s.read_exact(&mut payload).unwrap();
        match head[3] {
            0x4 if head[4] & 1 == 0 => s.write_all(&frame(0x4, 1, 0, &[])).unwrap(),
            0x3 => panic!("the server reset the request (RST_STREAM {payload:?})"),
            0x1 => {
                headers.extend(decoder.decode(&payload).expect("HPACK"));
                if head[4] & 0x1 != 0 {
                    break;
                }
            }
            0x0 => data.extend_from_slice(&payload),
            _ => {}
        }
    }
    let get = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name.as_bytes())
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    };
    assert_eq!(get(":status").as_deref(), Some("200"), "{headers:?}");
    assert_eq!(get("grpc-status").as_deref(), Some("0"), "{headers:?}");
    assert!(
        String::from_utf8_lossy(&data).contains("podrt"),
        "the Version answer names podrt: {data:?}"
    );
}
