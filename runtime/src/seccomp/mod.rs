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
//!
//! # Where things are
//!
//! This file holds the public type, its error and the install step that runs in the child.
//! The compile step is split by concern: `names.rs` resolves syscall names and the native
//! architecture, `translate.rs` maps OCI actions, flags and argument comparisons to
//! seccompiler's, `rules.rs` groups a profile's rules into the base and the layers, and
//! `link.rs` compiles those and splices them into the one program.

mod link;
mod names;
mod rules;
#[cfg(test)]
mod testing;
mod translate;

use std::fmt;

use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFilterFlag};
use seccompiler::{sock_filter, BackendError, BpfProgram, SeccompAction, TargetArch};

use link::link;
use names::{log_foreign_architectures, native_arch};
use rules::collect_rules;
use translate::{translate_action, translate_flags, Site};

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
    pub(crate) fn install(&self, no_new_privs: bool) -> Result<(), i32> {
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

        let (allowed, layers) = collect_rules(spec, &default, arch)?;
        if layers.is_empty() && default == SeccompAction::Allow {
            return Self::from_filters(Vec::new(), flags);
        }
        let program = link(allowed, layers, default, arch)?;
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

#[cfg(test)]
mod tests {
    use super::testing::{compile, raw, run_filtered, Child};

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
}
