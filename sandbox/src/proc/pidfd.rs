//! Watching a process that is not our child through a pidfd: a descriptor that
//! names one process (never a later one with a recycled PID) and becomes readable
//! when it exits. A supervisor taking over a pod from a dead one uses it for the
//! containers it did not start: they were reparented to init (or the nearest
//! subreaper), so `waitpid` cannot see them, and their new parent may reap them at
//! once. How one ended is read from the pidfd itself where the kernel keeps it
//! (`PIDFD_GET_INFO` with `PIDFD_INFO_EXIT`, Linux 6.15 and later, even after the
//! process was reaped), else from `/proc` while it is a zombie, else unknown.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use super::identity::ProcRef;

/// A pidfd on a process known by PID and start time.
#[derive(Debug)]
pub(crate) struct Watched {
    /// The process.
    pub(crate) proc: ProcRef,
    /// Its pidfd (poll it for `POLLIN`).
    pub(crate) fd: OwnedFd,
}

impl Watched {
    /// A pidfd on `proc`, if it is still that process (running, or a zombie that
    /// still holds its exit status). The start time is checked after the pidfd is
    /// open, so the descriptor cannot name a successor.
    pub(crate) fn open(proc: ProcRef) -> Option<Watched> {
        // SAFETY: pidfd_open with integer arguments; the result is checked.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, proc.pid, 0) };
        if fd < 0 {
            // ESRCH: gone (and reaped). Anything else (no pidfds before Linux
            // 5.3, out of descriptors) says nothing about the process: go by
            // /proc, and watch nothing.
            return None;
        }
        // SAFETY: a descriptor the kernel just gave us and nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        let same = podrt_runtime::proc_info::stat(proc.pid)
            .is_some_and(|st| st.start_time == proc.start_time);
        same.then_some(Watched { proc, fd })
    }

    /// Has it ended (the pidfd is readable: the whole thread group has exited)?
    pub(crate) fn ended(&self) -> bool {
        super::ready::readable_now(&self.fd)
    }

    /// Once it has exited: its `waitpid` status, from the pidfd when the kernel
    /// keeps it there (after reaping) or from `/proc` while it is a zombie; else
    /// `None`.
    ///
    /// The parent may reap it at any moment, and the kernel records the status
    /// with the pidfd only in `release_task`, after the reaper has marked the
    /// process dead (`X`) and before its `/proc` entry goes. So `/proc` is read
    /// for a zombie or a dead process, and the pidfd asked again when `/proc`
    /// no longer has it: one of the two always sees the status on 6.15+.
    pub(crate) fn exit_status(&self) -> Option<i32> {
        if let Some(status) = self.exit_info() {
            return Some(status);
        }
        match podrt_runtime::proc_info::stat(self.proc.pid) {
            Some(st) if st.start_time == self.proc.start_time && matches!(st.state, 'Z' | 'X') => {
                st.exit_status.or_else(|| self.exit_info())
            }
            _ => self.exit_info(),
        }
    }

    /// `PIDFD_GET_INFO` asking for `PIDFD_INFO_EXIT`: the status, if the kernel
    /// has it (it is recorded when the process is reaped, on Linux 6.15+).
    fn exit_info(&self) -> Option<i32> {
        let mut info = PidfdInfo {
            mask: PIDFD_INFO_EXIT,
            ..PidfdInfo::default()
        };
        // SAFETY: the ioctl writes at most size_of::<PidfdInfo>() bytes (the size
        // encoded in the request number) into the struct we own.
        let rc = unsafe { libc::ioctl(self.fd.as_raw_fd(), PIDFD_GET_INFO, &mut info) };
        (rc == 0 && info.mask & PIDFD_INFO_EXIT != 0).then_some(info.exit_code)
    }
}

/// `struct pidfd_info` as of Linux 6.15 (`PIDFD_INFO_SIZE_VER0`, 64 bytes); the
/// kernel fills what fits.
#[repr(C)]
#[derive(Default)]
struct PidfdInfo {
    mask: u64,
    cgroupid: u64,
    /// pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid.
    ids: [u32; 11],
    exit_code: i32,
}

/// `PIDFD_INFO_EXIT` in `pidfd_info.mask`.
const PIDFD_INFO_EXIT: u64 = 1 << 3;

/// `_IOWR(PIDFS_IOCTL_MAGIC = 0xFF, 11, struct pidfd_info)`.
const PIDFD_GET_INFO: libc::c_ulong =
    ((3 << 30) | ((std::mem::size_of::<PidfdInfo>() as u32) << 16) | (0xFF << 8) | 11)
        as libc::c_ulong;

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
        assert!(w.ended());
        // Our own child, not reaped yet: a zombie whose status the kernel shows.
        assert_eq!(w.exit_status(), Some(0));
        child.wait().unwrap();
        // Reaped: only a kernel that keeps the status with the pidfd still knows.
        let want = pidfd_keeps_exit_status().then_some(0);
        assert_eq!(w.exit_status(), want);
    }

    #[test]
    fn a_reaped_process_status_is_read_from_its_pidfd_where_the_kernel_keeps_it() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 0.05; exit 3"])
            .spawn()
            .unwrap();
        let w = Watched::open(ProcRef::of(child.id() as i32).unwrap()).unwrap();
        assert!(!w.ended());
        child.wait().unwrap();
        assert!(w.ended());
        let want = pidfd_keeps_exit_status().then_some(3 << 8);
        assert_eq!(w.exit_status(), want);
    }

    /// The parent reaps at the moment the watcher asks: whichever side wins,
    /// the status is seen on a kernel that keeps it with the pidfd (the CI
    /// failure this pins down read `/proc` while the process was dead, not a
    /// zombie, and not yet recorded with the pidfd).
    #[test]
    fn a_status_read_while_the_parent_reaps_is_not_lost() {
        let keeps = pidfd_keeps_exit_status();
        for round in 0..200 {
            let mut child = std::process::Command::new("sh")
                .args(["-c", "exit 3"])
                .spawn()
                .unwrap();
            let w = Watched::open(ProcRef::of(child.id() as i32).unwrap()).unwrap();
            let reaper = std::thread::spawn(move || child.wait().unwrap());
            let mut fds = [libc::pollfd {
                fd: w.fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            }];
            // SAFETY: poll on one pollfd we own.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), 1, 5000) };
            assert_eq!(n, 1);
            let seen = w.exit_status();
            if keeps {
                assert_eq!(seen, Some(3 << 8), "round {round}");
            } else {
                // Older kernels: seen while a zombie, or unknown; never wrong.
                assert!(matches!(seen, Some(768) | None), "round {round}: {seen:?}");
            }
            reaper.join().unwrap();
        }
    }

    /// Linux 6.15 or later (PIDFD_INFO_EXIT).
    fn pidfd_keeps_exit_status() -> bool {
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
        let mut nums = release
            .split(|c: char| !c.is_ascii_digit())
            .map(|n| n.parse::<u32>().unwrap_or(0));
        (nums.next().unwrap(), nums.next().unwrap()) >= (6, 15)
    }
}
