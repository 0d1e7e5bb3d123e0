//! Seccomp: turns the OCI `linux.seccomp` section into classic-BPF filters (built with
//! `seccompiler`) when a container is created, and installs them in the child between fork and
//! exec, as the last step before exec so the runtime's own setup is not filtered. Everything that
//! can fail, log or allocate happens in [`SeccompProgram::compile`]; [`SeccompProgram::install`]
//! only issues `prctl` and `seccomp`.
//!
//! # One program, most severe rule first
//!
//! A `seccompiler` filter has one match action and one mismatch action; an OCI profile has a
//! default action plus one per rule. Stacking one filter per action and letting the kernel pick
//! the most severe result (seccomp(2)) does not work: once a filter with a denying default is in,
//! the seccomp() calls installing the next filters are filtered too (an allow-list without
//! `seccomp` could never be installed), and a base filter returning the default would beat a LOG,
//! TRACE or ERRNO rule under a more severe default. So we link the filters into one program:
//!
//! 1. one *layer* per distinct rule action other than ALLOW: that action when one of its rules
//!    matches, otherwise on to the next part. Layers are ordered by the kernel's precedence
//!    (KILL_PROCESS > KILL_THREAD > TRAP > ERRNO > TRACE > LOG), equal ones in spec order;
//! 2. then the *base*: ALLOW for syscalls an ALLOW rule matches, the default action otherwise.
//!
//! The first matching layer decides, so a syscall gets the most severe action among the rules
//! matching it (what stacked filters would give), ALLOW if only ALLOW rules match, else the
//! default. Rules whose action equals the default are dropped, as runc does (libseccomp rejects
//! them). "Otherwise on" is seccompiler's `ret ALLOW` rewritten in place into a forward jump;
//! one instruction for one keeps all of seccompiler's relative jumps valid.
//!
//! # Architectures and syscall names
//!
//! Filters are built for the native ABI only (x86_64 or aarch64), so `architectures` is not used:
//! seccompiler's arch check kills the process on a syscall made through another ABI (i386, arm32),
//! and on x86_64 we prepend the same check for the x32 ABI, whose numbers would otherwise match no
//! rule and get the default, slipping past every deny rule under an ALLOW default. Profiles such as Docker's list syscalls of many architectures, so
//! a name that cannot be resolved is skipped when that cannot loosen the profile: it exists only on
//! the other supported architecture, or its rule does not outrank the default (the syscall then
//! keeps the stricter default). An unknown name in a rule that would tighten is an error.

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use oci_spec::runtime::{
    LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompFilterFlag,
    LinuxSeccompOperator, LinuxSyscall,
};
use seccompiler::{
    sock_filter, BackendError, BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp,
    SeccompCondition, SeccompFilter, SeccompRule, TargetArch,
};
use tracing::debug;

/// The errno used by SCMP_ACT_ERRNO and SCMP_ACT_TRACE when the spec gives none (OCI: EPERM).
const DEFAULT_ERRNO: u32 = libc::EPERM as u32;
/// The highest syscall argument index (arguments 0 to 5).
const MAX_ARG_INDEX: usize = 5;
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

/// A compiled seccomp profile: the BPF programs to install in order. With the linking described
/// in the module comment there is at most one.
pub struct SeccompProgram {
    /// The BPF programs, in installation order. Never mutated after construction, so the
    /// pointers in `fprogs` stay valid for as long as `self` lives.
    filters: Vec<BpfProgram>,
    /// One `struct sock_fprog` per entry of `filters`, pointing into it.
    fprogs: Vec<SockFprog>,
    /// The `flags` argument of seccomp(SECCOMP_SET_MODE_FILTER).
    flags: u32,
}

/// `struct sock_fprog` from linux/filter.h, pointing at seccompiler's `sock_filter` type
/// (same layout as the kernel's).
#[repr(C)]
struct SockFprog {
    len: libc::c_ushort,
    filter: *const sock_filter,
}

// SAFETY: the only non-thread-safe parts are the raw pointers in `fprogs`. They point into the
// heap buffers of `filters`, owned by the same value and never mutated or reallocated after
// `from_filters`, and they are only ever read; moving or sharing the value between threads cannot
// invalidate them or race on them.
unsafe impl Send for SeccompProgram {}
// SAFETY: see `Send` above; `install` takes `&self` and only reads.
unsafe impl Sync for SeccompProgram {}

