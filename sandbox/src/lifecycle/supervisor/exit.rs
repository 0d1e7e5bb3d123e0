//! How a container ended, as its supervisor learns it: the wait status when the
//! container is the supervisor's child; for a container taken over from a dead
//! supervisor (its parent is init now), the exit status the kernel shows in
//! `/proc/<pid>/stat` while it is a zombie, when the supervisor is quick enough;
//! otherwise nothing, and then it is recorded as unknown, never guessed.

use std::path::Path;

use super::policy::RestartPolicy;
use super::state::{Terminated, UNKNOWN_REASON};

/// What is known of an ending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    /// A `waitpid` status.
    Status(libc::c_int),
    /// Nobody saw it.
    Unknown,
}

impl Exit {
    /// Exit code (128 + signal when killed) and signal, if known.
    fn code_and_signal(self) -> (Option<i32>, Option<i32>) {
        match self {
            Exit::Status(s) if libc::WIFSIGNALED(s) => {
                let sig = libc::WTERMSIG(s);
                (Some(128 + sig), Some(sig))
            }
            Exit::Status(s) => (Some(libc::WEXITSTATUS(s)), None),
            Exit::Unknown => (None, None),
        }
    }
}

/// The termination record of a container of cgroup `cgroup` that ended so.
pub(crate) fn terminated(
    exit: Exit,
    cgroup: Option<&str>,
    started_at: Option<String>,
) -> Terminated {
    let (exit_code, signal) = exit.code_and_signal();
    let oom = signal == Some(libc::SIGKILL) && cgroup.is_some_and(oom_killed);
    let reason = match exit_code {
        _ if oom => "OOMKilled",
        None => UNKNOWN_REASON,
        Some(0) => "Completed",
        Some(_) => "Error",
    };
    Terminated {
        exit_code,
        signal,
        reason: reason.into(),
        started_at,
        finished_at: crate::proc::clock::now_nanos(),
    }
}

/// Is a container that ended so started again under `policy`? An unknown ending
/// counts as a failure: nothing says it succeeded.
pub(crate) fn restarts(policy: RestartPolicy, init: bool, exit_code: Option<i32>) -> bool {
    let failed = exit_code != Some(0);
    if init {
        failed && policy.retries_init()
    } else {
        policy.restarts_app(exit_code.unwrap_or(-1))
    }
}

/// Did the kernel's OOM killer kill a process of this cgroup (v1 `oom_control`,
/// v2 `memory.events`)?
fn oom_killed(cgroup: &str) -> bool {
    let rel = cgroup.trim_start_matches('/');
    let files = [
        Path::new("/sys/fs/cgroup/memory")
            .join(rel)
            .join("memory.oom_control"),
        Path::new("/sys/fs/cgroup").join(rel).join("memory.events"),
    ];
    files.iter().any(|f| {
        std::fs::read_to_string(f).is_ok_and(|text| {
            text.lines().any(|l| {
                l.strip_prefix("oom_kill ")
                    .and_then(|n| n.trim().parse::<u64>().ok())
                    .is_some_and(|n| n > 0)
            })
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endings_are_classified_and_unknown_stays_unknown() {
        let ok = terminated(Exit::Status(0), None, None);
        assert_eq!((ok.exit_code, ok.reason.as_str()), (Some(0), "Completed"));
        let failed = terminated(Exit::Status(3 << 8), None, None);
        assert_eq!(
            (failed.exit_code, failed.reason.as_str()),
            (Some(3), "Error")
        );
        let killed = terminated(Exit::Status(libc::SIGTERM), None, None);
        assert_eq!((killed.exit_code, killed.signal), (Some(143), Some(15)));
        let unknown = terminated(Exit::Unknown, None, None);
        assert_eq!(
            (unknown.exit_code, unknown.signal, unknown.reason.as_str()),
            (None, None, UNKNOWN_REASON)
        );
    }

    #[test]
    fn an_unknown_ending_is_a_failure_for_the_restart_policy() {
        assert!(restarts(RestartPolicy::OnFailure, false, None));
        assert!(!restarts(RestartPolicy::OnFailure, false, Some(0)));
        assert!(!restarts(RestartPolicy::Never, false, None));
        assert!(restarts(RestartPolicy::Always, true, None));
        assert!(!restarts(RestartPolicy::Always, true, Some(0)));
    }
}
