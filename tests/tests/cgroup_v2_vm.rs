//! podrt-runc on a pure cgroup v2 host, as most users run it. This machine's cgroups
//! are hybrid (v1 controllers), so `scripts/vm/run-v2.sh` boots Debian's 6.1 kernel
//! under qemu's software emulation with cgroup2 alone at /sys/fs/cgroup, runs
//! podrt-runc there on the vendored bundle, and reports one `RESULT` line per check.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use podrt_tests::*;

/// Every check the guest script makes; a missing line fails the test too.
const CHECKS: &[&str] = &[
    "vm_is_cgroup2",
    "run_echo",
    "limits_in_cgroup",
    "cpu_limits",
    "cgroup_mount_is_own",
    "exec_in_cgroup",
    "update_limits",
    "pause_resume",
    "kill_all",
    "delete_removes_cgroup",
    "devices_policy",
    "devices_update",
    "nothing_left_behind",
];

/// Fail (never skip) when the VM cannot be booted, saying how to fix it.
fn require_vm_tools() {
    let on_path = |exe: &str| {
        std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).any(|d| d.join(exe).is_file()))
            .unwrap_or(false)
    };
    assert!(
        on_path("qemu-system-x86_64"),
        "qemu-system-x86_64 is missing: run ./scripts/setup.sh (it installs qemu-system-x86 from scripts/apt-packages.txt)"
    );
    let kernel = std::fs::read_dir("/boot")
        .map(|rd| {
            rd.flatten().any(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                n.starts_with("vmlinuz-6.1.") && n.ends_with("-amd64")
            })
        })
        .unwrap_or(false);
    assert!(
        kernel,
        "no Debian 6.1 kernel in /boot (vmlinuz-6.1.*-amd64): run ./scripts/setup.sh (it installs linux-image-amd64)"
    );
    assert!(on_path("cpio"), "cpio is missing: run ./scripts/setup.sh");
}

#[test]
fn podrt_runc_works_on_a_pure_cgroup_v2_host() {
    require_root();
    require_vm_tools();
    vendored_rootfs();
    let script = repo().join("scripts/vm/run-v2.sh");
    assert!(
        Path::new(&script).exists(),
        "{} is missing",
        script.display()
    );

    let started = Instant::now();
    let out = Command::new(&script)
        .env("PODRT_RUNC", binary("podrt-runc"))
        .output()
        .expect("spawn scripts/vm/run-v2.sh");
    let took = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Shown with --nocapture, and in the failure message below.
    println!("{stdout}{stderr}run-v2.sh took {:.1} s", took.as_secs_f64());
    assert_ne!(
        out.status.code(),
        Some(2),
        "run-v2.sh is missing something it needs: {stderr}"
    );

    let results: Vec<(&str, &str, &str)> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("RESULT "))
        .map(|l| {
            let mut parts = l.splitn(3, ' ');
            (
                parts.next().unwrap_or(""),
                parts.next().unwrap_or(""),
                parts.next().unwrap_or(""),
            )
        })
        .collect();
    let mut problems = Vec::new();
    for check in CHECKS {
        match results.iter().find(|(name, _, _)| name == check) {
            None => problems.push(format!("{check}: no RESULT line")),
            Some((_, "PASS", _)) => {}
            Some((_, verdict, detail)) => problems.push(format!("{check}: {verdict} {detail}")),
        }
    }
    for (name, verdict, detail) in &results {
        if !CHECKS.contains(name) && *verdict != "PASS" {
            problems.push(format!("{name}: {verdict} {detail}"));
        }
    }
    assert!(
        problems.is_empty() && out.status.success(),
        "podrt-runc on cgroup v2 (in a VM, {:.1} s; exit {:?}):\n  {}\n--- stdout\n{stdout}--- stderr\n{stderr}",
        took.as_secs_f64(),
        out.status.code(),
        problems.join("\n  ")
    );
}
