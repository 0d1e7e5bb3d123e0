//! A rolling update's arithmetic, as Kubernetes' deployment controller does it:
//! the new ReplicaSet grows while the total stays within `replicas + maxSurge`,
//! and old ones shrink while at least `replicas - maxUnavailable` pods stay
//! available (unhealthy old pods go first, as they are not available anyway).
//! Pure: the controller feeds it counts and writes the results back.

use k8s_openapi::api::apps::v1::DeploymentStrategy;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::objects::resolve;

/// How far a rollout may go over and under `replicas`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Pods above `replicas` allowed.
    pub(crate) surge: i32,
    /// Pods below `replicas` allowed to be unavailable.
    pub(crate) unavailable: i32,
}

/// The limits of `strategy` for `replicas` (25% and 25% by default); both zero
/// becomes one unavailable, so the rollout can move.
pub(crate) fn limits(strategy: Option<&DeploymentStrategy>, replicas: i32) -> Limits {
    let quarter = IntOrString::String("25%".into());
    let ru = strategy.and_then(|s| s.rolling_update.as_ref());
    let surge = ru.and_then(|r| r.max_surge.as_ref()).unwrap_or(&quarter);
    let unavailable = ru
        .and_then(|r| r.max_unavailable.as_ref())
        .unwrap_or(&quarter);
    let surge = resolve(surge, replicas, true).unwrap_or(0);
    let unavailable = resolve(unavailable, replicas, false)
        .unwrap_or(0)
        .min(replicas);
    Limits {
        surge,
        unavailable: if surge == 0 && unavailable == 0 {
            1
        } else {
            unavailable
        },
    }
}

/// One ReplicaSet's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counts {
    /// Its `spec.replicas`.
    pub(crate) spec: i32,
    /// Its available pods.
    pub(crate) available: i32,
}

/// The new set's `spec.replicas` for this step.
pub(crate) fn new_target(replicas: i32, limits: Limits, new: Counts, olds: &[Counts]) -> i32 {
    if new.spec >= replicas {
        return replicas;
    }
    let total: i32 = new.spec + olds.iter().map(|o| o.spec).sum::<i32>();
    let room = replicas + limits.surge - total;
    if room <= 0 {
        return new.spec;
    }
    new.spec + room.min(replicas - new.spec)
}

