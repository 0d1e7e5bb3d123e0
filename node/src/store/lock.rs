//! The store's lock: an exclusive `flock` on `STATE_DIR/store.lock`, released
//! when the holder drops it or dies (the kernel drops a dead process's locks, so
//! a SIGKILLed agent never leaves the store locked).

use std::path::Path;

use nix::fcntl::{Flock, FlockArg};
use podrt_sandbox::runtime::private_fs;

use crate::error::{Error, Result};

/// A held store lock.
#[derive(Debug)]
pub struct StoreLock {
    _held: Flock<std::fs::File>,
}

impl StoreLock {
    /// Waits for the lock on `path` and takes it.
    pub(crate) fn take(path: &Path) -> Result<StoreLock> {
        let file = private_fs::open_lock(path).map_err(|e| Error::io("opening", path, e))?;
        let held = Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, e)| Error::io("locking", path, e.into()))?;
        Ok(StoreLock { _held: held })
    }
}
