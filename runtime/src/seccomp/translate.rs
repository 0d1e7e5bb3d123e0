//! OCI values to seccompiler's: rule and default actions (with their errno), the kernel's
//! precedence between actions, filter flags, and a rule's argument comparisons. Every error names
//! the spec field it comes from.

use oci_spec::runtime::{
    LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompFilterFlag, LinuxSeccompOperator, LinuxSyscall,
};
use seccompiler::{SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompRule};

use super::SeccompError;

/// The errno used by SCMP_ACT_ERRNO and SCMP_ACT_TRACE when the spec gives none (OCI: EPERM).
const DEFAULT_ERRNO: u32 = libc::EPERM as u32;
/// The highest syscall argument index (arguments 0 to 5).
const MAX_ARG_INDEX: usize = 5;

/// Where an action and its errno come from, for error messages.
#[derive(Clone, Copy)]
pub(super) enum Site {
    Default,
    Rule(usize),
}

impl Site {
    pub(super) fn action_field(self) -> String {
        match self {
            Site::Default => "linux.seccomp.defaultAction".to_owned(),
            Site::Rule(i) => format!("linux.seccomp.syscalls[{i}].action"),
        }
    }

    pub(super) fn errno_field(self) -> String {
        match self {
            Site::Default => "linux.seccomp.defaultErrnoRet".to_owned(),
            Site::Rule(i) => format!("linux.seccomp.syscalls[{i}].errnoRet"),
        }
    }
}

/// Maps an OCI action (and its optional errno) to a seccompiler action.
pub(super) fn translate_action(
    action: LinuxSeccompAction,
    errno_ret: Option<u32>,
    site: Site,
) -> Result<SeccompAction, SeccompError> {
    let data = || {
        let value = errno_ret.unwrap_or(DEFAULT_ERRNO);
        if value > libc::SECCOMP_RET_DATA {
            return Err(SeccompError::ErrnoOutOfRange {
                field: site.errno_field(),
                value,
            });
        }
        Ok(value)
    };
    let without_data = match action {
        LinuxSeccompAction::ScmpActErrno => return Ok(SeccompAction::Errno(data()?)),
        LinuxSeccompAction::ScmpActTrace => return Ok(SeccompAction::Trace(data()?)),
        LinuxSeccompAction::ScmpActNotify => {
            return Err(SeccompError::NotifyUnsupported {
                field: site.action_field(),
            })
        }
        LinuxSeccompAction::ScmpActAllow => SeccompAction::Allow,
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            SeccompAction::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => SeccompAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => SeccompAction::Trap,
        LinuxSeccompAction::ScmpActLog => SeccompAction::Log,
    };
    if errno_ret.is_some() {
        return Err(SeccompError::ErrnoNotApplicable {
            field: site.errno_field(),
            action,
        });
    }
    Ok(without_data)
}

/// The kernel's precedence of an action, lower is more severe: seccomp_run_filters compares the
/// action bits as a signed number, so KILL_PROCESS (0x80000000) comes first and ALLOW last.
pub(super) fn severity(action: &SeccompAction) -> i32 {
    (u32::from(action.clone()) & libc::SECCOMP_RET_ACTION_FULL) as i32
}

/// True if the kernel lets `a` win over `b` when both are returned.
pub(super) fn outranks(a: &SeccompAction, b: &SeccompAction) -> bool {
    severity(a) < severity(b)
}

/// Maps `flags` to the seccomp() flag bits.
pub(super) fn translate_flags(flags: &[LinuxSeccompFilterFlag]) -> Result<u32, SeccompError> {
    let mut bits: libc::c_ulong = 0;
    for (index, flag) in flags.iter().enumerate() {
        bits |= match flag {
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => libc::SECCOMP_FILTER_FLAG_LOG,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => {
                libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW
            }
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => libc::SECCOMP_FILTER_FLAG_TSYNC,
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => {
                return Err(SeccompError::UnsupportedFlag { index, flag: *flag })
            }
        };
    }
    // The three supported flags are bits 0 to 2, so this cannot truncate.
    Ok(bits as u32)
}

/// The conditions of rule `i` ANDed into one seccompiler rule; `None` if it has no `args`
/// (the rule then matches its syscalls unconditionally).
pub(super) fn rule_condition(
    rule: &LinuxSyscall,
    i: usize,
) -> Result<Option<SeccompRule>, SeccompError> {
    let args = rule.args().as_deref().unwrap_or_default();
    if args.is_empty() {
        return Ok(None);
    }
    let conditions = args
        .iter()
        .enumerate()
        .map(|(k, arg)| translate_arg(arg, &format!("linux.seccomp.syscalls[{i}].args[{k}]")))
        .collect::<Result<Vec<_>, _>>()?;
    SeccompRule::new(conditions)
        .map(Some)
        .map_err(|reason| SeccompError::Compiler {
            what: format!("linux.seccomp.syscalls[{i}].args"),
            reason,
        })
}

