//! The Kubernetes CRI as kubelet and crictl reach it: `podrt serve` answers on
//! `ROOT/cri.sock` (mode 0660), with gRPC over the Unix socket (a tonic client,
//! as kubelet's is a gRPC one). Pods made with `podrt apply` are the CRI's
//! sandboxes and containers, with kubelet's labels, the CRI's filters, ids by
//! unique prefix, and the CRI's error codes; ExecSync runs commands in them
//! (output, exit code, time-out, the output cap); the stats calls read their
//! cgroups, writable layers and network; UpdateContainerResources writes
//! their cgroups; the image store is its
//! ImageService (list, status, pull from a registry with the request's
//! credentials, remove by id, idempotently, filesystem usage). The agent
//! SIGKILLed and started again serves the same state. Container events stream
//! a container's life.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;

use k8s_cri::v1;
use podrt_tests::cri::Cri;
use podrt_tests::pods::PodEnv;
use podrt_tests::registry::{Registry, Setup, ADDR};
use podrt_tests::workloads::{workload_env, Agent};
use serde_json::Value;

const POD: &str = "
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web, tier: front}
  annotations: {note: kept}
spec:
  containers:
  - name: server
    image: busybox
    command: [sh, -c, 'echo started; exec sleep 3600']
  - name: sidecar
    image: busybox
    command: [sleep, '3600']
    volumeMounts: [{name: scratch, mountPath: /scratch}]
  volumes: [{name: scratch, emptyDir: {}}]
";

