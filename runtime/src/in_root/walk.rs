//! The lookups of [`super`] on kernels without `openat2` (before Linux 5.6): one
//! component at a time, each opened `O_PATH|O_NOFOLLOW` relative to the descriptor
//! of its parent, so nothing already walked can be swapped under us; a symlink is
//! read and spliced into what is left to resolve, and `..` or an absolute link stops
//! at the root (or fails with `EXDEV` when the walk must stay beneath it). Runs
//! between `clone` and `exec`: fixed buffers and a fixed stack of descriptors.

use std::ffi::CStr;
use std::os::fd::RawFd;

use super::{make_entry, Fd};
use crate::mounts::TargetKind;

/// Deepest directory stack a walk holds.
const MAX_DEPTH: usize = 128;
/// Most symlinks one walk follows (the kernel's limit).
const MAX_LINKS: u32 = 40;
const PATH_MAX: usize = libc::PATH_MAX as usize;

/// Directories walked so far, closed when dropped.
struct Stack {
    fds: [RawFd; MAX_DEPTH],
    depth: usize,
}

impl Stack {
    fn top(&self, root: RawFd) -> RawFd {
        if self.depth == 0 {
            root
        } else {
            self.fds[self.depth - 1]
        }
    }

    fn push(&mut self, fd: Fd) -> Result<(), i32> {
        if self.depth == MAX_DEPTH {
            return Err(libc::ENAMETOOLONG);
        }
        self.fds[self.depth] = fd.0;
        std::mem::forget(fd);
        self.depth += 1;
        Ok(())
    }

    fn pop(&mut self) -> Option<Fd> {
        if self.depth == 0 {
            return None;
        }
        self.depth -= 1;
        Some(Fd(self.fds[self.depth]))
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        while self.pop().is_some() {}
    }
}

fn open_at(dir: RawFd, name: &CStr, flags: i32) -> Result<Fd, i32> {
    // SAFETY: openat of one NUL-terminated component on a descriptor we hold.
    let fd = unsafe { libc::openat(dir, name.as_ptr(), flags | libc::O_CLOEXEC) };
    if fd < 0 {
        Err(nix::errno::Errno::last_raw())
    } else {
        Ok(Fd(fd))
    }
}

/// Open `path` inside `root` (see [`super::open_resolved`]); `beneath` makes an
/// escape an error instead of a stop at the root.
pub(crate) fn open(
    root: RawFd,
    path: &CStr,
    create: Option<TargetKind>,
    beneath: bool,
) -> Result<Fd, i32> {
    let mut rest = [0u8; PATH_MAX];
    let mut len = path.to_bytes().len();
    if len >= PATH_MAX {
        return Err(libc::ENAMETOOLONG);
    }
    rest[..len].copy_from_slice(path.to_bytes());
    if beneath && rest.first() == Some(&b'/') {
        return Err(libc::EXDEV);
    }
    let mut stack = Stack {
        fds: [-1; MAX_DEPTH],
        depth: 0,
    };
    let mut links = 0;
    let mut name = [0u8; 256];
    loop {
        // Split off the next component into `name`.
        let end = rest[..len].iter().position(|&b| b == b'/').unwrap_or(len);
        if end >= name.len() {
            return Err(libc::ENAMETOOLONG);
        }
        name[..end].copy_from_slice(&rest[..end]);
        name[end] = 0;
        let next = (end + 1).min(len);
        rest.copy_within(next..len, 0);
        len -= next;
        let last = rest[..len].iter().all(|&b| b == b'/' || b == b'.');
        let comp = &name[..end];
        if comp.is_empty() || comp == b"." {
            if len == 0 {
                break;
            }
            continue;
        }
        if comp == b".." {
            if stack.pop().is_none() && beneath {
                return Err(libc::EXDEV);
            }
            if len == 0 {
                break;
            }
            continue;
        }
        let cname = CStr::from_bytes_until_nul(&name).map_err(|_| libc::EINVAL)?;
        let dir = stack.top(root);
        let fd = match open_at(dir, cname, libc::O_PATH | libc::O_NOFOLLOW) {
            Err(libc::ENOENT) if create.is_some() => {
                let kind = if last { create } else { Some(TargetKind::Dir) };
                make_entry(dir, &name[..=end], kind)?;
                open_at(dir, cname, libc::O_PATH | libc::O_NOFOLLOW)?
            }
            other => other?,
        };
        // SAFETY: fstat into a zeroed struct we own, on our descriptor.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: see above.
        if unsafe { libc::fstat(fd.0, &mut st) } < 0 {
            return Err(nix::errno::Errno::last_raw());
        }
        if st.st_mode & libc::S_IFMT == libc::S_IFLNK {
            links += 1;
            if links > MAX_LINKS {
                return Err(libc::ELOOP);
            }
            let mut target = [0u8; PATH_MAX];
            // SAFETY: readlinkat of the symlink our O_PATH descriptor names (empty
            // path), into a buffer of the size we pass.
            let n = unsafe {
                libc::readlinkat(
                    fd.0,
                    c"".as_ptr(),
                    target.as_mut_ptr() as *mut libc::c_char,
                    target.len(),
                )
            };
            if n < 0 {
                return Err(nix::errno::Errno::last_raw());
            }
            let n = n as usize;
            if n + 1 + len >= PATH_MAX {
                return Err(libc::ENAMETOOLONG);
            }
            // What is left becomes: target "/" rest.
            rest.copy_within(0..len, n + 1);
            rest[..n].copy_from_slice(&target[..n]);
            rest[n] = b'/';
            len += n + 1;
            if target.first() == Some(&b'/') {
                if beneath {
                    return Err(libc::EXDEV);
                }
                while stack.pop().is_some() {}
            }
            continue;
        }
        stack.push(fd)?;
        if len == 0 {
            break;
        }
    }
    match stack.pop() {
        Some(fd) => Ok(fd),
        None => open_at(root, c".", libc::O_PATH),
    }
}
