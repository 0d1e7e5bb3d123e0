//! The pod's supervisor: one small process per pod, the parent of all its
//! containers. `podrt apply` forks it; it makes the pod sandbox, writes its plan
//! (`supervisor.json`) and, given the podrt binary, re-executes it so the long-lived
//! process holds none of the creation code. Then ([`run`]) it runs the init
//! containers one by one and the app containers, each made by a short-lived creator
//! process ([`creator`]), sends `apply` one [`Report`] on a pipe (`ready`, or
//! `failed` with the error), detaches, writes the containers' output as CRI logs,
//! records every termination ([`state`]) and restarts per `restartPolicy`
//! ([`policy`]). Commands reach it on its socket ([`control`]). Every message
//! between these processes is one line of the versioned [`protocol`].

pub(crate) mod adopt;
pub(crate) mod control;
pub mod creator;
pub(crate) mod exit;
pub(crate) mod output;
pub(crate) mod phase;
pub(crate) mod plan;
pub(crate) mod policy;
pub(crate) mod protocol;
pub(crate) mod run;
pub(crate) mod state;
pub mod terminator;

use std::io::BufReader;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;

use crate::error::{Error, Result};
use crate::manifest::ValidPod;
use crate::pod::{self, Options};
use crate::proc::detach::Forked;
use crate::proc::roles::{close_inherited, Role};
use crate::state::record::PodStage;
use crate::state::Sandbox;

pub use plan::MadeWhen;
pub(crate) use plan::Plan;
use protocol::Report;

/// Create the pod through a forked supervisor and return once it is made as
/// `when` says (every container running, init containers having run to
/// completion first; or only the sandbox and its supervisor), or with the error
/// that stopped it, in which case nothing of the pod is left. Call from a
/// single-threaded process.
pub fn apply(opts: &Options, manifest: &Pod, valid: &ValidPod, when: MadeWhen) -> Result<Sandbox> {
    // The UID is chosen here, so everything below finds this pod and never another
    // of the same name that won a race for it.
    let uid = uuid::Uuid::new_v4().to_string();
    let ours = || Sandbox::by_uid(&opts.root, &uid);
    let (read_end, write_end) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| Error::io("creating a pipe for", &opts.root, e.into()))?;
    // Detached: the supervisor is not our child, so a long-lived caller never holds
    // it as a zombie and it is init's (or the nearest subreaper's) to reap; and a
    // caller reading our stdout to its end must not wait for the pod.
    let forked = crate::proc::detach::fork_detached(None)
        .map_err(|e| Error::io("forking the pod supervisor for", &opts.root, e))?;
    if forked == Forked::Detached {
        drop(read_end);
        supervisor_main(opts, manifest, valid, &uid, when, write_end);
    }
    drop(write_end);
    let report = protocol::receive::<Report>(&mut BufReader::new(std::fs::File::from(read_end)));
    match report {
        Ok(Some(Report::Ready)) => {
            // Created: every app container was started (or the pod failed for good
            // in its init containers). Record it, unless a delete got there first.
            let mut s = ours().ok_or_else(|| Error::Create {
                pod: valid.name.clone(),
                message: "the pod was deleted while it was being created".into(),
            })?;
            // The supervisor marked it before it said so; this only covers a failed
            // write.
            if s.record.stage == PodStage::Creating {
                s.mark_created()?;
            }
            Ok(s)
        }
        Ok(Some(Report::Failed { message })) => {
            // The supervisor has stopped; remove what it made.
            if let Some(mut s) = ours() {
                if let Ok(_lock) = s.lock() {
                    if s.record.stage == PodStage::Creating {
                        pod::stop_pod_sandbox(&s, Duration::ZERO);
                        pod::remove_pod_sandbox(&mut s);
                    }
                }
            }
            Err(Error::Create {
                pod: valid.name.clone(),
                message: message.trim().to_string(),
            })
        }
        Ok(None) => Err(vanished(opts, valid, &uid, None)),
        Ok(Some(other)) => {
            let said = format!("the pod's supervisor sent {other:?} instead of a creation report");
            Err(vanished(opts, valid, &uid, Some(said)))
        }
        Err(e) => Err(vanished(opts, valid, &uid, Some(e.to_string()))),
    }
}

/// The supervisor stopped without a creation report: killed by a `delete` racing
/// the creation, or crashed (`said`: what it sent instead, if anything). Clean up
/// whatever it left, under the pod's lock: a `delete` holds it while it stops the
/// supervisor and marks the pod Deleting, and then removes the pod itself.
fn vanished(opts: &Options, valid: &ValidPod, uid: &str, said: Option<String>) -> Error {
    let message = match Sandbox::by_uid(&opts.root, uid) {
        Some(mut s) => match s.lock() {
            Ok(_lock) if s.record.stage == PodStage::Creating => {
                pod::remove_pod_sandbox(&mut s);
                said.unwrap_or_else(|| {
                    "the pod's supervisor died while creating it (see the kernel log)".into()
                })
            }
            _ => "the pod was deleted while it was being created".into(),
        },
        None => "the pod was deleted while it was being created".into(),
    };
    Error::Create {
        pod: valid.name.clone(),
        message,
    }
}

