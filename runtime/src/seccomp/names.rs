//! Syscall names and architectures: which architecture filters are built for, and the numbers of
//! a rule's syscall names in its table. Names that cannot be resolved are skipped or rejected as
//! the `seccomp` module comment explains ("Architectures and syscall names").

use std::str::FromStr;

use oci_spec::runtime::LinuxSeccomp;
use seccompiler::TargetArch;
use tracing::debug;

use super::SeccompError;

/// The architecture filters are built for: the one this binary runs on.
pub(super) fn native_arch() -> Result<TargetArch, SeccompError> {
    match std::env::consts::ARCH {
        "x86_64" => Ok(TargetArch::x86_64),
        "aarch64" => Ok(TargetArch::aarch64),
        arch => Err(SeccompError::UnsupportedArchitecture { arch }),
    }
}

/// The name of `arch` in messages.
pub(super) fn arch_name(arch: TargetArch) -> &'static str {
    match arch {
        TargetArch::x86_64 => "x86_64",
        TargetArch::aarch64 => "aarch64",
        TargetArch::riscv64 => "riscv64",
    }
}

/// A syscall's number in `arch`'s table, if the name exists there.
pub(super) fn syscall_number(name: &str, arch: TargetArch) -> Option<i64> {
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

/// Logs the listed architectures this runtime cannot filter separately (see the `seccomp`
/// module comment).
pub(super) fn log_foreign_architectures(spec: &LinuxSeccomp, arch: TargetArch) {
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

/// The native numbers of rule `i`'s names; skips names that cannot loosen the profile (see the
/// module comment) and rejects the rest.
pub(super) fn resolve_names(
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

#[cfg(test)]
mod tests {
    use seccompiler::TargetArch;

    use crate::seccomp::testing::{compile, spec};
    use crate::seccomp::SeccompProgram;

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
}
