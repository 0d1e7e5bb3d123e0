//! The pod's long-lived processes as fresh runs of the podrt binary. The supervisor
//! and the pod's PID 1 start as forks of `podrt apply`; kept that way, each would
//! hold the creation code's pages resident for the pod's whole life. Re-executing
//! the binary with a hidden first argument leaves only what waiting needs (the
//! supervisor's children stay its children across exec). [`dispatch`] is called first
//! thing in `main`, before any argument parsing.

use std::ffi::{CString, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// First argument that makes the binary a pod supervisor.
pub const SUPERVISE: &str = "__podrt-supervise";
/// First argument that makes the binary a pod's PID 1.
pub const POD_INIT: &str = "__podrt-pod-init";

/// If this process was started as a supervisor or pod init, be one and return its
/// exit status; `None` for an ordinary command line.
pub fn dispatch() -> Option<i32> {
    let mut args = std::env::args_os().skip(1);
    let first = args.next()?;
    if first == POD_INIT {
        crate::pod_init::reap_forever();
    }
    if first != SUPERVISE {
        return None;
    }
    let dir = PathBuf::from(args.next()?);
    let children: Vec<(i32, String)> = args
        .filter_map(|a: OsString| {
            let s = a.to_str()?;
            let (pid, name) = s.split_once('=')?;
            Some((pid.parse().ok()?, name.to_string()))
        })
        .collect();
    // SAFETY: prctl with a pointer to a NUL-terminated constant.
    unsafe {
        libc::prctl(
            libc::PR_SET_NAME,
            c"podrt-superv".as_ptr() as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    crate::supervisor::watch(&dir, &children);
    Some(0)
}

/// Replace this process with `exe` as the supervisor of `children` (PID, container
/// name) of the pod at `pod_dir`. Returns only on failure.
pub fn supervise(exe: &Path, pod_dir: &Path, children: &[(i32, String)]) -> std::io::Error {
    let mut cmd = std::process::Command::new(exe);
    cmd.arg0("podrt-supervisor").arg(SUPERVISE).arg(pod_dir);
    for (pid, name) in children {
        cmd.arg(format!("{pid}={name}"));
    }
    use std::os::unix::process::CommandExt;
    cmd.exec()
}

/// A prepared `execv` of the pod init, made before fork so the child need not
/// allocate.
pub struct PreparedExec {
    path: CString,
    /// Owns the strings `argv` points into.
    _args: Vec<CString>,
    argv: Vec<*const libc::c_char>,
}

impl PreparedExec {
    /// `execv`; returns only if it failed.
    pub fn exec(&self) {
        // SAFETY: path and argv point into CStrings owned by self; argv ends in NULL.
        unsafe { libc::execv(self.path.as_ptr(), self.argv.as_ptr()) };
    }
}

/// Prepare `exe __podrt-pod-init` for the pod's PID 1.
pub fn pod_init_argv(exe: &Path) -> Option<PreparedExec> {
    let path = CString::new(exe.as_os_str().as_bytes()).ok()?;
    let args = vec![
        CString::new("podrt-pod-init").ok()?,
        CString::new(POD_INIT).ok()?,
    ];
    let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    Some(PreparedExec {
        path,
        _args: args,
        argv,
    })
}
