//! Linux namespaces: which to create and which to join by path.
//!
//! A PID namespace only applies to children, and a user namespace must own the
//! others, so both are created by the `clone` that starts init; a PID namespace given
//! by path is joined by the parent (`setns`) just around that `clone`. Every other
//! namespace is joined (`setns`) or created (`unshare`) by init itself, joined ones
//! first so a new namespace is created inside the joined user namespace.
//!
//! One exception, asked for with [`LATE_USERNS_ANNOTATION`]: a user namespace joined
//! by path is entered *last*, after the root filesystem is set up and just before
//! the process takes its identity. The mounts are then made by the host's root, who
//! can reach the bundle and the volumes in root-only directories, and the container's
//! root owns its namespaces' users but not its mount or PID namespace, so it cannot
//! undo a mount. Pods in their own user namespace (`hostUsers: false`) use it; their
//! mounts' ownership is translated with [`crate::id_map`].

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::PathBuf;

use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, Spec};

use crate::error::{Error, Result};
use crate::id_map::{IdMap, IdMaps};
use crate::sync::{Step, StepError};

/// Annotation (value `"true"`) that makes init enter a user namespace joined by path
/// after its mounts instead of before them. `linux.uidMappings`/`gidMappings` must
/// then describe the joined namespace's mapping, for the ownership of new mounts.
pub const LATE_USERNS_ANNOTATION: &str = "run.podrt.userns.enter-after-mounts";

/// A namespace to join: an open descriptor of its `/proc/.../ns/*` file or pin.
#[derive(Debug)]
pub(crate) struct JoinNs {
    /// The namespace file, opened in the parent.
    pub(crate) fd: OwnedFd,
    /// Its `CLONE_NEW*` type, checked by `setns`.
    pub(crate) nstype: libc::c_int,
    /// The path it came from, for messages.
    pub(crate) path: PathBuf,
}

/// Everything about namespaces the init sequence needs, prepared before fork.
#[derive(Debug, Default)]
pub(crate) struct NamespacePlan {
    /// Flags for the `clone` that creates init (`CLONE_NEWPID`, `CLONE_NEWUSER`).
    pub(crate) clone_flags: libc::c_int,
    /// Flags init passes to `unshare`.
    pub(crate) unshare_flags: libc::c_int,
    /// Namespaces init joins, user namespace first.
    pub(crate) join: Vec<JoinNs>,
    /// A PID namespace joined by the parent just before `clone`.
    pub(crate) join_pid: Option<JoinNs>,
    /// uid_map lines for a new user namespace.
    pub(crate) uid_map: String,
    /// gid_map lines for a new user namespace.
    pub(crate) gid_map: String,
    /// A user namespace joined by path that init enters after its mounts
    /// ([`LATE_USERNS_ANNOTATION`]).
    pub(crate) late_user: Option<JoinNs>,
    /// The mapping of `late_user`, from `linux.uidMappings`/`gidMappings`.
    pub(crate) late_maps: IdMaps,
}

/// The `CLONE_NEW*` flag of a namespace type.
pub(crate) fn clone_flag(typ: LinuxNamespaceType) -> libc::c_int {
    match typ {
        LinuxNamespaceType::Mount => libc::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => libc::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => libc::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => libc::CLONE_NEWIPC,
        LinuxNamespaceType::User => libc::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => libc::CLONE_NEWPID,
        LinuxNamespaceType::Network => libc::CLONE_NEWNET,
        LinuxNamespaceType::Time => libc::CLONE_NEWTIME,
    }
}

/// The file name under `/proc/<pid>/ns/` of a namespace type.
pub(crate) fn proc_name(typ: LinuxNamespaceType) -> &'static str {
    match typ {
        LinuxNamespaceType::Mount => "mnt",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "net",
        LinuxNamespaceType::Time => "time",
    }
}

fn open_ns(path: &std::path::Path, field: &str) -> Result<OwnedFd> {
    let file = std::fs::File::open(path).map_err(|e| {
        Error::spec(
            field,
            format!("cannot open namespace {}: {e}", path.display()),
        )
    })?;
    Ok(OwnedFd::from(file))
}