impl fmt::Debug for SeccompProgram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let instructions: usize = self.filters.iter().map(Vec::len).sum();
        f.debug_struct("SeccompProgram")
            .field("filters", &self.filters.len())
            .field("instructions", &instructions)
            .field("flags", &self.flags)
            .finish()
    }
}

/// Why a `linux.seccomp` section could not be compiled. Each variant names the spec field.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// The machine is neither x86_64 nor aarch64.
    #[error("linux.seccomp: podrt builds seccomp filters only for x86_64 and aarch64, not {arch}; remove linux.seccomp to run on this machine")]
    UnsupportedArchitecture {
        /// The native architecture.
        arch: &'static str,
    },
    /// `listenerPath` is set: seccomp user notification needs an agent podrt does not have.
    #[error("linux.seccomp.listenerPath: seccomp user notification is not supported by podrt; remove listenerPath and any SCMP_ACT_NOTIFY action")]
    ListenerUnsupported,
    /// SCMP_ACT_NOTIFY as the default or a rule action.
    #[error("{field}: SCMP_ACT_NOTIFY is not supported by podrt (it has no seccomp agent); use SCMP_ACT_ERRNO instead")]
    NotifyUnsupported {
        /// The offending field, e.g. `linux.seccomp.syscalls[2].action`.
        field: String,
    },
    /// An errno was given for an action that has no data.
    #[error("{field}: an errno is only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not {action}; remove it")]
    ErrnoNotApplicable {
        /// The offending field.
        field: String,
        /// The action it was given with.
        action: LinuxSeccompAction,
    },
    /// An errno does not fit in the 16-bit data of a seccomp return value.
    #[error("{field}: {value} does not fit in the 16-bit data of a seccomp return value (at most 65535)")]
    ErrnoOutOfRange {
        /// The offending field.
        field: String,
        /// The value given.
        value: u32,
    },
    /// A syscall name unknown on every supported architecture, in a rule that would tighten the
    /// profile, so skipping it would silently allow more than asked.
    #[error(
        "{field}: unknown syscall {name:?} on {arch}; fix the name or remove it from this rule"
    )]
    UnknownSyscall {
        /// The offending field, e.g. `linux.seccomp.syscalls[3].names[0]`.
        field: String,
        /// The name as written in the spec.
        name: String,
        /// The native architecture.
        arch: &'static str,
    },
    /// A syscall argument index past 5.
    #[error("{field}: argument index {index} is out of range; syscalls take arguments 0 to 5")]
    ArgIndexOutOfRange {
        /// The offending field, e.g. `linux.seccomp.syscalls[1].args[0].index`.
        field: String,
        /// The index given.
        index: usize,
    },
    /// A filter flag podrt cannot honour.
    #[error("linux.seccomp.flags[{index}]: {flag} only applies to seccomp user notification, which podrt does not support; remove it")]
    UnsupportedFlag {
        /// Position in `flags`.
        index: usize,
        /// The flag.
        flag: LinuxSeccompFilterFlag,
    },
    /// seccompiler rejected a filter or a condition.
    #[error("{what}: {reason}")]
    Compiler {
        /// Which filter or field.
        what: String,
        /// seccompiler's explanation.
        reason: BackendError,
    },
    /// The compiled program is longer than the kernel accepts.
    #[error("linux.seccomp: the profile compiles to {len} BPF instructions, more than the kernel's limit of 4096; shorten the profile")]
    TooLarge {
        /// Its length in instructions.
        len: usize,
    },
}

impl SeccompProgram {
    /// Compile a spec section for the machine's native architecture.
    pub fn compile(spec: &LinuxSeccomp) -> Result<SeccompProgram, SeccompError> {
        Self::compile_for(spec, native_arch()?)
    }

    /// Number of stacked filters (for tests/diagnostics): 0 when the profile restricts nothing,
    /// otherwise 1.
    pub fn filter_count(&self) -> usize {
        self.filters.len()
    }

