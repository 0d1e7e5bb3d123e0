//! `flock`-based locks: one per pod directory, one for claiming names, and a pod's
//! delete lock (shared by every process deleting it). A lock is
//! released when its guard is dropped or its holder dies, so a crashed command never
//! leaves a pod locked.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// An `flock` held until dropped.
#[derive(Debug)]
pub(crate) struct Lock {
    file: File,
    path: PathBuf,
}

impl Lock {
    /// Take the exclusive lock on `path` (created if missing), waiting for holders.
    pub(crate) fn exclusive(path: &Path) -> Result<Lock> {
        Lock::take(path, libc::LOCK_EX)
    }

    /// Take a shared lock on `path` (created if missing), waiting for an exclusive
    /// holder.
    pub(crate) fn shared(path: &Path) -> Result<Lock> {
        Lock::take(path, libc::LOCK_SH)
    }

    /// Take the exclusive lock on `path` if nobody holds any lock on it; `None`
    /// if somebody does.
    pub(crate) fn try_exclusive(path: &Path) -> Result<Option<Lock>> {
        match Lock::take(path, libc::LOCK_EX | libc::LOCK_NB) {
            Ok(lock) => Ok(Some(lock)),
            Err(Error::Io { source, .. }) if source.raw_os_error() == Some(libc::EWOULDBLOCK) => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Does anybody hold a lock on the existing file `path`? (The file is not
    /// created: the probe must not put a file back into a directory being removed.)
    pub(crate) fn is_held(path: &Path) -> bool {
        let Ok(file) = OpenOptions::new().write(true).open(path) else {
            return false;
        };
        // SAFETY: flock on a descriptor we own; released when it is closed below.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        rc != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EWOULDBLOCK)
    }

    /// Turn an exclusive lock into a shared one, so that others may share it.
    pub(crate) fn downgrade(&self) -> Result<()> {
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(self.file.as_raw_fd(), libc::LOCK_SH) } != 0 {
            return Err(Error::last_os("sharing the lock", &self.path));
        }
        Ok(())
    }

    fn take(path: &Path, how: libc::c_int) -> Result<Lock> {
        let file = podrt_runtime::private_fs::open_lock(path)
            .map_err(|e| Error::io("opening lock file", path, e))?;
        loop {
            // SAFETY: flock on a descriptor we own.
            let rc = unsafe { libc::flock(file.as_raw_fd(), how) };
            if rc == 0 {
                break;
            }
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::Interrupted {
                return Err(Error::io("locking", path, err));
            }
        }
        Ok(Lock {
            file,
            path: path.to_path_buf(),
        })
    }
}
