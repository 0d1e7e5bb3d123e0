//! The channel between the runtime (parent) and the container's init (child).
//!
//! A `SOCK_SEQPACKET` socketpair carries fixed-size records, so the child can report
//! progress and failure without allocating: a failure is a step number, an errno and
//! an index into the prepared plan, and the parent turns that into a message that
//! names the path or spec field.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::error::{Error, Result};

/// What a record means.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Parent → child: cgroup, id maps and oom score are in place; carry on.
    Go = 1,
    /// Child → parent: the mounts are in place; run the create-time hooks now.
    RunHooks = 2,
    /// Parent → child: hooks done, continue to pivot_root.
    HooksDone = 3,
    /// Child → parent: set-up complete, now waiting for `start` (or about to exec).
    Ready = 4,
    /// Child → parent: a step failed; see `step`, `errno`, `index`.
    Failed = 5,
}

/// The step of the init sequence that a failure refers to.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Reading a record from the parent.
    Sync = 1,
    /// `setns` into a namespace given by path (index into the join list).
    JoinNamespace,
    /// `unshare` of the new namespaces.
    Unshare,
    /// `setsid`.
    Setsid,
    /// `sethostname`.
    Hostname,
    /// `setdomainname`.
    Domainname,
    /// Making `/` a slave/private mount tree.
    RootPropagation,
    /// Bind-mounting the rootfs onto itself.
    RootfsBind,
    /// Creating a mount target (index into the mount plan).
    MountTarget,
    /// The mount itself (index into the mount plan).
    Mount,
    /// Remount for read-only or flags (index into the mount plan).
    Remount,
    /// Copying the image's files into a `tmpcopyup` tmpfs (index into the mount plan).
    CopyUp,
    /// Creating a device node (index into the device plan).
    Device,
    /// Creating a /dev symlink (index into the symlink table).
    DevSymlink,
    /// `pivot_root` (or the move+chroot fallback).
    PivotRoot,
    /// Masking a path (index into masked paths).
    MaskPath,
    /// Making a path read-only (index into readonly paths).
    ReadonlyPath,
    /// Remounting `/` read-only.
    ReadonlyRoot,
    /// Setting propagation of the rootfs mount (`rootfsPropagation`).
    RootfsPropagation,
    /// Writing a sysctl (index into the sysctl list).
    Sysctl,
    /// Creating the pty or sending it over the console socket.
    Console,
    /// `setrlimit` (index into the rlimit list).
    Rlimit,
    /// `chdir` into `process.cwd`.
    Cwd,
    /// `setgroups`.
    Setgroups,
    /// `setresgid`.
    Setgid,
    /// `setresuid`.
    Setuid,
    /// Dropping a bounding-set capability (index = capability number).
    CapBounding,
    /// `capset`.
    Capset,
    /// Raising an ambient capability (index = capability number).
    CapAmbient,
    /// `PR_SET_NO_NEW_PRIVS`.
    NoNewPrivs,
    /// Installing the seccomp filters.
    Seccomp,
    /// Opening the exec FIFO (waiting for `start`).
    ExecFifo,
    /// `execve` of `process.args[0]`.
    Exec,
    /// Joining the container's cgroup (exec).
    Cgroup,
    /// Marking inherited descriptors close-on-exec.
    CloseFds,
    /// Setting `process.oomScoreAdj`.
    OomScore,
    /// Setting the AppArmor profile for exec.
    Apparmor,
    /// Personality (0), I/O priority (1) or CPU scheduler (2).
    Sched,
    /// Installing the given stdin (0), stdout (1) or stderr (2).
    Stdio,
}

impl Step {
    /// Convert the wire value back; unknown values map to `Sync`.
    pub(crate) fn from_u32(v: u32) -> Step {
        use Step::*;
        const ALL: [Step; 39] = [
            Sync,
            JoinNamespace,
            Unshare,
            Setsid,
            Hostname,
            Domainname,
            RootPropagation,
            RootfsBind,
            MountTarget,
            Mount,
            Remount,
            CopyUp,
            Device,
            DevSymlink,
            PivotRoot,
            MaskPath,
            ReadonlyPath,
            ReadonlyRoot,
            RootfsPropagation,
            Sysctl,
            Console,
            Rlimit,
            Cwd,
            Setgroups,
            Setgid,
            Setuid,
            CapBounding,
            Capset,
            CapAmbient,
            NoNewPrivs,
            Seccomp,
            ExecFifo,
            Exec,
            Cgroup,
            CloseFds,
            OomScore,
            Apparmor,
            Sched,
            Stdio,
        ];
        ALL.iter().copied().find(|s| *s as u32 == v).unwrap_or(Sync)
    }
}

