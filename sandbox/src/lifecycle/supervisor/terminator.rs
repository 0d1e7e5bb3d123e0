//! The pod's terminator: a child of the supervisor that carries out the graceful
//! termination ([`crate::lifecycle::terminate`]) when a delete asks for it, in a process of its
//! own so it goes on if the supervisor or the deleting command die.

use std::path::Path;
use std::time::Duration;

use super::plan::Plan;
use crate::proc::roles::Role;

/// Carry out the pod's graceful termination ([`crate::lifecycle::terminate`]) in a process of
/// its own, a child of ours that goes on even if we are killed meanwhile. Its PID,
/// unless the fork failed.
pub(crate) fn spawn(plan: &Plan, grace: Duration) -> Option<i32> {
    // SAFETY: fork of the supervisor, a single-threaded process.
    let pid = unsafe { libc::fork() };
    if pid != 0 {
        return (pid > 0).then_some(pid);
    }
    if let Some(exe) = &plan.helper_exe {
        use std::os::unix::process::CommandExt;
        let role = Role::Terminate {
            pod_dir: plan.pod_dir.clone(),
            grace,
        };
        let err = role.command(exe).exec();
        eprintln!("running {} to terminate the pod: {err}", exe.display());
    } else {
        terminate_pod_at(&plan.pod_dir, grace);
    }
    // SAFETY: leave the forked child without the parent's destructors.
    unsafe { libc::_exit(0) };
}

/// The terminator's work: load the pod at `pod_dir` and terminate it, holding the
/// pod's delete lock (shared) meanwhile: the deletion is under way while it runs.
pub fn terminate_pod_at(pod_dir: &Path, grace: Duration) {
    let _deleting =
        crate::state::lock::Lock::shared(&crate::state::paths::PodPaths::delete_lock_in(pod_dir));
    match crate::state::Sandbox::at(pod_dir) {
        Ok(sandbox) => crate::lifecycle::terminate::terminate(&sandbox, grace),
        Err(e) => eprintln!("terminating the pod at {}: {e}", pod_dir.display()),
    }
}
