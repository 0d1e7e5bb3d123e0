//! Taking a pod over from a supervisor that died while the pod ran. Its containers
//! run on (their output waits in its FIFOs, [`super::output`]); the next podrt
//! command ([`crate::lifecycle::reconcile`]) starts a new supervisor in adopt mode ([`spawn`])
//! and waits for its answer. The new supervisor first records itself as the pod's
//! supervisor under the pod's lock ([`claim`]), unless another live one already
//! has: so a command killed while it waits leaves no unrecorded supervisor behind,
//! and of several commands adopting at once only one supervisor stays. It then
//! ([`resume`]) finds each container again by the PID and start time the runtime
//! recorded, never by name; watches the live ones through pidfds (they are
//! children of init or of the nearest subreaper now, not its own); reopens their
//! output FIFOs; and carries on from the recorded states: restart counts and last
//! terminations. A container that ended while nobody watched is recorded with an
//! unknown exit status unless the kernel still shows it as a zombie.

use std::io::BufReader;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use super::output;
use super::plan::Plan;
use super::protocol::{self, Report};
use super::state::ContainerState;
use crate::cri_log::Stream;
use crate::error::{Error, Result};
use crate::proc::detach::{fork_detached, Forked};
use crate::proc::identity::ProcRef;
use crate::proc::pidfd::Watched;
use crate::state::record::PodStage;
use crate::state::Sandbox;

/// One container as the new supervisor finds it.
pub(crate) struct Resumed {
    /// Container name.
    pub(crate) name: String,
    /// What the dead supervisor last recorded.
    pub(crate) state: Option<ContainerState>,
    /// Its process, if the same process still runs.
    pub(crate) live: Option<Watched>,
    /// Its cgroup (for OOM kills).
    pub(crate) cgroup: Option<String>,
    /// Its output FIFOs, reopened, when it runs.
    pub(crate) outputs: Vec<(OwnedFd, Stream)>,
}

/// Find the pod's containers again (see the module comment).
pub(crate) fn resume(plan: &Plan) -> Result<Vec<Resumed>> {
    let sandbox = Sandbox::at(&plan.pod_dir)?;
    let mut found = Vec::new();
    for name in plan.init_containers.iter().chain(&plan.containers) {
        let state = ContainerState::load(&sandbox.paths.container_state(name))?;
        let rt = sandbox.runtime_container(name);
        let live = rt.as_ref().filter(|c| c.state.pid > 0).and_then(|c| {
            Watched::open(ProcRef {
                pid: c.state.pid,
                start_time: c.state.pid_start_time,
            })
        });
        let mut outputs = Vec::new();
        if live.is_some() {
            let dir = sandbox.paths.container(name);
            for stream in [Stream::Stdout, Stream::Stderr] {
                let path = output::fifo_path(&dir, stream);
                match output::open_reader(&path) {
                    Ok(fd) => outputs.push((fd, stream)),
                    Err(e) => tracing::warn!("reopening {}: {e}", path.display()),
                }
            }
        }
        found.push(Resumed {
            name: name.clone(),
            state,
            live,
            cgroup: rt.map(|c| c.state.cgroup_path),
            outputs,
        });
    }
    Ok(found)
}

/// What [`claim`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Claim {
    /// We are the pod's supervisor now, recorded as this process.
    Ours(ProcRef),
    /// Leave the pod alone, for this reason (another supervisor has it, it is
    /// being deleted, or nothing of it will run again).
    Leave(String),
}

/// Record this process as the supervisor of the pod at `pod_dir`, under the pod's
/// lock and on a fresh reading of its record, if the pod still needs one: a made
/// pod whose recorded supervisor is dead and whose work is not done.
pub(crate) fn claim(pod_dir: &Path) -> Result<Claim> {
    let mut sandbox = Sandbox::at(pod_dir)?;
    let _lock = sandbox.lock()?;
    let me = ProcRef::of(std::process::id() as i32).ok_or_else(|| Error::Adopt {
        pod: sandbox.record.name.clone(),
        message: "cannot read this supervisor's own start time from /proc".into(),
    })?;
    let r = &sandbox.record;
    if r.stage != PodStage::Created {
        return Ok(Claim::Leave(format!("the pod is {:?} now", r.stage)));
    }
    if sandbox.paths.supervisor_done().exists() {
        return Ok(Claim::Leave("nothing of the pod will run again".into()));
    }
    if let Some(other) = r.supervisor.filter(|p| p.alive() && *p != me) {
        return Ok(Claim::Leave(format!(
            "supervisor pid {} has taken it over",
            other.pid
        )));
    }
    sandbox.record.supervisor = Some(me);
    sandbox.save()?;
    Ok(Claim::Ours(me))
}

