//! `podrt check` on this host: every item is reported, the host can run pods
//! (exit 0), and what it lacks is named (these VMs: CAP_SYS_RESOURCE); with no
//! CNI plugins to be found, pods cannot run and the exit status says so.

use podrt_tests::pods::{text, PodEnv};

#[test]
fn check_reports_this_host() {
    let env = PodEnv::empty();
    let out = env.podrt(&["check"]);
    let table = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{table}{}", text(&out.stderr));
    let row = |name: &str| {
        table
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name} row: {table}"))
            .to_string()
    };
    for name in [
        "kernel",
        "user",
        "namespaces",
        "cgroups",
        "overlayfs",
        "seccomp",
        "pidfd",
        "safe lookups",
        "cni",
        "state",
    ] {
        assert!(row(name).contains(" ok "), "{name}: {table}");
    }
    let caps = std::fs::read_to_string("/proc/self/status").unwrap();
    let prm = caps
        .lines()
        .find_map(|l| l.strip_prefix("CapPrm:"))
        .unwrap()
        .trim()
        .to_string();
    if prm != "000001ffffffffff" {
        assert!(row("capabilities").contains("limited"), "{table}");
    }
    assert!(
        row("cni").contains("built-in"),
        "the test's empty CNI dir means the built-in network: {table}"
    );
    assert!(row("namespaces").contains("net"), "{table}");

    let broken = env.podrt(&["--cni-bin-dir", "/nonexistent", "check"]);
    let table = text(&broken.stdout);
    assert_eq!(broken.status.code(), Some(1), "{table}");
    let cni = table.lines().find(|l| l.starts_with("cni ")).unwrap_or("");
    assert!(
        cni.contains("missing") && cni.contains("bridge") && cni.contains("/nonexistent"),
        "{table}"
    );
}
