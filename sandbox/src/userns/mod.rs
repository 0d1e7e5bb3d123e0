//! User namespaces for pods with `spec.hostUsers: false`, as kubelet gives them:
//! each such pod gets its own range of 65536 host uids and gids (its uid and gid
//! 0 are the range's first id), so root in one pod is nobody on the host and
//! nobody in any other pod.
//!
//! This module decides which pods get one ([`own_user_namespace`]), hands out
//! and takes back the ranges ([`allocate`], [`release`], [`release_stale`]) and
//! probes what the kernel offers them ([`probe`]). Making the namespace and
//! idmapping the pod's layers ([`crate::overlay::idmap`]) and volumes is the pod's
//! and the runtime's work.

mod options;
pub(crate) mod probe;
mod range;

pub(crate) use options::{own_user_namespace, UsernsOptions};
pub(crate) use range::{allocate, release, release_stale, RANGE_SIZE};
