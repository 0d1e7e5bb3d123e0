//! `tmpcopyup` (a runc/crun extension podman uses for `--tmpfs` and `--read-only`):
//! a new tmpfs starts with a copy of what the image had at its mount point.
//!
//! The parent walks the image directory before `clone` and opens every regular file;
//! init, after mounting the tmpfs over that directory, only recreates entries and
//! copies bytes with `sendfile` from the descriptors it inherited.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use crate::error::{Error, Result};

/// Most entries one `tmpcopyup` mount may copy (each regular file is an open descriptor).
const MAX_ENTRIES: usize = 1024;

/// One thing to recreate inside the new tmpfs.
#[derive(Debug)]
pub(crate) enum CopyKind {
    /// A directory.
    Dir,
    /// A regular file and a descriptor of the original.
    File(OwnedFd),
    /// A symbolic link and its target.
    Symlink(CString),
}

/// An entry, parents before children.
#[derive(Debug)]
pub(crate) struct CopyEntry {
    /// Absolute path (the same before and after the tmpfs is mounted over its parent).
    pub(crate) path: CString,
    /// What it is.
    pub(crate) kind: CopyKind,
    /// Permission bits.
    pub(crate) mode: u32,
    /// Owner.
    pub(crate) uid: u32,
    /// Group.
    pub(crate) gid: u32,
}

/// Everything init copies into one tmpfs.
#[derive(Debug, Default)]
pub(crate) struct CopyUpPlan {
    /// Entries in creation order.
    pub(crate) entries: Vec<CopyEntry>,
}

impl CopyUpPlan {
    /// Walk `dir` (inside the rootfs; symlinks are copied, not followed). A missing
    /// directory gives an empty plan.
    pub(crate) fn prepare(dir: &Path, field: &str) -> Result<CopyUpPlan> {
        let mut plan = CopyUpPlan::default();
        if std::fs::symlink_metadata(dir)
            .map(|m| m.is_dir())
            .unwrap_or(false)
        {
            plan.walk(dir, field)?;
        }
        Ok(plan)
    }

    fn walk(&mut self, dir: &Path, field: &str) -> Result<()> {
        let io = |what: &str, p: &Path, e| {
            Error::io(format!("{field} (tmpcopyup): {what} {}", p.display()), e)
        };
        for entry in std::fs::read_dir(dir).map_err(|e| io("reading", dir, e))? {
            let entry = entry.map_err(|e| io("reading", dir, e))?;
            let path = entry.path();
            let md = std::fs::symlink_metadata(&path).map_err(|e| io("inspecting", &path, e))?;
            let kind = if md.is_dir() {
                CopyKind::Dir
            } else if md.is_file() {
                let f = std::fs::OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                    .open(&path)
                    .map_err(|e| io("opening", &path, e))?;
                CopyKind::File(OwnedFd::from(f))
            } else if md.file_type().is_symlink() {
                let target = std::fs::read_link(&path).map_err(|e| io("reading link", &path, e))?;
                CopyKind::Symlink(
                    CString::new(target.as_os_str().as_bytes())
                        .map_err(|_| Error::spec(field, "a symlink target contains a NUL byte"))?,
                )
            } else {
                continue; // sockets, fifos and devices are not copied (as runc)
            };
            if self.entries.len() == MAX_ENTRIES {
                return Err(Error::spec(
                    field,
                    format!(
                        "tmpcopyup: {} holds more than {MAX_ENTRIES} entries",
                        dir.display()
                    ),
                ));
            }
            self.entries.push(CopyEntry {
                path: CString::new(path.as_os_str().as_bytes())
                    .map_err(|_| Error::spec(field, "a path contains a NUL byte"))?,
                kind,
                mode: md.mode() & 0o7777,
                uid: md.uid(),
                gid: md.gid(),
            });
            if md.is_dir() {
                self.walk(&path, field)?;
            }
        }
        Ok(())
    }

    /// Recreate every entry (the tmpfs is already mounted). Async-signal-safe: only
    /// syscalls on prepared data. Returns the errno of the first failure.
    pub(crate) fn apply(&self) -> std::result::Result<(), i32> {
        let errno = || nix::errno::Errno::last_raw();
        for e in &self.entries {
            // SAFETY: every call takes NUL-terminated strings and descriptors we own.
            unsafe {
                match &e.kind {
                    CopyKind::Dir => {
                        if libc::mkdir(e.path.as_ptr(), 0o700) < 0 {
                            return Err(errno());
                        }
                    }
                    CopyKind::File(src) => {
                        let dst = libc::open(
                            e.path.as_ptr(),
                            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC,
                            0o600,
                        );
                        if dst < 0 {
                            return Err(errno());
                        }
                        let mut off: libc::off_t = 0;
                        loop {
                            let n = libc::sendfile(dst, src.as_raw_fd(), &mut off, 1 << 30);
                            if n < 0 {
                                let e = errno();
                                libc::close(dst);
                                return Err(e);
                            }
                            if n == 0 {
                                break;
                            }
                        }
                        libc::close(dst);
                    }
                    CopyKind::Symlink(target) => {
                        if libc::symlink(target.as_ptr(), e.path.as_ptr()) < 0 {
                            return Err(errno());
                        }
                    }
                }
                if libc::lchown(e.path.as_ptr(), e.uid, e.gid) < 0 {
                    return Err(errno());
                }
                if !matches!(e.kind, CopyKind::Symlink(_))
                    && libc::chmod(e.path.as_ptr(), e.mode) < 0
                {
                    return Err(errno());
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_lists_parents_before_children_and_skips_nothing_it_can_copy() {
        let dir = std::env::temp_dir().join(format!("copyup-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("sub/file"), b"x").unwrap();
        std::os::unix::fs::symlink("sub/file", dir.join("link")).unwrap();
        let plan = CopyUpPlan::prepare(&dir, "mounts[0]").unwrap();
        let names: Vec<String> = plan
            .entries
            .iter()
            .map(|e| {
                e.path
                    .to_str()
                    .unwrap()
                    .trim_start_matches(dir.to_str().unwrap())
                    .to_string()
            })
            .collect();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(names.len(), 3, "{names:?}");
        let sub = names.iter().position(|n| n == "/sub").unwrap();
        let file = names.iter().position(|n| n == "/sub/file").unwrap();
        assert!(sub < file, "{names:?}");
        assert!(names.contains(&"/link".to_string()));
    }

    #[test]
    fn missing_directory_gives_an_empty_plan() {
        let plan = CopyUpPlan::prepare(Path::new("/nonexistent/podrt"), "mounts[0]").unwrap();
        assert!(plan.entries.is_empty());
    }
}
