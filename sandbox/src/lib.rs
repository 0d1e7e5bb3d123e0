//! The pod layer of podrt: turns a Kubernetes pod into calls on `podrt-runtime`.
//!
//! A manifest is parsed and validated ([`manifest`]), its images resolved in the
//! image store ([`image`]), and the pod built from pinned shared namespaces,
//! volumes, a pod cgroup and one runtime container per Kubernetes container.

pub mod cni;
pub mod config;
pub mod cri_log;
pub mod error;
pub mod host_check;
pub mod image;
pub mod lifecycle;
pub mod manifest;
pub mod network;
pub mod overlay;
pub mod pod;
pub mod policy;
pub mod proc;
pub mod security;
pub mod state;
pub mod userns;

pub use error::{Error, Result};

/// The runtime crate this sandbox drives, re-exported for the CLI.
pub use podrt_runtime as runtime;
