//! The pod layer of podrt: turns a Kubernetes pod into calls on `podrt-runtime`,
//! with a public API in the CRI's verbs ([`pod`]).
//!
//! Its modules are layers, each using only those below it (bottom first;
//! `scripts/check-layers.sh` fails on an import that points up):
//! 1. leaves that know no pod: [`manifest`], [`image`], [`cni`], [`cri_log`],
//!    [`security`], [`policy`], [`overlay`];
//! 2. [`error`], the crate's error, wrapping the leaves' own;
//! 3. [`proc`]: process helpers (pidfd, detaching, the binary's hidden roles);
//! 4. [`state`]: the pod on disk (paths, `pod.json`, locks, listing, [`state::Sandbox`]);
//! 5. [`userns`] (host id ranges) and [`network`] (CNI attachment, host ports);
//! 6. [`pod`]: making and removing a pod and its containers (the CRI verbs);
//! 7. [`lifecycle`]: the supervisor, termination, deletion, adoption, gc, status;
//! 8. what only the CLI uses: [`config`] (the config file), [`host_check`] (`podrt check`).

pub mod cni;
pub mod config;
pub mod cri_log;
pub(crate) mod error;
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
pub(crate) mod userns;

pub use error::{Error, Result};

/// The runtime crate this sandbox drives, re-exported for the CLI.
pub use podrt_runtime as runtime;
