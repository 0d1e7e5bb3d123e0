//! Probes of what pods in their own user namespace need from the kernel: a user
//! namespace podrt can make, and idmapped mounts (`mount_setattr(2)` with
//! `MOUNT_ATTR_IDMAP`) on the filesystems their layers and volumes live on.
//! Every mount made here is detached and never attached, so closing its
//! descriptor undoes it: a probe leaves nothing behind.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::fcntl::OFlag;

use super::options::DEFAULT_FIRST_ID;

/// The host id the probe namespace's uid and gid 0 map to (one id only).
pub(crate) const PROBE_ID: u32 = DEFAULT_FIRST_ID;

/// A throwaway user namespace mapping uid and gid 0 to [`PROBE_ID`]: a child
/// unshares it and waits while it is mapped and opened, then exits. The
/// descriptor keeps the namespace alive.
pub(crate) fn scratch_userns() -> io::Result<OwnedFd> {
    // Child to parent: the errno of its unshare (0 on success).
    let (ready_r, ready_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    // Parent to child: closed when the namespace is open, so the child exits.
    let (release_r, release_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    // SAFETY: the child only makes async-signal-safe system calls (unshare, write,
    // read, _exit) on descriptors and a stack buffer made before the fork, and
    // never returns, so no lock or allocator state copied from other threads is
    // touched.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        // SAFETY: see the fork above; `errno` is a local, `b` a one-byte buffer.
        // The parent's ends are closed first, or the release pipe would never
        // reach end-of-file.
        unsafe {
            libc::close(ready_r.as_raw_fd());
            libc::close(release_w.as_raw_fd());
            let errno: i32 = if libc::unshare(libc::CLONE_NEWUSER) == 0 {
                0
            } else {
                *libc::__errno_location()
            };
            libc::write(
                ready_w.as_raw_fd(),
                (&errno as *const i32).cast(),
                std::mem::size_of::<i32>(),
            );
            let mut b = 0u8;
            libc::read(release_r.as_raw_fd(), (&mut b as *mut u8).cast(), 1);
            libc::_exit(0);
        }
    }
    drop(ready_w);
    drop(release_r);
    let child = Child {
        pid,
        release: Some(release_w),
    };
    let mut errno = [0u8; 4];
    let n = loop {
        // SAFETY: read into a 4-byte array we own.
        let n = unsafe { libc::read(ready_r.as_raw_fd(), errno.as_mut_ptr().cast(), 4) };
        if n >= 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            break n;
        }
    };
    if n != 4 {
        return Err(io::Error::other(
            "the user namespace helper exited before unsharing",
        ));
    }
    let errno = i32::from_ne_bytes(errno);
    if errno != 0 {
        return Err(io::Error::from_raw_os_error(errno));
    }
    let proc = format!("/proc/{pid}");
    let map = format!("0 {PROBE_ID} 1\n");
    let context = |what: &str, path: &str, e: io::Error| {
        io::Error::new(e.kind(), format!("{what} {path}: {e}"))
    };
    for file in ["uid_map", "gid_map"] {
        let path = format!("{proc}/{file}");
        std::fs::write(&path, &map).map_err(|e| context("writing", &path, e))?;
    }
    let path = format!("{proc}/ns/user");
    let ns = std::fs::File::open(&path).map_err(|e| context("opening", &path, e))?;
    drop(child);
    Ok(OwnedFd::from(ns))
}

/// The probe's child: told to exit and reaped when dropped.
struct Child {
    pid: libc::pid_t,
    release: Option<OwnedFd>,
}

impl Drop for Child {
    fn drop(&mut self) {
        drop(self.release.take());
        let mut status = 0;
        // SAFETY: waitpid on our own child, into a local.
        while unsafe { libc::waitpid(self.pid, &mut status, 0) } < 0
            && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted
        {}
    }
}

/// Whether a bind of `dir` can be idmapped to `userns`: the filesystem `dir` is
/// on supports idmapped mounts. The bind is a detached copy (`open_tree` with
/// `OPEN_TREE_CLONE`), dropped when the descriptor is closed.
pub(crate) fn can_idmap_dir(dir: &Path, userns: &OwnedFd) -> io::Result<bool> {
    let path = CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path has a NUL byte"))?;
    // SAFETY: open_tree of a NUL-terminated path we own; the new descriptor is
    // owned below.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            path.as_ptr(),
            libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC,
        )
    };
    let tree = owned(fd)?;
    match tree {
        Some(tree) => idmap(&tree, userns),
        None => Ok(false),
    }
}

/// Whether a tmpfs can be idmapped to `userns` (Linux 6.3 and later). The tmpfs
/// is made detached (`fsopen`, `fsmount`) and dropped when its descriptor is
/// closed.
pub(crate) fn can_idmap_tmpfs(userns: &OwnedFd) -> io::Result<bool> {
    // SAFETY: fsopen of a static NUL-terminated name; the descriptor is owned below.
    let fs = unsafe { libc::syscall(libc::SYS_fsopen, c"tmpfs".as_ptr(), libc::FSOPEN_CLOEXEC) };
    let Some(fs) = owned(fs)? else {
        return Ok(false);
    };
    // SAFETY: FSCONFIG_CMD_CREATE takes no key, value or aux argument.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            libc::FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_void>(),
            0,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fsmount of the configured context we own; the descriptor is owned below.
    let mnt = unsafe { libc::syscall(libc::SYS_fsmount, fs.as_raw_fd(), libc::FSMOUNT_CLOEXEC, 0) };
    match owned(mnt)? {
        Some(mnt) => idmap(&mnt, userns),
        None => Ok(false),
    }
}

/// A descriptor returned by a system call: owned, `None` for `ENOSYS`, or the error.
fn owned(rc: libc::c_long) -> io::Result<Option<OwnedFd>> {
    if rc < 0 {
        let e = io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::ENOSYS) => Ok(None),
            _ => Err(e),
        };
    }
    // SAFETY: the kernel just returned this descriptor to us and nobody else owns it.
    Ok(Some(unsafe { OwnedFd::from_raw_fd(rc as RawFd) }))
}

/// Idmap a detached mount: `Ok(false)` when the kernel or the filesystem has no
/// idmapped mounts.
fn idmap(mount: &OwnedFd, userns: &OwnedFd) -> io::Result<bool> {
    use std::os::fd::AsFd;
    match crate::overlay::idmap::set_idmap(mount, userns.as_fd()) {
        Ok(()) => Ok(true),
        Err(e) => match e.raw_os_error() {
            Some(libc::EINVAL | libc::EOPNOTSUPP | libc::ENOSYS) => Ok(false),
            _ => Err(e),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mounts() -> usize {
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .count()
    }

    /// podrt's tests run as root on Linux ≥ 6.3, where every probe must answer
    /// yes; nothing may stay mounted.
    #[test]
    #[ignore = "needs root: scripts/test.sh runs it"]
    fn probes_answer_and_leave_no_mount() {
        let before = mounts();
        let userns = scratch_userns().expect("a user namespace");
        assert!(can_idmap_tmpfs(&userns).unwrap());
        assert!(can_idmap_dir(&std::env::temp_dir(), &userns).is_ok());
        assert!(can_idmap_dir(Path::new("/nonexistent/podrt"), &userns).is_err());
        assert_eq!(mounts(), before);
    }
}
