//! The hidden roles the podrt binary runs as. The supervisor and the pod's PID 1
//! start as forks of `podrt apply`; kept that way, each would hold the creation
//! code's pages resident for the pod's whole life. Re-executing the binary with a
//! hidden first argument leaves only what waiting needs (the supervisor's children
//! stay its children across exec). The CLI reads these names first thing in
//! `main`, before any argument parsing, and calls the role's function.

/// First argument that makes the binary a pod supervisor.
pub const SUPERVISE: &str = "__podrt-supervise";
/// Last argument of [`SUPERVISE`] for a supervisor taking a pod over.
pub const ADOPT: &str = "adopt";
/// First argument that makes the binary a pod's PID 1.
pub const POD_INIT: &str = "__podrt-pod-init";
/// First argument that makes the binary a supervisor's container creator.
pub const CREATE: &str = "__podrt-create";
/// First argument that makes the binary a pod's terminator.
pub const TERMINATE: &str = "__podrt-terminate";

/// Close every descriptor above stderr but `keep`. The long-lived processes
/// would otherwise hold, for the pod's whole life, whatever the command that
/// started them inherited without close-on-exec (a test harness's pipe, make's
/// jobserver), and whoever waits for that to close would wait for the pod.
pub fn close_inherited(keep: Option<i32>) {
    let ranges = match keep {
        Some(k) if k >= 3 => [
            (3, k as libc::c_uint - 1),
            (k as libc::c_uint + 1, libc::c_uint::MAX),
        ],
        _ => [(3, libc::c_uint::MAX), (1, 0)],
    };
    for (first, last) in ranges.into_iter().filter(|(f, l)| f <= l) {
        // SAFETY: close_range with integer arguments: closes only descriptors.
        unsafe { libc::syscall(libc::SYS_close_range, first, last, 0) };
    }
}
