//! Deleting a pod as `podrt delete` does, kubelet's part of it: mark the pod
//! Deleting, hand the graceful termination to its supervisor (or do it here when
//! the supervisor is gone), then remove everything with the CRI verbs.

use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::lifecycle::supervisor::control;
use crate::lifecycle::supervisor::protocol::{Reply, Request};
use crate::pod::{remove_pod_sandbox, stop_pod_sandbox};
use crate::state::lock::Lock;
use crate::state::record::{PodRecord, PodStage};
use crate::state::Sandbox;

/// Delete a pod as `podrt delete` does: mark it Deleting (so `get` shows
/// Terminating), stop a supervisor still creating it, terminate every container
/// gracefully ([`crate::lifecycle::terminate`]: preStop, stop signal, SIGKILL after `grace`),
/// then remove everything. Idempotent. The pod's delete lock is held, shared,
/// throughout: while anybody holds it, nobody else needs to carry the deletion on.
pub fn delete_pod(sandbox: &mut Sandbox, grace: Duration) -> Result<()> {
    delete_pod_and(sandbox, grace, &mut || {})
}

/// [`delete_pod`], calling `marked` once the pod is marked as being deleted
/// (its record has its deletion timestamp, so listings show it Terminating)
/// and before its containers are stopped: a caller tells a controller then,
/// which replaces a terminating pod at once, as Kubernetes does, instead of
/// after its grace period.
pub fn delete_pod_and(
    sandbox: &mut Sandbox,
    grace: Duration,
    marked: &mut dyn FnMut(),
) -> Result<()> {
    let deleting = match Lock::shared(&sandbox.paths.delete_lock()) {
        Ok(lock) => lock,
        // Another delete got there first and removed it all.
        Err(_) if !sandbox.paths.record().exists() => return Ok(()),
        Err(e) => return Err(e),
    };
    delete_pod_holding_and(sandbox, grace, deleting, marked)
}

/// [`delete_pod`] for a caller that holds the pod's delete lock already (and
/// hands it over, to be released at the end).
pub(crate) fn delete_pod_holding(
    sandbox: &mut Sandbox,
    grace: Duration,
    deleting: Lock,
) -> Result<()> {
    delete_pod_holding_and(sandbox, grace, deleting, &mut || {})
}

