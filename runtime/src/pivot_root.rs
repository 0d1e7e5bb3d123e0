//! Switching the container's root: `pivot_root(2)` with the runc trick of pivoting
//! `.` onto `.` (no temporary directory inside the rootfs), then detaching the old
//! root. `--no-pivot` (for ramfs roots, where pivot_root is refused) moves the rootfs
//! onto `/` and chroots instead.

use std::ffi::CStr;

use crate::mounts::sys_mount;
use crate::sync::{Step, StepError};

fn check(rc: libc::c_int) -> std::result::Result<(), StepError> {
    if rc < 0 {
        Err(StepError::last(Step::PivotRoot, 0))
    } else {
        Ok(())
    }
}

/// Make `rootfs` the process's `/`. Async-signal-safe.
pub fn pivot_root(rootfs: &CStr) -> std::result::Result<(), StepError> {
    // SAFETY: plain syscalls on valid C strings and descriptors we open and close here.
    unsafe {
        let old = libc::open(
            c"/".as_ptr(),
            libc::O_DIRECTORY | libc::O_RDONLY | libc::O_CLOEXEC,
        );
        check(old)?;
        let new = libc::open(
            rootfs.as_ptr(),
            libc::O_DIRECTORY | libc::O_RDONLY | libc::O_CLOEXEC,
        );
        if new < 0 {
            libc::close(old);
            return Err(StepError::last(Step::PivotRoot, 1));
        }
        let result = (|| {
            check(libc::fchdir(new))?;
            check(
                libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c".".as_ptr()) as libc::c_int,
            )?;
            // The old root is now stacked under the new one at "."; reach it and detach it,
            // first making it a slave so the unmount never propagates to the host.
            check(libc::fchdir(old))?;
            sys_mount(None, c".", None, libc::MS_SLAVE | libc::MS_REC, None).map_err(|errno| {
                StepError {
                    step: Step::PivotRoot,
                    errno,
                    index: 2,
                }
            })?;
            check(libc::umount2(c".".as_ptr(), libc::MNT_DETACH))?;
            check(libc::chdir(c"/".as_ptr()))
        })();
        libc::close(old);
        libc::close(new);
        result
    }
}

/// Move `rootfs` onto `/` and chroot into it (no `pivot_root`). Async-signal-safe.
pub fn move_root(rootfs: &CStr) -> std::result::Result<(), StepError> {
    // SAFETY: plain syscalls on valid C strings.
    unsafe {
        check(libc::chdir(rootfs.as_ptr()))?;
        sys_mount(Some(rootfs), c"/", None, libc::MS_MOVE, None).map_err(|errno| StepError {
            step: Step::PivotRoot,
            errno,
            index: 3,
        })?;
        check(libc::chroot(c".".as_ptr()))?;
        check(libc::chdir(c"/".as_ptr()))
    }
}
