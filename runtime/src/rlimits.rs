//! Resource limits (`process.rlimits`), checked in the parent and set in init.
//!
//! Raising a hard limit needs CAP_SYS_RESOURCE, which root does not always hold (these
//! VMs lack it); such a spec fails before anything is created, naming the field and
//! the limit the host allows, instead of failing obscurely inside init.

use oci_spec::runtime::{PosixRlimit, PosixRlimitType};

use crate::error::{Error, Result};
use crate::sync::{Step, StepError};

/// One limit to set.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rlimit {
    /// `RLIMIT_*`.
    pub(crate) resource: libc::c_int,
    /// Soft limit.
    pub(crate) soft: u64,
    /// Hard limit.
    pub(crate) hard: u64,
}

/// The `RLIMIT_*` number of a spec type.
pub(crate) fn resource_of(t: PosixRlimitType) -> libc::c_int {
    use PosixRlimitType::*;
    (match t {
        RlimitCpu => libc::RLIMIT_CPU,
        RlimitFsize => libc::RLIMIT_FSIZE,
        RlimitData => libc::RLIMIT_DATA,
        RlimitStack => libc::RLIMIT_STACK,
        RlimitCore => libc::RLIMIT_CORE,
        RlimitRss => libc::RLIMIT_RSS,
        RlimitNproc => libc::RLIMIT_NPROC,
        RlimitNofile => libc::RLIMIT_NOFILE,
        RlimitMemlock => libc::RLIMIT_MEMLOCK,
        RlimitAs => libc::RLIMIT_AS,
        RlimitLocks => libc::RLIMIT_LOCKS,
        RlimitSigpending => libc::RLIMIT_SIGPENDING,
        RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
        RlimitNice => libc::RLIMIT_NICE,
        RlimitRtprio => libc::RLIMIT_RTPRIO,
        RlimitRttime => libc::RLIMIT_RTTIME,
    }) as libc::c_int
}

fn current(resource: libc::c_int) -> Option<libc::rlimit> {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit fills a struct we own.
    (unsafe { libc::getrlimit(resource as _, &mut r) } == 0).then_some(r)
}

/// Validate and translate `process.rlimits`.
pub(crate) fn from_spec(limits: &[PosixRlimit]) -> Result<Vec<Rlimit>> {
    let can_raise = caps::has_cap(
        None,
        caps::CapSet::Effective,
        caps::Capability::CAP_SYS_RESOURCE,
    )
    .unwrap_or(false);
    let mut out: Vec<Rlimit> = Vec::new();
    for (i, l) in limits.iter().enumerate() {
        let field = format!("process.rlimits[{i}]");
        let r = Rlimit {
            resource: resource_of(l.typ()),
            soft: l.soft(),
            hard: l.hard(),
        };
        if r.soft > r.hard {
            return Err(Error::spec(
                field,
                format!("soft limit {} is above hard limit {}", r.soft, r.hard),
            ));
        }
        if out.iter().any(|o| o.resource == r.resource) {
            return Err(Error::spec(field, format!("{:?} is given twice", l.typ())));
        }
        if !can_raise {
            if let Some(cur) = current(r.resource) {
                if r.hard > cur.rlim_max {
                    return Err(Error::spec(
                        field,
                        format!(
                            "{:?} hard limit {} is above this host's {} and the runtime lacks CAP_SYS_RESOURCE to raise it",
                            l.typ(),
                            r.hard,
                            cur.rlim_max
                        ),
                    ));
                }
            }
        }
        out.push(r);
    }
    Ok(out)
}

/// Set every limit. Async-signal-safe.
pub(crate) fn apply(limits: &[Rlimit]) -> std::result::Result<(), StepError> {
    for (i, l) in limits.iter().enumerate() {
        let r = libc::rlimit {
            rlim_cur: l.soft,
            rlim_max: l.hard,
        };
        // SAFETY: setrlimit reads a struct on our stack.
        if unsafe { libc::setrlimit(l.resource as _, &r) } < 0 {
            return Err(StepError::last(Step::Rlimit, i as u32));
        }
    }
    Ok(())
}
