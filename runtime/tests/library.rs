//! The runtime as a library: a container from a spec built in memory, without a
//! `config.json`, created, waited for and deleted through the Rust API.

use std::path::PathBuf;

use oci_spec::runtime::{ProcessBuilder, RootBuilder, Spec};
use podrt_runtime::spec::Bundle;
use podrt_runtime::{Container, ContainerStatus, CreateOptions, StartMode};

#[test]
fn a_spec_built_in_memory_runs_without_a_config_file() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "this test creates a real container: run it as root"
    );
    let rootfs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../vendor-images/build/rootfs");
    assert!(
        rootfs.join("bin/busybox").exists(),
        "run vendor-images/build.sh first"
    );
    let state_root = std::env::temp_dir().join(format!("podrt-lib-test-{}", std::process::id()));
    let out = state_root.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let mut spec = Spec::default();
    spec.set_root(Some(
        RootBuilder::default()
            .path(&rootfs)
            .readonly(true)
            .build()
            .unwrap(),
    ));
    spec.set_hostname(Some("lib".into()));
    let mut mounts = spec.mounts().clone().unwrap_or_default();
    mounts.push(
        serde_json::from_value(serde_json::json!({
            "destination": "/root", "type": "bind", "source": out, "options": ["rbind", "rw"]
        }))
        .unwrap(),
    );
    spec.set_mounts(Some(mounts));
    spec.set_process(Some(
        ProcessBuilder::default()
            .args(vec![
                "sh".into(),
                "-c".into(),
                "hostname > /root/host; sleep 30".into(),
            ])
            .env(vec!["PATH=/bin".into()])
            .cwd("/")
            .terminal(false)
            .build()
            .unwrap(),
    ));
    let opts = CreateOptions {
        root: state_root.clone(),
        id: "lib".into(),
        ..CreateOptions::default()
    };
    let bundle = Bundle::from_spec(&state_root, spec).unwrap();
    let (c, _) = Container::create_from_bundle(&opts, bundle, StartMode::Create).unwrap();
    assert_eq!(c.status(), ContainerStatus::Created);
    c.start().unwrap();
    let host = state_root.join("out/host");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let written = || {
        std::fs::read_to_string(&host)
            .map(|s| s.ends_with('\n'))
            .unwrap_or(false)
    };
    while !written() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(std::fs::read_to_string(&host).unwrap(), "lib\n");
    assert_eq!(
        Container::load(&state_root, "lib").unwrap().status(),
        ContainerStatus::Running
    );
    let cgroup = c.state.cgroup_path.clone();
    c.delete(true).unwrap();
    assert!(!state_root.join("lib").exists());
    // delete removes the container's own cgroup; the parent it made (/podrt) is
    // the caller's to prune, as podrt-runc's delete does.
    podrt_runtime::cgroups::prune_empty_parents(&cgroup);
    assert!(
        !std::path::Path::new("/sys/fs/cgroup/memory")
            .join(cgroup.trim_start_matches('/'))
            .exists()
            && !std::path::Path::new("/sys/fs/cgroup")
                .join(cgroup.trim_start_matches('/'))
                .exists(),
        "cgroup {cgroup} left"
    );
    std::fs::remove_dir_all(&state_root).unwrap();
}
