//! What every podrt command does first about pods whose processes died (a
//! supervisor SIGKILLed, the OOM killer, a crashed command), so that no pod is ever
//! lost track of:
//! - a made pod whose supervisor is dead is taken over by a new supervisor
//!   ([`crate::lifecycle::supervisor::adopt`]): its containers were never stopped;
//! - a pod being deleted that nobody is deleting any more (no holder of its delete
//!   lock) has its deletion carried on in the background, with its whole grace
//!   period again, as kubelet does after a restart;
//! - a creation whose supervisor died is removed, every trace of it.
//!
//! Each is done under the pod's lock after checking again, so that of several
//! commands only one acts, and each yields one line for the user.

use std::time::Duration;

use crate::lifecycle::supervisor::adopt;
use crate::pod::{self, Options};
use crate::proc::detach::{fork_detached, Forked};
use crate::state::lock::Lock;
use crate::state::record::PodStage;
use crate::state::Sandbox;

/// What to look after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// All of it.
    Everything,
    /// Only take over pods whose supervisor died (`podrt gc` removes the rest
    /// itself and says so).
    AdoptOnly,
}

/// Look after every pod under the root (see the module comment), except that the
/// deletions of the pods named in `deleting` are left to the caller (a `delete`
/// of them carries them on in the foreground). One line per pod acted on.
pub fn reconcile(opts: &Options, scope: Scope, deleting: &[String]) -> Vec<String> {
    let Ok(pods) = crate::state::listing::list_pod_sandboxes(&opts.root) else {
        return Vec::new();
    };
    let mut said = Vec::new();
    for s in pods {
        let r = &s.record;
        let act = match r.stage {
            // A pod about to be deleted needs no new supervisor first.
            PodStage::Created => {
                needs_supervisor(&s) && opts.helper_exe.is_some() && !deleting.contains(&r.name)
            }
            _ if scope == Scope::AdoptOnly => false,
            PodStage::Deleting => !deleting.contains(&r.name) && !being_deleted(&s),
            PodStage::Creating => r.dead_supervisor().is_some(),
            // kubelet removes it, when it wants.
            PodStage::Stopped => false,
        };
        if act {
            if let Some(line) = look_after(opts, s) {
                said.push(line);
            }
        }
    }
    said
}

/// Did the pod's supervisor die before its work was done?
fn needs_supervisor(sandbox: &Sandbox) -> bool {
    sandbox.record.dead_supervisor().is_some() && !sandbox.paths.supervisor_done().exists()
}

/// Is somebody deleting the pod (holding its delete lock)? Asked without the
/// pod's lock, so the probe must not create the file (the pod's directory may be
/// being removed); [`look_after`] asks again under the lock.
fn being_deleted(sandbox: &Sandbox) -> bool {
    Lock::is_held(&sandbox.paths.delete_lock())
}

/// Act on one pod, under its lock and on a fresh reading of its record.
fn look_after(opts: &Options, sandbox: Sandbox) -> Option<String> {
    let mut s = Sandbox::by_uid(&opts.root, &sandbox.record.uid)?;
    let lock = s.lock().ok()?;
    let name = s.record.name.clone();
    let dead = s.record.dead_supervisor();
    match s.record.stage {
        PodStage::Created => {
            let (Some(old), Some(exe)) = (dead, opts.helper_exe.as_deref()) else {
                return None;
            };
            if !needs_supervisor(&s) {
                return None;
            }
            // The new supervisor takes the lock itself to record itself: of
            // several commands here at once, only one supervisor keeps the pod.
            drop(lock);
            Some(match adopt::spawn(&s, exe) {
                Ok(None) => return None,
                Ok(Some(a)) => format!(
                    "pod {name}: its supervisor (pid {}) was gone; a new one (pid {}) took over its {} running container(s){}",
                    old.pid,
                    a.supervisor.pid,
                    a.running,
                    match (a.ended, a.unknown) {
                        (0, _) => String::new(),
                        (n, 0) => format!("; {n} had ended meanwhile"),
                        (n, u) => format!("; {n} had ended meanwhile ({u} with exit status unknown)"),
                    }
                ),
                Err(e) => e.to_string(),
            })
        }
        PodStage::Deleting => {
            // Nobody holds the delete lock: take it, and hand it to the process
            // that carries the deletion on, so no other command starts one too.
            let deleting = Lock::try_exclusive(&s.paths.delete_lock()).ok()??;
            deleting.downgrade().ok()?;
            let grace = s.record.settings().grace_period();
            Some(match carry_deletion_on(s, lock, deleting, grace) {
                Ok(()) => format!(
                    "pod {name}: its deletion was interrupted; carrying it on in the background with its {}s grace period",
                    grace.as_secs()
                ),
                Err(e) => format!(
                    "pod {name}: its deletion was interrupted; carrying it on failed ({e}); `podrt delete pod {name}` does it"
                ),
            })
        }
        PodStage::Stopped => None,
        PodStage::Creating => {
            dead?;
            pod::stop_pod_sandbox(&s, Duration::ZERO);
            Some(match pod::remove_pod_sandbox(&mut s) {
                None => format!("pod {name}: its creation was interrupted; removed what was made"),
                Some(e) => format!("pod {name}: its creation was interrupted; removing it: {e}"),
            })
        }
    }
}

/// Delete the pod in a detached process of its own (a fork of this command, which
/// may be short-lived), holding `deleting`. The pod's lock is let go in the child
/// at once: the deletion takes it again itself. Fails only if fork does.
fn carry_deletion_on(
    mut sandbox: Sandbox,
    pod_lock: Lock,
    deleting: Lock,
    grace: Duration,
) -> std::io::Result<()> {
    // Detached: init's child, not the command's; our caller may wait for our
    // output to end, so stdio goes too.
    match fork_detached(None)? {
        Forked::Detached => {
            drop(pod_lock);
            let _ = crate::lifecycle::delete::delete_pod_holding(&mut sandbox, grace, deleting);
            // SAFETY: leave without the parent's destructors.
            unsafe { libc::_exit(0) };
        }
        Forked::Caller(true) => Ok(()),
        Forked::Caller(false) => Err(std::io::Error::other("the second fork failed")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::paths::PodPaths;
    use crate::state::test_support::record;
    use serde_json::json;

    fn with_grace(grace: Option<i64>) -> Sandbox {
        let mut spec = json!({"containers": [{"name": "c"}]});
        if let Some(g) = grace {
            spec["terminationGracePeriodSeconds"] = json!(g);
        }
        let r = record("p", "u", spec);
        Sandbox {
            paths: PodPaths::new(std::path::Path::new("/nonexistent"), "u"),
            record: r,
        }
    }

    fn grace_period(sandbox: &Sandbox) -> Duration {
        sandbox.record.settings().grace_period()
    }

    #[test]
    fn the_grace_period_is_the_pods_own() {
        assert_eq!(grace_period(&with_grace(Some(5))), Duration::from_secs(5));
        assert_eq!(grace_period(&with_grace(Some(0))), Duration::ZERO);
    }

    #[test]
    fn an_unset_grace_period_is_thirty_seconds() {
        assert_eq!(grace_period(&with_grace(None)), Duration::from_secs(30));
    }
}
