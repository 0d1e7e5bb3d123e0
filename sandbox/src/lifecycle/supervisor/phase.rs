//! Where each container is in its supervisor's hands, as one explicit state
//! machine: a [`Phase`] per container and pure functions that say what an event
//! does to it ([`step`]) and what a container's end means for the pod
//! ([`after_exit`]). The supervisor's poll loop only does the I/O (starting,
//! reaping, watching, logging) and feeds what it saw here, so every
//! restartPolicy × exit × deletion case is decided in one place that unit tests
//! drive without root or processes.
//!
//! Kubernetes' view of a container (waiting/running/terminated with reasons) is a
//! separate record ([`super::state`]): it is what users see, this is what the
//! supervisor does next.

use std::time::Instant;

use super::exit;
use super::policy::RestartPolicy;
use super::state::State;

/// One container's phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Not started yet: its turn has not come (init containers run first).
    Waiting,
    /// Its process runs: a child of the supervisor, or one taken over from a
    /// dead supervisor and watched through a pidfd.
    Running {
        /// Host PID of its process.
        pid: i32,
    },
    /// It ended or could not be made, and is started again at `until` (which
    /// may be now: kubelet's first restart is immediate).
    BackingOff {
        /// When it is due.
        until: Instant,
    },
    /// It will never run again.
    Done,
}

/// What happened to a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    /// Its process was started.
    Started {
        /// Host PID of the process.
        pid: i32,
    },
    /// Making or starting it failed; the next try is at `retry_at` (kubelet
    /// retries a CreateContainerError whatever the restart policy).
    StartFailed {
        /// When to try again.
        retry_at: Instant,
    },
    /// Its process ended; `exit_code` is `None` when nobody saw how. Were it
    /// restarted, that would be at `retry_at`.
    Exited {
        /// Exit status, or 128 + signal.
        exit_code: Option<i32>,
        /// When a restart would be due.
        retry_at: Instant,
    },
    /// The pod is being deleted: nothing is started again.
    Stop,
}

/// What the pod's spec and state say about a container's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rules {
    /// The pod's `restartPolicy`.
    pub(crate) policy: RestartPolicy,
    /// An init container.
    pub(crate) init: bool,
    /// The pod is being deleted.
    pub(crate) terminating: bool,
}

impl Phase {
    /// A start was tried (by this supervisor or the one it took over from).
    pub(crate) fn attempted(self) -> bool {
        self != Phase::Waiting
    }

    /// It runs now.
    #[cfg(test)]
    fn running(self) -> bool {
        matches!(self, Phase::Running { .. })
    }

    /// Its PID, while it runs.
    pub(crate) fn pid(self) -> Option<i32> {
        match self {
            Phase::Running { pid } => Some(pid),
            _ => None,
        }
    }

    /// When its restart is due, while it backs off.
    pub(crate) fn due_at(self) -> Option<Instant> {
        match self {
            Phase::BackingOff { until } => Some(until),
            _ => None,
        }
    }

    /// Is its restart due at `now`?
    pub(crate) fn due(self, now: Instant) -> bool {
        self.due_at().is_some_and(|t| t <= now)
    }
}

/// The phase after `event`, or `None` if the event cannot happen in `phase`
/// (the caller keeps the phase and logs it: a bug, never a guess).
pub(crate) fn step(phase: Phase, event: Event, rules: Rules) -> Option<Phase> {
    use Phase::{BackingOff, Done, Running, Waiting};
    match (phase, event) {
        (Waiting | BackingOff { .. }, Event::Started { pid }) => Some(Running { pid }),
        (Waiting | BackingOff { .. }, Event::StartFailed { retry_at }) => {
            Some(BackingOff { until: retry_at })
        }
        (
            Running { .. },
            Event::Exited {
                exit_code,
                retry_at,
            },
        ) => {
            let restart = !rules.terminating && exit::restarts(rules.policy, rules.init, exit_code);
            Some(if restart {
                BackingOff { until: retry_at }
            } else {
                Done
            })
        }
        // A running container is ended by the termination; its end is final
        // then (`rules.terminating`).
        (Running { .. }, Event::Stop) => Some(phase),
        (Waiting | BackingOff { .. } | Done, Event::Stop) => Some(Done),
        _ => None,
    }
}

