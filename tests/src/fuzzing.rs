//! The bodies of the fuzz targets (tests/fuzz, cargo-fuzz on nightly), here so
//! that tests/tests/fuzz_regressions.rs runs every kept input through exactly
//! the same code on stable. Each takes arbitrary bytes; returning is passing,
//! a panic is the bug.

use podrt_sandbox::cni::CniResult;
use podrt_sandbox::image::ImageConfig;
use podrt_sandbox::manifest;
use podrt_sandbox::pod::container_spec::{self, JoinPaths, SpecInput};
use podrt_sandbox::policy::{Level, Policy};
use podrt_sandbox::security::SecurityOptions;

/// Any bytes as a manifest: parse, validate each pod, judge it by baseline and
/// restricted.
pub fn manifest(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(m) = manifest::parse(&text, "fuzz") else {
        return;
    };
    for pod in &m.pods {
        let _ = manifest::validate(pod, &|_| true);
        for level in [Level::Baseline, Level::Restricted] {
            let _ = Policy::Level(level).admit(pod);
        }
    }
}

/// Any bytes as a manifest whose pods validate: every container translated
/// into an OCI runtime spec (securityContext, seccomp, resources, env, command).
pub fn container_spec(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(m) = manifest::parse(&text, "fuzz") else {
        return;
    };
    let image = ImageConfig {
        entrypoint: vec!["/bin/sh".into()],
        cmd: vec!["-c".into(), "true".into()],
        env: vec!["PATH=/bin".into()],
        working_dir: None,
        user: None,
        stop_signal: None,
        exposed_ports: Vec::new(),
    };
    let security = SecurityOptions::default();
    for pod in &m.pods {
        let Ok(valid) = manifest::validate(pod, &|_| true) else {
            continue;
        };
        let spec = pod.spec.clone().unwrap_or_default();
        for (i, c) in spec.containers.iter().enumerate() {
            let Some(resources) = valid.containers.iter().find(|r| r.name == c.name) else {
                continue;
            };
            let field = format!("spec.containers[{i}]");
            let input = SpecInput {
                container: c,
                field: &field,
                image: &image,
                rootfs: "/nonexistent-podrt-fuzz-rootfs".into(),
                hostname: "fuzz",
                join: JoinPaths::default(),
                mounts: Vec::new(),
                cgroups_path: "/podrt-fuzz/c".into(),
                resources,
                pod: &spec,
                security: &security,
            };
            let _ = container_spec::build(&input);
        }
    }
}

/// Any bytes as a CNI plugin's stdout, read the way podrt reads a result.
pub fn cni_result(data: &[u8]) {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        if let Ok(r) = CniResult::from_json(v) {
            let _ = r.pod_ips();
        }
    }
}
