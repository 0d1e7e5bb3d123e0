//! podrt-runc and podrt on a pure cgroup v2 host, as most users run them. This
//! machine's cgroups are hybrid (v1 controllers), so `scripts/vm/run-v2.sh` boots
//! Debian's 6.1 kernel (its package unpacked into a cache, not installed) under
//! qemu's software emulation with cgroup2 alone at /sys/fs/cgroup and podrt's
//! state root on an ext4 virtio disk (Linux 6.1 cannot idmap the guest's tmpfs,
//! which the user_namespaces scenario needs), runs podrt-runc there on the
//! vendored bundle and then the pod scenarios of tests/scenarios/pods.sh (the
//! list the host test runs too), and reports one `RESULT` line per check. The
//! limits scenario runs once more with the v2 limits path broken on purpose
//! (PODRT_TEST_FAULT), and must fail then.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use podrt_tests::scenarios::{problems, results, POD_SCENARIOS};
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
        "qemu-system-x86_64 is missing: run ./scripts/test.sh (it installs qemu-system-x86 from scripts/apt-packages-test.txt)"
    );
    // The guest kernel is run-v2.sh's to fetch (as a package file, unpacked into
    // its cache); when it cannot, it exits 2 saying why.
    assert!(on_path("cpio"), "cpio is missing: run ./scripts/test.sh");
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
        .env("PODRT", binary("podrt"))
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

    let expected: Vec<&str> = CHECKS.iter().chain(POD_SCENARIOS).copied().collect();
    let mut wrong = problems(&results(&stdout, ""), &expected);
    // The broken path must be caught, naming the file that shows it.
    match results(&stdout, "FAULT ").iter().find(|o| o.name == "limits") {
        Some(o) if o.verdict == "FAIL" && o.detail.contains("memory.max=max") => {}
        Some(o) => wrong.push(format!(
            "limits with PODRT_TEST_FAULT=cgroup-v2-limits: {} {} (it must fail, showing memory.max=max)",
            o.verdict, o.detail
        )),
        None => wrong.push("limits with PODRT_TEST_FAULT=cgroup-v2-limits: no FAULT RESULT line".into()),
    }
    let problems = wrong;
    assert!(
        problems.is_empty() && out.status.success(),
        "podrt-runc and podrt on cgroup v2 (in a VM, {:.1} s; exit {:?}):\n  {}\n--- stdout\n{stdout}--- stderr\n{stderr}",
        took.as_secs_f64(),
        out.status.code(),
        problems.join("\n  ")
    );
}
