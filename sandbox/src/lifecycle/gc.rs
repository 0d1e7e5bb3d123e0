//! `podrt gc`: finding and removing what no pod owns any more. A command killed
//! half-way (or a machine that lost power) can leave a pod directory without a
//! record, a half-made pod whose supervisor is gone, a pod cgroup whose pod
//! directory is gone, or an IP lease of a pod that no longer exists. Each is
//! found from what the kernel and the disk show, never from what podrt
//! believes, and removed the way podrt removes a pod; each removal is reported.
//!
//! What a running command might still be making is left alone: record-less pod
//! directories are looked at under the names lock (a claim holds it until the
//! record is written), and a pod is only taken for half-made when the
//! supervisor recorded in it is dead. A deletion that was interrupted starts
//! over with the pod's whole grace period, as kubelet's does after a restart.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::Result;
use crate::network::NetworkOptions;
use crate::pod;
use crate::state::lock::Lock;
use crate::state::paths::{self, PodPaths};
use crate::state::record::{PodRecord, PodStage};
use crate::state::Sandbox;

/// One thing removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removed {
    /// What it was: `pod directory`, `half-made pod`, `cgroup`, `IP lease`.
    pub kind: &'static str,
    /// Which one (a path, a pod name and UID, an address).
    pub what: String,
    /// Why it was an orphan.
    pub why: String,
}

/// Finds and removes orphans under `root` and below `cgroup_parent`.
pub fn collect(root: &Path, cgroup_parent: &str, network: &NetworkOptions) -> Result<Vec<Removed>> {
    let mut out = Vec::new();
    pods(root, &mut out)?;
    cgroups(root, cgroup_parent, &mut out);
    leases(root, network, &mut out);
    id_ranges(root, &mut out);
    Ok(out)
}

/// User namespace id ranges of pods that no longer exist.
fn id_ranges(root: &Path, out: &mut Vec<Removed>) {
    for r in crate::userns::release_stale(root, &|uid| pod_exists(root, uid)) {
        out.push(Removed {
            kind: "id range",
            what: format!("user namespace range #{} of pod {}", r.index, r.pod_uid),
            why: "its pod no longer exists".into(),
        });
    }
}

/// Whether pod `uid` has a record. Asked at the moment of removal: a pod's record
/// is written before its cgroup and its lease exist, so a pod being created now
/// is never taken for an orphan.
fn pod_exists(root: &Path, uid: &str) -> bool {
    PodPaths::new(root, uid).record().exists()
}

/// Pod directories without a record, and pods left half-made or half-deleted by a
/// supervisor that is gone.
fn pods(root: &Path, out: &mut Vec<Removed>) -> Result<()> {
    let dir = paths::pods_dir(root);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(());
    };
    let uids: Vec<String> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    for uid in uids {
        let paths = PodPaths::new(root, &uid);
        if PodRecord::load(&paths.record()).is_err() {
            // A claim writes the record under the names lock: once we hold it, a
            // directory still without one will never get one.
            let _names = Lock::exclusive(&paths::names_lock(root))?;
            if PodRecord::load(&paths.record()).is_ok() {
                continue;
            }
            if pod::remove_tree(&paths.dir).is_ok() {
                out.push(Removed {
                    kind: "pod directory",
                    what: paths.dir.display().to_string(),
                    why: "it has no pod record (a create was interrupted)".into(),
                });
            }
            continue;
        }
        let Some(mut sandbox) = Sandbox::by_uid(root, &uid) else {
            continue;
        };
        let deleting = {
            let Ok(_lock) = sandbox.lock() else {
                continue;
            };
            let r = &sandbox.record;
            match r.stage {
                PodStage::Creating if r.dead_supervisor().is_some() => None,
                // Nobody deletes it any more (nobody holds its delete lock).
                // Shared again before the pod lock goes: flock's downgrade is not
                // atomic, and under the pod lock nobody can slip in between.
                PodStage::Deleting => match Lock::try_exclusive(&sandbox.paths.delete_lock()) {
                    Ok(Some(l)) if l.downgrade().is_ok() => Some(l),
                    _ => continue,
                },
                _ => continue,
            }
        };
        let what = format!("{} ({})", sandbox.record.name, sandbox.record.uid);
        if let Some(deleting) = deleting {
            // As kubelet after a restart: the termination starts over, with the
            // pod's whole grace period (preStop, stop signal, then SIGKILL).
            let grace = sandbox.record.settings().grace_period();
            let _ = crate::lifecycle::delete::delete_pod_holding(&mut sandbox, grace, deleting);
            out.push(Removed {
                kind: "pod",
                what,
                why: format!(
                    "its deletion was interrupted (carried on with its {}s grace period)",
                    grace.as_secs()
                ),
            });
        } else {
            let Ok(_lock) = sandbox.lock() else {
                continue;
            };
            pod::stop_pod_sandbox(&sandbox, Duration::ZERO);
            pod::remove_pod_sandbox(&mut sandbox);
            out.push(Removed {
                kind: "pod",
                what,
                why: "its creation was interrupted".into(),
            });
        }
    }
    Ok(())
}

