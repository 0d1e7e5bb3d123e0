//! Keeping the runtime's children out of the container's reach until they exec.
//!
//! A child forked from podrt that enters a container's PID namespace (`exec`'s
//! process, or the init of a container that joins a pod's PID namespace) is visible
//! there until `execve`, still as podrt: while it is dumpable, a container process
//! with the same uid and capabilities may open `/proc/<pid>/exe`, which is the host's
//! podrt binary, and later reopen it for writing once nothing runs it any more (the
//! class of CVE-2019-5736). A non-dumpable process is reachable that way only with
//! `CAP_SYS_PTRACE` in the host's user namespace. The flag is set in the runtime
//! *before* the fork, so the child is born with it and is never visible without it;
//! `execve` of the container's program resets it by itself. runc does the same.

use crate::error::{Error, Result};

/// The runtime's own dumpable setting, restored when dropped.
#[derive(Debug)]
#[must_use = "the child must be forked while this guard lives"]
pub(crate) struct NonDumpable {
    was: libc::c_int,
}

/// Make this process non-dumpable until the guard is dropped, so that a child forked
/// meanwhile starts non-dumpable. The child leaves by `execve` or `_exit` and never
/// drops its copy of the guard.
pub(crate) fn hide_children() -> Result<NonDumpable> {
    // SAFETY: prctl with integer arguments only.
    let was = unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) };
    // SAFETY: prctl with integer arguments only.
    if was < 0 || unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } < 0 {
        return Err(Error::io(
            "making the runtime non-dumpable before starting a process in the container",
            std::io::Error::last_os_error(),
        ));
    }
    Ok(NonDumpable { was })
}

impl Drop for NonDumpable {
    fn drop(&mut self) {
        // SAFETY: prctl with integer arguments only; restores what PR_GET_DUMPABLE said.
        unsafe { libc::prctl(libc::PR_SET_DUMPABLE, self.was, 0, 0, 0) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dumpable() -> libc::c_int {
        // SAFETY: prctl with integer arguments only.
        unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) }
    }

    #[test]
    fn a_child_forked_under_the_guard_is_born_non_dumpable() {
        let before = dumpable();
        let guard = hide_children().unwrap();
        // SAFETY: the child only calls prctl and _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            // SAFETY: leave the forked child without running the harness's code.
            unsafe { libc::_exit(dumpable()) };
        }
        drop(guard);
        let mut status = 0;
        // SAFETY: wait for the child we forked.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert!(libc::WIFEXITED(status));
        assert_eq!(libc::WEXITSTATUS(status), 0, "the child was dumpable");
        assert_eq!(
            dumpable(),
            before,
            "the guard restores the runtime's setting"
        );
    }
}
