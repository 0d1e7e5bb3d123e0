//! The user a process runs as: uid, gid, supplementary groups and umask.
//!
//! Groups are set before the gid and the gid before the uid, because each step
//! needs privileges the next one gives up.

use oci_spec::runtime::User;

use crate::sync::{Step, StepError};

/// The identity to switch to, prepared before fork.
#[derive(Debug, Clone, Default)]
pub(crate) struct UserPlan {
    /// Real, effective and saved uid.
    pub(crate) uid: libc::uid_t,
    /// Real, effective and saved gid.
    pub(crate) gid: libc::gid_t,
    /// Supplementary groups.
    pub(crate) groups: Vec<libc::gid_t>,
    /// `umask`, if given.
    pub(crate) umask: Option<libc::mode_t>,
    /// Skip `setgroups` (a user namespace with setgroups denied).
    pub(crate) skip_setgroups: bool,
}

impl UserPlan {
    /// Take `process.user`.
    pub(crate) fn from_spec(user: &User) -> UserPlan {
        UserPlan {
            uid: user.uid(),
            gid: user.gid(),
            groups: user.additional_gids().clone().unwrap_or_default(),
            umask: user.umask(),
            skip_setgroups: false,
        }
    }

    /// Switch groups and gid. Async-signal-safe.
    pub(crate) fn apply_groups(&self) -> std::result::Result<(), StepError> {
        if !self.skip_setgroups {
            // SAFETY: setgroups reads `len` gids from a slice we own.
            if unsafe { libc::setgroups(self.groups.len(), self.groups.as_ptr()) } < 0 {
                return Err(StepError::last(Step::Setgroups, 0));
            }
        }
        // SAFETY: plain syscall with integer arguments.
        if unsafe { libc::setresgid(self.gid, self.gid, self.gid) } < 0 {
            return Err(StepError::last(Step::Setgid, self.gid));
        }
        Ok(())
    }

    /// Switch uid, keeping the permitted capabilities for the following `capset`.
    /// Async-signal-safe.
    pub(crate) fn apply_uid(&self) -> std::result::Result<(), StepError> {
        // SAFETY: plain syscalls with integer arguments.
        unsafe {
            libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0);
            if libc::setresuid(self.uid, self.uid, self.uid) < 0 {
                return Err(StepError::last(Step::Setuid, self.uid));
            }
        }
        Ok(())
    }

    /// Apply the umask. Async-signal-safe.
    pub(crate) fn apply_umask(&self) {
        if let Some(mask) = self.umask {
            // SAFETY: umask cannot fail.
            unsafe { libc::umask(mask) };
        }
    }
}
