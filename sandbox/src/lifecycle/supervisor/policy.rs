//! When a container is restarted: `restartPolicy` and kubelet's back-off. The first
//! restart is immediate; each further one waits twice as long as the last, from 10 s
//! up to 5 minutes, counted from when the container ended; a container that ran for
//! 10 minutes before ending starts the sequence again. The ceiling can be lowered
//! (`--max-container-restart-period`, as kubelet's `crashLoopBackOff.maxContainerRestartPeriod`),
//! which also caps the first wait.

use std::time::Duration;

pub(crate) use crate::manifest::RestartPolicy;

impl RestartPolicy {
    /// Is an app container that ended with `exit_code` restarted?
    pub(crate) fn restarts_app(self, exit_code: i32) -> bool {
        match self {
            RestartPolicy::Always => true,
            RestartPolicy::OnFailure => exit_code != 0,
            RestartPolicy::Never => false,
        }
    }

    /// Is a failed init container retried? (Always and OnFailure both retry.)
    pub(crate) fn retries_init(self) -> bool {
        self != RestartPolicy::Never
    }
}

/// The first back-off, its ceiling, and the run time that resets it.
const INITIAL: Duration = Duration::from_secs(10);
const MAX: Duration = Duration::from_secs(300);
const RESET_AFTER: Duration = Duration::from_secs(600);

/// One container's back-off state.
#[derive(Debug, Clone, Default)]
pub(crate) struct Backoff {
    current: Option<Duration>,
    max: Option<Duration>,
}

impl Backoff {
    /// A back-off whose waits never exceed `max` (kubelet's 5 minutes when `None`).
    pub(crate) fn with_max(max: Option<Duration>) -> Backoff {
        Backoff { current: None, max }
    }

    /// The delay before restarting a container that ran for `ran`, and advance.
    pub(crate) fn next(&mut self, ran: Duration) -> Duration {
        if ran >= RESET_AFTER {
            self.current = None;
        }
        let max = self.max.unwrap_or(MAX).min(MAX);
        match self.current {
            None => {
                self.current = Some(INITIAL.min(max));
                Duration::ZERO
            }
            Some(d) => {
                self.current = Some((d * 2).min(max));
                d
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_restart_is_immediate_then_10s_doubling_to_5min() {
        let mut b = Backoff::default();
        let got: Vec<u64> = (0..9)
            .map(|_| b.next(Duration::from_secs(1)).as_secs())
            .collect();
        assert_eq!(got, [0, 10, 20, 40, 80, 160, 300, 300, 300]);
    }

    #[test]
    fn a_lower_ceiling_caps_every_wait() {
        let mut b = Backoff::with_max(Some(Duration::from_secs(15)));
        let got: Vec<u64> = (0..4)
            .map(|_| b.next(Duration::from_secs(1)).as_secs())
            .collect();
        assert_eq!(got, [0, 10, 15, 15]);
        let mut none = Backoff::with_max(Some(Duration::ZERO));
        assert!((0..5).all(|_| none.next(Duration::ZERO).is_zero()));
    }

    #[test]
    fn ten_minutes_of_running_resets_the_back_off() {
        let mut b = Backoff::default();
        b.next(Duration::ZERO);
        assert_eq!(b.next(Duration::ZERO).as_secs(), 10);
        assert_eq!(b.next(Duration::from_secs(601)).as_secs(), 0);
        assert_eq!(b.next(Duration::ZERO).as_secs(), 10);
    }

    #[test]
    fn policies() {
        assert!(RestartPolicy::Always.restarts_app(0));
        assert!(!RestartPolicy::OnFailure.restarts_app(0));
        assert!(RestartPolicy::OnFailure.restarts_app(1));
        assert!(!RestartPolicy::Never.restarts_app(1));
        assert!(!RestartPolicy::Never.retries_init());
    }
}
