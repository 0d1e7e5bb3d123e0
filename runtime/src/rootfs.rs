//! The container's root filesystem, in the order the kernel needs it:
//! stop mount events reaching the host, make the rootfs a mount point, mount the
//! spec's mounts and create `/dev`, pivot, then — with the container's `/proc`
//! in place — write sysctls, mask and seal paths, and make `/` read-only last.

use std::ffi::CString;
use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;

use crate::cgroups;
use crate::devices::DevicePlan;
use crate::error::{Error, Result};
use crate::mounts::{bind_remount, cstring, plan_mount, sys_mount, MountOp, Root, UserNsView};
use crate::namespaces::NamespacePlan;
use crate::pivot_root;
use crate::sync::{Step, StepError};

/// Everything init does to the filesystem, prepared before fork.
#[derive(Debug, Default)]
pub(crate) struct RootfsPlan {
    /// Absolute path of the rootfs on the host.
    pub(crate) rootfs: CString,
    /// Propagation for `/` before anything is mounted (`MS_SLAVE|MS_REC` by default).
    pub(crate) root_propagation: libc::c_ulong,
    /// `rootfsPropagation` to apply to the new `/` after pivot, if given.
    pub(crate) rootfs_propagation: Option<libc::c_ulong>,
    /// Spec mounts in order.
    pub(crate) mounts: Vec<MountOp>,
    /// Device nodes and symlinks.
    pub(crate) devices: DevicePlan,
    /// Use move+chroot instead of pivot_root.
    pub(crate) no_pivot: bool,
    /// sysctl files (`/proc/sys/...`) and values.
    pub(crate) sysctls: Vec<(CString, CString)>,
    /// Paths hidden behind /dev/null or an empty read-only tmpfs.
    pub(crate) masked: Vec<CString>,
    /// Paths made read-only.
    pub(crate) readonly: Vec<CString>,
    /// Remount `/` read-only at the end.
    pub(crate) readonly_root: bool,
    /// The mount point holding the rootfs: made private before pivot_root, which the
    /// kernel refuses when the new root's parent mount is shared.
    pub(crate) rootfs_parent: Option<CString>,
    /// Bind the old way (`mount(2)` plus a checked remount) even where the kernel has
    /// `open_tree`/`mount_setattr`: only the test-only fault switch sets it.
    pub(crate) legacy_binds: bool,
    /// The joined user namespace's descriptor (owned by the [`NamespacePlan`]) that
    /// `idmap` binds are mapped with; -1 when the container joins none.
    pub(crate) userns_fd: std::os::fd::RawFd,
}

fn propagation_flag(value: &str) -> Result<libc::c_ulong> {
    Ok(match value {
        "shared" => libc::MS_SHARED,
        "rshared" => libc::MS_SHARED | libc::MS_REC,
        "slave" => libc::MS_SLAVE,
        "rslave" => libc::MS_SLAVE | libc::MS_REC,
        "private" => libc::MS_PRIVATE,
        "rprivate" => libc::MS_PRIVATE | libc::MS_REC,
        "unbindable" => libc::MS_UNBINDABLE,
        "runbindable" => libc::MS_UNBINDABLE | libc::MS_REC,
        other => {
            return Err(Error::spec(
                "linux.rootfsPropagation",
                format!(
                    "{other:?} is not one of shared, slave, private, unbindable (or r-prefixed)"
                ),
            ))
        }
    })
}

