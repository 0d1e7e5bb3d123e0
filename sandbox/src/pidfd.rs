//! Watching a process that is not our child through a pidfd: a descriptor that
//! names one process (never a later one with a recycled PID) and becomes readable
//! when it exits. A supervisor taking over a pod from a dead one uses it for the
//! containers it did not start: they were reparented to init, so `waitpid` cannot
//! see them.

use std::os::fd::{FromRawFd, OwnedFd};

use crate::record::ProcRef;

/// A pidfd on a process known by PID and start time.
#[derive(Debug)]
pub struct Watched {
    /// The process.
    pub proc: ProcRef,
    /// Its pidfd (poll it for `POLLIN`).
    pub fd: OwnedFd,
}

impl Watched {
    /// A pidfd on `proc`, if it is still that process (running, or a zombie that
    /// still holds its exit status). The start time is checked after the pidfd is
    /// open, so the descriptor cannot name a successor.
    pub fn open(proc: ProcRef) -> Option<Watched> {
        // SAFETY: pidfd_open with integer arguments; the result is checked.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, proc.pid, 0) };
        if fd < 0 {
            return None;
        }
        // SAFETY: a descriptor the kernel just gave us and nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        let same = podrt_runtime::proc_info::stat(proc.pid)
            .is_some_and(|st| st.start_time == proc.start_time);
        same.then_some(Watched { proc, fd })
    }

    /// Once it has exited: its `waitpid` status if the kernel still shows it (it
    /// is a zombie its parent has not reaped yet), else `None`.
    pub fn exit_status(&self) -> Option<i32> {
        let st = podrt_runtime::proc_info::stat(self.proc.pid)?;
        (st.start_time == self.proc.start_time && st.state == 'Z')
            .then_some(st.exit_status)
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pidfd_sees_a_process_end() {
        let mut child = std::process::Command::new("sleep")
            .arg("0.05")
            .spawn()
            .unwrap();
        let proc = ProcRef::of(child.id() as i32).unwrap();
        let w = Watched::open(proc).unwrap();
        let mut fds = [libc::pollfd {
            fd: std::os::fd::AsRawFd::as_raw_fd(&w.fd),
            events: libc::POLLIN,
            revents: 0,
        }];
        // SAFETY: poll on one pollfd we own.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 1, 5000) };
        assert_eq!(n, 1);
        // Our own child, not reaped yet: a zombie whose status the kernel shows.
        assert_eq!(w.exit_status(), Some(0));
        child.wait().unwrap();
        assert_eq!(w.exit_status(), None);
    }
}
