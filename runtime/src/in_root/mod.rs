//! Looking up paths inside a container's root while something else may be
//! changing them. A volume is shared with containers that are already running, so a
//! path string checked a moment ago can have had a component swapped for a symlink
//! to the host's `/` by the time `mount(2)` follows it (the CVE-2021-25741 class).
//! Here every lookup is one `openat2(RESOLVE_IN_ROOT)` from a descriptor of the
//! root, so symlinks resolve as if the root were `/` and never lead out; the caller
//! keeps the descriptor and mounts onto `/proc/self/fd/N` (or moves a mount there),
//! so nothing is looked up twice.
//!
//! Everything here runs between `clone` and `exec`: no allocation, no locks, only
//! syscalls on stack buffers.

use std::ffi::CStr;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::mounts::TargetKind;

mod walk;

/// Walk component by component even where `openat2` exists: set by the parent (from
/// the test-only fault switch) before `clone`, read by the child.
static FORCE_WALK: AtomicBool = AtomicBool::new(false);

/// Make every later lookup of this process (and of children it forks) take the
/// path kernels without `openat2` take, so tests reach it on this kernel.
pub fn force_walk() {
    FORCE_WALK.store(true, Ordering::Relaxed);
}

/// `struct open_how` of `openat2(2)` (libc's is `non_exhaustive`).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// Resolve inside the root given as `dirfd`, and refuse `/proc/self/fd`-style jumps.
pub(crate) const IN_ROOT: u64 = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS;
/// Stay below `dirfd` (an escaping `..` or absolute symlink fails with `EXDEV`).
pub const BENEATH: u64 = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_MAGICLINKS;

/// A descriptor closed when dropped (close is async-signal-safe).
#[derive(Debug)]
pub struct Fd(pub(crate) RawFd);

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: closing a descriptor this value owns.
        unsafe { libc::close(self.0) };
    }
}

impl From<Fd> for std::os::fd::OwnedFd {
    fn from(fd: Fd) -> Self {
        let raw = fd.0;
        std::mem::forget(fd);
        // SAFETY: `Fd` owned the descriptor and was forgotten, so it has one owner.
        unsafe { std::os::fd::FromRawFd::from_raw_fd(raw) }
    }
}

/// `openat2(2)`; returns the errno on failure (`ENOSYS` before Linux 5.6).
pub(crate) fn openat2(dirfd: RawFd, path: &CStr, flags: i32, resolve: u64) -> Result<Fd, i32> {
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve,
    };
    // SAFETY: path is NUL-terminated, `how` is a valid open_how of the size we pass.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dirfd,
            path.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    if fd < 0 {
        Err(nix::errno::Errno::last_raw())
    } else {
        Ok(Fd(fd as RawFd))
    }
}

/// A short prefix and a decimal number (`/proc/self/fd/7`, `/dev/pts/3`) in a
/// stack buffer, for syscalls that take a path: built without allocating.
pub(crate) struct NumberedPath {
    buf: [u8; 32],
    len: usize,
}

impl NumberedPath {
    /// `prefix` (at most 21 bytes) followed by `n` in decimal.
    pub(crate) fn new(prefix: &[u8], mut n: u32) -> NumberedPath {
        let mut buf = [0u8; 32];
        let start = prefix.len().min(21);
        buf[..start].copy_from_slice(&prefix[..start]);
        let mut digits = [0u8; 10];
        let mut len = 0;
        loop {
            digits[len] = b'0' + (n % 10) as u8;
            len += 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        for i in 0..len {
            buf[start + i] = digits[len - 1 - i];
        }
        NumberedPath {
            buf,
            len: start + len,
        }
    }

    /// The bytes, without the NUL.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// As a C string.
    pub(crate) fn as_cstr(&self) -> &CStr {
        // The buffer is zeroed past the digits, so a NUL is always there.
        CStr::from_bytes_until_nul(&self.buf).unwrap_or(c"/")
    }
}

/// `/proc/self/fd/N`: the path of descriptor `fd`.
pub struct ProcFdPath(NumberedPath);

impl ProcFdPath {
    /// The path of descriptor `fd`.
    pub fn new(fd: RawFd) -> ProcFdPath {
        ProcFdPath(NumberedPath::new(b"/proc/self/fd/", fd.max(0) as u32))
    }

