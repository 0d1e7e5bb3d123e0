//! The agent's companion processes (the cluster DNS, the CRI server, and the
//! CRI server's sandbox maker): each is forked before its parent starts any
//! thread, so it may run any Rust code (a fork of a process with threads may
//! only call async-signal-safe functions), and dies with its parent
//! (PR_SET_PDEATHSIG), however the parent dies.

use std::path::Path;

use crate::error::{Error, Result};

/// Fork a companion that runs `body` and exits with its status; returns in
/// the parent once it is forked. Call only while the calling process has one
/// thread. `what` and `path` name it in an error.
pub(crate) fn fork(what: &'static str, path: &Path, body: impl FnOnce() -> i32) -> Result<()> {
    let parent = nix::unistd::getpid();
    // SAFETY: the agent calls this before it starts any thread, so the child
    // (which runs Rust code and never returns) inherits no lock held by another.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => {
            let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL);
            // The agent died before the line above: nobody to serve.
            if nix::unistd::getppid() != parent {
                std::process::exit(0);
            }
            std::process::exit(body());
        }
        Ok(nix::unistd::ForkResult::Parent { .. }) => Ok(()),
        Err(e) => Err(Error::io(what, path, e.into())),
    }
}
