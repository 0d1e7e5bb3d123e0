//! Linking: compiles each layer and the base with seccompiler and splices them into one classic-BPF
//! program, behind the x32 guard on x86_64 (see the `seccomp` module comment). A layer's
//! `ret ALLOW` becomes a forward jump to the next part.

use seccompiler::{sock_filter, BpfProgram, SeccompAction, SeccompFilter, TargetArch};

use super::rules::RuleSet;
use super::translate::severity;
use super::SeccompError;

/// The kernel's limit on the length of one classic-BPF program (BPF_MAXINSNS).
const BPF_MAXINSNS: usize = 4096;
/// x32 syscalls are x86_64 syscalls with this bit set in their number (__X32_SYSCALL_BIT).
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

// Classic-BPF opcodes from linux/bpf_common.h (libc does not export them for Linux).
/// BPF_LD | BPF_W | BPF_ABS: load a 32-bit word of `struct seccomp_data`.
const BPF_LD_W_ABS: u16 = 0x20;
/// BPF_JMP | BPF_JA: jump forward by `k`.
const BPF_JMP_JA: u16 = 0x05;
/// BPF_JMP | BPF_JEQ | BPF_K.
const BPF_JMP_JEQ_K: u16 = 0x15;
/// BPF_JMP | BPF_JGE | BPF_K.
const BPF_JMP_JGE_K: u16 = 0x35;
/// BPF_RET | BPF_K.
const BPF_RET_K: u16 = 0x06;

/// Links the layers, most severe first, and then the base into one program (see the `seccomp`
/// module comment): `allowed` are the base's ALLOW rules and `default` its action otherwise.
pub(super) fn link(
    allowed: RuleSet,
    mut layers: Vec<(SeccompAction, RuleSet)>,
    default: SeccompAction,
    arch: TargetArch,
) -> Result<BpfProgram, SeccompError> {
    // Layers most severe first, then the base. The sort is stable, so equally severe actions
    // keep their spec order.
    layers.sort_by_key(|(action, _)| severity(action));
    let mut program = abi_guard(arch);
    for (action, rules) in layers {
        let mut part = compile_part(rules, SeccompAction::Allow, action, arch)?;
        fall_through_on_allow(&mut part);
        program.extend(part);
    }
    if default == SeccompAction::Allow {
        program.push(insn(BPF_RET_K, 0, 0, libc::SECCOMP_RET_ALLOW));
    } else {
        program.extend(compile_part(allowed, default, SeccompAction::Allow, arch)?);
    }
    if program.len() > BPF_MAXINSNS {
        return Err(SeccompError::TooLarge { len: program.len() });
    }
    Ok(program)
}

/// Compiles one seccompiler filter: `on_match` for the syscalls in `rules`, else `mismatch`.
fn compile_part(
    rules: RuleSet,
    mismatch: SeccompAction,
    on_match: SeccompAction,
    arch: TargetArch,
) -> Result<BpfProgram, SeccompError> {
    SeccompFilter::new(rules.into_map(), mismatch.clone(), on_match.clone(), arch)
        .and_then(BpfProgram::try_from)
        .map_err(|reason| SeccompError::Compiler {
            what: format!("linux.seccomp: filter returning {on_match:?} (otherwise {mismatch:?})"),
            reason,
        })
}

/// Turns every `ret ALLOW` of a layer into a jump to the instruction after it, i.e. the start of
/// the next part. A layer's only ALLOW is its mismatch action, so this is "no rule matched here".
fn fall_through_on_allow(part: &mut BpfProgram) {
    let len = part.len();
    for (pc, insn) in part.iter_mut().enumerate() {
        if insn.code == BPF_RET_K && insn.k == libc::SECCOMP_RET_ALLOW {
            // The target is pc + 1 + k == len. seccompiler caps a part at 4096 instructions,
            // so the offset fits.
            insn.code = BPF_JMP_JA;
            insn.k = (len - pc - 1) as u32;
        }
    }
}

/// One classic-BPF instruction.
fn insn(code: u16, jt: u8, jf: u8, k: u32) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

