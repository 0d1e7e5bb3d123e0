//! How the process is scheduled: `linux.personality`, `process.ioPriority` and
//! `process.scheduler`, each one syscall applied by init (or exec) while it still
//! holds CAP_SYS_NICE, i.e. before capabilities are dropped.

use oci_spec::runtime::{
    IOPriorityClass, LinuxPersonalityDomain, LinuxSchedulerFlag, LinuxSchedulerPolicy, Spec,
};

use crate::error::{Error, Result};
use crate::sync::{Step, StepError};

/// The kernel's `struct sched_attr` (SCHED_ATTR_SIZE_VER1).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SchedAttr {
    size: u32,
    policy: u32,
    flags: u64,
    nice: i32,
    priority: u32,
    runtime: u64,
    deadline: u64,
    period: u64,
    util_min: u32,
    util_max: u32,
}

/// Prepared scheduling settings.
#[derive(Debug, Clone, Default)]
pub(crate) struct SchedPlan {
    /// `personality(2)` persona.
    pub(crate) personality: Option<libc::c_ulong>,
    /// `ioprio_set(2)` value.
    pub(crate) ioprio: Option<libc::c_int>,
    /// `sched_setattr(2)` attributes.
    pub(crate) attr: Option<SchedAttr>,
}

const PER_LINUX32: libc::c_ulong = 0x0008;

impl SchedPlan {
    /// Translate the spec's fields, refusing values the kernel has no meaning for.
    pub(crate) fn from_spec(spec: &Spec) -> Result<SchedPlan> {
        let mut plan = SchedPlan::default();
        if let Some(p) = spec.linux().as_ref().and_then(|l| l.personality().as_ref()) {
            if p.flags().as_ref().is_some_and(|f| !f.is_empty()) {
                return Err(Error::spec(
                    "linux.personality.flags",
                    "personality flags are not supported",
                ));
            }
            plan.personality = Some(match p.domain() {
                LinuxPersonalityDomain::PerLinux => 0,
                LinuxPersonalityDomain::PerLinux32 => PER_LINUX32,
            });
        }
        let process = spec.process().as_ref();
        if let Some(io) = process.and_then(|p| p.io_priority().as_ref()) {
            let class = match io.class() {
                IOPriorityClass::IoprioClassRt => 1,
                IOPriorityClass::IoprioClassBe => 2,
                IOPriorityClass::IoprioClassIdle => 3,
            };
            if !(0..=7).contains(&io.priority()) {
                return Err(Error::spec(
                    "process.ioPriority.priority",
                    format!("{} is outside 0..7", io.priority()),
                ));
            }
            plan.ioprio = Some((class << 13) | io.priority() as libc::c_int);
        }
        if let Some(s) = process.and_then(|p| p.scheduler().as_ref()) {
            plan.attr = Some(sched_attr(s)?);
        }
        Ok(plan)
    }

    /// Apply in the child. Async-signal-safe.
    pub(crate) fn apply(&self) -> std::result::Result<(), StepError> {
        // SAFETY: plain syscalls with integer arguments or a struct on our stack.
        unsafe {
            if let Some(p) = self.personality {
                if libc::personality(p) < 0 {
                    return Err(StepError::last(Step::Sched, 0));
                }
            }
            if let Some(v) = self.ioprio {
                if libc::syscall(libc::SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, v) < 0 {
                    return Err(StepError::last(Step::Sched, 1));
                }
            }
            if let Some(attr) = &self.attr {
                if libc::syscall(libc::SYS_sched_setattr, 0, attr as *const SchedAttr, 0) < 0 {
                    return Err(StepError::last(Step::Sched, 2));
                }
            }
        }
        Ok(())
    }
}