/// A failed step in the child: copied over the socket as plain integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepError {
    /// Which step failed.
    pub(crate) step: Step,
    /// The errno it failed with.
    pub errno: i32,
    /// Index into the relevant plan list, or 0.
    pub(crate) index: u32,
}

impl StepError {
    /// A failure of `step` with the current `errno`.
    pub(crate) fn last(step: Step, index: u32) -> StepError {
        StepError {
            step,
            errno: nix::errno::Errno::last_raw(),
            index,
        }
    }
}

/// The wire record.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
struct Record {
    kind: u32,
    step: u32,
    errno: i32,
    index: u32,
}

/// One end of the parent/child channel.
#[derive(Debug)]
pub(crate) struct Channel {
    fd: OwnedFd,
}

/// A message read from the channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Message {
    /// A plain progress record.
    Kind(Kind),
    /// A failure.
    Failed(StepError),
    /// The other end closed the socket (the child exited or exec'd).
    Closed,
}

impl Channel {
    /// Create a connected pair `(parent, child)`, both close-on-exec.
    pub(crate) fn pair() -> Result<(Channel, Channel)> {
        let mut fds = [0 as RawFd; 2];
        // SAFETY: socketpair writes two descriptors into the array we own.
        let rc = unsafe {
            libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
                0,
                fds.as_mut_ptr(),
            )
        };
        if rc < 0 {
            return Err(Error::io(
                "socketpair for the init channel",
                std::io::Error::last_os_error(),
            ));
        }
        // SAFETY: both descriptors were just returned by the kernel and are owned by us.
        let (a, b) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        Ok((Channel { fd: a }, Channel { fd: b }))
    }

    /// The raw descriptor (for the child after fork).
    pub(crate) fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    fn send_record(&self, rec: Record) -> std::result::Result<(), i32> {
        let len = std::mem::size_of::<Record>();
        // SAFETY: `rec` is a plain repr(C) value living on the stack for the call.
        let n = unsafe {
            libc::send(
                self.fd.as_raw_fd(),
                &rec as *const Record as *const libc::c_void,
                len,
                libc::MSG_NOSIGNAL,
            )
        };
        if n as usize == len {
            Ok(())
        } else {
            Err(nix::errno::Errno::last_raw())
        }
    }

    /// Send a progress record. Async-signal-safe.
    pub(crate) fn send(&self, kind: Kind) -> std::result::Result<(), i32> {
        self.send_record(Record {
            kind: kind as u32,
            ..Record::default()
        })
    }

    /// Report a failure. Async-signal-safe.
    pub(crate) fn send_failure(&self, err: StepError) {
        let _ = self.send_record(Record {
            kind: Kind::Failed as u32,
            step: err.step as u32,
            errno: err.errno,
            index: err.index,
        });
    }

    /// Block until a record arrives. Async-signal-safe.
    pub(crate) fn recv(&self) -> std::result::Result<Message, i32> {
        let mut rec = Record::default();
        loop {
            // SAFETY: we read at most size_of::<Record>() bytes into our own stack value.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    &mut rec as *mut Record as *mut libc::c_void,
                    std::mem::size_of::<Record>(),
                    0,
                )
            };
            if n < 0 {
                let e = nix::errno::Errno::last_raw();
                if e == libc::EINTR {
                    continue;
                }
                return Err(e);
            }
            if n == 0 {
                return Ok(Message::Closed);
            }
            break;
        }
        Ok(match rec.kind {
            1 => Message::Kind(Kind::Go),
            2 => Message::Kind(Kind::RunHooks),
            3 => Message::Kind(Kind::HooksDone),
            4 => Message::Kind(Kind::Ready),
            _ => Message::Failed(StepError {
                step: Step::from_u32(rec.step),
                errno: rec.errno,
                index: rec.index,
            }),
        })
    }

    /// Wait for a specific record in the child; anything else is a sync failure.
    pub(crate) fn expect(&self, kind: Kind) -> std::result::Result<(), StepError> {
        match self.recv() {
            Ok(Message::Kind(k)) if k == kind => Ok(()),
            Ok(_) => Err(StepError {
                step: Step::Sync,
                errno: libc::EPROTO,
                index: kind as u32,
            }),
            Err(e) => Err(StepError {
                step: Step::Sync,
                errno: e,
                index: kind as u32,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_survives_the_wire() {
        // The lookup table must list every variant, in any order.
        for v in 1..=Step::Sched as u32 {
            assert_eq!(
                Step::from_u32(v) as u32,
                v,
                "step {v} missing from Step::from_u32"
            );
        }
    }
}
