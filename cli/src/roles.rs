//! The hidden roles the `podrt` binary runs as when it re-executes itself: a pod's
//! supervisor, its PID 1, a supervisor's container creator, a pod's terminator
//! (names in `podrt_sandbox::proc::roles`). [`dispatch`] is called first thing in
//! `main`, before any argument parsing; each role's work is the sandbox's.

use std::ffi::OsString;
use std::path::PathBuf;

use podrt_sandbox::lifecycle::supervisor::{self, creator, terminator};
use podrt_sandbox::pod::pod_init;
use podrt_sandbox::proc::roles::{close_inherited, ADOPT, CREATE, POD_INIT, SUPERVISE, TERMINATE};

/// If this process was started in one of the hidden roles, be it and return its
/// exit status; `None` for an ordinary command line.
pub fn dispatch() -> Option<i32> {
    let mut args = std::env::args_os().skip(1);
    let first = args.next()?;
    if first == POD_INIT {
        pod_init::run(args.next());
    }
    if first == CREATE {
        let dir = PathBuf::from(args.next()?);
        let rest: Vec<String> = args
            .filter_map(|a: OsString| a.into_string().ok())
            .collect();
        let items = creator::parse_items(&rest);
        creator::create_items(&dir, &items, &mut std::io::stdout());
        return Some(0);
    }
    if first == TERMINATE {
        close_inherited(None);
        let dir = PathBuf::from(args.next()?);
        let ms: u64 = args.next()?.to_str()?.parse().ok()?;
        terminator::terminate_pod_at(&dir, std::time::Duration::from_millis(ms));
        return Some(0);
    }
    if first != SUPERVISE {
        return None;
    }
    let dir = PathBuf::from(args.next()?);
    let report: Option<i32> = args.next().and_then(|a| a.to_str()?.parse().ok());
    let adopting = args.next().is_some_and(|a| a == ADOPT);
    Some(supervisor::supervise(&dir, report, adopting))
}