    /// Install every filter into the calling thread. Called in a forked child between fork
    /// and exec: does not allocate, lock, or panic; uses the raw
    /// `seccomp(SECCOMP_SET_MODE_FILTER, flags, &sock_fprog)` syscall.
    /// If `no_new_privs` is true it first calls `prctl(PR_SET_NO_NEW_PRIVS, 1)` (even when there
    /// is no filter to install). Without it the caller must hold CAP_SYS_ADMIN.
    /// Returns the raw errno on failure; a TSYNC failure (another thread could not be
    /// synchronised) is reported as `ESRCH`.
    pub fn install(&self, no_new_privs: bool) -> Result<(), i32> {
        if no_new_privs {
            let (one, zero): (libc::c_ulong, libc::c_ulong) = (1, 0);
            // SAFETY: PR_SET_NO_NEW_PRIVS takes only integer arguments, passed as unsigned long
            // as the kernel reads them; no memory is shared with the kernel.
            let rc = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, one, zero, zero, zero) };
            if rc != 0 {
                return Err(last_errno());
            }
        }
        for fprog in &self.fprogs {
            // SAFETY: `fprog` is a valid `struct sock_fprog` whose `filter` points at `len`
            // instructions owned by `self.filters` (see `from_filters`); the kernel copies the
            // program and keeps no reference to it after the call returns.
            let rc = unsafe {
                libc::syscall(
                    libc::SYS_seccomp,
                    libc::c_ulong::from(libc::SECCOMP_SET_MODE_FILTER),
                    libc::c_ulong::from(self.flags),
                    fprog as *const SockFprog,
                )
            };
            if rc < 0 {
                return Err(last_errno());
            }
            if rc > 0 {
                // With TSYNC the kernel returns the id of a thread it could not synchronise.
                return Err(libc::ESRCH);
            }
        }
        Ok(())
    }

    /// [`compile`](Self::compile) for a given architecture; separate so tests can cover both.
    fn compile_for(spec: &LinuxSeccomp, arch: TargetArch) -> Result<Self, SeccompError> {
        if spec.listener_path().is_some() {
            return Err(SeccompError::ListenerUnsupported);
        }
        let flags = translate_flags(spec.flags().as_deref().unwrap_or_default())?;
        let default = translate_action(
            spec.default_action(),
            spec.default_errno_ret(),
            Site::Default,
        )?;
        log_foreign_architectures(spec, arch);

        let (allowed, mut layers) = collect_rules(spec, &default, arch)?;
        if layers.is_empty() && default == SeccompAction::Allow {
            return Self::from_filters(Vec::new(), flags);
        }

        // Layers most severe first, then the base (see the module comment). The sort is stable,
        // so equally severe actions keep their spec order.
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
        Self::from_filters(vec![program], flags)
    }

    /// Wraps finished programs, preparing the `sock_fprog`s so `install` needs no allocation.
    fn from_filters(filters: Vec<BpfProgram>, flags: u32) -> Result<Self, SeccompError> {
        let fprogs = filters
            .iter()
            .map(|program| {
                let len = libc::c_ushort::try_from(program.len())
                    .map_err(|_| SeccompError::TooLarge { len: program.len() })?;
                Ok(SockFprog {
                    len,
                    filter: program.as_ptr(),
                })
            })
            .collect::<Result<Vec<_>, SeccompError>>()?;
        Ok(Self {
            filters,
            fprogs,
            flags,
        })
    }
}

/// The errno of the last failed libc call; reading it neither allocates nor panics.
fn last_errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EINVAL)
}

/// The architecture filters are built for: the one this binary runs on.
fn native_arch() -> Result<TargetArch, SeccompError> {
    match std::env::consts::ARCH {
        "x86_64" => Ok(TargetArch::x86_64),
        "aarch64" => Ok(TargetArch::aarch64),
        arch => Err(SeccompError::UnsupportedArchitecture { arch }),
    }
}

fn arch_name(arch: TargetArch) -> &'static str {
    match arch {
        TargetArch::x86_64 => "x86_64",
        TargetArch::aarch64 => "aarch64",
        TargetArch::riscv64 => "riscv64",
    }
}

