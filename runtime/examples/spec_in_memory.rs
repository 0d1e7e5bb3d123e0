//! Run a container from a spec built in Rust, with no `config.json` on disk: the way
//! the pod layer drives the runtime. Needs root and `vendor-images/build.sh`'s rootfs.
//!
//! `cargo run --example spec_in_memory -p podrt-runtime -- [ROOTFS]`

use std::path::PathBuf;

use oci_spec::runtime::{ProcessBuilder, RootBuilder, Spec};
use podrt_runtime::spec::Bundle;
use podrt_runtime::{wait, Container, CreateOptions, StartMode};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rootfs: PathBuf = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../vendor-images/build/rootfs")
        });
    let mut spec = Spec::default();
    spec.set_root(Some(
        RootBuilder::default().path(rootfs).readonly(true).build()?,
    ));
    spec.set_hostname(Some("in-memory".into()));
    spec.set_process(Some(
        ProcessBuilder::default()
            .args(vec![
                "sh".into(),
                "-c".into(),
                "echo hello from $(hostname), PID $$".into(),
            ])
            .env(vec!["PATH=/bin:/usr/bin".into()])
            .cwd("/")
            .terminal(false)
            .build()?,
    ));
    let opts = CreateOptions {
        root: std::env::temp_dir().join("podrt-example-state"),
        id: format!("example-{}", std::process::id()),
        ..CreateOptions::default()
    };
    let bundle = Bundle::from_spec(&std::env::temp_dir(), spec)?;
    wait::block_signals();
    let (container, _) = Container::create_from_bundle(&opts, bundle, StartMode::Run)?;
    let code = wait::wait_forwarding(container.state.pid)?;
    container.delete(true)?;
    println!("exit code {code}");
    Ok(())
}