/// What the end of one container means for the whole pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Then {
    /// Nothing more.
    Nothing,
    /// A failed init container is retried: the pod exists and is failing in its
    /// init containers, so the command waiting for it is told it was made (as
    /// kubectl returns), and `get pods` shows Init:Error / CrashLoopBackOff.
    ReportMade,
    /// An init container failed for good (restartPolicy Never): nothing else ever
    /// runs, and the pod is Failed.
    FailPod,
    /// An init container succeeded: start what comes next.
    NextPhase,
    /// The pod is being deleted: every container not running is done.
    StopRestarts,
}

/// What follows for the pod when a container (an init container if `init`)
/// ended with `exit_code` and is restarted or not (`restarting`, as [`step`]
/// decided), while the pod is being deleted or not.
pub(crate) fn after_exit(
    init: bool,
    exit_code: Option<i32>,
    restarting: bool,
    terminating: bool,
) -> Then {
    let succeeded = exit_code == Some(0);
    match (init, succeeded) {
        (true, false) if restarting => Then::ReportMade,
        (true, false) => Then::FailPod,
        (true, true) if !terminating => Then::NextPhase,
        _ if terminating => Then::StopRestarts,
        _ => Then::Nothing,
    }
}

/// The phase of a container that a supervisor taking the pod over finds recorded
/// as `state` and not running (a running one is watched, or seen to have ended
/// and handed to [`step`]): one that ended is restarted now or never, one that
/// was backing off (or failed to be made) is due now (the back-off starts over,
/// as kubelet's does when kubelet restarts), one never started waits its turn.
pub(crate) fn resumed(state: &State, rules: Rules, now: Instant) -> Phase {
    match state {
        State::Terminated(t) if exit::restarts(rules.policy, rules.init, t.exit_code) => {
            Phase::BackingOff { until: now }
        }
        State::Terminated(_) => Phase::Done,
        State::Waiting { reason, .. } if reason == "CrashLoopBackOff" || state.not_made() => {
            Phase::BackingOff { until: now }
        }
        State::Waiting { .. } | State::Running { .. } => Phase::Waiting,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::supervisor::state::Terminated;
    use std::time::Duration;

    const POLICIES: [RestartPolicy; 3] = [
        RestartPolicy::Always,
        RestartPolicy::OnFailure,
        RestartPolicy::Never,
    ];

    fn rules(policy: RestartPolicy, init: bool, terminating: bool) -> Rules {
        Rules {
            policy,
            init,
            terminating,
        }
    }

    /// What Kubernetes documents, written out case by case: is a container that
    /// ended so started again?
    fn kubernetes_restarts(policy: RestartPolicy, init: bool, code: Option<i32>) -> bool {
        let failed = code != Some(0);
        match (policy, init) {
            (RestartPolicy::Never, _) => false,
            // Init containers are retried on failure under Always and OnFailure.
            (_, true) => failed,
            (RestartPolicy::Always, false) => true,
            (RestartPolicy::OnFailure, false) => failed,
        }
    }

    #[test]
    fn every_policy_exit_and_deletion_case_of_a_running_container() {
        let now = Instant::now();
        let retry_at = now + Duration::from_secs(10);
        for policy in POLICIES {
            for init in [false, true] {
                for terminating in [false, true] {
                    for code in [Some(0), Some(1), Some(137), None] {
                        let r = rules(policy, init, terminating);
                        let next = step(
                            Phase::Running { pid: 7 },
                            Event::Exited {
                                exit_code: code,
                                retry_at,
                            },
                            r,
                        );
                        let want = if !terminating && kubernetes_restarts(policy, init, code) {
                            Phase::BackingOff { until: retry_at }
                        } else {
                            Phase::Done
                        };
                        assert_eq!(next, Some(want), "{r:?} exit {code:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn starts_and_failed_starts() {
        let r = rules(RestartPolicy::Never, false, false);
        let later = Instant::now() + Duration::from_secs(1);
        for from in [Phase::Waiting, Phase::BackingOff { until: later }] {
            assert_eq!(
                step(from, Event::Started { pid: 9 }, r),
                Some(Phase::Running { pid: 9 })
            );
            // Even under Never: a container that could not be made is tried again.
            assert_eq!(
                step(from, Event::StartFailed { retry_at: later }, r),
                Some(Phase::BackingOff { until: later })
            );
        }
    }

    #[test]
    fn a_deletion_stops_what_does_not_run_and_lets_what_runs_end() {
        let r = rules(RestartPolicy::Always, false, true);
        let later = Instant::now() + Duration::from_secs(5);
        for from in [
            Phase::Waiting,
            Phase::BackingOff { until: later },
            Phase::Done,
        ] {
            assert_eq!(step(from, Event::Stop, r), Some(Phase::Done), "{from:?}");
        }
        let running = Phase::Running { pid: 3 };
        assert_eq!(step(running, Event::Stop, r), Some(running));
        let ended = Event::Exited {
            exit_code: Some(143),
            retry_at: later,
        };
        assert_eq!(step(running, ended, r), Some(Phase::Done));
    }

    #[test]
    fn impossible_events_are_refused() {
        let r = rules(RestartPolicy::Always, false, false);
        let now = Instant::now();
        let exited = Event::Exited {
            exit_code: Some(0),
            retry_at: now,
        };
        assert_eq!(step(Phase::Waiting, exited, r), None);
        assert_eq!(step(Phase::Done, exited, r), None);
        assert_eq!(step(Phase::BackingOff { until: now }, exited, r), None);
        assert_eq!(
            step(Phase::Running { pid: 1 }, Event::Started { pid: 2 }, r),
            None
        );
        assert_eq!(step(Phase::Done, Event::Started { pid: 2 }, r), None);
        assert_eq!(
            step(Phase::Done, Event::StartFailed { retry_at: now }, r),
            None
        );
    }

    #[test]
    fn what_an_end_means_for_the_pod() {
        use Then::*;
        // (init, exit, restarting, terminating) -> what follows
        let cases = [
            (true, Some(1), true, false, ReportMade),
            (true, None, true, false, ReportMade),
            (true, Some(1), false, false, FailPod),
            (true, Some(1), false, true, FailPod),
            (true, Some(0), false, false, NextPhase),
            (true, Some(0), false, true, StopRestarts),
            (false, Some(0), true, false, Nothing),
            (false, Some(1), false, false, Nothing),
            (false, Some(1), false, true, StopRestarts),
            (false, None, false, true, StopRestarts),
        ];
        for (init, code, restarting, terminating, want) in cases {
            assert_eq!(
                after_exit(init, code, restarting, terminating),
                want,
                "init {init} exit {code:?} restarting {restarting} terminating {terminating}"
            );
        }
    }

    #[test]
    fn phases_found_by_a_takeover() {
        let now = Instant::now();
        let ended = |code| {
            State::Terminated(Terminated {
                exit_code: code,
                signal: None,
                reason: String::new(),
                started_at: None,
                finished_at: String::new(),
            })
        };
        let waiting = |reason: &str| State::Waiting {
            reason: reason.into(),
            message: None,
        };
        let app = |policy| rules(policy, false, false);
        let due = Phase::BackingOff { until: now };
        assert_eq!(
            resumed(&ended(Some(1)), app(RestartPolicy::OnFailure), now),
            due
        );
        assert_eq!(
            resumed(&ended(Some(0)), app(RestartPolicy::OnFailure), now),
            Phase::Done
        );
        assert_eq!(resumed(&ended(None), app(RestartPolicy::Always), now), due);
        assert_eq!(
            resumed(&ended(Some(1)), app(RestartPolicy::Never), now),
            Phase::Done
        );
        for reason in [
            "CrashLoopBackOff",
            "CreateContainerError",
            "ErrImagePull",
            "ImagePullBackOff",
        ] {
            assert_eq!(
                resumed(&waiting(reason), app(RestartPolicy::Never), now),
                due
            );
        }
        for reason in ["ContainerCreating", "PodInitializing"] {
            assert_eq!(
                resumed(&waiting(reason), app(RestartPolicy::Always), now),
                Phase::Waiting
            );
        }
    }

    #[test]
    fn accessors() {
        let now = Instant::now();
        assert!(!Phase::Waiting.attempted());
        assert!(Phase::Done.attempted());
        assert_eq!(Phase::Running { pid: 4 }.pid(), Some(4));
        assert!(Phase::Running { pid: 4 }.running());
        assert!(Phase::BackingOff { until: now }.due(now));
        assert!(!Phase::BackingOff {
            until: now + Duration::from_secs(1)
        }
        .due(now));
        assert_eq!(Phase::Done.due_at(), None);
    }
}