/// One OCI argument comparison as a 64-bit seccompiler condition. SCMP_CMP_MASKED_EQ follows
/// libseccomp: `(arg & value) == valueTwo`, with `valueTwo` masked too and 0 when absent.
pub(super) fn translate_arg(
    arg: &LinuxSeccompArg,
    field: &str,
) -> Result<SeccompCondition, SeccompError> {
    let index = u8::try_from(arg.index())
        .ok()
        .filter(|_| arg.index() <= MAX_ARG_INDEX)
        .ok_or_else(|| SeccompError::ArgIndexOutOfRange {
            field: format!("{field}.index"),
            index: arg.index(),
        })?;
    let (op, value) = match arg.op() {
        LinuxSeccompOperator::ScmpCmpNe => (SeccompCmpOp::Ne, arg.value()),
        LinuxSeccompOperator::ScmpCmpLt => (SeccompCmpOp::Lt, arg.value()),
        LinuxSeccompOperator::ScmpCmpLe => (SeccompCmpOp::Le, arg.value()),
        LinuxSeccompOperator::ScmpCmpEq => (SeccompCmpOp::Eq, arg.value()),
        LinuxSeccompOperator::ScmpCmpGe => (SeccompCmpOp::Ge, arg.value()),
        LinuxSeccompOperator::ScmpCmpGt => (SeccompCmpOp::Gt, arg.value()),
        LinuxSeccompOperator::ScmpCmpMaskedEq => (
            SeccompCmpOp::MaskedEq(arg.value()),
            arg.value_two().unwrap_or(0),
        ),
    };
    SeccompCondition::new(index, SeccompCmpArgLen::Qword, op, value).map_err(|reason| {
        SeccompError::Compiler {
            what: field.to_owned(),
            reason,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use oci_spec::runtime::LinuxSeccomp;

    use crate::seccomp::testing::compile;

    #[test]
    fn unknown_action_is_rejected_when_the_spec_is_parsed() {
        // The typed spec cannot carry an unknown action, so it never reaches compile().
        let parsed = serde_json::from_str::<LinuxSeccomp>(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["getppid"],"action":"SCMP_ACT_EXPLODE"}]}"#,
        );
        assert!(parsed.is_err());
    }

    #[test]
    fn errno_on_an_action_without_data_is_rejected() {
        let err = compile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["getppid"],"action":"SCMP_ACT_KILL","errnoRet":1}]}"#,
        )
        .unwrap_err();
        assert!(err
            .to_string()
            .starts_with("linux.seccomp.syscalls[0].errnoRet:"));
        let err =
            compile(r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":70000}"#).unwrap_err();
        assert!(matches!(
            err,
            SeccompError::ErrnoOutOfRange { value: 70000, .. }
        ));
    }

    #[test]
    fn notify_and_listener_are_rejected() {
        let err = compile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["read"],"action":"SCMP_ACT_ALLOW"},
            {"names":["mount"],"action":"SCMP_ACT_NOTIFY"}]}"#,
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("linux.seccomp.syscalls[1].action: SCMP_ACT_NOTIFY"),
            "{err}"
        );
        let err = compile(r#"{"defaultAction":"SCMP_ACT_NOTIFY"}"#).unwrap_err();
        assert!(matches!(err, SeccompError::NotifyUnsupported { .. }));
        let err = compile(r#"{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/run/agent.sock"}"#)
            .unwrap_err();
        assert!(matches!(err, SeccompError::ListenerUnsupported));
        let err = compile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]}"#,
        )
        .unwrap_err();
        assert!(matches!(
            err,
            SeccompError::UnsupportedFlag { index: 0, .. }
        ));
    }

    #[test]
    fn masked_eq_masks_with_value_and_compares_to_value_two() {
        let arg: LinuxSeccompArg = serde_json::from_str(
            r#"{"index":1,"value":2080505856,"valueTwo":0,"op":"SCMP_CMP_MASKED_EQ"}"#,
        )
        .unwrap();
        let expected = SeccompCondition::new(
            1,
            SeccompCmpArgLen::Qword,
            SeccompCmpOp::MaskedEq(2080505856),
            0,
        )
        .unwrap();
        assert_eq!(translate_arg(&arg, "f").unwrap(), expected);

        let arg: LinuxSeccompArg =
            serde_json::from_str(r#"{"index":0,"value":8,"op":"SCMP_CMP_LE"}"#).unwrap();
        let expected =
            SeccompCondition::new(0, SeccompCmpArgLen::Qword, SeccompCmpOp::Le, 8).unwrap();
        assert_eq!(translate_arg(&arg, "f").unwrap(), expected);

        let err = compile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["personality"],"action":"SCMP_ACT_ERRNO",
             "args":[{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]}"#,
        )
        .unwrap_err();
        assert!(err
            .to_string()
            .starts_with("linux.seccomp.syscalls[0].args[0].index: argument index 6"));
    }

    #[test]
    fn flags_map_to_seccomp_bits() {
        let p = compile(r#"{"defaultAction":"SCMP_ACT_ERRNO",
            "flags":["SECCOMP_FILTER_FLAG_LOG","SECCOMP_FILTER_FLAG_SPEC_ALLOW","SECCOMP_FILTER_FLAG_TSYNC"]}"#)
        .unwrap();
        assert_eq!(p.flags, 0b111);
    }
}
