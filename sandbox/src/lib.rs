//! The pod layer of podrt: turns a Kubernetes pod into calls on `podrt-runtime`.
//!
//! It is empty until the pod sandbox issue lands; the crate exists now so the
//! dependency arrow (cli → sandbox → runtime) is fixed from the first commit.

/// The runtime crate this sandbox drives, re-exported for the CLI.
pub use podrt_runtime as runtime;
