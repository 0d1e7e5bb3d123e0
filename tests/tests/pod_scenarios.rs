//! The pod scenarios of tests/scenarios/pods.sh on this host: a shared-namespace
//! pod, limits in the cgroup files, an OOM kill, privileged against default, a
//! pod in its own user namespace (hostUsers: false), and nothing left afterwards.
//! tests/tests/cgroup_v2_vm.rs runs the same script in a VM with pure cgroup v2;
//! here the cgroups are hybrid (v1 controllers). The script runs under busybox sh
//! in the test's own network namespace, as podrt always does in these tests.

use std::process::Command;

use podrt_tests::pods::{text, PodEnv};
use podrt_tests::repo;
use podrt_tests::scenarios::{problems, results, POD_SCENARIOS};

#[test]
fn pod_scenarios_pass_on_this_host() {
    let env = PodEnv::empty();
    let layout = podrt_tests::pods::busybox_layout();
    let work = env.dir.join("scenarios");
    std::fs::create_dir_all(&work).unwrap();
    let cni_bin = std::env::var("PODRT_CNI_BIN_DIR").unwrap_or_else(|_| "/usr/lib/cni".into());
    let mut cmd = Command::new("busybox");
    cmd.arg("sh")
        .arg(repo().join("tests/scenarios/pods.sh"))
        .env("PODRT", podrt_tests::binary("podrt"))
        .env("SC_ROOT", &env.root)
        .env("SC_CG", &env.cgroup_parent)
        .env("SC_CONFIG", &env.config)
        .env("SC_NETD", &env.cni_conf_dir)
        .env("SC_CNI_BIN", &cni_bin)
        .env("SC_LAYOUT", &layout)
        .env("SC_WORK", &work);
    env.host.enter(&mut cmd);
    let out = cmd
        .output()
        .expect("run busybox sh (apt-get install busybox-static; scripts/setup.sh does)");
    let stdout = text(&out.stdout);
    println!("{stdout}{}", text(&out.stderr));
    let found = results(&stdout, "");
    let wrong = problems(&found, POD_SCENARIOS);
    assert!(
        wrong.is_empty() && stdout.lines().any(|l| l == "DONE"),
        "pod scenarios on this host:\n  {}\n--- stdout\n{stdout}--- stderr\n{}",
        wrong.join("\n  "),
        text(&out.stderr)
    );
}