fn sched_attr(s: &oci_spec::runtime::Scheduler) -> Result<SchedAttr> {
    let field = "process.scheduler";
    let policy = match s.policy() {
        LinuxSchedulerPolicy::SchedOther => 0,
        LinuxSchedulerPolicy::SchedFifo => 1,
        LinuxSchedulerPolicy::SchedRr => 2,
        LinuxSchedulerPolicy::SchedBatch => 3,
        LinuxSchedulerPolicy::SchedIso => {
            return Err(Error::spec(
                format!("{field}.policy"),
                "SCHED_ISO is not implemented by Linux",
            ))
        }
        LinuxSchedulerPolicy::SchedIdle => 5,
        LinuxSchedulerPolicy::SchedDeadline => 6,
    };
    let mut flags = 0u64;
    for f in s.flags().iter().flatten() {
        flags |= match f {
            LinuxSchedulerFlag::SchedResetOnFork => 0x01,
            LinuxSchedulerFlag::SchedFlagReclaim => 0x02,
            LinuxSchedulerFlag::SchedFlagDLOverrun => 0x04,
            LinuxSchedulerFlag::SchedFlagKeepPolicy => 0x08,
            LinuxSchedulerFlag::SchedFlagKeepParams => 0x10,
            LinuxSchedulerFlag::SchedFlagUtilClampMin => 0x20,
            LinuxSchedulerFlag::SchedFlagUtilClampMax => 0x40,
        };
    }
    let nice = s.nice().unwrap_or(0);
    if !(-20..=19).contains(&nice) {
        return Err(Error::spec(
            format!("{field}.nice"),
            format!("{nice} is outside -20..19"),
        ));
    }
    let priority = s.priority().unwrap_or(0);
    let realtime = matches!(policy, 1 | 2);
    if realtime && !(1..=99).contains(&priority) || !realtime && priority != 0 {
        return Err(Error::spec(
            format!("{field}.priority"),
            format!("{priority} is not valid for this policy (1..99 for FIFO/RR, 0 otherwise)"),
        ));
    }
    Ok(SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        policy,
        flags,
        nice,
        priority: priority as u32,
        runtime: s.runtime().unwrap_or(0),
        deadline: s.deadline().unwrap_or(0),
        period: s.period().unwrap_or(0),
        util_min: 0,
        util_max: 0,
    })
}

/// Refuse spec fields podrt does not implement, rather than ignoring them: the OCI
/// spec requires an error for values a runtime cannot honour.
pub(crate) fn check_unsupported(spec: &Spec) -> Result<()> {
    let Some(linux) = spec.linux() else {
        return Ok(());
    };
    let refuse = |field: &str| {
        Err(Error::Unsupported(format!(
            "{field} is not implemented by podrt"
        )))
    };
    if linux.intel_rdt().is_some() {
        return refuse("linux.intelRdt");
    }
    if linux.memory_policy().is_some() {
        return refuse("linux.memoryPolicy");
    }
    if linux.time_offsets().as_ref().is_some_and(|t| !t.is_empty()) {
        return refuse("linux.timeOffsets");
    }
    if linux.net_devices().as_ref().is_some_and(|n| !n.is_empty()) {
        return refuse("linux.netDevices");
    }
    if let Some(r) = linux.resources() {
        if r.unified().as_ref().is_some_and(|u| !u.is_empty()) {
            return refuse("linux.resources.unified");
        }
        if r.rdma().as_ref().is_some_and(|u| !u.is_empty()) {
            return refuse("linux.resources.rdma");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> Spec {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn io_priority_and_personality() {
        let s = spec(
            r#"{"ociVersion":"1.0.2","process":{"cwd":"/","user":{"uid":0,"gid":0},
            "ioPriority":{"class":"IOPRIO_CLASS_IDLE","priority":4}},
            "linux":{"personality":{"domain":"LINUX32"}}}"#,
        );
        let p = SchedPlan::from_spec(&s).unwrap();
        assert_eq!(p.ioprio, Some((3 << 13) | 4));
        assert_eq!(p.personality, Some(PER_LINUX32));
    }

    #[test]
    fn bad_scheduler_values_name_their_field() {
        let s = spec(
            r#"{"ociVersion":"1.0.2","process":{"cwd":"/","user":{"uid":0,"gid":0},
            "scheduler":{"policy":"SCHED_FIFO","priority":0}}}"#,
        );
        let e = SchedPlan::from_spec(&s).unwrap_err().to_string();
        assert!(e.contains("process.scheduler.priority"), "{e}");
    }

    #[test]
    fn unsupported_fields_are_refused() {
        let s = spec(r#"{"ociVersion":"1.0.2","linux":{"intelRdt":{"closID":"x"}}}"#);
        assert!(check_unsupported(&s)
            .unwrap_err()
            .to_string()
            .contains("linux.intelRdt"));
    }
}