fn id_map(maps: &Option<Vec<LinuxIdMapping>>) -> String {
    maps.iter()
        .flatten()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

impl NamespacePlan {
    /// Build the plan from `linux.namespaces`, opening every path to join.
    pub(crate) fn from_spec(spec: &Spec) -> Result<NamespacePlan> {
        let mut plan = NamespacePlan::default();
        let Some(linux) = spec.linux() else {
            return Err(Error::spec("linux", "missing: podrt needs a Linux spec"));
        };
        let mut seen = 0;
        let mut has_mount = false;
        let mut user_join = None;
        for (i, ns) in linux.namespaces().iter().flatten().enumerate() {
            let field = format!("linux.namespaces[{i}]");
            let flag = clone_flag(ns.typ());
            if seen & flag != 0 {
                return Err(Error::spec(
                    &field,
                    format!("namespace type {} listed twice", proc_name(ns.typ())),
                ));
            }
            seen |= flag;
            if ns.typ() == LinuxNamespaceType::Mount {
                if ns.path().is_some() {
                    return Err(Error::spec(
                        format!("{field}.path"),
                        "joining an existing mount namespace is not supported: the root filesystem needs a new one",
                    ));
                }
                has_mount = true;
            }
            match ns.path() {
                Some(path) => {
                    let join = JoinNs {
                        fd: open_ns(path, &format!("{field}.path"))?,
                        nstype: flag,
                        path: path.clone(),
                    };
                    match ns.typ() {
                        LinuxNamespaceType::Pid => plan.join_pid = Some(join),
                        LinuxNamespaceType::User => user_join = Some(join),
                        _ => plan.join.push(join),
                    }
                }
                None => match ns.typ() {
                    LinuxNamespaceType::Pid | LinuxNamespaceType::User => plan.clone_flags |= flag,
                    LinuxNamespaceType::Time => {
                        return Err(Error::spec(&field, "time namespaces are not supported"))
                    }
                    _ => plan.unshare_flags |= flag,
                },
            }
        }
        if !has_mount {
            return Err(Error::spec(
                "linux.namespaces",
                "a new mount namespace (type \"mount\") is required to set up the root filesystem",
            ));
        }
        let late = spec
            .annotations()
            .as_ref()
            .and_then(|a| a.get(LATE_USERNS_ANNOTATION))
            .is_some_and(|v| v == "true");
        match user_join {
            Some(user) if late => {
                plan.late_maps = IdMaps {
                    uids: IdMap::from_spec(linux.uid_mappings().as_deref().unwrap_or(&[])),
                    gids: IdMap::from_spec(linux.gid_mappings().as_deref().unwrap_or(&[])),
                };
                if plan.late_maps.uids.is_empty() || plan.late_maps.gids.is_empty() {
                    return Err(Error::spec(
                        "linux.uidMappings",
                        format!("entering the user namespace after the mounts ({LATE_USERNS_ANNOTATION}) needs uidMappings and gidMappings describing it"),
                    ));
                }
                plan.late_user = Some(user);
                return Ok(plan);
            }
            Some(user) => plan.join.insert(0, user),
            None if late => {
                return Err(Error::spec(
                    format!("annotations.{LATE_USERNS_ANNOTATION}"),
                    "needs a user namespace joined by path (linux.namespaces type \"user\" with a path)",
                ))
            }
            None => {}
        }
        if plan.clone_flags & libc::CLONE_NEWUSER != 0 {
            plan.uid_map = id_map(linux.uid_mappings());
            plan.gid_map = id_map(linux.gid_mappings());
            if plan.uid_map.is_empty() || plan.gid_map.is_empty() {
                return Err(Error::spec(
                    "linux.uidMappings",
                    "a new user namespace needs uidMappings and gidMappings",
                ));
            }
        } else if linux.uid_mappings().as_ref().is_some_and(|m| !m.is_empty()) {
            return Err(Error::spec(
                "linux.uidMappings",
                "id mappings are given but no new user namespace is requested",
            ));
        }
        Ok(plan)
    }

    /// Does the spec create a new UTS namespace (or join one)?
    pub(crate) fn has(&self, flag: libc::c_int) -> bool {
        (self.clone_flags | self.unshare_flags) & flag != 0
            || self.join.iter().any(|j| j.nstype == flag)
            || (flag == libc::CLONE_NEWUSER && self.late_user.is_some())
            || (flag == libc::CLONE_NEWPID && self.join_pid.is_some())
    }

    /// Write the id maps of a new user namespace for `pid` (parent side).
    pub(crate) fn write_id_maps(&self, pid: i32) -> Result<()> {
        if self.clone_flags & libc::CLONE_NEWUSER == 0 {
            return Ok(());
        }
        for (file, map) in [("uid_map", &self.uid_map), ("gid_map", &self.gid_map)] {
            let path = format!("/proc/{pid}/{file}");
            std::fs::write(&path, map.as_bytes()).map_err(|e| {
                Error::io(
                    format!("writing {path} ({})", map.trim().replace('\n', ", ")),
                    e,
                )
            })?;
        }
        Ok(())
    }

    /// Join and create namespaces in init. Async-signal-safe.
    pub(crate) fn enter(&self) -> std::result::Result<(), StepError> {
        let new_user = self.clone_flags & libc::CLONE_NEWUSER != 0;
        if new_user {
            become_ns_root()?;
        }
        for (i, ns) in self.join.iter().enumerate() {
            // SAFETY: setns on a descriptor we own; the type is checked by the kernel.
            if unsafe { libc::setns(ns.fd.as_raw_fd(), ns.nstype) } < 0 {
                return Err(StepError::last(Step::JoinNamespace, i as u32));
            }
            if ns.nstype == libc::CLONE_NEWUSER {
                become_ns_root()?;
            }
        }
        // SAFETY: unshare only affects the calling (single-threaded) process.
        if self.unshare_flags != 0 && unsafe { libc::unshare(self.unshare_flags) } < 0 {
            return Err(StepError::last(Step::Unshare, 0));
        }
        Ok(())
    }

    /// Enter the user namespace joined late ([`LATE_USERNS_ANNOTATION`]), if any, and
    /// become its root. Async-signal-safe.
    pub(crate) fn enter_late_user(&self) -> std::result::Result<(), StepError> {
        let Some(user) = &self.late_user else {
            return Ok(());
        };
        // SAFETY: setns on a descriptor we own; the type is checked by the kernel.
        if unsafe { libc::setns(user.fd.as_raw_fd(), libc::CLONE_NEWUSER) } < 0 {
            return Err(StepError::last(Step::JoinNamespace, LATE_USER_INDEX));
        }
        become_ns_root()
    }

    /// The descriptor of the user namespace the container joins by path (for
    /// idmapped mounts), if it joins one.
    pub(crate) fn joined_user_fd(&self) -> Option<RawFd> {
        self.late_user
            .iter()
            .chain(self.join.iter())
            .find(|j| j.nstype == libc::CLONE_NEWUSER)
            .map(|j| j.fd.as_raw_fd())
    }

    /// Describe a failed join for the parent's error message.
    pub(crate) fn describe_join(&self, index: u32) -> String {
        let join = if index == LATE_USER_INDEX {
            self.late_user.as_ref()
        } else {
            self.join.get(index as usize)
        };
        join.map(|j| format!("joining namespace {}", j.path.display()))
            .unwrap_or_else(|| "joining a namespace".into())
    }
}

/// [`StepError::index`] of a failed late user namespace join.
const LATE_USER_INDEX: u32 = u32::MAX;

/// In a user namespace our kernel credentials are still the host's (unmapped there):
/// switch to the namespace's root, which the id maps turn into a mapped host id, so
/// files we create (mount points, device nodes) get a valid owner. Async-signal-safe.
fn become_ns_root() -> std::result::Result<(), StepError> {
    // SAFETY: plain syscalls with integer arguments.
    unsafe {
        if libc::setresgid(0, 0, 0) < 0 {
            return Err(StepError::last(Step::Setgid, 0));
        }
        if libc::setresuid(0, 0, 0) < 0 {
            return Err(StepError::last(Step::Setuid, 0));
        }
    }
    Ok(())
}

/// Join the PID namespace at `fd` for our future children, returning a descriptor of
/// our own so [`restore_pid_ns`] can switch back once init is cloned.
pub(crate) fn enter_pid_ns_for_children(join: &JoinNs) -> Result<OwnedFd> {
    let own = open_ns(std::path::Path::new("/proc/self/ns/pid"), "pid namespace")?;
    // SAFETY: setns with a descriptor we own; only affects pid_for_children.
    if unsafe { libc::setns(join.fd.as_raw_fd(), libc::CLONE_NEWPID) } < 0 {
        return Err(Error::io(
            format!("joining PID namespace {}", join.path.display()),
            std::io::Error::last_os_error(),
        ));
    }
    Ok(own)
}

/// Switch `pid_for_children` back to the namespace saved by [`enter_pid_ns_for_children`].
pub(crate) fn restore_pid_ns(own: RawFd) -> Result<()> {
    // SAFETY: setns with a descriptor we own.
    if unsafe { libc::setns(own, libc::CLONE_NEWPID) } < 0 {
        return Err(Error::io(
            "returning to the runtime's PID namespace",
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}
