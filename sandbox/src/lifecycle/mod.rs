//! A pod's life after it is made, the top of the pod's layers: its supervisor
//! ([`supervisor`]: containers started, restarted, logged), graceful termination
//! ([`terminate`]) and deletion ([`delete`]), taking over pods whose supervisor
//! died ([`reconcile`]), removing what no pod owns any more ([`gc`]), and the
//! Kubernetes status derived from all of it ([`status`]).

pub mod delete;
pub mod gc;
pub mod kubelet;
pub mod reconcile;
pub mod status;
pub mod supervisor;
pub(crate) mod terminate;