fn selector(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn list_sandboxes(cri: &Cri, filter: Option<v1::PodSandboxFilter>) -> Vec<v1::PodSandbox> {
    cri.wait(
        cri.runtime()
            .list_pod_sandbox(v1::ListPodSandboxRequest { filter }),
    )
    .expect("ListPodSandbox")
    .into_inner()
    .items
}

fn list_containers(cri: &Cri, filter: Option<v1::ContainerFilter>) -> Vec<v1::Container> {
    cri.wait(
        cri.runtime()
            .list_containers(v1::ListContainersRequest { filter }),
    )
    .expect("ListContainers")
    .into_inner()
    .containers
}

#[test]
fn the_cri_socket_lists_the_clis_pods_with_kubelets_labels_filters_and_errors() {
    let env = workload_env();
    let mut agent = Agent::start(&env);
    env.apply(POD);
    let socket = env.root.join("cri.sock");
    let cri = Cri::connect(&socket);
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o660, "the socket is root's and its group's");

    let version = cri
        .wait(cri.runtime().version(v1::VersionRequest {
            version: "0.1.0".into(),
        }))
        .expect("Version")
        .into_inner();
    assert_eq!(version.runtime_name, "podrt");
    assert_eq!(version.runtime_api_version, "v1");
    assert!(!version.runtime_version.is_empty());

    let status = cri
        .wait(cri.runtime().status(v1::StatusRequest { verbose: true }))
        .expect("Status")
        .into_inner();
    let conditions = status.status.expect("a runtime status").conditions;
    for kind in ["RuntimeReady", "NetworkReady"] {
        let c = conditions.iter().find(|c| c.r#type == kind);
        assert!(
            c.is_some_and(|c| c.status),
            "{kind} (the built-in network's plugins are installed): {conditions:?}"
        );
    }
    assert!(status.info["config"].contains("cgroupParent"));

    // The pod as a sandbox: its own labels and kubelet's, its annotations.
    let pod: Value = serde_json::from_str(&env.ok(&["get", "pod", "web", "-o", "json"])).unwrap();
    let uid = pod["metadata"]["uid"].as_str().unwrap().to_string();
    let sandboxes = list_sandboxes(&cri, None);
    assert_eq!(sandboxes.len(), 1, "{sandboxes:?}");
    let sb = &sandboxes[0];
    assert_eq!(sb.id, uid);
    let meta = sb.metadata.as_ref().unwrap();
    assert_eq!(
        (meta.name.as_str(), meta.namespace.as_str()),
        ("web", "default")
    );
    assert_eq!(sb.state, v1::PodSandboxState::SandboxReady as i32);
    assert!(sb.created_at > 0);
    assert_eq!(sb.labels["app"], "web");
    assert_eq!(sb.labels["io.kubernetes.pod.name"], "web");
    assert_eq!(sb.labels["io.kubernetes.pod.namespace"], "default");
    assert_eq!(sb.annotations["note"], "kept");

    // Filters: id prefix, state, labels; each part must hold.
    let by = |filter: v1::PodSandboxFilter| list_sandboxes(&cri, Some(filter)).len();
    assert_eq!(
        by(v1::PodSandboxFilter {
            id: uid[..8].into(),
            ..Default::default()
        }),
        1
    );
    assert_eq!(
        by(v1::PodSandboxFilter {
            id: "ffff-none".into(),
            ..Default::default()
        }),
        0
    );
    let not_ready = Some(v1::PodSandboxStateValue {
        state: v1::PodSandboxState::SandboxNotready as i32,
    });
    assert_eq!(
        by(v1::PodSandboxFilter {
            state: not_ready,
            ..Default::default()
        }),
        0
    );
    let sel = |pairs| v1::PodSandboxFilter {
        label_selector: selector(pairs),
        ..Default::default()
    };
    assert_eq!(by(sel(&[("app", "web"), ("tier", "front")])), 1);
    assert_eq!(by(sel(&[("app", "web"), ("tier", "back")])), 0);

    // Its status, by a prefix of its id, with the pod's IP and its containers.
    let st = cri
        .wait(
            cri.runtime()
                .pod_sandbox_status(v1::PodSandboxStatusRequest {
                    pod_sandbox_id: uid[..13].into(),
                    verbose: true,
                }),
        )
        .expect("PodSandboxStatus")
        .into_inner();
    let status = st.status.unwrap();
    assert_eq!(status.id, uid);
    assert_eq!(
        status.network.unwrap().ip,
        pod["status"]["podIP"].as_str().unwrap()
    );
    let ns = status.linux.unwrap().namespaces.unwrap().options.unwrap();
    assert_eq!(ns.network, v1::NamespaceMode::Pod as i32);
    assert_eq!(ns.pid, v1::NamespaceMode::Container as i32);
    assert_eq!(st.containers_statuses.len(), 2);
    let info: Value = serde_json::from_str(&st.info["info"]).expect("info is JSON");
    assert_eq!(info["pod"]["metadata"]["name"], "web");

    // Containers: listed with kubelet's labels, filtered, and their status.
    let containers = list_containers(&cri, None);
    assert_eq!(containers.len(), 2, "{containers:?}");
    for c in &containers {
        assert_eq!(c.pod_sandbox_id, uid);
        assert_eq!(c.state, v1::ContainerState::ContainerRunning as i32);
        assert_eq!(c.labels["io.kubernetes.pod.name"], "web");
        assert!(c.image_ref.starts_with("sha256:"), "{c:?}");
    }
    let server = containers
        .iter()
        .find(|c| c.metadata.as_ref().unwrap().name == "server")
        .expect("the server container is listed");
    let named = |name: &str| {
        list_containers(
            &cri,
            Some(v1::ContainerFilter {
                pod_sandbox_id: uid[..8].into(),
                label_selector: selector(&[("io.kubernetes.container.name", name)]),
                ..Default::default()
            }),
        )
    };
    assert_eq!(named("sidecar").len(), 1);
    assert_eq!(named("nobody").len(), 0);
    let exited = Some(v1::ContainerStateValue {
        state: v1::ContainerState::ContainerExited as i32,
    });
    assert!(list_containers(
        &cri,
        Some(v1::ContainerFilter {
            state: exited,
            ..Default::default()
        })
    )
    .is_empty());

    let cs = cri
        .wait(cri.runtime().container_status(v1::ContainerStatusRequest {
            container_id: server.id.clone(),
            verbose: true,
        }))
        .expect("ContainerStatus")
        .into_inner();
    let status = cs.status.unwrap();
    assert_eq!(status.state, v1::ContainerState::ContainerRunning as i32);
    assert!(
        status.started_at > 0 && status.finished_at == 0,
        "{status:?}"
    );
    let log = std::fs::read_to_string(&status.log_path).expect("the log path is the CRI log");
    assert!(log.contains("stdout F started"), "{log}");
    assert!(serde_json::from_str::<Value>(&cs.info["info"]).is_ok());
    let sidecar = named("sidecar").remove(0);
    let sidecar_status = cri
        .wait(cri.runtime().container_status(v1::ContainerStatusRequest {
            container_id: sidecar.id,
            verbose: false,
        }))
        .expect("ContainerStatus")
        .into_inner()
        .status
        .unwrap();
    assert_eq!(sidecar_status.mounts[0].container_path, "/scratch");

    // The CRI's codes: unknown ids, empty ids, calls not served.
    let code = |r: Result<tonic::Response<v1::PodSandboxStatusResponse>, tonic::Status>| {
        r.expect_err("refused").code()
    };
    let ask = |id: &str| {
        cri.wait(
            cri.runtime()
                .pod_sandbox_status(v1::PodSandboxStatusRequest {
                    pod_sandbox_id: id.into(),
                    verbose: false,
                }),
        )
    };
    assert_eq!(code(ask("no-such-sandbox")), tonic::Code::NotFound);
    assert_eq!(code(ask("")), tonic::Code::InvalidArgument);
    let missing = cri
        .wait(cri.runtime().container_status(v1::ContainerStatusRequest {
            container_id: "no-such-container".into(),
            verbose: false,
        }))
        .expect_err("unknown container");
    assert_eq!(missing.code(), tonic::Code::NotFound);
    let checkpoint = cri
        .wait(
            cri.runtime()
                .checkpoint_container(v1::CheckpointContainerRequest::default()),
        )
        .expect_err("no checkpoints");
    assert_eq!(checkpoint.code(), tonic::Code::Unimplemented);
    assert!(
        checkpoint.message().contains("CRIU"),
        "{}",
        checkpoint.message()
    );

    // ExecSync: output, exit code, a time-out, output past the cap dropped.
    let exec = |cmd: &[&str], timeout: i64| {
        cri.wait(cri.runtime().exec_sync(v1::ExecSyncRequest {
            container_id: server.id.clone(),
            cmd: cmd.iter().map(|s| s.to_string()).collect(),
            timeout,
        }))
    };
    let done = exec(&["sh", "-c", "echo out; echo err >&2; hostname; exit 3"], 0)
        .expect("ExecSync")
        .into_inner();
    assert_eq!(done.exit_code, 3);
    assert_eq!(String::from_utf8_lossy(&done.stdout), "out\nweb\n");
    assert_eq!(String::from_utf8_lossy(&done.stderr), "err\n");
    let started = std::time::Instant::now();
    let late = exec(&["sleep", "30"], 1).expect_err("timed out");
    assert_eq!(late.code(), tonic::Code::DeadlineExceeded, "{late:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    let big = exec(&["head", "-c", "9000000", "/dev/zero"], 20)
        .expect("ExecSync of much output")
        .into_inner();
    assert_eq!(big.exit_code, 0);
    assert_eq!(big.stdout.len(), 8 * 1024 * 1024 - 4096, "capped");
    assert_eq!(
        exec(&[], 0).expect_err("no command").code(),
        tonic::Code::InvalidArgument
    );

    // Stats: the cgroups' CPU and memory, the writable layer, the pod's
    // network and processes; CPU rates from the second sample on.
    let wrote =
        exec(&["sh", "-c", "head -c 300000 /dev/urandom > /written"], 10).expect("ExecSync");
    assert_eq!(wrote.into_inner().exit_code, 0);
    let stats = |id: &str| {
        cri.wait(cri.runtime().container_stats(v1::ContainerStatsRequest {
            container_id: id.into(),
        }))
        .expect("ContainerStats")
        .into_inner()
        .stats
        .unwrap()
    };
    let first = stats(&server.id);
    assert_eq!(first.attributes.as_ref().unwrap().id, server.id);
    let cpu = first.cpu.as_ref().unwrap();
    assert!(
        cpu.usage_core_nano_seconds
            .as_ref()
            .is_some_and(|v| v.value > 0),
        "CPU accounted: {cpu:?}"
    );
    let memory = first.memory.as_ref().unwrap();
    assert!(
        memory
            .working_set_bytes
            .as_ref()
            .is_some_and(|v| v.value > 0),
        "memory accounted: {memory:?}"
    );
    let layer = first.writable_layer.as_ref().unwrap();
    assert!(
        layer.used_bytes.as_ref().unwrap().value >= 300_000,
        "{layer:?}"
    );
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert!(
        stats(&server.id).cpu.unwrap().usage_nano_cores.is_some(),
        "a rate from two samples"
    );
    let all = cri
        .wait(
            cri.runtime()
                .list_container_stats(v1::ListContainerStatsRequest {
                    filter: Some(v1::ContainerStatsFilter {
                        label_selector: selector(&[("io.kubernetes.container.name", "sidecar")]),
                        ..Default::default()
                    }),
                }),
        )
        .expect("ListContainerStats")
        .into_inner()
        .stats;
    assert_eq!(all.len(), 1);
    let pod_stats = cri
        .wait(cri.runtime().pod_sandbox_stats(v1::PodSandboxStatsRequest {
            pod_sandbox_id: uid.clone(),
        }))
        .expect("PodSandboxStats")
        .into_inner()
        .stats
        .unwrap();
    let linux = pod_stats.linux.unwrap();
    assert_eq!(linux.containers.len(), 2);
    assert!(linux.process.unwrap().process_count.unwrap().value >= 2);
    let eth0 = linux
        .network
        .unwrap()
        .default_interface
        .expect("the pod's eth0");
    assert_eq!(eth0.name, "eth0");
    assert!(eth0.rx_bytes.is_some() && eth0.tx_bytes.is_some());
    assert!(linux
        .memory
        .unwrap()
        .usage_bytes
        .is_some_and(|v| v.value > 0));
    let listed = cri
        .wait(
            cri.runtime()
                .list_pod_sandbox_stats(v1::ListPodSandboxStatsRequest {
                    filter: Some(v1::PodSandboxStatsFilter {
                        id: uid[..6].into(),
                        ..Default::default()
                    }),
                }),
        )
        .expect("ListPodSandboxStats")
        .into_inner()
        .stats;
    assert_eq!(listed.len(), 1);

    // New limits, written to the container's cgroup; impossible ones refused.
    let update = |linux: v1::LinuxContainerResources| {
        cri.wait(
            cri.runtime()
                .update_container_resources(v1::UpdateContainerResourcesRequest {
                    container_id: server.id.clone(),
                    linux: Some(linux),
                    ..Default::default()
                }),
        )
    };
    update(v1::LinuxContainerResources {
        memory_limit_in_bytes: 96 << 20,
        cpu_period: 100_000,
        cpu_quota: 30_000,
        ..Default::default()
    })
    .expect("UpdateContainerResources");
    let cgroup = env.container_cgroup("web", "server");
    let v2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let (memory_file, cpu_file) = if v2 {
        (
            format!("/sys/fs/cgroup{cgroup}/memory.max"),
            format!("/sys/fs/cgroup{cgroup}/cpu.max"),
        )
    } else {
        (
            format!("/sys/fs/cgroup/memory{cgroup}/memory.limit_in_bytes"),
            format!("/sys/fs/cgroup/cpu{cgroup}/cpu.cfs_quota_us"),
        )
    };
    let read = |f: &str| std::fs::read_to_string(f).unwrap_or_else(|e| panic!("{f}: {e}"));
    assert_eq!(read(&memory_file).trim(), (96u64 << 20).to_string());
    assert!(read(&cpu_file).starts_with("30000"), "{}", read(&cpu_file));
    let refused = update(v1::LinuxContainerResources {
        memory_limit_in_bytes: -1,
        ..Default::default()
    })
    .expect_err("a negative limit");
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert!(refused.message().contains("memory_limit_in_bytes"));

    // SIGKILLed and started again: the same pod, the same ids.
    let _ = agent.0.kill();
    let _ = agent.0.wait();
    drop(cri);
    // Its CRI process follows it (PR_SET_PDEATHSIG): a client connecting
    // before that would reach the dying one.
    let gone = || std::os::unix::net::UnixStream::connect(&socket).is_err();
    assert!(
        podrt_tests::wait_until(5, gone),
        "the CRI server dies with the agent"
    );
    agent = Agent::start(&env);
    let cri = Cri::connect(&socket);
    let again = list_sandboxes(&cri, None);
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, uid);
    assert_eq!(list_containers(&cri, None).len(), 2);

    // A pod deleted is no sandbox any more.
    env.ok(&["delete", "pod", "web", "--grace-period=0", "--force"]);
    assert!(list_sandboxes(&cri, None).is_empty());
    assert!(list_containers(&cri, None).is_empty());
    drop(agent);
}

#[test]
fn network_ready_is_false_with_the_missing_plugin_named() {
    let mut env = PodEnv::empty();
    let no_plugins = env.dir.join("no-plugins");
    std::fs::create_dir_all(&no_plugins).unwrap();
    env.flags.push("--cni-bin-dir".into());
    env.flags.push(no_plugins.display().to_string());
    env.flags.push("--state-dir".into());
    env.flags.push(env.dir.join("state").display().to_string());
    let _agent = Agent::start_with(&env, &["--dns-address", "none"]);
    let cri = Cri::connect(&env.root.join("cri.sock"));
    let status = cri
        .wait(cri.runtime().status(v1::StatusRequest { verbose: false }))
        .expect("Status")
        .into_inner();
    let conditions = status.status.unwrap().conditions;
    let network = conditions
        .iter()
        .find(|c| c.r#type == "NetworkReady")
        .expect("a NetworkReady condition");
    assert!(!network.status);
    assert_eq!(network.reason, "NetworkPluginNotReady");
    assert!(
        network.message.contains("bridge") && network.message.contains("no-plugins"),
        "{}",
        network.message
    );
    assert!(conditions
        .iter()
        .any(|c| c.r#type == "RuntimeReady" && c.status));
}

#[test]
fn the_image_service_lists_pulls_with_credentials_and_removes_the_store() {
    let env = workload_env();
    let reg = Registry::start(
        &env,
        Setup {
            user: Some(("kube".into(), "let-me-in".into())),
            ..Setup::default()
        },
    );
    reg.push_busybox("team/busybox:cri", &[]);
    env.set_config(format!("registries:\n  insecure: [\"{ADDR}\"]\n"))
        .unwrap();
    let _agent = Agent::start(&env);
    let cri = Cri::connect(&env.root.join("cri.sock"));
    let list = |cri: &Cri| {
        cri.wait(
            cri.images()
                .list_images(v1::ListImagesRequest { filter: None }),
        )
        .expect("ListImages")
        .into_inner()
        .images
    };
    let spec = |image: &str| {
        Some(v1::ImageSpec {
            image: image.into(),
            ..Default::default()
        })
    };
    let status_of = |image: &str| {
        cri.wait(cri.images().image_status(v1::ImageStatusRequest {
            image: spec(image),
            verbose: true,
        }))
        .expect("ImageStatus")
        .into_inner()
    };

    // The imported busybox, by its short name and by its id.
    let images = list(&cri);
    assert_eq!(images.len(), 1, "{images:?}");
    let busybox = &images[0];
    assert!(busybox.id.starts_with("sha256:"));
    assert!(
        busybox
            .repo_tags
            .contains(&"docker.io/library/busybox:latest".to_string()),
        "{busybox:?}"
    );
    assert!(busybox.size > 0);
    let st = status_of("busybox");
    assert_eq!(st.image.as_ref().map(|i| &i.id), Some(&busybox.id));
    assert!(st.info["info"].contains("RepoTags"));
    let by_id = status_of(&busybox.id["sha256:".len()..][..12]);
    assert_eq!(by_id.image.map(|i| i.id), Some(busybox.id.clone()));
    assert!(
        status_of("nothing-here:1").image.is_none(),
        "absent: no image, no error"
    );
    let empty = cri
        .wait(cri.images().image_status(v1::ImageStatusRequest {
            image: spec(""),
            verbose: false,
        }))
        .expect_err("no image named");
    assert_eq!(empty.code(), tonic::Code::InvalidArgument);

    // Pull: refused without the credentials, done with the request's.
    let image = format!("{ADDR}/team/busybox:cri");
    let refused = cri
        .wait(cri.images().pull_image(v1::PullImageRequest {
            image: spec(&image),
            auth: None,
            sandbox_config: None,
        }))
        .expect_err("the registry wants a password");
    assert!(
        refused.message().contains("team/busybox"),
        "{}",
        refused.message()
    );
    let pulled = cri
        .wait(cri.images().pull_image(v1::PullImageRequest {
            image: spec(&image),
            auth: Some(v1::AuthConfig {
                username: "kube".into(),
                password: "let-me-in".into(),
                ..Default::default()
            }),
            sandbox_config: None,
        }))
        .expect("PullImage with the request's credentials")
        .into_inner();
    assert_eq!(pulled.image_ref, busybox.id, "the same image, another name");
    let tags = status_of(&image).image.expect("pulled").repo_tags;
    assert_eq!(tags.len(), 2, "{tags:?}");
    let cli = env.ok(&["images"]);
    assert!(cli.contains("127.0.0.1:5000/team/busybox"), "{cli}");

    // Filesystem usage of the store.
    let fs = cri
        .wait(cri.images().image_fs_info(v1::ImageFsInfoRequest {}))
        .expect("ImageFsInfo")
        .into_inner();
    let usage = &fs.image_filesystems[0];
    assert!(usage.used_bytes.as_ref().unwrap().value > 0);
    assert!(usage.inodes_used.as_ref().unwrap().value > 10);
    assert!(usage.timestamp > 0);

    // Remove by id: every name goes; again is no error.
    for _ in 0..2 {
        cri.wait(cri.images().remove_image(v1::RemoveImageRequest {
            image: spec(&busybox.id),
        }))
        .expect("RemoveImage is idempotent");
    }
    assert!(list(&cri).is_empty());
    assert!(status_of("busybox").image.is_none());
}

#[test]
fn serve_takes_the_socket_systemd_hands_it_or_none() {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;

    let env = workload_env();
    // As systemd's socket activation: the socket bound by someone else, as
    // descriptor 3, with LISTEN_PID naming the agent (sh execs it: same PID).
    let path = env.dir.join("activated.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let fd = listener.as_raw_fd();
    let plain = env.cmd();
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c")
        .arg("LISTEN_PID=$$ LISTEN_FDS=1 exec \"$0\" \"$@\"")
        .arg(plain.get_program())
        .args(plain.get_args())
        .arg("serve")
        .envs(plain.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    env.host.enter(&mut cmd);
    // SAFETY: dup2 and fcntl are async-signal-safe; the descriptor is ours.
    unsafe {
        cmd.pre_exec(move || {
            let moved = if fd == 3 { 3 } else { libc::dup2(fd, 3) };
            if moved < 0 || libc::fcntl(3, libc::F_SETFD, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let agent = Agent(cmd.spawn().expect("start podrt serve under sh"));
    let cri = Cri::connect(&path);
    let v = cri
        .wait(cri.runtime().version(v1::VersionRequest::default()))
        .expect("Version on the activated socket")
        .into_inner();
    assert_eq!(v.runtime_name, "podrt");
    assert!(!env.root.join("cri.sock").exists(), "no socket of its own");
    drop(cri);
    drop(agent);
    drop(listener);

    // --cri-listen none: the agent runs, with no CRI. It binds its nudge
    // socket after the CRI's step: once that is there, the step is done.
    let nudge = env.root.join("agent.sock");
    let _ = std::fs::remove_file(&nudge);
    let _agent = Agent::start_with(&env, &["--cri-listen", "none"]);
    assert!(
        podrt_tests::wait_until(10, || nudge.exists()),
        "the agent runs"
    );
    assert!(!env.root.join("cri.sock").exists());
}

#[test]
fn container_events_stream_a_containers_life() {
    let env = workload_env();
    let _agent = Agent::start(&env);
    let cri = Cri::connect(&env.root.join("cri.sock"));
    let mut events = cri
        .wait(cri.runtime().get_container_events(v1::GetEventsRequest {}))
        .expect("GetContainerEvents")
        .into_inner();
    env.apply(
        "apiVersion: v1
kind: Pod
metadata: {name: brief}
spec:
  restartPolicy: Never
  containers:
  - {name: c, image: busybox, command: [sh, -c, 'sleep 1']}
",
    );
    let mut seen = Vec::new();
    let next = |events: &mut tonic::Streaming<v1::ContainerEventResponse>| {
        let got = cri.wait(async {
            tokio::time::timeout(std::time::Duration::from_secs(15), events.message()).await
        });
        got.expect("an event within 15 s")
            .expect("the stream carries events")
            .expect("the stream goes on")
    };
    use v1::ContainerEventType as Event;
    while seen.last() != Some(&Event::ContainerStoppedEvent) {
        let e = next(&mut events);
        assert_eq!(
            e.pod_sandbox_status
                .as_ref()
                .unwrap()
                .metadata
                .as_ref()
                .unwrap()
                .name,
            "brief"
        );
        assert_eq!(e.containers_statuses.len(), 1);
        seen.push(Event::try_from(e.container_event_type).unwrap());
    }
    assert_eq!(
        seen,
        vec![
            Event::ContainerCreatedEvent,
            Event::ContainerStartedEvent,
            Event::ContainerStoppedEvent
        ]
    );
    env.ok(&["delete", "pod", "brief", "--grace-period=0", "--force"]);
    let gone = next(&mut events);
    assert_eq!(
        gone.container_event_type,
        Event::ContainerDeletedEvent as i32
    );
}
