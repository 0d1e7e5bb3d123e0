//! `podrt gc` against the orphans an interrupted command or a lost machine
//! leaves: a pod directory with a mount but no record, a pod cgroup with a
//! process but no pod, IP leases of pods that are gone, and a pod whose
//! creation stopped with its supervisor. Each is removed and reported; what
//! belongs to a live pod, or to another runtime, is left alone.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use podrt_tests::pods::{text, PodEnv};
use podrt_tests::{cgroup_exists, cgroup_v2, wait_until};

const ORPHAN: &str = "0b0e5b5e-6c2a-4b7e-9a35-1d3f8f4c2a11";

/// A sleeping process the test starts and puts into cgroup `rel` in every
/// hierarchy it makes (memory and pids on v1, the unified one on v2).
fn process_in_cgroup(rel: &str) -> (Child, Vec<PathBuf>) {
    let child = Command::new("sleep")
        .arg("600")
        .spawn()
        .expect("spawn sleep");
    let roots: Vec<PathBuf> = if cgroup_v2() {
        vec![PathBuf::from("/sys/fs/cgroup")]
    } else {
        ["memory", "pids"]
            .iter()
            .map(|c| Path::new("/sys/fs/cgroup").join(c))
            .collect()
    };
    let mut dirs = Vec::new();
    for r in roots {
        let d = r.join(rel.trim_start_matches('/'));
        std::fs::create_dir_all(d.join("ctr")).expect("make an orphan cgroup");
        std::fs::write(d.join("ctr/cgroup.procs"), child.id().to_string()).expect("move sleep");
        dirs.push(d);
    }
    (child, dirs)
}