/// What a new supervisor said once it had taken a pod over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Adopted {
    /// The new supervisor.
    pub(crate) supervisor: ProcRef,
    /// Containers it found running.
    pub(crate) running: usize,
    /// Containers that had ended while no supervisor watched.
    pub(crate) ended: usize,
    /// Of those, how many ended so long ago that the kernel no longer said how.
    pub(crate) unknown: usize,
}

/// Start a supervisor in adopt mode for `sandbox` (a made pod whose supervisor is
/// dead) from the podrt binary `exe` and wait until it has taken the containers
/// over; it records itself ([`claim`]), so call without the pod's lock held.
/// `None` if it left the pod to another supervisor. Call from a single-threaded
/// process.
pub(crate) fn spawn(sandbox: &Sandbox, exe: &Path) -> Result<Option<Adopted>> {
    let pod = sandbox.record.name.clone();
    let failed = |message: String| Error::Adopt {
        pod: pod.clone(),
        message,
    };
    let (read_end, write_end) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| failed(format!("creating a pipe: {e}")))?;
    let dir = sandbox.paths.dir.clone();
    let log = sandbox.paths.supervisor_log();
    // Detached, as the first supervisor: init's child, not ours.
    let forked = fork_detached(Some(&log)).map_err(|e| failed(format!("fork: {e}")))?;
    if forked == Forked::Detached {
        drop(read_end);
        // SAFETY: prctl with integer arguments.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        let err = super::exec_supervisor(exe, &dir, write_end.as_raw_fd(), true);
        let failed = Report::Failed {
            message: format!("running {}: {err}", exe.display()),
        };
        let _ = protocol::send(&mut std::fs::File::from(write_end), &failed);
        // SAFETY: leave the forked child without the parent's destructors.
        unsafe { libc::_exit(1) };
    }
    drop(write_end);
    let report = protocol::receive(&mut BufReader::new(std::fs::File::from(read_end)));
    adopted(report).map_err(|m| failed(format!("{m} (see {})", log.display())))
}

/// What the new supervisor's report says: it has the pod, it left it to
/// another, or the error.
fn adopted(
    report: std::result::Result<Option<Report>, protocol::Error>,
) -> std::result::Result<Option<Adopted>, String> {
    match report {
        Ok(Some(Report::Adopted {
            pid,
            start_time,
            running,
            ended,
            unknown,
        })) => Ok(Some(Adopted {
            supervisor: ProcRef { pid, start_time },
            running,
            ended,
            unknown,
        })),
        Ok(Some(Report::Left { .. })) => Ok(None),
        Ok(Some(Report::Failed { message })) => Err(message),
        Ok(Some(Report::Ready)) => {
            Err("the new supervisor said it was ready without taking the pod over".into())
        }
        Ok(None) => Err("the new supervisor died without a word".into()),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_are_understood() {
        let got = adopted(Ok(Some(Report::Adopted {
            pid: 42,
            start_time: 977,
            running: 2,
            ended: 1,
            unknown: 1,
        })))
        .unwrap()
        .unwrap();
        assert_eq!(
            (got.supervisor, got.running, got.ended, got.unknown),
            (
                ProcRef {
                    pid: 42,
                    start_time: 977
                },
                2,
                1,
                1
            )
        );
        let left = Report::Left {
            why: "supervisor pid 7 has it".into(),
        };
        assert_eq!(adopted(Ok(Some(left))), Ok(None));
        let failed = Report::Failed {
            message: "no plan".into(),
        };
        assert_eq!(adopted(Ok(Some(failed))).unwrap_err(), "no plan");
        assert!(adopted(Ok(None))
            .unwrap_err()
            .contains("died without a word"));
        assert!(adopted(Ok(Some(Report::Ready))).is_err());
        // What a supervisor of another podrt release says.
        let old = protocol::decode::<Report>("ok 42 977 2 1 1").map(Some);
        assert!(adopted(old)
            .unwrap_err()
            .contains("not a podrt protocol message"));
        let newer = protocol::decode::<Report>(r#"{"v":2,"report":"adopted"}"#).map(Some);
        assert!(adopted(newer)
            .unwrap_err()
            .contains("speaks protocol version 2, this podrt speaks 1"));
    }
}