/// Check that a sysctl is namespaced by a namespace the container has, as runc does.
fn check_sysctl(key: &str, ns: &NamespacePlan) -> Result<()> {
    let field = format!("linux.sysctl.{key}");
    let ipc = [
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    if ipc.contains(&key) || key.starts_with("fs.mqueue.") {
        if ns.has(libc::CLONE_NEWIPC) {
            return Ok(());
        }
        return Err(Error::spec(field, "needs an IPC namespace"));
    }
    if key.starts_with("net.") {
        if ns.has(libc::CLONE_NEWNET) {
            return Ok(());
        }
        return Err(Error::spec(
            field,
            "needs a network namespace (refused in the host's)",
        ));
    }
    if key == "kernel.hostname" || key == "kernel.domainname" {
        if ns.has(libc::CLONE_NEWUTS) {
            return Ok(());
        }
        return Err(Error::spec(field, "needs a UTS namespace"));
    }
    Err(Error::spec(
        field,
        "is not namespaced: it would change the host",
    ))
}

impl RootfsPlan {
    /// Prepare the filesystem steps of `spec`; `cgroup_path` serves `cgroup` mounts.
    pub(crate) fn from_spec(
        spec: &Spec,
        rootfs: &Path,
        ns: &NamespacePlan,
        cgroup_path: &str,
        no_pivot: bool,
    ) -> Result<RootfsPlan> {
        let linux = spec.linux().clone().unwrap_or_default();
        let mut plan = RootfsPlan {
            rootfs: cstring(rootfs, "root.path")?,
            root_propagation: libc::MS_SLAVE | libc::MS_REC,
            no_pivot,
            legacy_binds: crate::fault::active(crate::fault::LEGACY_BINDS),
            userns_fd: ns.joined_user_fd().unwrap_or(-1),
            readonly_root: spec
                .root()
                .as_ref()
                .and_then(|r| r.readonly())
                .unwrap_or(false),
            ..RootfsPlan::default()
        };
        plan.rootfs_parent = crate::mountinfo::read_own()
            .ok()
            .and_then(|text| mount_point_of(&text, rootfs))
            .map(|p| cstring(&p, "root.path"))
            .transpose()?;
        if crate::fault::active(crate::fault::NO_OPENAT2) {
            crate::in_root::force_walk();
        }
        if let Some(p) = linux.rootfs_propagation() {
            let flag = propagation_flag(p)?;
            plan.root_propagation = flag;
            plan.rootfs_propagation = Some(flag);
        }
        for (i, m) in spec.mounts().iter().flatten().enumerate() {
            if m.typ().as_deref() == Some("cgroup") || m.typ().as_deref() == Some("cgroup2") {
                plan.mounts
                    .extend(cgroups::plan_mount(rootfs, m, i, cgroup_path)?);
            } else {
                let userns = UserNsView {
                    can_idmap: ns.joined_user_fd().is_some(),
                    late_maps: ns.late_user.as_ref().map(|_| &ns.late_maps),
                };
                plan.mounts.push(plan_mount(rootfs, m, i, userns)?);
            }
        }
        let userns = ns.clone_flags & libc::CLONE_NEWUSER != 0
            || ns.join.iter().any(|j| j.nstype == libc::CLONE_NEWUSER);
        plan.devices =
            DevicePlan::from_spec(rootfs, linux.devices().as_deref().unwrap_or(&[]), userns)?;
        let mut keys: Vec<_> = linux.sysctl().iter().flatten().collect();
        keys.sort();
        for (k, v) in keys {
            check_sysctl(k, ns)?;
            let path = format!("/proc/sys/{}", k.replace('.', "/"));
            plan.sysctls
                .push((cstring(&path, "linux.sysctl")?, cstring(v, "linux.sysctl")?));
        }
        for (i, p) in linux.masked_paths().iter().flatten().enumerate() {
            plan.masked
                .push(cstring(p, &format!("linux.maskedPaths[{i}]"))?);
        }
        for (i, p) in linux.readonly_paths().iter().flatten().enumerate() {
            plan.readonly
                .push(cstring(p, &format!("linux.readonlyPaths[{i}]"))?);
        }
        Ok(plan)
    }

    /// Describe a failed step for the parent's error message.
    pub(crate) fn describe(&self, step: Step, index: u32) -> String {
        let i = index as usize;
        match step {
            Step::MountTarget => format!("creating the mount point of {}", self.mount_name(i)),
            Step::Mount | Step::Remount => format!("mounting {}", self.mount_name(i)),
            Step::CopyUp => format!(
                "copying the image's files into {} (tmpcopyup)",
                self.mount_name(i)
            ),
            Step::Device => self
                .devices
                .nodes
                .get(i)
                .map(|d| format!("creating device {}", d.describe))
                .unwrap_or_else(|| "creating a device".into()),
            Step::DevSymlink => "creating a /dev symlink".into(),
            Step::MaskPath => format!("masking {}", show(self.masked.get(i))),
            Step::ReadonlyPath => format!("making {} read-only", show(self.readonly.get(i))),
            Step::Sysctl => format!("writing sysctl {}", show(self.sysctls.get(i).map(|s| &s.0))),
            Step::ReadonlyRoot => "remounting the root filesystem read-only".into(),
            Step::PivotRoot => format!("pivot_root into {}", self.rootfs.to_string_lossy()),
            Step::RootfsBind => {
                format!("bind-mounting the rootfs {}", self.rootfs.to_string_lossy())
            }
            _ => format!("{step:?}"),
        }
    }

    fn mount_name(&self, i: usize) -> String {
        self.mounts
            .get(i)
            .map(|m| m.describe.clone())
            .unwrap_or_else(|| format!("mount {i}"))
    }

    /// Everything before `pivot_root`. Async-signal-safe.
    pub(crate) fn prepare(&self) -> std::result::Result<(), StepError> {
        sys_mount(None, c"/", None, self.root_propagation, None).map_err(|errno| StepError {
            step: Step::RootPropagation,
            errno,
            index: 0,
        })?;
        if let Some(parent) = &self.rootfs_parent {
            sys_mount(None, parent, None, libc::MS_PRIVATE, None).map_err(|errno| StepError {
                step: Step::RootPropagation,
                errno,
                index: 1,
            })?;
        }
        sys_mount(
            Some(&self.rootfs),
            &self.rootfs,
            None,
            libc::MS_BIND | libc::MS_REC,
            None,
        )
        .map_err(|errno| StepError {
            step: Step::RootfsBind,
            errno,
            index: 0,
        })?;
        // Every target is looked up from this descriptor, opened after the self-bind so
        // it sees the mounts made below; it is closed before pivot_root.
        let root = crate::in_root::openat2(
            libc::AT_FDCWD,
            &self.rootfs,
            libc::O_PATH | libc::O_DIRECTORY,
            0,
        )
        .map_err(|errno| StepError {
            step: Step::RootfsBind,
            errno,
            index: 1,
        })?;
        let ctx = Root {
            fd: root.0,
            prefix_len: self.rootfs.to_bytes().len(),
            legacy_binds: self.legacy_binds,
            userns_fd: self.userns_fd,
        };
        for (i, m) in self.mounts.iter().enumerate() {
            m.apply(i as u32, &ctx)?;
        }
        drop(root);
        self.devices.apply()
    }

    /// `pivot_root` (or move+chroot). Async-signal-safe.
    pub(crate) fn pivot(&self) -> std::result::Result<(), StepError> {
        if self.no_pivot {
            pivot_root::move_root(&self.rootfs)
        } else {
            pivot_root::pivot_root(&self.rootfs)
        }
    }

    /// Everything after `pivot_root`. Async-signal-safe.
    pub(crate) fn finish(&self) -> std::result::Result<(), StepError> {
        if let Some(flag) = self.rootfs_propagation {
            sys_mount(None, c"/", None, flag, None).map_err(|errno| StepError {
                step: Step::RootfsPropagation,
                errno,
                index: 0,
            })?;
        }
        for (i, (path, value)) in self.sysctls.iter().enumerate() {
            write_file(path, value.to_bytes()).map_err(|errno| StepError {
                step: Step::Sysctl,
                errno,
                index: i as u32,
            })?;
        }
        for (i, p) in self.masked.iter().enumerate() {
            mask_path(p).map_err(|errno| StepError {
                step: Step::MaskPath,
                errno,
                index: i as u32,
            })?;
        }
        for (i, p) in self.readonly.iter().enumerate() {
            readonly_path(p).map_err(|errno| StepError {
                step: Step::ReadonlyPath,
                errno,
                index: i as u32,
            })?;
        }
        if self.readonly_root {
            bind_remount(
                c"/",
                libc::MS_RDONLY | (crate::mounts::locked_flags(c"/") & !libc::MS_RDONLY),
            )
            .map_err(|errno| StepError {
                step: Step::ReadonlyRoot,
                errno,
                index: 0,
            })?;
        }
        Ok(())
    }
}

/// The longest mount point in `mountinfo` that contains `path`.
pub(crate) fn mount_point_of(mountinfo: &str, path: &Path) -> Option<PathBuf> {
    crate::mountinfo::parse(mountinfo)
        .map(|m| m.mount_point)
        .filter(|mp| path.starts_with(mp))
        .max_by_key(|mp| mp.as_os_str().len())
}

fn show(p: Option<&CString>) -> String {
    p.map(|c| c.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn write_file(path: &CString, data: &[u8]) -> std::result::Result<(), i32> {
    // SAFETY: open/write/close on a valid path and a slice we own.
    unsafe {
        let fd = libc::open(
            path.as_ptr(),
            libc::O_WRONLY | libc::O_CLOEXEC | libc::O_TRUNC,
        );
        if fd < 0 {
            return Err(nix::errno::Errno::last_raw());
        }
        let n = libc::write(fd, data.as_ptr() as *const libc::c_void, data.len());
        let e = nix::errno::Errno::last_raw();
        libc::close(fd);
        if n < 0 {
            return Err(e);
        }
    }
    Ok(())
}

/// Hide a path: a directory gets an empty read-only tmpfs, anything else /dev/null.
fn mask_path(p: &CString) -> std::result::Result<(), i32> {
    // SAFETY: stat into a zeroed struct we own.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: see above.
    if unsafe { libc::stat(p.as_ptr(), &mut st) } < 0 {
        let e = nix::errno::Errno::last_raw();
        return if e == libc::ENOENT { Ok(()) } else { Err(e) };
    }
    if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
        sys_mount(Some(c"tmpfs"), p, Some(c"tmpfs"), libc::MS_RDONLY, None)
    } else {
        sys_mount(Some(c"/dev/null"), p, None, libc::MS_BIND, None)
    }
}

/// Bind a path onto itself and remount the bind read-only.
fn readonly_path(p: &CString) -> std::result::Result<(), i32> {
    match sys_mount(Some(p), p, None, libc::MS_BIND | libc::MS_REC, None) {
        Err(libc::ENOENT) => return Ok(()),
        r => r?,
    }
    bind_remount(p, libc::MS_RDONLY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_mount_holding_a_path() {
        let mi = "\
22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
30 22 0:26 / /run rw shared:5 - tmpfs tmpfs rw
31 30 0:27 / /run/my\\040dir rw shared:6 - tmpfs tmpfs rw
";
        assert_eq!(
            mount_point_of(mi, Path::new("/work/x")),
            Some(PathBuf::from("/"))
        );
        assert_eq!(
            mount_point_of(mi, Path::new("/run/a/b")),
            Some(PathBuf::from("/run"))
        );
        assert_eq!(
            mount_point_of(mi, Path::new("/run/my dir/r")),
            Some(PathBuf::from("/run/my dir"))
        );
        assert_eq!(
            mount_point_of(mi, Path::new("/runner")),
            Some(PathBuf::from("/"))
        );
    }
}
