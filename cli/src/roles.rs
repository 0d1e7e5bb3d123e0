//! The hidden roles the `podrt` binary runs as when it re-executes itself: a pod's
//! supervisor, its PID 1, a supervisor's container creator, a pod's terminator
//! (`podrt_sandbox::proc::roles::Role`, which also writes their arguments).
//! [`dispatch`] is called first thing in `main`, before any argument parsing; each
//! role's work is the sandbox's.

use podrt_sandbox::lifecycle::supervisor::{self, creator, terminator};
use podrt_sandbox::pod::pod_init;
use podrt_sandbox::proc::roles::{close_inherited, Role};

/// The exit status of a hidden role whose arguments do not parse.
const EXIT_BAD_ROLE: i32 = 2;

/// If this process was started in one of the hidden roles, be it and return its
/// exit status; `None` for an ordinary command line. A hidden role whose
/// arguments do not parse is an error on stderr, never an ordinary command.
pub fn dispatch() -> Option<i32> {
    let role = match Role::parse(std::env::args_os().skip(1)) {
        Ok(role) => role?,
        Err(e) => {
            eprintln!("podrt: {e}");
            return Some(EXIT_BAD_ROLE);
        }
    };
    Some(match role {
        Role::PodInit { report_fd } => pod_init::run(report_fd),
        Role::Create { pod_dir } => creator::create_role(&pod_dir),
        Role::Terminate { pod_dir, grace } => {
            close_inherited(None);
            terminator::terminate_pod_at(&pod_dir, grace);
            0
        }
        Role::Supervise {
            pod_dir,
            report_fd,
            adopting,
        } => supervisor::supervise(&pod_dir, report_fd, adopting),
    })
}