fn delete_pod_holding_and(
    sandbox: &mut Sandbox,
    grace: Duration,
    _deleting: Lock,
    marked: &mut dyn FnMut(),
) -> Result<()> {
    if !stop_pod_and(sandbox, grace, PodStage::Deleting, marked)? {
        return Ok(());
    }
    // The removal itself under the pod's lock: of several deletes racing, one
    // removes the pod (one CNI DEL, one unpin); the others find it gone.
    let _lock = match sandbox.lock() {
        Ok(lock) => lock,
        Err(_) if !sandbox.paths.record().exists() => return Ok(()),
        Err(e) => return Err(e),
    };
    stop_pod_sandbox(sandbox, Duration::ZERO);
    match remove_pod_sandbox(sandbox) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The first half of a delete, all of `StopPodSandbox`: mark the pod
/// `stage` (Deleting, or a kubelet pod's Stopped), have every container terminated gracefully within `grace`
/// (calling `marked` in between, see [`delete_pod_and`]) and wait until none
/// runs. False if the pod was found removed already.
pub(crate) fn stop_pod_and(
    sandbox: &mut Sandbox,
    grace: Duration,
    stage: PodStage,
    marked: &mut dyn FnMut(),
) -> Result<bool> {
    {
        let _lock = match sandbox.lock() {
            Ok(lock) => lock,
            // Another delete got there first and removed it all.
            Err(_) if !sandbox.paths.record().exists() => return Ok(false),
            Err(e) => return Err(e),
        };
        if sandbox.record.stage == PodStage::Creating {
            // Creation still under way: its supervisor would go on making things
            // while we remove them. Stop it first; what it made is removed below.
            if let Some(sup) = sandbox
                .record
                .supervisor
                .filter(|p| p.alive() && p.pid != std::process::id() as i32)
            {
                // SAFETY: kill of this pod's supervisor, verified by PID + start time.
                unsafe { libc::kill(sup.pid, libc::SIGKILL) };
                let deadline = Instant::now() + Duration::from_secs(5);
                while sup.alive() && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
            *sandbox = Sandbox {
                record: PodRecord::load(&sandbox.paths.record())?,
                paths: sandbox.paths.clone(),
            };
        }
        // The supervisor restarts nothing once this exists.
        let marker = sandbox.paths.terminating();
        podrt_runtime::private_fs::write(&marker, b"")
            .map_err(|e| Error::io("creating", &marker, e))?;

        if sandbox.record.stage != stage {
            sandbox.record.stage = stage;
            if sandbox.record.deletion_timestamp.is_none() {
                sandbox.record.deletion_timestamp = Some(crate::proc::clock::now_seconds());
            }
            sandbox.save()?;
        }
    }
    marked();
    // The supervisor carries the termination out (in a terminator process of its
    // own, which survives us and it); without a supervisor, we do it here.
    let request = Request::Terminate {
        grace_ms: u64::try_from(grace.as_millis()).unwrap_or(u64::MAX),
    };
    let handed = control::request(&sandbox.paths.dir, &request).is_ok_and(|r| r == Reply::Ok);
    if handed {
        wait_stopped(sandbox, grace + Duration::from_secs(5));
    } else {
        crate::lifecycle::terminate::terminate(sandbox, grace);
    }
    Ok(true)
}

/// Wait until none of the pod's containers runs, or `limit` passes.
fn wait_stopped(sandbox: &Sandbox, limit: Duration) {
    let deadline = Instant::now() + limit;
    let running = || {
        sandbox.record.containers.iter().any(|c| {
            sandbox
                .runtime_container(&c.name)
                .is_some_and(|rt| rt.status().has_process())
        })
    };
    while running() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proc::identity::this_process;
    use crate::state::test_support::{on_disk, record};
    use serde_json::json;

    const UID: &str = "2e3f4a5b-6c7d-4e8f-9a0b-1c2d3e4f5a6b";

    fn pod(tag: &str, stage: PodStage) -> (crate::state::test_support::TempDir, Sandbox) {
        let mut r = record("gone", UID, json!({"containers": [{"name": "c"}]}));
        r.stage = stage;
        on_disk(tag, r)
    }

    #[test]
    fn a_pod_with_nothing_running_is_removed_and_a_second_delete_is_a_no_op() {
        let (_root, mut sandbox) = pod("delete-idle", PodStage::Created);
        delete_pod(&mut sandbox, Duration::from_secs(30)).expect("delete");
        assert!(!sandbox.paths.dir.exists());
        // Idempotent: another delete of the same pod finds it gone.
        delete_pod(&mut sandbox, Duration::from_secs(30)).expect("second delete");
    }

    #[test]
    fn a_delete_that_lost_the_race_is_a_no_op() {
        let (_root, mut sandbox) = pod("delete-raced", PodStage::Deleting);
        let deleting = Lock::shared(&sandbox.paths.delete_lock()).expect("delete lock");
        std::fs::remove_dir_all(&sandbox.paths.dir).expect("another delete removed it");
        delete_pod_holding(&mut sandbox, Duration::ZERO, deleting).expect("nothing to do");
        assert!(!sandbox.paths.dir.exists());
    }

    #[test]
    fn a_creation_supervised_by_the_deleting_process_itself_is_not_killed() {
        let (_root, mut sandbox) = pod("delete-own-creation", PodStage::Creating);
        // The library's caller deletes the pod it is making: were its own process
        // taken for a supervisor to stop, this test would die of SIGKILL.
        sandbox.record.supervisor = this_process();
        assert!(sandbox.record.supervisor.is_some());
        sandbox.save().expect("save");
        delete_pod(&mut sandbox, Duration::ZERO).expect("delete");
        assert!(!sandbox.paths.dir.exists());
    }
}
