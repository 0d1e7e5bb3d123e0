//! Device access control on cgroup v2: `linux.resources.devices` compiled to an eBPF
//! program of type `BPF_PROG_TYPE_CGROUP_DEVICE` and attached to the container's cgroup.
//!
//! cgroup v2 has no devices controller and `cgroups-rs` has no substitute, so this
//! module assembles the few instructions it needs itself and talks to `bpf(2)`
//! directly. It neither chooses the rules (see [`crate::cgroups::effective_resources`])
//! nor creates the cgroup; it only compiles, loads and attaches.
//!
//! `program.rs` compiles the rules (its comment shows the program's layout), `bpf.rs`
//! encodes the instructions, `load.rs` loads the program and attaches it with
//! `bpf(2)`, and `replace.rs` swaps it for the one a cgroup has (`update`).

mod bpf;
mod load;
mod program;
mod replace;
#[cfg(test)]
mod testing;

use std::io;
use std::path::PathBuf;

use bpf::Insn;

/// A compiled device filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeviceFilter {
    insns: Vec<Insn>,
}

/// Why a device filter could not be compiled, loaded or attached.
#[derive(Debug, thiserror::Error)]
pub enum DeviceFilterError {
    /// A rule the filter cannot express.
    #[error("invalid spec: linux.resources.devices[{index}].{field}: {message}")]
    InvalidRule {
        /// Position of the rule in `linux.resources.devices`.
        index: usize,
        /// The rule's field at fault (`type`, `major`, `minor`, `access`).
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// More instructions than `bpf(2)` can describe.
    #[error("device filter needs {insns} instructions: too many device rules")]
    TooLarge {
        /// Instructions the rules compiled to.
        insns: usize,
    },
    /// `BPF_PROG_LOAD` refused the program.
    #[error(
        "loading the cgroup device filter ({insns} instructions) failed: {source}{}{}",
        load_hint(.source, .log),
        show_log(.log)
    )]
    Load {
        /// Instructions in the program.
        insns: usize,
        /// The errno of the first attempt.
        source: io::Error,
        /// The verifier's log from a second attempt, possibly truncated or empty.
        log: String,
    },
    /// The cgroup directory could not be opened.
    #[error("cannot open cgroup directory {}: {source}", .path.display())]
    OpenCgroup {
        /// The cgroup v2 directory.
        path: PathBuf,
        /// The underlying I/O error.
        source: io::Error,
    },
    /// `BPF_PROG_ATTACH` refused to attach the program to the cgroup.
    #[error(
        "attaching the device filter to cgroup {} failed: {source}{}",
        .path.display(),
        attach_hint(.source)
    )]
    Attach {
        /// The cgroup v2 directory.
        path: PathBuf,
        /// The underlying errno.
        source: io::Error,
    },
    /// `BPF_PROG_QUERY` could not list the programs attached to the cgroup.
    #[error(
        "listing the device filters attached to cgroup {} failed: {source}{}",
        .path.display(),
        query_hint(.source)
    )]
    Query {
        /// The cgroup v2 directory.
        path: PathBuf,
        /// The underlying errno.
        source: io::Error,
    },
    /// A filter attached before could not be detached once its replacement was.
    #[error(
        "detaching the previous device filter (BPF program {id}) from cgroup {} failed at {op}: {source}{}; \
         the new filter is attached beside it, so a device must pass both",
        .path.display(),
        detach_hint(.source)
    )]
    Detach {
        /// The cgroup v2 directory.
        path: PathBuf,
        /// The old program's id.
        id: u32,
        /// The `bpf(2)` command that failed.
        op: &'static str,
        /// The underlying errno.
        source: io::Error,
    },
}

fn load_hint(err: &io::Error, log: &str) -> &'static str {
    match err.raw_os_error() {
        // The verifier's log, shown after the hint, says what it rejected.
        _ if !log.is_empty() => "",
        Some(libc::EPERM) => {
            " (needs CAP_SYS_ADMIN or CAP_BPF; before Linux 5.11 RLIMIT_MEMLOCK must also cover the program)"
        }
        Some(libc::EINVAL) => " (does the kernel have CONFIG_CGROUP_BPF?)",
        _ => "",
    }
}

fn attach_hint(err: &io::Error) -> &'static str {
    match err.raw_os_error() {
        Some(libc::EBADF) => " (is the directory in a cgroup2 mount?)",
        Some(libc::EPERM) => {
            " (needs CAP_NET_ADMIN or CAP_SYS_ADMIN, and no program may be attached there without BPF_F_ALLOW_MULTI)"
        }
        _ => "",
    }
}

fn query_hint(err: &io::Error) -> &'static str {
    match err.raw_os_error() {
        Some(libc::EBADF) => " (is the directory in a cgroup2 mount?)",
        Some(libc::EPERM) => " (needs CAP_NET_ADMIN or CAP_SYS_ADMIN)",
        _ => "",
    }
}

fn detach_hint(err: &io::Error) -> &'static str {
    match err.raw_os_error() {
        Some(libc::EPERM) => " (needs CAP_SYS_ADMIN)",
        _ => "",
    }
}

fn show_log(log: &str) -> String {
    if log.is_empty() {
        String::new()
    } else {
        format!("\nverifier log:\n{log}")
    }
}

// Only the unit tests count a filter's instructions.
#[cfg(test)]
impl DeviceFilter {
    /// Number of instructions.
    pub(crate) fn len(&self) -> usize {
        self.insns.len()
    }

    /// Whether the program has no instructions; a compiled filter never is empty.
    pub(crate) fn is_empty(&self) -> bool {
        self.insns.is_empty()
    }
}