/// A syscall's number in `arch`'s table, if the name exists there.
fn syscall_number(name: &str, arch: TargetArch) -> Option<i64> {
    match arch {
        TargetArch::x86_64 => syscalls::x86_64::Sysno::from_str(name)
            .ok()
            .map(|s| i64::from(s.id())),
        TargetArch::aarch64 => syscalls::aarch64::Sysno::from_str(name)
            .ok()
            .map(|s| i64::from(s.id())),
        TargetArch::riscv64 => None,
    }
}

/// Logs the listed architectures this runtime cannot filter separately (see module comment).
fn log_foreign_architectures(spec: &LinuxSeccomp, arch: TargetArch) {
    use oci_spec::runtime::Arch;
    for (i, listed) in spec.architectures().iter().flatten().enumerate() {
        let native = matches!(
            (listed, arch),
            (Arch::ScmpArchNative, _)
                | (Arch::ScmpArchX86_64, TargetArch::x86_64)
                | (Arch::ScmpArchAarch64, TargetArch::aarch64)
        );
        if !native {
            debug!(
                "linux.seccomp.architectures[{i}]: {listed} ignored; syscalls through that ABI kill the process"
            );
        }
    }
}

/// Where an action and its errno come from, for error messages.
#[derive(Clone, Copy)]
enum Site {
    Default,
    Rule(usize),
}

impl Site {
    fn action_field(self) -> String {
        match self {
            Site::Default => "linux.seccomp.defaultAction".to_owned(),
            Site::Rule(i) => format!("linux.seccomp.syscalls[{i}].action"),
        }
    }

    fn errno_field(self) -> String {
        match self {
            Site::Default => "linux.seccomp.defaultErrnoRet".to_owned(),
            Site::Rule(i) => format!("linux.seccomp.syscalls[{i}].errnoRet"),
        }
    }
}

