//! podrt's container runtime: one OCI container from an `oci_spec::runtime::Spec`.
//!
//! This crate knows nothing of pods. It turns a bundle (a `config.json` and a root
//! filesystem) into a process isolated by namespaces, mounts, cgroups, capabilities and
//! seccomp, and keeps the OCI lifecycle (`create`, `start`, `state`, `kill`, `delete`)
//! on disk under a state root. The `podrt-runc` binary is a thin shell over it, and the
//! pod layer (`podrt-sandbox`) builds specs that join its pinned namespaces by path.
//!
//! The process-creation path is split in two halves: everything that allocates,
//! parses or can fail with a rich message happens in the parent *before* `fork`
//! (see [`init::InitPlan`]); the child only issues syscalls on prepared data and reports
//! failure as a small fixed-size record (see [`sync`]).

pub mod capabilities;
pub mod cgroup_usage;
pub mod cgroups;
pub(crate) mod console;
pub mod container;
pub(crate) mod copy_up;
pub mod create;
pub(crate) mod descriptors;
pub(crate) mod device_filter;
pub(crate) mod devices;
pub(crate) mod dumpable;
pub(crate) mod error;
pub mod exec;
pub mod fault;
pub(crate) mod hooks;
pub(crate) mod id_map;
pub mod in_root;
pub mod init;
pub(crate) mod lsm;
pub mod mountinfo;
pub mod mounts;
pub mod namespaces;
pub mod pivot_root;
pub mod private_fs;
pub mod proc_info;
pub(crate) mod rlimits;
pub(crate) mod rootfs;
pub(crate) mod sched;
pub mod seccomp;
pub mod signal;
pub mod spec;
pub mod state;
pub(crate) mod sync;
pub mod tty_proxy;
pub(crate) mod user;
pub mod wait;

pub use container::{Container, CreateOptions, StartMode};
pub use error::{Error, Result};
pub use state::{ContainerStatus, OciState};
