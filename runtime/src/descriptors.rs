//! Descriptors between fork and exec: which of the runtime's open files a container
//! process may still reach.
//!
//! The child of `clone`/`fork` holds every descriptor of the runtime, close-on-exec
//! or not, until it execs; any of them is reachable by path as `/proc/self/fd/N`, so
//! a `process.cwd` of that form could lead into a host directory (the class of
//! CVE-2024-21626). [`close_all_but`] really closes them, before the child looks up
//! anything the spec names. Everything here is async-signal-safe and allocates
//! nothing.

use std::os::fd::RawFd;

use crate::sync::{Step, StepError};

/// `close_range(2)` flag: mark close-on-exec instead of closing.
const CLOSE_RANGE_CLOEXEC: libc::c_uint = 4;

fn close_range(first: u32, last: u32, flags: libc::c_uint) -> std::result::Result<(), StepError> {
    // SAFETY: close_range takes integers only and affects nothing but descriptors.
    if unsafe { libc::syscall(libc::SYS_close_range, first, last, flags) } < 0 {
        return Err(StepError::last(Step::CloseFds, flags));
    }
    Ok(())
}

/// Close every descriptor numbered `first` or higher except those in `keep` (numbers
/// below `first` and negative ones are ignored): one `close_range` per gap between
/// the kept numbers, sorted in a fixed-size array on the stack.
pub(crate) fn close_all_but<const N: usize>(
    first: u32,
    keep: [RawFd; N],
) -> std::result::Result<(), StepError> {
    let mut kept = [u32::MAX; N];
    let mut n = 0;
    for fd in keep {
        if fd >= 0 && fd as u32 >= first {
            kept[n] = fd as u32;
            n += 1;
        }
    }
    // In place and without allocating (unlike the stable sort).
    kept[..n].sort_unstable();
    let mut from = first;
    for &fd in &kept[..n] {
        if fd > from {
            close_range(from, fd - 1, 0)?;
        }
        // A number kept twice leaves `from` where it is.
        from = from.max(fd + 1);
    }
    close_range(from, u32::MAX, 0)
}

/// Mark every descriptor numbered `first` or higher close-on-exec.
pub(crate) fn close_on_exec_from(first: u32) -> std::result::Result<(), StepError> {
    close_range(first, u32::MAX, CLOSE_RANGE_CLOEXEC)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::IntoRawFd;

    fn is_open(fd: RawFd) -> bool {
        // SAFETY: F_GETFD on a descriptor number; no memory is passed.
        unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
    }

    /// Runs in a forked child, so the test harness's own descriptors are untouched;
    /// the child's exit status says whether exactly `keep` survived.
    #[test]
    fn only_the_kept_descriptors_survive() {
        let opened: Vec<RawFd> = (0..8)
            .map(|_| std::fs::File::open("/dev/null").unwrap().into_raw_fd())
            .collect();
        let keep = [opened[5], opened[1], opened[5], -1];
        let first = opened.iter().copied().min().unwrap() as u32;
        // SAFETY: the child only runs the code below and leaves with _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let ok = close_all_but(first, keep).is_ok()
                && opened
                    .iter()
                    .all(|fd| is_open(*fd) == (*fd == opened[1] || *fd == opened[5]));
            // SAFETY: leave the forked child without running the harness's code.
            unsafe { libc::_exit(if ok { 0 } else { 1 }) };
        }
        let mut status = 0;
        // SAFETY: wait for the child we forked.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
        for fd in opened {
            // SAFETY: closing the descriptors this test opened.
            unsafe { libc::close(fd) };
        }
    }
}