    /// As a C string.
    pub fn as_cstr(&self) -> &CStr {
        self.0.as_cstr()
    }
}

/// Open `path` (absolute or relative, resolved inside `root`) as an `O_PATH`
/// descriptor. With `create`, missing components are made on the way, directories
/// with mode 0755 and the last one as `create` says — each with `mkdirat`/`mknodat`
/// on the descriptor of its parent, itself resolved inside the root, so a symlink
/// swapped in meanwhile is followed inside the root or refused, never out of it.
pub fn open_in_root(root: RawFd, path: &CStr, create: Option<TargetKind>) -> Result<Fd, i32> {
    open_resolved(root, path, create, IN_ROOT)
}

/// [`open_in_root`] with other `RESOLVE_*` rules, e.g. [`BENEATH`] for a volume's
/// `subPath`, where a symlink that leaves the volume is an error (`EXDEV`) rather
/// than something to resolve inside it.
pub fn open_resolved(
    root: RawFd,
    path: &CStr,
    create: Option<TargetKind>,
    resolve: u64,
) -> Result<Fd, i32> {
    let path = if path.to_bytes().is_empty() {
        c"."
    } else {
        path
    };
    let beneath = resolve & libc::RESOLVE_BENEATH != 0;
    if FORCE_WALK.load(Ordering::Relaxed) {
        return walk::open(root, path, create, beneath);
    }
    match openat2(root, path, libc::O_PATH, resolve) {
        Err(libc::ENOSYS) => return walk::open(root, path, create, beneath),
        Err(libc::ENOENT) if create.is_some() => {}
        other => return other,
    }
    let bytes = path.to_bytes();
    let mut buf = [0u8; libc::PATH_MAX as usize];
    if bytes.len() >= buf.len() {
        return Err(libc::ENAMETOOLONG);
    }
    buf[..bytes.len()].copy_from_slice(bytes);
    let mut parent: Option<Fd> = None;
    let mut start = 0;
    while start < bytes.len() {
        let end = bytes[start..]
            .iter()
            .position(|&b| b == b'/')
            .map_or(bytes.len(), |p| start + p);
        let name = &bytes[start..end];
        let last = end == bytes.len();
        start = end + 1;
        if name.is_empty() || name == b"." {
            continue;
        }
        // The prefix up to this component, NUL-terminated in place.
        let saved = buf[end];
        buf[end] = 0;
        let prefix = CStr::from_bytes_until_nul(&buf).map_err(|_| libc::EINVAL)?;
        let opened = match openat2(root, prefix, libc::O_PATH, resolve) {
            Err(libc::ENOENT) if name != b".." => {
                let dir = parent.as_ref().map_or(root, |p| p.0);
                let kind = if last { create } else { Some(TargetKind::Dir) };
                make_entry(dir, &buf[end - name.len()..=end], kind)?;
                openat2(root, prefix, libc::O_PATH, resolve)
            }
            other => other,
        };
        buf[end] = saved;
        parent = Some(opened?);
    }
    parent.ok_or(libc::ENOENT)
}

/// Create `name` (NUL-terminated, one component) in the directory `dir`; an entry
/// already there is left as it is.
pub(crate) fn make_entry(dir: RawFd, name: &[u8], kind: Option<TargetKind>) -> Result<(), i32> {
    let name = CStr::from_bytes_until_nul(name).map_err(|_| libc::EINVAL)?;
    // SAFETY: mkdirat/mknodat on a descriptor we hold and a NUL-terminated name;
    // neither follows a symlink in the last component.
    let rc = unsafe {
        match kind {
            Some(TargetKind::File) => libc::mknodat(dir, name.as_ptr(), libc::S_IFREG | 0o644, 0),
            _ => libc::mkdirat(dir, name.as_ptr(), 0o755),
        }
    };
    if rc < 0 && nix::errno::Errno::last_raw() != libc::EEXIST {
        return Err(nix::errno::Errno::last_raw());
    }
    Ok(())
}

/// `fstat` of a descriptor: (device, inode).
pub(crate) fn identity(fd: RawFd) -> Result<(u64, u64), i32> {
    // SAFETY: fstat into a zeroed struct we own.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: see above.
    if unsafe { libc::fstat(fd, &mut st) } < 0 {
        return Err(nix::errno::Errno::last_raw());
    }
    Ok((st.st_dev, st.st_ino))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;
    use std::os::fd::AsRawFd;

    fn fd_path(fd: &Fd) -> String {
        std::fs::read_link(format!("/proc/self/fd/{}", fd.0))
            .unwrap()
            .display()
            .to_string()
    }

    #[test]
    fn proc_fd_path_formats_the_number() {
        assert_eq!(ProcFdPath::new(0).as_cstr(), c"/proc/self/fd/0");
        assert_eq!(ProcFdPath::new(1234).as_cstr(), c"/proc/self/fd/1234");
        assert_eq!(NumberedPath::new(b"/dev/pts/", 0).as_bytes(), b"/dev/pts/0");
        assert_eq!(
            NumberedPath::new(b"/dev/pts/", u32::MAX).as_cstr(),
            c"/dev/pts/4294967295"
        );
    }

    /// Both lookups (openat2, and the walk of kernels without it) on one tree.
    fn lookups_stay_inside(tag: &str, walk: bool) {
        let dir = std::env::temp_dir().join(format!("podrt-inroot-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("real")).unwrap();
        std::os::unix::fs::symlink("/", dir.join("escape")).unwrap();
        std::os::unix::fs::symlink("../../../real", dir.join("up")).unwrap();
        std::os::unix::fs::symlink("real", dir.join("inner")).unwrap();
        let root = std::fs::File::open(&dir).unwrap();
        let r = root.as_raw_fd();
        let open = |p: &CStr, create, resolve| {
            if walk {
                walk::open(r, p, create, resolve & libc::RESOLVE_BENEATH != 0)
            } else {
                open_resolved(r, p, create, resolve)
            }
        };

        // An absolute symlink to / is the root itself, not the host's /.
        let fd = open(c"/escape/etc/x", Some(TargetKind::File), IN_ROOT).unwrap();
        assert_eq!(fd_path(&fd), dir.join("etc/x").display().to_string());
        assert!(dir.join("etc/x").is_file());
        // `..` stops at the root.
        let fd = open(c"up/a/b", Some(TargetKind::Dir), IN_ROOT).unwrap();
        assert_eq!(fd_path(&fd), dir.join("real/a/b").display().to_string());
        // Without `create`, a missing path is ENOENT and nothing is made.
        assert_eq!(
            open(c"nothing/here", None, IN_ROOT).unwrap_err(),
            libc::ENOENT
        );
        assert!(!dir.join("nothing").exists());
        // Beneath: a link that stays inside is followed, one that leaves fails.
        let fd = open(c"inner/c", Some(TargetKind::Dir), BENEATH).unwrap();
        assert_eq!(fd_path(&fd), dir.join("real/c").display().to_string());
        assert_eq!(open(c"escape/tmp", None, BENEATH).unwrap_err(), libc::EXDEV);
        assert_eq!(open(c"up/a", None, BENEATH).unwrap_err(), libc::EXDEV);
        assert_eq!(open(c"../x", None, BENEATH).unwrap_err(), libc::EXDEV);
        // The root itself.
        let fd = open(c"", None, IN_ROOT).unwrap();
        assert_eq!(fd_path(&fd), dir.display().to_string());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn openat2_lookups_stay_inside_the_root() {
        lookups_stay_inside("openat2", false);
    }

    #[test]
    fn walked_lookups_stay_inside_the_root() {
        lookups_stay_inside("walk", true);
    }

    #[test]
    fn magic_links_are_refused() {
        let root = std::fs::File::open("/").unwrap();
        let magic = CString::new(format!("/proc/self/fd/{}", root.as_raw_fd())).unwrap();
        assert!(openat2(
            libc::AT_FDCWD,
            &magic,
            libc::O_PATH,
            libc::RESOLVE_NO_MAGICLINKS
        )
        .is_err());
    }
}
