//! Test helpers shared by the seccomp unit tests: parsing profiles, and running a check in a
//! forked child with a program installed.

use oci_spec::runtime::LinuxSeccomp;

use super::{last_errno, SeccompError, SeccompProgram};

/// Parses a profile written as JSON.
pub(super) fn spec(json: &str) -> LinuxSeccomp {
    serde_json::from_str(json).expect("test profile parses")
}

/// Compiles a profile written as JSON for the native architecture.
pub(super) fn compile(json: &str) -> Result<SeccompProgram, SeccompError> {
    SeccompProgram::compile(&spec(json))
}

/// Outcome of running a check in a filtered child process.
#[derive(Debug, PartialEq)]
pub(super) enum Child {
    Exited(i32),
    Signaled(i32),
}

/// Forks, installs `program` in the child, runs `check` there and returns how it ended.
/// The child only makes raw syscalls: no allocation after fork in a threaded test binary.
pub(super) fn run_filtered(program: &SeccompProgram, check: fn() -> i32) -> Child {
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
pub(super) fn raw(nr: libc::c_long, arg: libc::c_long) -> i64 {
    // SAFETY: only used with syscalls that take integer arguments.
    let rc = unsafe { libc::syscall(nr, arg) };
    if rc == -1 {
        -i64::from(last_errno())
    } else {
        rc
    }
}
