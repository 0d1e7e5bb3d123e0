//! Idmapped mounts made on the host for a pod in its own user namespace.
//!
//! An image's layers are shared by every container of the image and owned by the
//! host's ids; a pod whose root is host uid N must see them owned by its own root
//! without a chowned copy. Each layer is therefore bound through an *idmapped*
//! mount (`open_tree` + `mount_setattr(MOUNT_ATTR_IDMAP)` with the pod's user
//! namespace) that shows on-disk id 0 as the pod's 0, and overlayfs stacks those
//! (Linux 5.19+). The merged overlay itself cannot be idmapped, and overlayfs does
//! its work-directory operations with the mounter's credentials, which an idmapped
//! upper layer cannot map: the upper layer stays plain, its root owned by the pod's
//! root, so what the pod writes there belongs to the pod's range on the host.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

fn c_path(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path has a NUL byte"))
}

fn owned(rc: libc::c_long) -> io::Result<OwnedFd> {
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor and nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(rc as RawFd) })
}

/// A detached copy of the mount at `source` (not its submounts), idmapped with
/// `userns`. Dropping it drops the copy.
pub(crate) fn idmapped_tree(source: &Path, userns: BorrowedFd) -> io::Result<OwnedFd> {
    let path = c_path(source)?;
    // SAFETY: open_tree of a NUL-terminated path we own; the result is owned below.
    let tree = owned(unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            path.as_ptr(),
            libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC,
        )
    })?;
    set_idmap(&tree, userns)?;
    Ok(tree)
}

/// Idmap the detached mount `tree` with `userns` (`mount_setattr` with
/// `MOUNT_ATTR_IDMAP`); only a mount nobody has attached yet can be idmapped.
pub(crate) fn set_idmap(tree: &OwnedFd, userns: BorrowedFd) -> io::Result<()> {
    let attr = libc::mount_attr {
        attr_set: libc::MOUNT_ATTR_IDMAP,
        attr_clr: 0,
        propagation: 0,
        userns_fd: userns.as_raw_fd() as u64,
    };
    // SAFETY: an empty path with AT_EMPTY_PATH on our descriptor, and a mount_attr
    // of the size passed.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            &attr as *const libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Attach a detached mount at `target` (an existing directory).
pub(crate) fn attach(tree: &OwnedFd, target: &Path) -> io::Result<()> {
    let path = c_path(target)?;
    // SAFETY: move_mount from our descriptor (empty path) to a NUL-terminated path.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_FDCWD,
            path.as_ptr(),
            libc::MOVE_MOUNT_F_EMPTY_PATH,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
