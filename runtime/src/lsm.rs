//! Linux security modules: AppArmor profiles and SELinux labels.
//!
//! podrt applies an AppArmor profile the way runc does — by writing `exec <profile>`
//! to the process's attr file just before `execve`, so the profile takes effect on the
//! exec. A profile asked for on a host without AppArmor is an error (as with runc);
//! SELinux labels are ignored on hosts where SELinux is off (as with runc) and refused
//! where it is on, because podrt does not implement labelling yet.

use std::ffi::CString;
use std::path::Path;

use oci_spec::runtime::Spec;

use crate::error::{Error, Result};
use crate::sync::{Step, StepError};

/// What to write before exec, prepared in the parent.
#[derive(Debug, Clone, Default)]
pub(crate) struct LsmPlan {
    /// `exec <profile>` for AppArmor.
    pub(crate) apparmor_exec: Option<CString>,
}

fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .map(|s| s.trim() == "Y")
        .unwrap_or(false)
}

fn selinux_enabled() -> bool {
    Path::new("/sys/fs/selinux/enforce").exists()
}

impl LsmPlan {
    /// Check and prepare the spec's AppArmor profile and SELinux labels.
    pub(crate) fn from_spec(spec: &Spec) -> Result<LsmPlan> {
        let process = spec.process().as_ref();
        let mut plan = LsmPlan::default();
        if let Some(profile) = process
            .and_then(|p| p.apparmor_profile().clone())
            .filter(|p| !p.is_empty())
        {
            if !apparmor_enabled() {
                return Err(Error::spec(
                    "process.apparmorProfile",
                    format!("{profile:?} given but AppArmor is not enabled on this host"),
                ));
            }
            plan.apparmor_exec = Some(
                CString::new(format!("exec {profile}"))
                    .map_err(|_| Error::spec("process.apparmorProfile", "contains a NUL byte"))?,
            );
        }
        let labels = [
            (
                "process.selinuxLabel",
                process.and_then(|p| p.selinux_label().clone()),
            ),
            (
                "linux.mountLabel",
                spec.linux().as_ref().and_then(|l| l.mount_label().clone()),
            ),
        ];
        for (field, label) in labels {
            if let Some(label) = label.filter(|l| !l.is_empty()) {
                if selinux_enabled() {
                    return Err(Error::Unsupported(format!(
                        "{field} {label:?}: podrt does not apply SELinux labels yet"
                    )));
                }
                tracing::debug!("{field} {label:?} ignored: SELinux is not enabled");
            }
        }
        Ok(plan)
    }

    /// Set the profile for the coming exec. Async-signal-safe.
    pub(crate) fn apply(&self) -> std::result::Result<(), StepError> {
        let Some(value) = &self.apparmor_exec else {
            return Ok(());
        };
        let bytes = value.to_bytes();
        for path in [c"/proc/self/attr/apparmor/exec", c"/proc/self/attr/exec"] {
            // SAFETY: open/write/close on static paths and a buffer we own.
            unsafe {
                let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                if fd < 0 {
                    continue;
                }
                let n = libc::write(fd, bytes.as_ptr() as *const libc::c_void, bytes.len());
                let errno = nix::errno::Errno::last_raw();
                libc::close(fd);
                if n < 0 {
                    return Err(StepError {
                        step: Step::Apparmor,
                        errno,
                        index: 0,
                    });
                }
                return Ok(());
            }
        }
        Err(StepError::last(Step::Apparmor, 0))
    }
}
