//! The pod's long-lived processes as fresh runs of the podrt binary. The supervisor
//! and the pod's PID 1 start as forks of `podrt apply`; kept that way, each would
//! hold the creation code's pages resident for the pod's whole life. Re-executing
//! the binary with a hidden first argument leaves only what waiting needs (the
//! supervisor's children stay its children across exec). [`dispatch`] is called first
//! thing in `main`, before any argument parsing.

use std::ffi::OsString;
use std::io::Write;
use std::os::fd::{FromRawFd, RawFd};
use std::path::{Path, PathBuf};

use crate::proc::roles::{close_inherited, ADOPT, CREATE, POD_INIT, SUPERVISE, TERMINATE};

/// If this process was started as a supervisor or pod init, be one and return its
/// exit status; `None` for an ordinary command line.
pub fn dispatch() -> Option<i32> {
    let mut args = std::env::args_os().skip(1);
    let first = args.next()?;
    if first == POD_INIT {
        crate::pod::pod_init::run(args.next());
    }
    if first == CREATE {
        let dir = PathBuf::from(args.next()?);
        let rest: Vec<String> = args
            .filter_map(|a: OsString| a.into_string().ok())
            .collect();
        let items = crate::supervisor::creator::parse_items(&rest);
        crate::supervisor::creator::create_items(&dir, &items, &mut std::io::stdout());
        return Some(0);
    }
    if first == TERMINATE {
        close_inherited(None);
        let dir = PathBuf::from(args.next()?);
        let ms: u64 = args.next()?.to_str()?.parse().ok()?;
        crate::supervisor::terminator::terminate_pod_at(&dir, std::time::Duration::from_millis(ms));
        return Some(0);
    }
    if first != SUPERVISE {
        return None;
    }
    let dir = PathBuf::from(args.next()?);
    let report: Option<i32> = args.next().and_then(|a| a.to_str()?.parse().ok());
    let adopting = args.next().is_some_and(|a| a == ADOPT);
    close_inherited(report);
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
    let mut report = report.map(|fd| {
        // Not inherited by the processes we start: `apply` reads to the end.
        // SAFETY: fcntl on the descriptor handed to us.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        // SAFETY: the descriptor number was handed to us by the process that exec'd
        // us for exactly this; we take ownership of it once.
        unsafe { std::fs::File::from_raw_fd(fd) }
    });
    let plan = match crate::supervisor::Plan::load(&dir.join("supervisor.json")) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("podrt supervisor: {e}");
            if let Some(r) = report.as_mut() {
                let _ = writeln!(r, "error {e}");
            }
            return Some(1);
        }
    };
    let mut supervisor = if adopting {
        crate::supervisor::run::Supervisor::adopting(plan, report)
    } else {
        crate::supervisor::run::Supervisor::new(plan, report)
    };
    Some(supervisor.run())
}

/// Replace this process with `exe` as the supervisor of the pod at `pod_dir`,
/// reporting on descriptor `report`: to `apply` for a new pod, or to the command
/// that found the pod's supervisor dead when `adopting`. Returns only on failure.
pub fn supervise(exe: &Path, pod_dir: &Path, report: RawFd, adopting: bool) -> std::io::Error {
    // SAFETY: fcntl on a descriptor we hold: keep it open across exec.
    unsafe { libc::fcntl(report, libc::F_SETFD, 0) };
    let mut cmd = std::process::Command::new(exe);
    cmd.arg0("podrt-supervisor")
        .arg(SUPERVISE)
        .arg(pod_dir)
        .arg(report.to_string());
    if adopting {
        cmd.arg(ADOPT);
    }
    use std::os::unix::process::CommandExt;
    cmd.exec()
}