/// On x86_64, kills the process on an x32 syscall (number with bit 30 set), which would match no
/// rule and get the default action. Number -1 passes on (it is not x32 and tracers use it to skip a
/// syscall). Prepending is safe because classic-BPF jumps are relative and only go forward.
fn abi_guard(arch: TargetArch) -> BpfProgram {
    if arch != TargetArch::x86_64 {
        return Vec::new();
    }
    vec![
        // A = seccomp_data.nr
        insn(BPF_LD_W_ABS, 0, 0, 0),
        // if A < X32_SYSCALL_BIT goto end
        insn(BPF_JMP_JGE_K, 0, 2, X32_SYSCALL_BIT),
        // if A == -1 goto end
        insn(BPF_JMP_JEQ_K, 1, 0, u32::MAX),
        insn(BPF_RET_K, 0, 0, libc::SECCOMP_RET_KILL_PROCESS),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::seccomp::testing::{compile, raw, run_filtered, Child};

    /// The values a program's `ret` instructions return, in program order.
    fn returns(program: &BpfProgram) -> Vec<u32> {
        program
            .iter()
            .filter(|i| i.code == BPF_RET_K)
            .map(|i| i.k)
            .collect()
    }

    #[test]
    fn layers_run_most_severe_first_and_fall_through_to_the_base() {
        // Docker-like: allow-list, a rule equal to the default, another errno, a kill rule.
        let p = compile(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,"syscalls":[
            {"names":["read","write"],"action":"SCMP_ACT_ALLOW"},
            {"names":["getppid"],"action":"SCMP_ACT_ERRNO","errnoRet":1},
            {"names":["clone3"],"action":"SCMP_ACT_ERRNO","errnoRet":38},
            {"names":["ptrace"],"action":"SCMP_ACT_KILL_PROCESS"}]}"#,
        )
        .unwrap();
        assert_eq!(p.filter_count(), 1);
        let kill = libc::SECCOMP_RET_KILL_PROCESS;
        let errno = |e| libc::SECCOMP_RET_ERRNO | e;
        let allow = libc::SECCOMP_RET_ALLOW;
        // x32 guard; KILL layer (arch check, match); ERRNO(38) layer (arch check, match); base
        // (arch check, match, mismatch per syscall, final mismatch). Layers never return ALLOW.
        assert_eq!(
            returns(&p.filters[0]),
            [
                kill,
                kill,
                kill,
                kill,
                errno(38),
                kill,
                allow,
                errno(1),
                allow,
                errno(1),
                errno(1)
            ]
        );
        // Every fall-through jump lands inside the program.
        let program = &p.filters[0];
        for (pc, i) in program.iter().enumerate() {
            if i.code == BPF_JMP_JA {
                assert!(pc + 1 + (i.k as usize) < program.len());
            }
        }
    }

    #[test]
    fn errno_and_kill_process_rules_both_hold_most_severe_first() {
        // getpgid: ERRNO(13) always, but KILL_PROCESS for pid 1, listed later: the more severe
        // rule wins where both match, whatever the spec order.
        let p = compile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["getppid","getpgid"],"action":"SCMP_ACT_ERRNO","errnoRet":13},
            {"names":["getsid"],"action":"SCMP_ACT_KILL_PROCESS"},
            {"names":["getpgid"],"action":"SCMP_ACT_KILL_PROCESS",
             "args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"}]}]}"#,
        )
        .unwrap();
        fn errno_check() -> i32 {
            if raw(libc::SYS_getppid, 0) != -13 {
                return 1;
            }
            if raw(libc::SYS_getpgid, 0) != -13 {
                return 2;
            }
            if raw(libc::SYS_getuid, 0) < 0 {
                return 3;
            }
            0
        }
        fn kill_check() -> i32 {
            raw(libc::SYS_getsid, 0);
            3
        }
        fn kill_by_arg_check() -> i32 {
            raw(libc::SYS_getpgid, 1);
            3
        }
        assert_eq!(run_filtered(&p, errno_check), Child::Exited(0));
        assert_eq!(run_filtered(&p, kill_check), Child::Signaled(libc::SIGSYS));
        assert_eq!(
            run_filtered(&p, kill_by_arg_check),
            Child::Signaled(libc::SIGSYS)
        );
    }

    #[test]
    fn allow_list_without_seccomp_installs_and_permissive_rules_win() {
        // The allow-list does not include seccomp(), yet the profile installs. getpgid(0) is
        // allowed only by argument; getuid is LOGged (must beat the ERRNO default); getgid gets
        // its own errno; anything else gets the default errno.
        let p = compile(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,"syscalls":[
            {"names":["exit","exit_group","getppid"],"action":"SCMP_ACT_ALLOW"},
            {"names":["getpgid"],"action":"SCMP_ACT_ALLOW",
             "args":[{"index":0,"value":0,"op":"SCMP_CMP_EQ"}]},
            {"names":["getuid"],"action":"SCMP_ACT_LOG"},
            {"names":["getgid"],"action":"SCMP_ACT_ERRNO","errnoRet":38}]}"#,
        )
        .unwrap();
        fn check() -> i32 {
            if raw(libc::SYS_getppid, 0) <= 0 {
                return 1;
            }
            if raw(libc::SYS_getpgid, 0) <= 0 {
                return 2;
            }
            if raw(libc::SYS_getpgid, 1) != -1 {
                return 3;
            }
            if raw(libc::SYS_getuid, 0) < 0 {
                return 4;
            }
            if raw(libc::SYS_getgid, 0) != -38 {
                return 5;
            }
            if raw(libc::SYS_getsid, 0) != -1 {
                return 6;
            }
            0
        }
        assert_eq!(run_filtered(&p, check), Child::Exited(0));
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn x32_syscalls_cannot_bypass_a_deny_rule() {
        let p = compile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["getppid"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}"#,
        )
        .unwrap();
        fn x32_check() -> i32 {
            raw(0x4000_0000 | libc::SYS_getppid, 0);
            3
        }
        fn minus_one_check() -> i32 {
            if raw(-1, 0) != -i64::from(libc::ENOSYS) {
                return 1;
            }
            0
        }
        assert_eq!(run_filtered(&p, x32_check), Child::Signaled(libc::SIGSYS));
        assert_eq!(run_filtered(&p, minus_one_check), Child::Exited(0));
    }
}
