//! Drive a pod from Rust with the sandbox's CRI-shaped API, without the `podrt`
//! CLI: RunPodSandbox, CreateContainer, StartContainer, StopPodSandbox,
//! RemovePodSandbox. This program becomes the parent of the containers (it plays
//! the role a CRI server or kubelet-like agent would). Needs root and
//! `vendor-images/build.sh`'s image.
//!
//! `cargo run --example embed_pod -p podrt-sandbox`

use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use podrt_sandbox::image::ImageStore;
use podrt_sandbox::{manifest, pod};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = std::env::temp_dir().join(format!("podrt-embed-{}", std::process::id()));
    let images = ImageStore::open(&root.join("images"))?;
    let layout = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../vendor-images/build/oci-image");
    images.import(&layout, Some("busybox"))?;

    // The pod as a Kubernetes object; any source of k8s-openapi Pods will do.
    let manifest: Pod = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "embedded"},
        "spec": {"containers": [
            {"name": "server", "image": "busybox",
             "command": ["sh", "-c", "echo hi > /tmp/i; exec nc -l -p 7000 < /tmp/i"]},
            {"name": "client", "image": "busybox",
             "command": ["sh", "-c", "sleep 0.2; echo \"client got: $(nc 127.0.0.1 7000)\""]}
        ]}
    }))?;
    let valid = manifest::validate(&manifest, &|image| images.resolve(image).is_ok())?;
    let opts = pod::Options {
        root: root.clone(),
        image_root: root.join("images"),
        cgroup_parent: "/podrt-example".into(),
        ..pod::Options::default()
    };

    let mut sandbox = pod::run_pod_sandbox(&opts, &valid, &manifest)?;
    println!("pod {} has UID {}", sandbox.record.name, sandbox.record.uid);
    let spec = manifest.spec.clone().unwrap_or_default();
    for (i, c) in spec.containers.iter().enumerate() {
        let res = &valid.containers[i];
        pod::create_container(
            &mut sandbox,
            c,
            &format!("spec.containers[{i}]"),
            false,
            res,
            &images,
            None,
        )?;
        let pid = pod::start_container(&mut sandbox, &c.name)?;
        println!("started {} as PID {pid}", c.name);
    }
    // We are the containers' parent: wait for the client to finish.
    std::thread::sleep(Duration::from_millis(800));
    let log = std::fs::read_to_string(sandbox.paths.log("client"))?;
    print!("client's log: {log}");

    pod::stop_pod_sandbox(&sandbox, Duration::from_secs(1));
    if let Some(e) = pod::remove_pod_sandbox(&mut sandbox) {
        return Err(e.into());
    }
    // SAFETY: reap any container process that ended (they were our children).
    while unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) } > 0 {}
    std::fs::remove_dir_all(&root)?;
    println!("pod removed");
    Ok(())
}
