//! Asking the kernel, without waiting, whether a descriptor has something to read:
//! the supervisor's check that a pidfd has fired, and that an output FIFO still
//! holds data (a FIFO reopened after its last writer closed it never reports end
//! of file, so what is left is read while this says so).

use std::os::fd::{AsFd, AsRawFd};

/// Is `fd` readable right now (`POLLIN`)?
pub(crate) fn readable_now(fd: impl AsFd) -> bool {
    let mut p = libc::pollfd {
        fd: fd.as_fd().as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: poll on one pollfd we own, without waiting.
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    n == 1 && p.revents & libc::POLLIN != 0
}
