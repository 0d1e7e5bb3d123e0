//! Capabilities: the five sets of `process.capabilities` as bitmasks, applied with
//! raw `prctl`/`capset` calls in init so no allocation happens after fork.
//!
//! The bounding set is cut first (that needs CAP_SETPCAP, which the later `capset`
//! may drop); effective/permitted/inheritable follow the uid switch (with
//! `PR_SET_KEEPCAPS` so the switch keeps them); ambient caps are raised last, because
//! the kernel only allows ambient caps that are permitted and inheritable.

use oci_spec::runtime::{Capabilities, LinuxCapabilities};

use crate::error::{Error, Result};
use crate::sync::{Step, StepError};

/// The capability sets as bitmasks (bit n = capability n).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CapPlan {
    /// Bounding set.
    pub(crate) bounding: u64,
    /// Effective set.
    pub(crate) effective: u64,
    /// Permitted set.
    pub(crate) permitted: u64,
    /// Inheritable set.
    pub(crate) inheritable: u64,
    /// Ambient set.
    pub(crate) ambient: u64,
}

/// The runtime's own bounding set, from `/proc/self/status`.
pub(crate) fn own_bounding() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapBnd:"))
                .and_then(|h| u64::from_str_radix(h.trim(), 16).ok())
        })
        .unwrap_or(u64::MAX)
}

/// The index of a capability by name (`CAP_SYS_ADMIN`, `sys_admin`, `SYS_ADMIN`).
pub(crate) fn index_of(name: &str) -> Option<u8> {
    let upper = name.trim().to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    full.parse::<caps::Capability>().ok().map(|c| c.index())
}

fn mask(set: &Option<Capabilities>, field: &str) -> Result<u64> {
    let mut m = 0u64;
    for cap in set.iter().flatten() {
        let name = format!("CAP_{cap}");
        let idx = index_of(&name).ok_or_else(|| {
            Error::spec(
                field,
                format!("capability {name} is unknown to this runtime"),
            )
        })?;
        m |= 1u64 << idx;
    }
    Ok(m)
}

impl CapPlan {
    /// Translate `process.capabilities`; a missing section means no capabilities.
    pub(crate) fn from_spec(caps: Option<&LinuxCapabilities>) -> Result<CapPlan> {
        let Some(c) = caps else {
            return Ok(CapPlan::default());
        };
        let f = "process.capabilities";
        let plan = CapPlan {
            bounding: mask(c.bounding(), &format!("{f}.bounding"))?,
            effective: mask(c.effective(), &format!("{f}.effective"))?,
            permitted: mask(c.permitted(), &format!("{f}.permitted"))?,
            inheritable: mask(c.inheritable(), &format!("{f}.inheritable"))?,
            ambient: mask(c.ambient(), &format!("{f}.ambient"))?,
        };
        plan.check_grantable(own_bounding())?;
        Ok(plan)
    }

    /// A process can only hold capabilities its parent's bounding set has: name the
    /// first one the runtime cannot pass on (e.g. CAP_SYS_RESOURCE on hosts that
    /// withhold it) instead of letting `capset` fail with a bare EPERM.
    pub(crate) fn check_grantable(&self, own: u64) -> Result<()> {
        for (field, set) in [
            ("permitted", self.permitted),
            ("effective", self.effective),
            ("ambient", self.ambient),
        ] {
            let missing = set & !own;
            if missing != 0 {
                let cap = missing.trailing_zeros();
                return Err(Error::spec(
                    format!("process.capabilities.{field}"),
                    format!(
                        "{} is not in the runtime's own bounding set, so no process it starts can hold it",
                        name_of(cap)
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Drop every capability not in the bounding set. Async-signal-safe.
    pub fn apply_bounding(&self) -> std::result::Result<(), StepError> {
        for cap in 0..64u32 {
            if self.bounding & (1u64 << cap) != 0 {
                continue;
            }
            // SAFETY: prctl with integer arguments.
            let rc = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
            if rc < 0 {
                let e = nix::errno::Errno::last_raw();
                if e == libc::EINVAL {
                    break; // past the kernel's last capability
                }
                return Err(StepError {
                    step: Step::CapBounding,
                    errno: e,
                    index: cap,
                });
            }
        }
        Ok(())
    }

    /// Set effective, permitted and inheritable with `capset`. Async-signal-safe.
    pub fn apply_sets(&self) -> std::result::Result<(), StepError> {
        #[repr(C)]
        struct Header {
            version: u32,
            pid: i32,
        }
        #[repr(C)]
        #[derive(Clone, Copy)]
        struct Data {
            effective: u32,
            permitted: u32,
            inheritable: u32,
        }
        let header = Header {
            version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3
            pid: 0,
        };
        let split = |m: u64| (m as u32, (m >> 32) as u32);
        let (e0, e1) = split(self.effective);
        let (p0, p1) = split(self.permitted);
        let (i0, i1) = split(self.inheritable);
        let data = [
            Data {
                effective: e0,
                permitted: p0,
                inheritable: i0,
            },
            Data {
                effective: e1,
                permitted: p1,
                inheritable: i1,
            },
        ];
        // SAFETY: capset reads a v3 header and two data structs that live on our stack.
        let rc =
            unsafe { libc::syscall(libc::SYS_capset, &header as *const Header, data.as_ptr()) };
        if rc < 0 {
            return Err(StepError::last(Step::Capset, 0));
        }
        Ok(())
    }

    /// Raise the ambient capabilities. Async-signal-safe.
    pub(crate) fn apply_ambient(&self) -> std::result::Result<(), StepError> {
        for cap in 0..64u32 {
            if self.ambient & (1u64 << cap) == 0 {
                continue;
            }
            // SAFETY: prctl with integer arguments.
            let rc = unsafe {
                libc::prctl(
                    libc::PR_CAP_AMBIENT,
                    libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong,
                    cap as libc::c_ulong,
                    0,
                    0,
                )
            };
            if rc < 0 {
                return Err(StepError {
                    step: Step::CapAmbient,
                    errno: nix::errno::Errno::last_raw(),
                    index: cap,
                });
            }
        }
        Ok(())
    }
}

/// The name of capability number `index`, for messages.
pub(crate) fn name_of(index: u32) -> String {
    caps::all()
        .into_iter()
        .find(|c| c.index() as u32 == index)
        .map(|c| c.to_string())
        .unwrap_or_else(|| format!("capability {index}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_forgiving() {
        assert_eq!(index_of("CAP_CHOWN"), Some(0));
        assert_eq!(index_of("chown"), Some(0));
        assert_eq!(index_of("Sys_Admin"), Some(21));
        assert_eq!(index_of("CAP_BOGUS"), None);
    }

    #[test]
    fn capabilities_the_runtime_lacks_are_named() {
        let plan = CapPlan {
            permitted: (1 << 24) | 1,
            ..CapPlan::default()
        };
        let err = plan.check_grantable(!(1u64 << 24)).unwrap_err().to_string();
        assert!(
            err.contains("process.capabilities.permitted") && err.contains("CAP_SYS_RESOURCE"),
            "{err}"
        );
        assert!(plan.check_grantable(u64::MAX).is_ok());
    }

    #[test]
    fn masks_from_spec() {
        let text = r#"{"bounding":["CAP_KILL","CAP_CHOWN"],"effective":["CAP_KILL"]}"#;
        let c: LinuxCapabilities = serde_json::from_str(text).unwrap();
        let p = CapPlan::from_spec(Some(&c)).unwrap();
        assert_eq!(p.bounding, (1 << 5) | 1);
        assert_eq!(p.effective, 1 << 5);
        assert_eq!(p.ambient, 0);
    }
}
