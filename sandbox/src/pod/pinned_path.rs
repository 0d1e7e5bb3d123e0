//! A path resolved once and pinned: the object a lookup found is bind-mounted,
//! through its descriptor, onto a mount point in the pod's own directory, and
//! containers are given that mount point. A volume's `subPath` lives in a directory
//! that running containers write, so checking a path and later mounting the same
//! string lets a container swap a symlink in between (CVE-2021-25741: the victim
//! saw the host's `/`). kubelet's fix has the same shape: open inside the volume
//! without leaving it, then bind `/proc/self/fd/N` to a private place.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::mount::{mount, MsFlags};
use podrt_runtime::in_root::{open_resolved, ProcFdPath, BENEATH};
use podrt_runtime::mounts::TargetKind;

use crate::error::{Error, Result};

/// Open `path` on the host as an `O_PATH` descriptor (symlinks in it followed, as
/// the host resolves them: it is the user's own path).
pub(crate) fn open_host(path: &Path) -> std::io::Result<OwnedFd> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: open of a NUL-terminated path; the descriptor is owned below.
    let fd = unsafe { libc::open(c.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd was just opened and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Open `sub` (relative, already checked to hold no `..`) below the directory
/// `base`, creating missing directories as kubelet does; a symlink that would lead
/// out of `base`, at any moment of the walk, fails instead. `field` names the
/// manifest field for errors.
pub(crate) fn open_beneath(
    base: &OwnedFd,
    base_path: &Path,
    sub: &str,
    field: &str,
) -> Result<OwnedFd> {
    let c = CString::new(sub).map_err(|_| Error::Unsupported {
        field: field.into(),
        message: format!("{sub:?} contains a NUL byte"),
    })?;
    if podrt_runtime::fault::active(podrt_runtime::fault::NO_OPENAT2) {
        podrt_runtime::in_root::force_walk();
    }
    match open_resolved(base.as_raw_fd(), &c, Some(TargetKind::Dir), BENEATH) {
        Ok(fd) => Ok(fd.into()),
        Err(libc::EXDEV) | Err(libc::ELOOP) => Err(Error::Unsupported {
            field: field.into(),
            message: format!("{sub:?} leads outside its volume (through a symlink)"),
        }),
        Err(libc::ENOSYS) => Err(Error::Unsupported {
            field: field.into(),
            message: "subPath needs openat2(2) (Linux 5.6 or later) to be resolved safely".into(),
        }),
        Err(e) => Err(Error::io(
            "resolving subPath",
            base_path.join(sub),
            std::io::Error::from_raw_os_error(e),
        )),
    }
}

/// What `fd` is: a directory or anything else (mounted as a file).
fn kind_of(fd: RawFd) -> std::io::Result<TargetKind> {
    let (mode, _) = stat(fd)?;
    Ok(if mode & libc::S_IFMT == libc::S_IFDIR {
        TargetKind::Dir
    } else {
        TargetKind::File
    })
}

/// `fstat` of a descriptor: (mode, rdev).
pub(crate) fn stat(fd: RawFd) -> std::io::Result<(u32, u64)> {
    // SAFETY: fstat into a zeroed struct we own.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: see above.
    if unsafe { libc::fstat(fd, &mut st) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((st.st_mode, st.st_rdev))
}

/// Bind the object `fd` names onto `at` (made as a directory or an empty file to
/// match), so whatever happens to the path it was found by, `at` is that object.
pub(crate) fn pin(fd: &OwnedFd, at: &Path) -> Result<()> {
    let kind = kind_of(fd.as_raw_fd()).map_err(|e| Error::io("inspecting", at, e))?;
    if let Some(parent) = at.parent() {
        podrt_runtime::private_fs::create_dir_all(parent)
            .map_err(|e| Error::io("creating", parent, e))?;
    }
    let made = match kind {
        TargetKind::Dir => std::fs::create_dir(at),
        TargetKind::File => std::fs::File::create(at).map(drop),
    };
    match made {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(Error::io("creating mount point", at, e)),
    }
    let from = ProcFdPath::new(fd.as_raw_fd());
    mount(
        Some(from.as_cstr()),
        at,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|e| Error::io("pinning a volume path at", at, e.into()))
}