/// The forked supervisor: make the sandbox, hand over to the small supervisor.
fn supervisor_main(
    opts: &Options,
    manifest: &Pod,
    valid: &ValidPod,
    uid: &str,
    when: MadeWhen,
    report: OwnedFd,
) -> ! {
    // Adopt every container's process.
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    // First of all, let go of the caller's descriptors: until the exec below
    // closes them, we would share its open files, and with them its flocks. A
    // `podrt serve` SIGKILLed while it waits for this pod would leave its
    // `agent.lock` (and the store's lock) held by us, and the agent started
    // again at once would find "another podrt serve" running.
    close_inherited(Some(report.as_raw_fd()));
    let mut report = std::fs::File::from(report);
    let opts = Options {
        as_supervisor: true,
        ..opts.clone()
    };
    let (sandbox, plan) = match prepare(&opts, manifest, valid, uid, when) {
        Ok(x) => x,
        Err(e) => {
            let failed = Report::Failed {
                message: e.to_string(),
            };
            let _ = protocol::send(&mut report, &failed);
            std::process::exit(1);
        }
    };
    crate::proc::detach::redirect_stdio(Some(&sandbox.paths.supervisor_log()));
    if let Some(exe) = &opts.helper_exe {
        let err = exec_supervisor(exe, &sandbox.paths.dir, report.as_raw_fd(), false);
        tracing::warn!("re-executing {} as the supervisor: {err}", exe.display());
    }
    let code = run::Supervisor::new(plan, Some(report)).run();
    std::process::exit(code);
}

/// Make the sandbox and write the supervisor's plan; on failure nothing is left.
fn prepare(
    opts: &Options,
    manifest: &Pod,
    valid: &ValidPod,
    uid: &str,
    made_when: MadeWhen,
) -> Result<(Sandbox, Plan)> {
    let mut sandbox = pod::run_pod_sandbox_as(opts, valid, manifest, uid)?;
    let spec = manifest.spec.clone().unwrap_or_default();
    let plan = Plan {
        pod: valid.name.clone(),
        pod_dir: sandbox.paths.dir.clone(),
        restart_policy: valid.settings.restart_policy,
        init_containers: spec
            .init_containers
            .iter()
            .flatten()
            .map(|c| c.name.clone())
            .collect(),
        containers: spec.containers.iter().map(|c| c.name.clone()).collect(),
        helper_exe: opts.helper_exe.clone(),
        max_restart_period: opts.max_container_restart_period,
        made_when,
        pulling: opts.pulling.clone(),
    };
    if let Err(e) = plan.save(&sandbox.paths.supervisor_plan()) {
        pod::remove_pod_sandbox(&mut sandbox);
        return Err(e);
    }
    Ok((sandbox, plan))
}

/// The supervisor role ([`Role::Supervise`]): supervise the pod at
/// `pod_dir` from its plan, reporting on descriptor `report` (to `apply` for a new
/// pod, or to the command that found the pod's supervisor dead when `adopting`).
/// Returns the process's exit status.
pub fn supervise(pod_dir: &Path, report: RawFd, adopting: bool) -> i32 {
    close_inherited(Some(report));
    // SAFETY: prctl with a pointer to a NUL-terminated constant.
    unsafe {
        libc::prctl(
            libc::PR_SET_NAME,
            c"podrt-superv".as_ptr() as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    // Not inherited by the processes we start: the pipe ends with our report.
    // SAFETY: fcntl on the descriptor handed to us.
    unsafe { libc::fcntl(report, libc::F_SETFD, libc::FD_CLOEXEC) };
    // SAFETY: the descriptor number was handed to us by the process that exec'd us
    // for exactly this; we take ownership of it once.
    let mut report = unsafe { std::fs::File::from_raw_fd(report) };
    let plan = match Plan::load(&crate::state::paths::PodPaths::of_dir(pod_dir).supervisor_plan()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("podrt supervisor: {e}");
            let failed = Report::Failed {
                message: e.to_string(),
            };
            let _ = protocol::send(&mut report, &failed);
            return 1;
        }
    };
    let mut supervisor = if adopting {
        run::Supervisor::adopting(plan, Some(report))
    } else {
        run::Supervisor::new(plan, Some(report))
    };
    supervisor.run()
}

/// Replace this process with `exe` as the supervisor of the pod at `pod_dir`
/// ([`supervise`]), reporting on descriptor `report`. Returns only on failure.
pub(crate) fn exec_supervisor(
    exe: &Path,
    pod_dir: &Path,
    report: RawFd,
    adopting: bool,
) -> std::io::Error {
    // SAFETY: fcntl on a descriptor we hold: keep it open across exec.
    unsafe { libc::fcntl(report, libc::F_SETFD, 0) };
    Role::Supervise {
        pod_dir: pod_dir.to_path_buf(),
        report_fd: report,
        adopting,
    }
    .command(exe)
    .exec()
}
