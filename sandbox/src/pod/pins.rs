//! The pod's shared namespaces, made once and pinned without a process: a short-lived
//! child unshares net, ipc and uts, sets the pod's hostname (containers only join the
//! UTS namespace, so this is the one step that can) and brings loopback up; the
//! parent bind-mounts the child's `/proc/<pid>/ns/*` files into the pod's state
//! directory and lets the child exit. Containers then join the namespaces by those
//! paths, as CRI-O's pinns does, so no pause container is needed.
//!
//! A pod with its own user namespace (`hostUsers: false`) has the child unshare it
//! in the same call, so the kernel creates it first and makes it the owner of the
//! others: the pod's root then has its capabilities over the pod's network (ports
//! below 1024, raw sockets) but over nothing of the host. The parent writes its id
//! maps before pinning it with the others.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use podrt_runtime::private_fs;

use crate::error::{Error, Result};

/// The namespaces a pod shares, by their `/proc/<pid>/ns` names, with their clone flags.
pub(crate) const SHARED: [(&str, libc::c_int); 3] = [
    ("net", libc::CLONE_NEWNET),
    ("ipc", libc::CLONE_NEWIPC),
    ("uts", libc::CLONE_NEWUTS),
];

/// The pod's own user namespace, by its `/proc/<pid>/ns` name and clone flag.
pub(crate) const USER: (&str, libc::c_int) = ("user", libc::CLONE_NEWUSER);

/// Which of the shared namespaces to make new (the others stay the host's, as with
/// `hostNetwork`/`hostIPC`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PinRequest<'a> {
    /// The `uid_map`/`gid_map` text of the pod's own user namespace, which then owns
    /// the others; `None` keeps the host's users.
    pub(crate) id_map: Option<&'a str>,
    /// The pod's hostname (set in the new UTS namespace).
    pub(crate) hostname: &'a str,
    /// Make a new network namespace (false for `hostNetwork`).
    pub(crate) net: bool,
    /// Make a new IPC namespace (false for `hostIPC`).
    pub(crate) ipc: bool,
    /// Make a new UTS namespace (false with `hostNetwork`, whose pods have the
    /// host's hostname, as in Kubernetes).
    pub(crate) uts: bool,
}

/// Create the pod's namespaces and pin each as `ns_path(kind)`. On failure nothing is
/// left mounted. Must be called from a single-threaded process (it forks).
pub(crate) fn pin(req: &PinRequest, ns_path: &dyn Fn(&str) -> PathBuf) -> Result<Vec<PathBuf>> {
    let wanted: Vec<(&str, libc::c_int)> = SHARED
        .iter()
        .copied()
        .filter(|(kind, _)| match *kind {
            "net" => req.net,
            "ipc" => req.ipc,
            _ => req.uts,
        })
        .chain(req.id_map.map(|_| USER))
        .collect();
    if wanted.is_empty() {
        // Every namespace is the host's: nothing to make or pin.
        return Ok(Vec::new());
    }
    let flags = wanted.iter().fold(0, |acc, (_, f)| acc | f);
    let hostname = CString::new(req.hostname).map_err(|_| Error::Unsupported {
        field: "spec.hostname".into(),
        message: "contains a NUL byte".into(),
    })?;
    let child = Child::spawn(flags, &hostname, req.net)?;
    let mut pinned = Vec::new();
    let result = (|| {
        if let Some(map) = req.id_map {
            write_id_maps(child.pid, map)?;
        }
        for (kind, _) in &wanted {
            let target = ns_path(kind);
            bind_ns(child.pid, kind, &target)?;
            pinned.push(target);
        }
        Ok(())
    })();
    let child_result = child.finish();
    match result.and(child_result) {
        Ok(()) => Ok(pinned),
        Err(e) => {
            unpin(&pinned);
            Err(e)
        }
    }
}

/// Unmount and remove pins; missing ones are fine (idempotent, for cleanup paths).
pub(crate) fn unpin(paths: &[PathBuf]) {
    for p in paths {
        let _ = umount2(p, MntFlags::MNT_DETACH);
        let _ = std::fs::remove_file(p);
    }
}

/// Write the same map as the child's `uid_map` and `gid_map` (the parent is the
/// host's root, so `setgroups` need not be denied first).
fn write_id_maps(pid: i32, map: &str) -> Result<()> {
    for file in ["uid_map", "gid_map"] {
        let path = PathBuf::from(format!("/proc/{pid}/{file}"));
        std::fs::write(&path, map).map_err(|e| {
            Error::io(
                format!("writing the pod's id map ({}) to", map.trim()),
                &path,
                e,
            )
        })?;
    }
    Ok(())
}

