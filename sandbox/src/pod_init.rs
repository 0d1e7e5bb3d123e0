//! The PID 1 of a pod whose containers share one PID namespace
//! (`shareProcessNamespace: true`). It does what a pause container's init does and
//! nothing more: it holds the namespace open and reaps the zombies that the
//! containers' orphans become. It is a fork of its creator, not a new program, and
//! only makes async-signal-safe system calls.

use crate::error::{Error, Result};
use crate::record::ProcRef;

/// Start the pod's init in a new PID namespace; containers join `/proc/<pid>/ns/pid`.
/// With `exe` (the podrt binary) the init execs it as a fresh small process, else it
/// stays a fork of the caller. `dir` is only used in messages. Must be called from a
/// single-threaded process.
pub fn spawn(dir: &std::path::Path, exe: Option<&std::path::Path>) -> Result<ProcRef> {
    let argv = exe.and_then(crate::reexec::pod_init_argv);
    // SAFETY: clone without CLONE_VM and a null stack behaves as fork; the child only
    // runs `reap_forever`, which makes async-signal-safe system calls.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (libc::CLONE_NEWPID | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    if pid < 0 {
        return Err(Error::last_os(
            "starting the pod's PID 1 (clone CLONE_NEWPID) for",
            dir,
        ));
    }
    if pid == 0 {
        if let Some(argv) = &argv {
            argv.exec();
        }
        reap_forever();
    }
    let pid = pid as i32;
    ProcRef::of(pid).ok_or_else(|| Error::Create {
        pod: dir.display().to_string(),
        message: format!("the pod's PID 1 (host PID {pid}) died at once"),
    })
}

/// The init's whole life: close inherited descriptors, wait for SIGCHLD, reap.
pub fn reap_forever() -> ! {
    // SAFETY: every call below is async-signal-safe and takes integers or pointers
    // to locals.
    unsafe {
        libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
        libc::setsid();
        let name = b"podrt-pod-init\0";
        libc::prctl(libc::PR_SET_NAME, name.as_ptr() as libc::c_ulong, 0, 0, 0);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGCHLD);
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::sigdelset(&mut all, libc::SIGCHLD);
        libc::sigprocmask(libc::SIG_BLOCK, &all, std::ptr::null_mut());
        loop {
            while libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) > 0 {}
            libc::sigwaitinfo(&set, std::ptr::null_mut());
        }
    }
}