#[test]
fn gc_removes_orphans_and_only_orphans() {
    let env = PodEnv::new();
    // A live pod, which gc must not touch.
    env.apply(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: live}\nspec:\n  containers:\n  - {name: c, image: busybox, command: [sleep, \"3600\"]}\n",
    );
    let live_uid = env.pod_json("live")["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string();

    // A pod directory with a mount and no record.
    let stray = env.root.join("pods").join(ORPHAN);
    let mnt = stray.join("volumes/scratch");
    std::fs::create_dir_all(&mnt).unwrap();
    nix::mount::mount(
        Some("tmpfs"),
        &mnt,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )
    .expect("mount a tmpfs in the stray pod dir");

    // A pod cgroup with a process in it and no pod.
    let cg = format!("{}/pod{ORPHAN}", env.cgroup_parent);
    let (mut sleeper, _dirs) = process_in_cgroup(&cg);

    // Leases: an orphan of podrt's, another runtime's, and the live pod's.
    let leases = env.root.join("cni/networks/podrt");
    std::fs::create_dir_all(&leases).unwrap();
    std::fs::write(leases.join("10.88.200.1"), format!("{ORPHAN}\r\neth0")).unwrap();
    let foreign = "f".repeat(64);
    std::fs::write(leases.join("10.88.200.2"), format!("{foreign}\r\neth0")).unwrap();
    let live_lease = std::fs::read_dir(&leases)
        .unwrap()
        .flatten()
        .find(|e| std::fs::read_to_string(e.path()).is_ok_and(|t| t.starts_with(&live_uid)))
        .map(|e| e.path())
        .expect("the live pod's lease");

    let report = env.ok(&["gc"]);
    assert!(
        report.contains(&format!("removed pod directory {}", stray.display())),
        "{report}"
    );
    assert!(report.contains(&format!("removed cgroup {cg}")), "{report}");
    assert!(
        report.contains("removed IP lease 10.88.200.1") && !report.contains("10.88.200.2"),
        "{report}"
    );
    assert!(!stray.exists());
    assert!(
        !env.mounts_under_root().iter().any(|m| m.contains(ORPHAN)),
        "{:?}",
        env.mounts_under_root()
    );
    assert!(!cgroup_exists(&cg), "orphan cgroup {cg} left");
    let status = wait_until(5, || matches!(sleeper.try_wait(), Ok(Some(_))));
    assert!(status, "the orphan cgroup's process was not killed");
    assert!(!leases.join("10.88.200.1").exists());
    assert!(
        leases.join("10.88.200.2").exists(),
        "another runtime's lease was taken"
    );
    assert!(live_lease.exists(), "the live pod's lease was taken");
    let phase = env.pod_json("live")["status"]["phase"].clone();
    assert_eq!(phase, "Running");

    // Nothing more to do.
    assert_eq!(env.ok(&["gc"]).trim(), "nothing to remove");
    let _ = sleeper.kill();
}

#[test]
fn gc_finishes_a_pod_whose_creation_was_interrupted() {
    let env = PodEnv::new();
    env.apply(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: half}\nspec:\n  containers:\n  - {name: c, image: busybox, command: [sleep, \"3600\"]}\n",
    );
    // The supervisor dies while the pod is still being created (as if `apply`
    // and its supervisor were killed half-way).
    env.kill_supervisor("half");
    env.edit_record("half", |r| r["stage"] = "creating".into());

    let report = env.ok(&["gc"]);
    assert!(
        report.contains("removed pod half (") && report.contains("creation was interrupted"),
        "{report}"
    );
    let out = env.podrt(&["get", "pod", "half"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    env.assert_nothing_left();
    let leases = env.root.join("cni/networks/podrt");
    let left: Vec<_> = std::fs::read_dir(&leases)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with("10."))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "leases left: {left:?}");
}

#[test]
fn gc_carries_an_interrupted_deletion_on_with_the_full_grace_period() {
    let env = PodEnv::new();
    env.apply(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: stubborn}\nspec:\n  terminationGracePeriodSeconds: 2\n  containers:\n  - {name: c, image: busybox, command: [sh, -c, \"trap '' TERM; while true; do sleep 0.1; done\"]}\n",
    );
    // A deletion began, and its supervisor died before the grace period ended.
    env.kill_supervisor("stubborn");
    env.edit_record("stubborn", |r| {
        r["stage"] = "deleting".into();
        r["deletionTimestamp"] = "2026-12-02T00:00:00Z".into();
    });
    // (Any other command would carry it on in the background first: see
    // adoption.rs. gc does it in the foreground and says so.)
    let started = std::time::Instant::now();
    let report = env.ok(&["gc"]);
    let took = started.elapsed();
    assert!(
        report.contains("removed pod stubborn (") && report.contains("2s grace period"),
        "{report}"
    );
    // The container ignores SIGTERM: only SIGKILL at the end of the grace period stops it.
    assert!(
        took >= std::time::Duration::from_secs(2),
        "gc took {took:?}: no grace period"
    );
    env.assert_nothing_left();
}

#[test]
fn after_a_reboot_podrt_starts_clean_and_gc_reconciles_leases() {
    let mut env = PodEnv::new();
    // A network whose host-local store is outside the root, as /var/lib/cni is
    // outside /run: it outlives a reboot, the pods do not.
    let store = env.dir.join("var-lib-cni");
    std::fs::create_dir_all(&env.cni_conf_dir).unwrap();
    std::fs::write(
        env.cni_conf_dir.join("10-reboot.conflist"),
        format!(
            r#"{{"cniVersion":"1.0.0","name":"rb","plugins":[{{"type":"bridge","bridge":"rbr0","isGateway":true,"ipam":{{"type":"host-local","ranges":[[{{"subnet":"10.77.0.0/24"}}]],"dataDir":"{}"}}}}]}}"#,
            store.display()
        ),
    )
    .unwrap();
    env.flags = vec!["--cni-bin-dir".into(), "/usr/lib/cni".into()];
    for name in ["r1", "r2"] {
        env.apply(&format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nspec:\n  containers:\n  - {{name: c, image: busybox, command: [sleep, \"3600\"]}}\n"
        ));
    }
    let lease_files = || -> Vec<String> {
        std::fs::read_dir(store.join("rb"))
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with("10.77."))
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(lease_files().len(), 2);

    // The reboot: every process of the pods gone, /run (the root) empty, the
    // cgroup tree gone; the lease store stays.
    let rel = env.cgroup_parent.trim_start_matches('/').to_string();
    for _ in 0..50 {
        let mut any = false;
        for h in std::fs::read_dir("/sys/fs/cgroup")
            .into_iter()
            .flatten()
            .flatten()
        {
            for d in walk_dirs(&h.path().join(&rel)) {
                for pid in std::fs::read_to_string(d.join("cgroup.procs"))
                    .unwrap_or_default()
                    .lines()
                    .filter_map(|l| l.trim().parse::<i32>().ok())
                {
                    any = true;
                    // SAFETY: kill of a container process of this test's pods.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
        }
        for dir in env.pod_dirs() {
            let record: serde_json::Value = std::fs::read_to_string(dir.join("pod.json"))
                .ok()
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or_default();
            if let Some(pid) = record["supervisor"]["pid"].as_i64() {
                // SAFETY: kill of a supervisor this test's podrt started, by its PID.
                unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            }
        }
        if !any {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    for m in env.mounts_under_root().iter().rev() {
        let _ = nix::mount::umount2(Path::new(m), nix::mount::MntFlags::MNT_DETACH);
    }
    std::fs::remove_dir_all(&env.root).unwrap();
    podrt_tests::pods::remove_cgroup_tree(&env.cgroup_parent);

    // podrt starts clean on the empty root.
    assert_eq!(
        text(&env.podrt(&["get", "pods"]).stderr).trim(),
        "No resources found in default namespace."
    );
    let report = env.ok(&["gc"]);
    assert_eq!(
        report
            .lines()
            .filter(|l| l.starts_with("removed IP lease 10.77.0."))
            .count(),
        2,
        "{report}"
    );
    assert!(lease_files().is_empty());
    // And works: a new pod gets an address from the reconciled store.
    let out = env.podrt(&[
        "image",
        "import",
        podrt_tests::pods::busybox_layout().to_str().unwrap(),
        "--name",
        "busybox",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    env.apply("apiVersion: v1\nkind: Pod\nmetadata: {name: r3}\nspec:\n  containers:\n  - {name: c, image: busybox, command: [sleep, \"3600\"]}\n");
    assert_eq!(lease_files().len(), 1);
    env.ok(&["delete", "pod", "r3", "--grace-period=0", "--force"]);
    env.assert_nothing_left();
}

/// `dir` and every directory below it.
fn walk_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if dir.is_dir() {
        out.push(dir.to_path_buf());
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                out.extend(walk_dirs(&e.path()));
            }
        }
    }
    out
}