/// Maps an OCI action (and its optional errno) to a seccompiler action.
fn translate_action(
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
fn severity(action: &SeccompAction) -> i32 {
    (u32::from(action.clone()) & libc::SECCOMP_RET_ACTION_FULL) as i32
}

/// True if the kernel lets `a` win over `b` when both are returned.
fn outranks(a: &SeccompAction, b: &SeccompAction) -> bool {
    severity(a) < severity(b)
}

/// Maps `flags` to the seccomp() flag bits.
fn translate_flags(flags: &[LinuxSeccompFilterFlag]) -> Result<u32, SeccompError> {
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

/// The spec's rules, grouped: the ALLOW rules (for the base) and one rule set per other action
/// (the layers), in order of first appearance. Rules equal to the default are dropped.
fn collect_rules(
    spec: &LinuxSeccomp,
    default: &SeccompAction,
    arch: TargetArch,
) -> Result<(RuleSet, Vec<(SeccompAction, RuleSet)>), SeccompError> {
    let mut allowed = RuleSet::default();
    let mut layers: Vec<(SeccompAction, RuleSet)> = Vec::new();
    for (i, rule) in spec.syscalls().iter().flatten().enumerate() {
        let action = translate_action(rule.action(), rule.errno_ret(), Site::Rule(i))?;
        if action == *default {
            debug!("linux.seccomp.syscalls[{i}]: action equals defaultAction, rule dropped");
            continue;
        }
        let condition = rule_condition(rule, i)?;
        let numbers = resolve_names(rule.names(), i, arch, outranks(&action, default))?;
        if numbers.is_empty() {
            continue;
        }
        let rules = if action == SeccompAction::Allow {
            &mut allowed
        } else {
            layer_for(&mut layers, action)
        };
        rules.add_all(&numbers, condition.as_ref());
    }
    Ok((allowed, layers))
}

/// The conditions of rule `i` ANDed into one seccompiler rule; `None` if it has no `args`
/// (the rule then matches its syscalls unconditionally).
fn rule_condition(rule: &LinuxSyscall, i: usize) -> Result<Option<SeccompRule>, SeccompError> {
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
fn translate_arg(arg: &LinuxSeccompArg, field: &str) -> Result<SeccompCondition, SeccompError> {
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

/// The native numbers of rule `i`'s names; skips names that cannot loosen the profile (see the
/// module comment) and rejects the rest.
fn resolve_names(
    names: &[String],
    i: usize,
    arch: TargetArch,
    tightens: bool,
) -> Result<Vec<i64>, SeccompError> {
    let other = match arch {
        TargetArch::x86_64 => TargetArch::aarch64,
        _ => TargetArch::x86_64,
    };
    let mut numbers = Vec::with_capacity(names.len());
    for (j, name) in names.iter().enumerate() {
        if let Some(nr) = syscall_number(name, arch) {
            numbers.push(nr);
        } else if syscall_number(name, other).is_some() {
            debug!(
                "linux.seccomp.syscalls[{i}].names[{j}]: {name:?} exists only on {}, skipped",
                arch_name(other)
            );
        } else if !tightens {
            debug!(
                "linux.seccomp.syscalls[{i}].names[{j}]: unknown syscall {name:?} skipped; it keeps the default action"
            );
        } else {
            return Err(SeccompError::UnknownSyscall {
                field: format!("linux.seccomp.syscalls[{i}].names[{j}]"),
                name: name.clone(),
                arch: arch_name(arch),
            });
        }
    }
    Ok(numbers)
}

/// How one filter matches a syscall: always, or when any of several argument rules holds.
enum Chain {
    Always,
    AnyOf(Vec<SeccompRule>),
}

/// The rules of one filter, by syscall number.
#[derive(Default)]
struct RuleSet(BTreeMap<i64, Chain>);

impl RuleSet {
    /// Adds `rule` (or an unconditional match) for each number; spec rules for the same syscall
    /// are ORed, and an unconditional one absorbs the others.
    fn add_all(&mut self, numbers: &[i64], rule: Option<&SeccompRule>) {
        for &nr in numbers {
            match (self.0.entry(nr), rule) {
                (Entry::Vacant(slot), None) => {
                    slot.insert(Chain::Always);
                }
                (Entry::Vacant(slot), Some(rule)) => {
                    slot.insert(Chain::AnyOf(vec![rule.clone()]));
                }
                (Entry::Occupied(mut slot), None) => {
                    slot.insert(Chain::Always);
                }
                (Entry::Occupied(mut slot), Some(rule)) => {
                    if let Chain::AnyOf(rules) = slot.get_mut() {
                        if !rules.contains(rule) {
                            rules.push(rule.clone());
                        }
                    }
                }
            }
        }
    }

    /// seccompiler's form: an empty rule list means "match unconditionally".
    fn into_map(self) -> BTreeMap<i64, Vec<SeccompRule>> {
        self.0
            .into_iter()
            .map(|(nr, chain)| match chain {
                Chain::Always => (nr, Vec::new()),
                Chain::AnyOf(rules) => (nr, rules),
            })
            .collect()
    }
}

/// The layer for `action`, appended if new.
fn layer_for(layers: &mut Vec<(SeccompAction, RuleSet)>, action: SeccompAction) -> &mut RuleSet {
    let index = match layers.iter().position(|(a, _)| *a == action) {
        Some(index) => index,
        None => {
            layers.push((action, RuleSet::default()));
            layers.len() - 1
        }
    };
    &mut layers[index].1
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

    fn spec(json: &str) -> LinuxSeccomp {
        serde_json::from_str(json).expect("test profile parses")
    }

    fn compile(json: &str) -> Result<SeccompProgram, SeccompError> {
        SeccompProgram::compile(&spec(json))
    }

    /// Outcome of running a check in a filtered child process.
    #[derive(Debug, PartialEq)]
    enum Child {
        Exited(i32),
        Signaled(i32),
    }

    /// Forks, installs `program` in the child, runs `check` there and returns how it ended.
    /// The child only makes raw syscalls: no allocation after fork in a threaded test binary.
    fn run_filtered(program: &SeccompProgram, check: fn() -> i32) -> Child {
        // SAFETY: the child only calls async-signal-safe functions (setrlimit, prctl, seccomp,
        // raw syscalls, _exit) and never returns into the test harness.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            let no_core = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // SAFETY: setrlimit reads a valid rlimit; _exit ends the child without unwinding.
            unsafe {
                libc::setrlimit(libc::RLIMIT_CORE, &no_core);
                let code = match program.install(true) {
                    Ok(()) => check(),
                    Err(_) => 99,
                };
                libc::_exit(code)
            }
        }
        let mut status = 0;
        // SAFETY: waits for our own child into a valid int.
        let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
        assert_eq!(rc, pid);
        if libc::WIFEXITED(status) {
            Child::Exited(libc::WEXITSTATUS(status))
        } else {
            Child::Signaled(libc::WTERMSIG(status))
        }
    }

    /// Returns the syscall's result, or `-errno` if it failed.
    fn raw(nr: libc::c_long, arg: libc::c_long) -> i64 {
        // SAFETY: only used with syscalls that take integer arguments.
        let rc = unsafe { libc::syscall(nr, arg) };
        if rc == -1 {
            -i64::from(last_errno())
        } else {
            rc
        }
    }

    /// The values a program's `ret` instructions return, in program order.
    fn returns(program: &BpfProgram) -> Vec<u32> {
        program
            .iter()
            .filter(|i| i.code == BPF_RET_K)
            .map(|i| i.k)
            .collect()
    }

    #[test]
    fn profiles_compile_to_one_program_or_none() {
        let p = compile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["getppid"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}"#,
        );
        assert_eq!(p.unwrap().filter_count(), 1);
        // ALLOW rules under ALLOW are no-ops, and so is an empty profile.
        let p = compile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["getppid"],"action":"SCMP_ACT_ALLOW"}]}"#,
        );
        assert_eq!(p.unwrap().filter_count(), 0);
        assert_eq!(
            compile(r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#)
                .unwrap()
                .filter_count(),
            0
        );
        // Deny everything: just the base.
        let p = compile(r#"{"defaultAction":"SCMP_ACT_KILL_PROCESS"}"#).unwrap();
        assert_eq!(p.filter_count(), 1);
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
    fn unknown_syscall_is_an_error_only_where_skipping_would_loosen() {
        let err = compile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["getppid"],"action":"SCMP_ACT_ERRNO"},
            {"names":["getpid","nosuchcall"],"action":"SCMP_ACT_KILL"}]}"#,
        )
        .unwrap_err();
        let expected = format!(
            "linux.seccomp.syscalls[1].names[1]: unknown syscall \"nosuchcall\" on {}",
            std::env::consts::ARCH
        );
        assert!(err.to_string().starts_with(&expected), "{err}");

        // Allow-lists under an ERRNO default keep the default for names they cannot resolve.
        let p = compile(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
            {"names":["read","nosuchcall","_llseek","socketcall"],"action":"SCMP_ACT_ALLOW"}]}"#,
        );
        assert_eq!(p.unwrap().filter_count(), 1);
        // So does another errno under an errno default (still denied, only the errno differs).
        assert!(compile(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
            {"names":["nosuchcall"],"action":"SCMP_ACT_ERRNO","errnoRet":38}]}"#
        )
        .is_ok());
        // A name of the other supported architecture is skipped even in a deny rule.
        let cross = spec(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["open","clock_gettime64"],"action":"SCMP_ACT_KILL_PROCESS"}]}"#,
        );
        assert_eq!(
            SeccompProgram::compile_for(&cross, TargetArch::x86_64)
                .unwrap()
                .filter_count(),
            1
        );
        assert_eq!(
            SeccompProgram::compile_for(&cross, TargetArch::aarch64)
                .unwrap()
                .filter_count(),
            1
        );
        let only_other = spec(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["open"],"action":"SCMP_ACT_KILL_PROCESS"}]}"#,
        );
        let p = SeccompProgram::compile_for(&only_other, TargetArch::aarch64).unwrap();
        assert_eq!(p.filter_count(), 0);
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

    #[test]
    fn errno_rule_is_enforced_by_the_kernel() {
        let p = compile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["getppid"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}"#,
        )
        .unwrap();
        fn check() -> i32 {
            if raw(libc::SYS_getppid, 0) != -13 {
                return 1;
            }
            if raw(libc::SYS_getuid, 0) < 0 {
                return 2;
            }
            0
        }
        assert_eq!(run_filtered(&p, check), Child::Exited(0));
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