fn bind_ns(pid: i32, kind: &str, target: &Path) -> Result<()> {
    if let Some(parent) = target.parent() {
        private_fs::create_dir_all(parent).map_err(|e| Error::io("creating", parent, e))?;
    }
    private_fs::create_file(target, private_fs::FILE_MODE)
        .map_err(|e| Error::io("creating pin file", target, e))?;
    let source = PathBuf::from(format!("/proc/{pid}/ns/{kind}"));
    mount(
        Some(&source),
        target,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|e| {
        let _ = std::fs::remove_file(target);
        Error::io(
            format!("pinning {} at", source.display()),
            target,
            std::io::Error::from(e),
        )
    })
}

/// The forked child holding the new namespaces while the parent pins them.
struct Child {
    pid: i32,
    /// Closed by the parent when the pins are made: the child then exits.
    release: Option<OwnedFd>,
    /// The child's report: 0 on success, else the failed step and errno.
    report: OwnedFd,
}

/// Steps the child reports as failed (first byte of its 8-byte record).
const STEP_UNSHARE: u32 = 1;
const STEP_HOSTNAME: u32 = 2;
const STEP_LOOPBACK: u32 = 3;

impl Child {
    fn spawn(flags: libc::c_int, hostname: &CString, loopback: bool) -> Result<Child> {
        let (report_r, report_w) = pipe()?;
        let (release_r, release_w) = pipe()?;
        // SAFETY: fork in a single-threaded process; the child only makes
        // async-signal-safe system calls on memory prepared before the fork.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(Error::last_os("forking to create namespaces for", "/"));
        }
        if pid == 0 {
            drop(report_r);
            drop(release_w);
            let (step, errno) = child_steps(flags, hostname, loopback);
            let record = [step, errno as u32];
            // SAFETY: write of a fixed-size array, read of one byte, _exit: all
            // async-signal-safe.
            unsafe {
                libc::write(report_w.as_raw_fd(), record.as_ptr().cast(), 8);
                let mut b = 0u8;
                libc::read(release_r.as_raw_fd(), (&mut b as *mut u8).cast(), 1);
                libc::_exit(0);
            }
        }
        drop(report_w);
        drop(release_r);
        let child = Child {
            pid,
            release: Some(release_w),
            report: report_r,
        };
        let mut record = [0u32; 2];
        // SAFETY: read into a fixed-size array we own.
        let n = unsafe { libc::read(child.report.as_raw_fd(), record.as_mut_ptr().cast(), 8) };
        if n != 8 {
            let _ = child.finish();
            return Err(Error::Create {
                pod: hostname.to_string_lossy().into_owned(),
                message: "the namespace helper died before reporting".into(),
            });
        }
        if record[0] != 0 {
            let what = match record[0] {
                STEP_UNSHARE => "unsharing the pod's namespaces",
                STEP_HOSTNAME => "setting the pod's hostname",
                _ => "bringing up loopback in the pod's network namespace",
            };
            let _ = child.finish();
            return Err(Error::io(
                what,
                "/proc/self/ns",
                std::io::Error::from_raw_os_error(record[1] as i32),
            ));
        }
        Ok(child)
    }

    /// Let the child exit and reap it.
    fn finish(mut self) -> Result<()> {
        drop(self.release.take());
        let mut status = 0;
        // SAFETY: waitpid on our own child.
        unsafe { libc::waitpid(self.pid, &mut status, 0) };
        Ok(())
    }
}

/// In the child: unshare, set the hostname, bring up `lo`. Returns (step, errno) of
/// the first failure, or (0, 0).
fn child_steps(flags: libc::c_int, hostname: &CString, loopback: bool) -> (u32, i32) {
    let errno = || std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
    // SAFETY: unshare and sethostname take integers and a valid C string.
    unsafe {
        if libc::unshare(flags) < 0 {
            return (STEP_UNSHARE, errno());
        }
        let h = hostname.as_bytes();
        if flags & libc::CLONE_NEWUTS != 0 && libc::sethostname(hostname.as_ptr(), h.len()) < 0 {
            return (STEP_HOSTNAME, errno());
        }
    }
    if loopback {
        if let Err(e) = loopback_up() {
            return (STEP_LOOPBACK, e);
        }
    }
    (0, 0)
}

/// `ip link set lo up`, with the SIOCGIFFLAGS/SIOCSIFFLAGS ioctls (no allocation).
fn loopback_up() -> std::result::Result<(), i32> {
    let errno = || std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
    // SAFETY: socket() with constant arguments.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(errno());
    }
    // SAFETY: fd was just returned by socket() and is owned here.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: ioctls on our socket with a properly initialised ifreq.
    unsafe {
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) < 0 {
            return Err(errno());
        }
        req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) < 0 {
            return Err(errno());
        }
    }
    Ok(())
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| Error::io("creating a pipe for", "/proc/self/fd", e.into()))
}
