//! Waiting in the foreground (`run`, `exec` without `--detach`): the runtime stays the
//! parent of the process, forwards the signals it receives, and exits with the
//! process's status (128+N for a signal), as runc does.

use crate::error::{Error, Result};

const FORWARDED: [libc::c_int; 9] = [
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGTERM,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
    libc::SIGCONT,
    libc::SIGTSTP,
];

/// The signals a foreground runtime blocks and handles itself.
pub(crate) fn blocked_set() -> libc::sigset_t {
    // SAFETY: sigset manipulation on a zeroed value we own.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in FORWARDED {
            libc::sigaddset(&mut set, s);
        }
        libc::sigaddset(&mut set, libc::SIGCHLD);
        set
    }
}

/// Block the forwarded signals and SIGCHLD in the calling process. Call before the
/// child is started so no signal is lost; the child unblocks them before exec.
pub fn block_signals() {
    let set = blocked_set();
    // SAFETY: sigprocmask with a set we built.
    unsafe { libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
}

/// Wait for `pid` to exit, forwarding signals to it. Returns the exit code
/// (128+signal when killed).
pub fn wait_forwarding(pid: i32) -> Result<i32> {
    let set = blocked_set();
    loop {
        let mut status = 0;
        // SAFETY: waitpid on our child with a status we own.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            if libc::WIFEXITED(status) {
                return Ok(libc::WEXITSTATUS(status));
            }
            if libc::WIFSIGNALED(status) {
                return Ok(128 + libc::WTERMSIG(status));
            }
            continue;
        }
        if r < 0 {
            return Err(Error::io(
                format!("waiting for process {pid}"),
                std::io::Error::last_os_error(),
            ));
        }
        let timeout = libc::timespec {
            tv_sec: 1,
            tv_nsec: 0,
        };
        // SAFETY: sigtimedwait with a set and timeout we own.
        let sig = unsafe { libc::sigtimedwait(&set, std::ptr::null_mut(), &timeout) };
        if sig > 0 && sig != libc::SIGCHLD {
            // SAFETY: forwarding to our own child.
            unsafe { libc::kill(pid, sig) };
        }
    }
}