/// Pod cgroups (`<parent>/pod<uid>`) in any hierarchy whose pod does not exist:
/// their processes are killed and the directories removed, deepest first.
fn cgroups(root: &Path, parent: &str, out: &mut Vec<Removed>) {
    let rel = parent.trim_matches('/');
    if rel.is_empty() {
        return;
    }
    let mut seen = HashSet::new();
    for (mount, _) in podrt_runtime::cgroups::hierarchies() {
        let Ok(entries) = std::fs::read_dir(mount.join(rel)) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(uid) = name.strip_prefix("pod") else {
                continue;
            };
            if pod_exists(root, uid) || !e.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            remove_cgroup_dir(&e.path());
            if seen.insert(uid.to_string()) {
                out.push(Removed {
                    kind: "cgroup",
                    what: format!("/{rel}/{name}"),
                    why: "no pod has that UID".into(),
                });
            }
        }
    }
}

/// Kills what is in `dir` and below, then removes the directories bottom-up.
fn remove_cgroup_dir(dir: &Path) {
    let mut dirs = vec![dir.to_path_buf()];
    let mut i = 0;
    while i < dirs.len() {
        if let Ok(rd) = std::fs::read_dir(&dirs[i]) {
            dirs.extend(
                rd.flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .map(|e| e.path()),
            );
        }
        i += 1;
    }
    for d in &dirs {
        let procs = std::fs::read_to_string(d.join("cgroup.procs")).unwrap_or_default();
        for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
            // SAFETY: kill of a process in a podrt pod cgroup that no pod owns.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
    for d in dirs.iter().rev() {
        for _ in 0..200 {
            match std::fs::remove_dir(d) {
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                _ => break,
            }
        }
    }
}

/// host-local leases of pods that do not exist, in the built-in network's store
/// and in the current network's `dataDir` (default `/var/lib/cni/networks`),
/// which outlives `/run`. Only leases whose container ID is a pod UID (a UUID, as
/// podrt gives CNI) are considered: another runtime's leases are never touched.
fn leases(root: &Path, network: &NetworkOptions, out: &mut Vec<Removed>) {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Ok(rd) = std::fs::read_dir(paths::ipam_dir(root)) {
        dirs.extend(rd.flatten().map(|e| e.path()));
    }
    if let Ok(list) = crate::network::resolve(network, root) {
        for plugin in &list.plugins {
            let ipam = &plugin["ipam"];
            if ipam["type"] == "host-local" {
                let data = ipam["dataDir"].as_str().unwrap_or("/var/lib/cni/networks");
                dirs.push(Path::new(data).join(&list.name));
            }
        }
    }
    dirs.sort();
    dirs.dedup();
    for dir in dirs {
        leases_in(root, &dir, out);
    }
}

/// The orphan leases of one host-local store `dir`: files named by an address
/// whose first line (the container ID) is a UUID that is no pod's.
fn leases_in(root: &Path, dir: &Path, out: &mut Vec<Removed>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.parse::<std::net::IpAddr>().is_err() {
            continue; // lock, last_reserved_ip.N
        }
        let text = std::fs::read_to_string(e.path()).unwrap_or_default();
        let id = text.lines().next().unwrap_or("").trim();
        if uuid::Uuid::try_parse(id).is_err() || pod_exists(root, id) {
            continue;
        }
        if std::fs::remove_file(e.path()).is_ok() {
            out.push(Removed {
                kind: "IP lease",
                what: format!("{name} in {}", dir.display()),
                why: format!("pod {id} does not exist"),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proc::identity::this_process;
    use crate::state::test_support::{on_disk, record, TempDir};
    use serde_json::json;

    const ORPHAN: &str = "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f";
    const LIVING: &str = "1d2e3f4a-5b6c-4d7e-8f9a-0b1c2d3e4f5a";

    fn containers() -> serde_json::Value {
        json!({"containers": [{"name": "c"}]})
    }

    #[test]
    fn leases_of_pods_that_do_not_exist_are_removed_and_no_others() {
        let root = TempDir::new("gc-leases-root");
        let store = TempDir::new("gc-leases-store");
        let living = record("alive", LIVING, containers());
        let pod_dir = PodPaths::new(root.path(), LIVING);
        std::fs::create_dir_all(&pod_dir.dir).expect("pod dir");
        living.save(&pod_dir.record()).expect("record");
        store.write("10.88.0.2", &format!("{ORPHAN}\r\neth0"));
        store.write("10.88.0.3", &format!("{LIVING}\r\neth0"));
        // Another runtime's lease: its container ID (64 hex digits) is no UUID.
        let foreign = "3f9a1b2c4d5e6f70".repeat(4);
        store.write("10.88.0.4", &format!("{foreign}\r\neth0"));
        store.write("fd00::5", ORPHAN);
        store.write("lock", "");
        store.write("last_reserved_ip.0", "10.88.0.4");

        let mut out = Vec::new();
        leases_in(root.path(), store.path(), &mut out);

        let kept = |name: &str| store.path().join(name).exists();
        assert!(!kept("10.88.0.2") && !kept("fd00::5"));
        assert!(kept("10.88.0.3") && kept("10.88.0.4"));
        assert!(kept("lock") && kept("last_reserved_ip.0"));
        let mut what: Vec<&str> = out.iter().map(|r| r.what.as_str()).collect();
        what.sort();
        let dir = store.path().display();
        assert_eq!(
            what,
            [format!("10.88.0.2 in {dir}"), format!("fd00::5 in {dir}")]
        );
        for r in &out {
            assert_eq!(r.kind, "IP lease");
            assert_eq!(r.why, format!("pod {ORPHAN} does not exist"));
        }
    }

    #[test]
    fn a_missing_lease_store_removes_nothing() {
        let root = TempDir::new("gc-leases-none");
        let mut out = Vec::new();
        leases_in(root.path(), &root.path().join("absent"), &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn a_pod_directory_without_a_record_is_removed() {
        let root = TempDir::new("gc-recordless");
        let dir = PodPaths::new(root.path(), ORPHAN).dir;
        std::fs::create_dir_all(dir.join("containers/c")).expect("pod dir");
        std::fs::write(dir.join("containers/c/log"), "half made").expect("a file");
        let mut out = Vec::new();
        pods(root.path(), &mut out).expect("gc");
        assert!(!dir.exists());
        assert_eq!(
            out,
            [Removed {
                kind: "pod directory",
                what: dir.display().to_string(),
                why: "it has no pod record (a create was interrupted)".into(),
            }]
        );
    }

    #[test]
    fn made_pods_and_creations_still_at_work_are_left_alone() {
        let made = record("made", LIVING, containers());
        let (root, made) = on_disk("gc-left-alone", made);
        let mut creating = record("creating", ORPHAN, containers());
        creating.stage = PodStage::Creating;
        // Its supervisor lives: this test's process.
        creating.supervisor = this_process();
        assert!(creating.supervisor.is_some());
        let other = PodPaths::new(root.path(), ORPHAN);
        std::fs::create_dir_all(&other.dir).expect("pod dir");
        creating.save(&other.record()).expect("record");

        let mut out = Vec::new();
        pods(root.path(), &mut out).expect("gc");
        assert!(out.is_empty(), "{out:?}");
        assert!(made.paths.record().exists() && other.record().exists());
    }

    #[test]
    fn a_deletion_somebody_carries_on_is_left_to_them() {
        let mut r = record("going", LIVING, containers());
        r.stage = PodStage::Deleting;
        let (root, sandbox) = on_disk("gc-deleting", r);
        let _deleting = Lock::shared(&sandbox.paths.delete_lock()).expect("delete lock");
        let mut out = Vec::new();
        pods(root.path(), &mut out).expect("gc");
        assert!(out.is_empty(), "{out:?}");
        assert!(sandbox.paths.record().exists());
    }

    #[test]
    fn no_pods_directory_is_nothing_to_do() {
        let root = TempDir::new("gc-empty");
        let mut out = Vec::new();
        pods(root.path(), &mut out).expect("gc");
        assert!(out.is_empty(), "{out:?}");
    }
}