/// The old sets' `spec.replicas` for this step (same order as `olds`, oldest
/// first), given the new set's (already scaled) numbers.
pub(crate) fn old_targets(replicas: i32, limits: Limits, new: Counts, olds: &[Counts]) -> Vec<i32> {
    let mut targets: Vec<i32> = olds.iter().map(|o| o.spec).collect();
    if targets.iter().sum::<i32>() == 0 {
        return targets;
    }
    let all: i32 = new.spec + targets.iter().sum::<i32>();
    let min_available = replicas - limits.unavailable;
    let new_unavailable = (new.spec - new.available).max(0);
    let mut budget = all - min_available - new_unavailable;
    if budget <= 0 {
        return targets;
    }
    // Unhealthy old pods first: they are not available, removing them costs
    // nothing.
    for (t, o) in targets.iter_mut().zip(olds) {
        let unhealthy = (*t - o.available).max(0).min(budget);
        *t -= unhealthy;
        budget -= unhealthy;
    }
    // Then available ones, while enough stay available.
    let available: i32 = new.available + olds.iter().map(|o| o.available).sum::<i32>();
    let mut allowed = available - min_available;
    for t in targets.iter_mut() {
        if allowed <= 0 {
            break;
        }
        let down = (*t).min(allowed);
        *t -= down;
        allowed -= down;
    }
    targets
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::RollingUpdateDeployment;

    fn strategy(surge: IntOrString, unavailable: IntOrString) -> DeploymentStrategy {
        DeploymentStrategy {
            type_: Some("RollingUpdate".into()),
            rolling_update: Some(RollingUpdateDeployment {
                max_surge: Some(surge),
                max_unavailable: Some(unavailable),
            }),
        }
    }

    #[test]
    fn percentages_round_as_kubernetes_rounds_them() {
        let p = |s: &str| IntOrString::String(s.into());
        assert_eq!(resolve(&p("25%"), 10, true), Ok(3));
        assert_eq!(resolve(&p("25%"), 10, false), Ok(2));
        assert_eq!(resolve(&IntOrString::Int(2), 10, false), Ok(2));
        assert!(resolve(&IntOrString::Int(-1), 10, false).is_err());
        assert!(resolve(&p("25"), 10, false).is_err());
        assert_eq!(
            limits(None, 4),
            Limits {
                surge: 1,
                unavailable: 1
            }
        );
        let zero = strategy(IntOrString::Int(0), IntOrString::Int(0));
        assert_eq!(
            limits(Some(&zero), 4),
            Limits {
                surge: 0,
                unavailable: 1
            }
        );
    }

    /// Simulates a rollout of `replicas` with the given limits, where every pod
    /// becomes available at the next step; checks the bounds at every step.
    fn roll(replicas: i32, l: Limits) -> usize {
        let mut new = Counts {
            spec: 0,
            available: 0,
        };
        let mut old = Counts {
            spec: replicas,
            available: replicas,
        };
        for step in 1..100 {
            new.spec = new_target(replicas, l, new, &[old]);
            old.spec = old_targets(replicas, l, new, &[old])[0];
            assert!(
                new.spec + old.spec <= replicas + l.surge,
                "step {step}: over the surge"
            );
            // Old pods removed are gone at once; new ones become available.
            old.available = old.available.min(old.spec);
            assert!(
                new.available + old.available >= replicas - l.unavailable,
                "step {step}: too few available"
            );
            new.available = new.spec;
            if new.available == replicas && old.spec == 0 {
                return step;
            }
        }
        panic!("the rollout never finished");
    }

    #[test]
    fn rollouts_finish_within_their_bounds() {
        for (replicas, surge, unavailable) in
            [(4, 1, 1), (3, 0, 1), (5, 2, 0), (1, 1, 0), (10, 3, 2)]
        {
            let steps = roll(replicas, Limits { surge, unavailable });
            // Each step moves at least one pod.
            assert!(
                steps <= 2 * replicas as usize + 2,
                "{replicas}/{surge}/{unavailable}: {steps} steps"
            );
        }
    }

    /// The state an agent SIGKILLed mid-rollout leaves (sets at [3, 1], three old
    /// pods and the new one) is one the arithmetic moves on from, the pass after
    /// the new pod is ready: the rollout that stalled there did so because no
    /// agent ran (the dead agent's lock was still held), not because of these
    /// numbers. Checked for the first pass of a fresh agent, which starts from
    /// these counts with nothing remembered.
    #[test]
    fn a_rollout_picked_up_from_a_killed_agents_state_goes_on() {
        let l = Limits {
            surge: 1,
            unavailable: 0,
        };
        let old = Counts {
            spec: 3,
            available: 3,
        };
        // The new pod is not ready yet: hold everything.
        let starting = Counts {
            spec: 1,
            available: 0,
        };
        assert_eq!(new_target(3, l, starting, &[old]), 1);
        assert_eq!(old_targets(3, l, starting, &[old]), [3]);
        // Ready: one old pod goes, and the new set may grow again.
        let ready = Counts {
            spec: 1,
            available: 1,
        };
        assert_eq!(new_target(3, l, ready, &[old]), 1);
        assert_eq!(old_targets(3, l, ready, &[old]), [2]);
        let old = Counts {
            spec: 2,
            available: 2,
        };
        assert_eq!(new_target(3, l, ready, &[old]), 2);
    }

    #[test]
    fn unhealthy_old_pods_go_first() {
        let l = Limits {
            surge: 0,
            unavailable: 1,
        };
        // 3 wanted; the old set has 3 pods of which 1 is not available.
        let new = Counts {
            spec: 0,
            available: 0,
        };
        let old = Counts {
            spec: 3,
            available: 2,
        };
        assert_eq!(old_targets(3, l, new, &[old]), [2]);
    }
}
