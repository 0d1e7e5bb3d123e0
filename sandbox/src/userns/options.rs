//! The installation's user-namespace settings (the config file's
//! `userNamespaces`) and the one decision they feed: does this pod get a user
//! namespace of its own?

use k8s_openapi::api::core::v1::PodSpec;
use serde::{Deserialize, Serialize};

use super::range::RANGE_SIZE;
use crate::state::record::IdRange;

/// The first host id handed to pods: `0x70000000`.
pub(crate) const DEFAULT_FIRST_ID: u32 = 0x7000_0000;

/// How many ranges of [`RANGE_SIZE`] ids there are by default: 4096, so the last
/// id handed out is `0x7fffffff`.
pub(crate) const DEFAULT_RANGES: u32 = 4096;

/// The highest id a range may reach: `(uid_t)-1` (4294967295) means "no id" to
/// `chown(2)` and `setresuid(2)`, so no user may have it.
pub(crate) const MAX_ID: u32 = u32::MAX - 1;

/// Where pods with their own user namespace get their host ids, and whether pods
/// that do not say get one.
///
/// The default ids, `0x70000000..=0x7fffffff` (4096 ranges of 65536), stay clear
/// of the ranges `useradd` hands out in `/etc/subuid` and `/etc/subgid`
/// (`100000` up, 65536 a user, so below 600100000 for the first 9155 users),
/// of the host's own users and of ids ≥ 2^31, which tools storing ids in a
/// signed 32-bit integer show as negative.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UsernsOptions {
    /// What a pod without `spec.hostUsers` gets: `true` (the host's users, as in
    /// Kubernetes) or `false` (its own user namespace; see [`own_user_namespace`]).
    pub(crate) default_host_users: bool,
    /// The host id of range 0's uid and gid 0.
    pub(crate) first_id: u32,
    /// How many ranges of [`RANGE_SIZE`] ids there are, and so how many pods
    /// with their own user namespace may exist at once.
    pub(crate) ranges: u32,
}

impl Default for UsernsOptions {
    fn default() -> Self {
        UsernsOptions {
            default_host_users: true,
            first_id: DEFAULT_FIRST_ID,
            ranges: DEFAULT_RANGES,
        }
    }
}

impl UsernsOptions {
    /// Whether the settings can be used; otherwise the setting at fault
    /// (`firstId`, `ranges`) and what is wrong with it.
    pub(crate) fn check(&self) -> Result<(), (&'static str, String)> {
        if self.first_id == 0 {
            return Err((
                "firstId",
                "must not be 0: the host's uid and gid 0 must stay the host's root".into(),
            ));
        }
        if self.ranges == 0 {
            return Err((
                "ranges",
                "must be at least 1 (pods with hostUsers: false each need a range)".into(),
            ));
        }
        let last = u64::from(self.first_id) + u64::from(self.ranges) * u64::from(RANGE_SIZE) - 1;
        if last > u64::from(MAX_ID) {
            return Err((
                "ranges",
                format!(
                    "{} ranges of {RANGE_SIZE} ids from firstId {} end at id {last}, past \
                     {MAX_ID} (4294967295 is (uid_t)-1, which no user may have): lower \
                     ranges or firstId",
                    self.ranges, self.first_id
                ),
            ));
        }
        Ok(())
    }

    /// Range `index` (`first_id + index × 65536`), if it is one of [`Self::ranges`]
    /// and ends at or below [`MAX_ID`].
    pub(crate) fn range(&self, index: u32) -> Option<IdRange> {
        if index >= self.ranges {
            return None;
        }
        let first = index
            .checked_mul(RANGE_SIZE)
            .and_then(|offset| self.first_id.checked_add(offset))?;
        first
            .checked_add(RANGE_SIZE - 1)
            .filter(|last| *last <= MAX_ID)?;
        Some(IdRange {
            first,
            size: RANGE_SIZE,
        })
    }
}

/// Whether the pod gets a user namespace of its own.
///
/// `spec.hostUsers: false` always does (validation has refused it beside
/// `hostNetwork`, `hostPID`, `hostIPC` and privileged containers). Without
/// `spec.hostUsers`, only when the config's `defaultHostUsers` is `false`, and
/// then not for a pod sharing a namespace of the host or having a privileged
/// container (init and ephemeral ones too): such a pod keeps the host's users
/// silently, since it did not ask for anything else. Kubernetes has no such
/// default (a pod without `hostUsers` always keeps the host's users); it is
/// podrt's, for an installation that wants every pod it can isolate isolated.
pub(crate) fn own_user_namespace(spec: &PodSpec, opts: &UsernsOptions) -> bool {
    match spec.host_users {
        Some(host_users) => !host_users,
        None => !opts.default_host_users && !crate::manifest::shares_host(spec),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, EphemeralContainer, SecurityContext};

    fn privileged() -> Option<SecurityContext> {
        Some(SecurityContext {
            privileged: Some(true),
            ..SecurityContext::default()
        })
    }

    #[test]
    fn the_default_table_ends_at_0x7fffffff() {
        let opts = UsernsOptions::default();
        assert_eq!(opts.check(), Ok(()));
        let last = opts.range(DEFAULT_RANGES - 1).unwrap();
        assert_eq!(last.first + (last.size - 1), 0x7fff_ffff);
        assert_eq!(opts.range(1).unwrap().first, 0x7001_0000);
        assert_eq!(opts.range(DEFAULT_RANGES), None);
    }

    #[test]
    fn ranges_past_the_last_id_are_refused() {
        let opts = UsernsOptions {
            first_id: u32::MAX - RANGE_SIZE,
            ranges: 1,
            ..UsernsOptions::default()
        };
        // Ends at u32::MAX - 1 exactly.
        assert_eq!(opts.check(), Ok(()));
        assert!(opts.range(0).is_some());
        let opts = UsernsOptions {
            first_id: u32::MAX - RANGE_SIZE + 1,
            ..opts
        };
        assert_eq!(opts.check().unwrap_err().0, "ranges");
        assert_eq!(opts.range(0), None);
    }

    #[test]
    fn host_users_decides_and_the_default_spares_host_sharing_pods() {
        let isolate = UsernsOptions {
            default_host_users: false,
            ..UsernsOptions::default()
        };
        let keep = UsernsOptions::default();
        let plain = PodSpec::default();
        assert!(!own_user_namespace(&plain, &keep));
        assert!(own_user_namespace(&plain, &isolate));
        let asked = PodSpec {
            host_users: Some(false),
            ..PodSpec::default()
        };
        assert!(own_user_namespace(&asked, &keep));
        let refused = PodSpec {
            host_users: Some(true),
            ..PodSpec::default()
        };
        assert!(!own_user_namespace(&refused, &isolate));
        let sharing = [
            PodSpec {
                host_network: Some(true),
                ..PodSpec::default()
            },
            PodSpec {
                host_pid: Some(true),
                ..PodSpec::default()
            },
            PodSpec {
                host_ipc: Some(true),
                ..PodSpec::default()
            },
            PodSpec {
                init_containers: Some(vec![Container {
                    security_context: privileged(),
                    ..Container::default()
                }]),
                ..PodSpec::default()
            },
            PodSpec {
                ephemeral_containers: Some(vec![EphemeralContainer {
                    security_context: privileged(),
                    ..EphemeralContainer::default()
                }]),
                ..PodSpec::default()
            },
        ];
        for spec in &sharing {
            assert!(!own_user_namespace(spec, &isolate), "{spec:?}");
        }
    }
}
