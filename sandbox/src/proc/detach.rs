//! Starting a process that outlives its starter and is no child of it: fork twice,
//! a session of its own, stdio away from the caller's. The supervisor, a
//! supervisor taking a pod over, and a deletion carried on in the background all
//! start this way.

use std::os::fd::AsRawFd;
use std::path::Path;

/// Which side of [`fork_detached`] a process is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forked {
    /// The caller, once the intermediate child is reaped; `false` if the second
    /// fork failed (no grandchild runs).
    Caller(bool),
    /// The detached grandchild. It must never get back to the caller's code: it
    /// ends in `exit`, `_exit` or `exec`.
    Detached,
}

/// Fork twice and go on in the grandchild as well as in the caller. The grandchild
/// is init's child (or the nearest subreaper's), not ours, so a long-lived caller
/// never holds it as a zombie; it runs in a session of its own, with stdin and
/// stdout on /dev/null and stderr on `log` (or /dev/null), so a caller reading our
/// output to its end does not wait for it. An error if the first fork failed.
/// Call from a single-threaded process.
pub fn fork_detached(log: Option<&Path>) -> std::io::Result<Forked> {
    // SAFETY: fork in a single-threaded process (the CLI); the children carry on in
    // Rust as ordinary processes.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if pid == 0 {
        // SAFETY: as above.
        let second = unsafe { libc::fork() };
        if second != 0 {
            // SAFETY: leave the intermediate child at once, saying whether the
            // second fork failed.
            unsafe { libc::_exit(i32::from(second < 0)) };
        }
        // SAFETY: setsid has no arguments.
        unsafe { libc::setsid() };
        redirect_stdio(log);
        return Ok(Forked::Detached);
    }
    let mut status = 0;
    // SAFETY: reap the intermediate child we forked.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    Ok(Forked::Caller(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
    ))
}

/// Point stdin and stdout at /dev/null and stderr at `log` (or /dev/null).
pub(crate) fn redirect_stdio(log: Option<&Path>) {
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null");
    let err = log.and_then(|p| podrt_runtime::private_fs::open_append(p).ok());
    if let Ok(null) = &null {
        // SAFETY: dup2 of descriptors we own onto stdio.
        unsafe {
            libc::dup2(null.as_raw_fd(), 0);
            libc::dup2(null.as_raw_fd(), 1);
            libc::dup2(err.as_ref().unwrap_or(null).as_raw_fd(), 2);
        }
    }
}
