//! podrt's node agent: the desired state that outlives a command (workload
//! objects: Deployments, ReplicaSets, DaemonSets, StatefulSets and Jobs), kept on
//! disk, and the controllers that make the pods it asks for, level-triggered,
//! in `podrt serve` (DESIGN.md §8).
//!
//! Layers, from the bottom: [`objects`] (decoding and checking the documents a
//! user applies), [`store`] (the objects on disk, one file each), `controllers`
//! (pure plans from what is stored and what runs, then the acts that carry them
//! out with the sandbox's API), [`agent`] (the resident loop, and the nudge a
//! command sends it); beside the controllers, the Services' rules, the cluster
//! DNS and the CRI's gRPC service ([`cri`]). Pods themselves stay the sandbox's: the agent lists them,
//! makes them and deletes them exactly as `podrt apply` and `podrt delete` do,
//! so a pod made either way is seen by both.

pub mod agent;
mod companion;
mod controllers;
pub mod cri;
pub mod dns;
pub mod edits;
mod error;
pub mod events;
pub mod labels;
pub mod objects;
mod proxy;
pub mod selector;
pub mod store;

pub use controllers::cascade::{delete_pods, delete_with_dependents, orphan, Dependents};
pub use controllers::namespace::{
    begin_deletion as begin_namespace_deletion, check_usable as check_namespace,
    delete_contents as delete_namespace_contents, terminating as namespace_terminating,
};
pub use controllers::statefulset::release_claims;
pub use error::{Error, Result};
pub use objects::default_namespace;
