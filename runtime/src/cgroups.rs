//! Control groups through `cgroups-rs`'s OCI manager, v1 and v2 alike.
//!
//! The hierarchy is detected, never assumed: hosts with a cgroup2 mount at
//! `/sys/fs/cgroup` are v2, anything else (including the hybrid layout where v1
//! controllers sit beside a small `unified` cgroup2 mount) is driven as v1. The
//! container's limits come straight from `linux.resources`; the runtime adds the
//! device rules that its default `/dev` nodes need, as runc does. The `cgroup` mount
//! type is expanded here too, because only this module knows the hierarchies.

use std::path::{Path, PathBuf};

use cgroups_rs::manager::{FsManager, Manager};
use cgroups_rs::CgroupPid;
use oci_spec::runtime::{
    LinuxDeviceCgroup, LinuxDeviceCgroupBuilder, LinuxDeviceType, LinuxResources, Mount, Spec,
};

use crate::device_filter::DeviceFilter;
use crate::error::{Error, Result};
use crate::mounts::{cstring, parse_options, secure_join, MountOp, TargetKind};

/// Where cgroup hierarchies are mounted.
pub(crate) const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// A container's cgroup, created on first use.
pub struct Cgroup {
    path: String,
    manager: FsManager,
}

impl std::fmt::Debug for Cgroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cgroup").field("path", &self.path).finish()
    }
}

/// Is this host on the unified (v2-only) hierarchy?
pub(crate) fn is_v2() -> bool {
    cgroups_rs::fs::hierarchies::is_cgroup2_unified_mode()
}

/// The cgroup path for a spec: `linux.cgroupsPath`, or `/podrt/<id>`.
pub(crate) fn path_for(spec: &Spec, id: &str) -> Result<String> {
    let given = spec
        .linux()
        .as_ref()
        .and_then(|l| l.cgroups_path().clone())
        .map(|p| p.to_string_lossy().into_owned())
        .filter(|p| !p.is_empty());
    let path = match given {
        Some(p) if p.split(':').count() == 3 && !p.starts_with('/') => {
            return Err(Error::spec(
                "linux.cgroupsPath",
                format!("{p:?} is a systemd slice path; podrt drives cgroupfs directly (no --systemd-cgroup)"),
            ))
        }
        Some(p) => {
            if p.split('/').any(|c| c == "..") {
                return Err(Error::spec("linux.cgroupsPath", format!("{p:?} must not contain \"..\"")));
            }
            if p.starts_with('/') {
                p
            } else {
                format!("/{p}")
            }
        }
        None => format!("/podrt/{id}"),
    };
    Ok(path)
}

fn cg_err(path: &str, what: &str, e: impl std::fmt::Display) -> Error {
    Error::Cgroup {
        path: path.to_string(),
        message: format!("{what}: {e}"),
    }
}

/// Check `linux.resources.hugepageLimits` against the page sizes this kernel has
/// (cgroups-rs skips unknown sizes silently).
pub(crate) fn check_hugepages(spec: &Spec) -> Result<()> {
    let limits = spec
        .linux()
        .as_ref()
        .and_then(|l| l.resources().as_ref())
        .and_then(|r| r.hugepage_limits().clone())
        .unwrap_or_default();
    for (i, l) in limits.iter().enumerate() {
        let size = l.page_size();
        let kb = parse_page_size(size).ok_or_else(|| {
            Error::spec(
                format!("linux.resources.hugepageLimits[{i}].pageSize"),
                format!("{size:?} is not a size like 2MB or 1GB"),
            )
        })?;
        let dir = format!("/sys/kernel/mm/hugepages/hugepages-{kb}kB");
        if !Path::new(&dir).is_dir() {
            return Err(Error::spec(
                format!("linux.resources.hugepageLimits[{i}].pageSize"),
                format!("this kernel has no {size} huge pages ({dir} is missing)"),
            ));
        }
    }
    Ok(())
}

/// `2MB` → 2048 (kB).
fn parse_page_size(s: &str) -> Option<u64> {
    let upper = s.trim().to_ascii_uppercase();
    let (num, unit) = upper.split_at(upper.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = num.parse().ok()?;
    let mult = match unit.trim_end_matches('B') {
        "K" => 1,
        "M" => 1024,
        "G" => 1024 * 1024,
        _ => return None,
    };
    Some(n * mult)
}

/// Device rules every container needs for its default `/dev`, allowed after the
/// spec's own rules (which usually start by denying everything).
pub(crate) fn default_device_rules() -> Vec<LinuxDeviceCgroup> {
    let rule = |typ, major: Option<i64>, minor: Option<i64>, access: &str| {
        LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .typ(typ)
            .major(major.unwrap_or(-1))
            .minor(minor.unwrap_or(-1))
            .access(access)
            .build()
            .ok()
    };
    let c = LinuxDeviceType::C;
    [
        rule(c, Some(1), Some(3), "rwm"), // null
        rule(c, Some(1), Some(5), "rwm"), // zero
        rule(c, Some(1), Some(7), "rwm"), // full
        rule(c, Some(1), Some(8), "rwm"), // random
        rule(c, Some(1), Some(9), "rwm"), // urandom
        rule(c, Some(5), Some(0), "rwm"), // tty
        rule(c, Some(5), Some(1), "rwm"), // console
        rule(c, Some(5), Some(2), "rwm"), // ptmx
        rule(c, Some(136), None, "rwm"),  // pts/*
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The resources to apply: the spec's, plus the default device rules and an allow
/// rule for every device in `linux.devices`.
pub(crate) fn effective_resources(spec: &Spec) -> LinuxResources {
    let linux = spec.linux().clone().unwrap_or_default();
    let mut res = linux.resources().clone().unwrap_or_default();
    let mut devices = res.devices().clone().unwrap_or_default();
    devices.extend(default_device_rules());
    for d in linux.devices().iter().flatten() {
        if d.typ() == LinuxDeviceType::P {
            continue; // a FIFO is not a device the device cgroup controls
        }
        if let Ok(rule) = LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .typ(d.typ())
            .major(d.major())
            .minor(d.minor())
            .access("rwm")
            .build()
        {
            devices.push(rule);
        }
    }
    res.set_devices(Some(devices));
    res
}

/// The test-only fault [`crate::fault::CGROUP_V2_LIMITS`]: v2 limits are not written.
fn without_limits_if_faulted(r: &mut LinuxResources) {
    if crate::fault::active(crate::fault::CGROUP_V2_LIMITS) {
        r.set_memory(None);
        r.set_cpu(None);
        r.set_pids(None);
    }
}

impl Cgroup {
    /// A handle on the cgroup at `path` (relative to each hierarchy's root).
    pub fn open(path: &str) -> Result<Cgroup> {
        // cgroups-rs joins this onto each hierarchy root: it must be relative, or the
        // join would replace the root with an absolute path.
        let rel = path.trim_start_matches('/');
        if rel.is_empty() {
            return Err(cg_err(
                path,
                "refusing",
                "the root cgroup cannot be a container's",
            ));
        }
        let manager =
            FsManager::new(rel).map_err(|e| cg_err(path, "reading cgroup hierarchies", e))?;
        Ok(Cgroup {
            path: path.to_string(),
            manager,
        })
    }

    /// Does the cgroup exist?
    pub fn exists(&self) -> bool {
        self.manager.exists()
    }

    /// Create the cgroup, move `pid` into it and apply `resources`.
    pub(crate) fn enter_and_apply(&mut self, pid: i32, resources: &LinuxResources) -> Result<()> {
        let path = self.path.clone();
        self.manager
            .add_proc(CgroupPid::from(pid as u64))
            .map_err(|e| cg_err(&path, &format!("adding process {pid}"), e))?;
        if self.manager.v2() {
            // cgroup v2 has no devices controller: the rules become an eBPF program
            // attached to the container's directory, and cgroups-rs gets the rest.
            let rules = resources.devices().clone().unwrap_or_default();
            let filter = DeviceFilter::compile(&rules).map_err(Error::DeviceFilter)?;
            let dir = Path::new(CGROUP_ROOT).join(path.trim_start_matches('/'));
            filter.attach(&dir).map_err(Error::DeviceFilter)?;
        }
        self.manager
            .set(&self.without_v2_devices(resources))
            .map_err(|e| cg_err(&path, "applying linux.resources", e))
    }

    /// On v2 the device rules are not cgroup files (see [`Cgroup::enter_and_apply`]).
    fn without_v2_devices(&self, resources: &LinuxResources) -> LinuxResources {
        let mut r = resources.clone();
        if self.manager.v2() {
            r.set_devices(None);
            without_limits_if_faulted(&mut r);
        }
        r
    }

    /// Move a further process (exec) into the cgroup.
    pub(crate) fn add(&mut self, pid: i32) -> Result<()> {
        let path = self.path.clone();
        self.manager
            .add_proc(CgroupPid::from(pid as u64))
            .map_err(|e| cg_err(&path, &format!("adding process {pid}"), e))
    }

    /// Create the cgroup with no process in it and apply `resources` (no device
    /// rules): a parent such as a pod's, whose children hold the processes.
    pub fn create_parent(&mut self, resources: &LinuxResources) -> Result<()> {
        let path = self.path.clone();
        let rel = path.trim_start_matches('/');
        cgroups_rs::fs::Cgroup::new(cgroups_rs::fs::hierarchies::auto(), rel)
            .map_err(|e| cg_err(&path, "creating", e))?;
        let mut r = resources.clone();
        r.set_devices(None);
        if self.manager.v2() {
            without_limits_if_faulted(&mut r);
        }
        self.manager
            .set(&r)
            .map_err(|e| cg_err(&path, "applying the pod's resources", e))
    }

    /// Apply new limits (`update`).
    /// `resources.devices`, when non-empty, is the container's whole rule list,
    /// nothing is added to it: the rules for the default `/dev` must be in it. On
    /// cgroup v2 it is compiled to a filter that replaces the one attached at create
    /// (see [`DeviceFilter::replace`]: the new filter is attached before the old one
    /// goes); cgroups-rs gets the other limits.
    pub(crate) fn update(&mut self, resources: &LinuxResources) -> Result<()> {
        let path = self.path.clone();
        if self.manager.v2() {
            if let Some(rules) = resources.devices().as_ref().filter(|d| !d.is_empty()) {
                let filter = DeviceFilter::compile(rules).map_err(Error::DeviceFilter)?;
                let dir = Path::new(CGROUP_ROOT).join(path.trim_start_matches('/'));
                filter.replace(&dir).map_err(Error::DeviceFilter)?;
            }
        }
        self.manager
            .set(&self.without_v2_devices(resources))
            .map_err(|e| cg_err(&path, "updating resources", e))
    }

    /// Every PID in the cgroup.
    pub(crate) fn pids(&self) -> Vec<i32> {
        if !self.exists() {
            return Vec::new();
        }
        self.manager
            .pids()
            .map(|v| v.into_iter().map(|p| p.pid as i32).collect())
            .unwrap_or_default()
    }

    /// Freeze or thaw every process.
    pub(crate) fn set_frozen(&self, frozen: bool) -> Result<()> {
        let state = if frozen {
            cgroups_rs::FreezerState::Frozen
        } else {
            cgroups_rs::FreezerState::Thawed
        };
        self.manager
            .freeze(state)
            .map_err(|e| cg_err(&self.path, if frozen { "freezing" } else { "thawing" }, e))
    }

    /// Is the cgroup frozen?
    pub(crate) fn is_frozen(&self) -> bool {
        frozen_at(&self.path)
    }

    /// Remove the cgroup directories (the processes must be gone).
    pub fn destroy(&mut self) -> Result<()> {
        let path = self.path.clone();
        // A killed process leaves its cgroup a moment after it is reaped.
        let mut last = None;
        for _ in 0..200 {
            match self.manager.destroy() {
                Ok(()) => {
                    remove_leftover_dirs(&path);
                    return Ok(());
                }
                Err(e) => last = Some(e.to_string()),
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        Err(cg_err(&path, "removing", last.unwrap_or_default()))
    }
}

/// Read the freezer state without building a manager.
pub(crate) fn frozen_at(path: &str) -> bool {
    let rel = path.trim_start_matches('/');
    if is_v2() {
        std::fs::read_to_string(Path::new(CGROUP_ROOT).join(rel).join("cgroup.freeze"))
            .map(|s| s.trim() == "1")
            .unwrap_or(false)
    } else {
        std::fs::read_to_string(
            Path::new(CGROUP_ROOT)
                .join("freezer")
                .join(rel)
                .join("freezer.state"),
        )
        .map(|s| s.trim() == "FROZEN")
        .unwrap_or(false)
    }
}

/// cgroups-rs removes the hierarchies it drives; remove our directory from any other
/// mounted hierarchy (name=systemd, the hybrid `unified` mount) it left behind.
/// Parents that became empty (the `/podrt` of `/podrt/<id>`) go too, best effort: a
/// parent still holding another container's cgroup refuses with EBUSY/ENOTEMPTY.
fn remove_leftover_dirs(path: &str) {
    let rel = path.trim_start_matches('/');
    for (mountpoint, _) in hierarchies() {
        let dir = mountpoint.join(rel);
        if dir != mountpoint && dir.is_dir() {
            let _ = std::fs::remove_dir(&dir);
        }
    }
}

/// Remove the parents of cgroup `path` that are left empty, in every hierarchy,
/// up to (not including) the hierarchy roots: a standalone container's
/// `/podrt-vm` once its last container is gone. Never called for a container
/// inside a pod, whose parent is the pod's cgroup and keeps the pod's limits
/// while the container is restarted.
pub fn prune_empty_parents(path: &str) {
    let rel = path.trim_start_matches('/');
    for (mountpoint, _) in hierarchies() {
        let mut dir = mountpoint.join(rel);
        while dir.pop() && dir.starts_with(&mountpoint) && dir != mountpoint {
            if !dir.is_dir() {
                continue;
            }
            if std::fs::remove_dir(&dir).is_err() {
                break;
            }
        }
    }
}

/// Mounted cgroup hierarchies: (mount point, is v2).
pub fn hierarchies() -> Vec<(PathBuf, bool)> {
    crate::mountinfo::read_own()
        .map(|text| parse_hierarchies(&text))
        .unwrap_or_default()
}

/// The cgroup mounts listed in a mountinfo text.
pub(crate) fn parse_hierarchies(mountinfo: &str) -> Vec<(PathBuf, bool)> {
    crate::mountinfo::parse(mountinfo)
        .filter_map(|m| match m.fs_type.as_str() {
            "cgroup" => Some((m.mount_point, false)),
            "cgroup2" => Some((m.mount_point, true)),
            _ => None,
        })
        .collect()
}

/// How cgroups are mounted on this host.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    /// Pure cgroup v2 at [`CGROUP_ROOT`].
    pub(crate) v2: bool,
    /// Every mounted hierarchy.
    pub(crate) hierarchies: Vec<(PathBuf, bool)>,
}

impl Layout {
    /// Read the host's layout.
    pub(crate) fn detect() -> Layout {
        Layout {
            v2: is_v2(),
            hierarchies: hierarchies(),
        }
    }
}

/// Expand a `cgroup` mount: one bind of the container's own cgroup directory per
/// hierarchy (under a tmpfs on v1), so the container sees only its subtree.
pub(crate) fn plan_mount(
    rootfs: &Path,
    m: &Mount,
    index: usize,
    cgroup_path: &str,
) -> Result<Vec<MountOp>> {
    plan_mount_in(&Layout::detect(), rootfs, m, index, cgroup_path)
}

/// [`plan_mount`] for a given layout (unit tests cover both v1 and v2 with it).
pub(crate) fn plan_mount_in(
    layout: &Layout,
    rootfs: &Path,
    m: &Mount,
    index: usize,
    cgroup_path: &str,
) -> Result<Vec<MountOp>> {
    let field = format!("mounts[{index}]");
    let opts = parse_options(m.options().as_deref().unwrap_or(&[]), &field)?;
    let dest = secure_join(rootfs, m.destination());
    let rel = cgroup_path.trim_start_matches('/');
    let flags = opts.flags & !libc::MS_RDONLY;
    let mut ops = Vec::new();
    let bind = |src: &Path, target: &Path, what: String| -> Result<MountOp> {
        Ok(MountOp {
            source: Some(cstring(src, &field)?),
            target: cstring(target, &field)?,
            fstype: None,
            flags: libc::MS_BIND | libc::MS_REC,
            data: None,
            remount_flags: Some(opts.flags | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC),
            propagation: Vec::new(),
            kind: TargetKind::Dir,
            fallback_bind: None,
            optional: true,
            describe: what,
            copy_up: None,
            idmap: false,
        })
    };
    if layout.v2 {
        let src = Path::new(CGROUP_ROOT).join(rel);
        ops.push(bind(
            &src,
            &dest,
            format!("{field} (cgroup2 on {})", m.destination().display()),
        )?);
        return Ok(ops);
    }
    ops.push(MountOp {
        source: Some(cstring("tmpfs", &field)?),
        target: cstring(&dest, &field)?,
        fstype: Some(cstring("tmpfs", &field)?),
        flags: flags | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
        data: Some(cstring("mode=755", &field)?),
        remount_flags: None,
        propagation: Vec::new(),
        kind: TargetKind::Dir,
        fallback_bind: None,
        optional: false,
        describe: format!("{field} (cgroup tmpfs on {})", m.destination().display()),
        copy_up: None,
        idmap: false,
    });
    for (mountpoint, _) in &layout.hierarchies {
        let Ok(sub) = mountpoint.strip_prefix(CGROUP_ROOT) else {
            continue;
        };
        let src = mountpoint.join(rel);
        // The container's directory is made later, when init joins the cgroup.
        if sub.as_os_str().is_empty() {
            continue;
        }
        let target = dest.join(sub);
        let what = format!(
            "{field} (cgroup {} on {})",
            sub.display(),
            m.destination().display()
        );
        ops.push(bind(&src, &target, what)?);
    }
    if opts.flags & libc::MS_RDONLY != 0 {
        // Seal the tmpfs last, once every hierarchy directory is mounted on it.
        ops.push(MountOp {
            source: None,
            target: cstring(&dest, &field)?,
            fstype: None,
            flags: libc::MS_REMOUNT
                | libc::MS_RDONLY
                | libc::MS_NOSUID
                | libc::MS_NODEV
                | libc::MS_NOEXEC,
            data: None,
            remount_flags: None,
            propagation: Vec::new(),
            kind: TargetKind::Dir,
            fallback_bind: None,
            optional: false,
            describe: format!("{field} (read-only cgroup tmpfs)"),
            copy_up: None,
            idmap: false,
        });
    }
    Ok(ops)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cgroup_mount() -> Mount {
        serde_json::from_str(
            r#"{"destination":"/sys/fs/cgroup","type":"cgroup","source":"cgroup","options":["nosuid","ro"]}"#,
        )
        .unwrap()
    }

    const HYBRID: &str = "\
30 25 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw
33 30 0:29 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,memory
34 30 0:30 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,pids
";

    #[test]
    fn parses_hybrid_mountinfo() {
        let h = parse_hierarchies(HYBRID);
        assert_eq!(
            h,
            vec![
                (PathBuf::from("/sys/fs/cgroup/unified"), true),
                (PathBuf::from("/sys/fs/cgroup/memory"), false),
                (PathBuf::from("/sys/fs/cgroup/pids"), false),
            ]
        );
    }

    #[test]
    fn a_hierarchy_mounted_at_a_path_with_a_space_is_found_there() {
        let h = parse_hierarchies(
            "40 30 0:31 / /mnt/my\\040cgroups rw,nosuid shared:16 - cgroup2 cgroup2 rw\n",
        );
        assert_eq!(h, vec![(PathBuf::from("/mnt/my cgroups"), true)]);
    }

    #[test]
    fn v1_cgroup_mount_is_a_tmpfs_with_one_bind_per_hierarchy_then_sealed() {
        let layout = Layout {
            v2: false,
            hierarchies: parse_hierarchies(HYBRID),
        };
        let ops = plan_mount_in(&layout, Path::new("/r"), &cgroup_mount(), 4, "/podrt/c1").unwrap();
        let targets: Vec<_> = ops
            .iter()
            .map(|o| o.target.to_str().unwrap().to_string())
            .collect();
        assert_eq!(
            targets,
            [
                "/r/sys/fs/cgroup",
                "/r/sys/fs/cgroup/unified",
                "/r/sys/fs/cgroup/memory",
                "/r/sys/fs/cgroup/pids",
                "/r/sys/fs/cgroup"
            ]
        );
        assert_eq!(
            ops[2].source.as_deref().unwrap().to_str().unwrap(),
            "/sys/fs/cgroup/memory/podrt/c1"
        );
        assert!(
            ops[2].optional,
            "a hierarchy without the container's directory is skipped"
        );
        assert_ne!(ops[2].remount_flags.unwrap() & libc::MS_RDONLY, 0);
        assert_ne!(
            ops[4].flags & libc::MS_RDONLY,
            0,
            "the tmpfs is sealed read-only last"
        );
        assert!(ops[0].describe.contains("mounts[4]"));
    }

    #[test]
    fn v2_cgroup_mount_binds_the_container_directory() {
        let layout = Layout {
            v2: true,
            hierarchies: vec![(PathBuf::from("/sys/fs/cgroup"), true)],
        };
        let ops = plan_mount_in(&layout, Path::new("/r"), &cgroup_mount(), 0, "/podrt/c2").unwrap();
        assert_eq!(ops.len(), 1);
        assert_eq!(
            ops[0].source.as_deref().unwrap().to_str().unwrap(),
            "/sys/fs/cgroup/podrt/c2"
        );
        assert_eq!(ops[0].target.to_str().unwrap(), "/r/sys/fs/cgroup");
        assert_ne!(ops[0].remount_flags.unwrap() & libc::MS_RDONLY, 0);
    }

    #[test]
    fn page_sizes() {
        assert_eq!(parse_page_size("2MB"), Some(2048));
        assert_eq!(parse_page_size("1GB"), Some(1048576));
        assert_eq!(parse_page_size("64KB"), Some(64));
        assert_eq!(parse_page_size("3XB"), None);
        assert_eq!(parse_page_size("MB"), None);
    }

    #[test]
    fn cgroup_paths() {
        let spec = |p: &str| -> Spec {
            serde_json::from_str(&format!(
                r#"{{"ociVersion":"1.0.2","linux":{{"cgroupsPath":"{p}"}}}}"#
            ))
            .unwrap()
        };
        let none: Spec = serde_json::from_str(r#"{"ociVersion":"1.0.2"}"#).unwrap();
        assert_eq!(path_for(&none, "abc").unwrap(), "/podrt/abc");
        assert_eq!(path_for(&spec("/a/b"), "x").unwrap(), "/a/b");
        assert_eq!(path_for(&spec("a/b"), "x").unwrap(), "/a/b");
        assert!(path_for(&spec("/a/../b"), "x").is_err());
        assert!(path_for(&spec("system.slice:podrt:abc"), "x")
            .unwrap_err()
            .to_string()
            .contains("systemd"));
    }

    #[test]
    fn default_devices_are_allowed_after_the_spec_rules() {
        let spec: Spec = serde_json::from_str(
            r#"{"ociVersion":"1.0.2","linux":{"resources":{"devices":[{"allow":false,"access":"rwm"}]},
                "devices":[{"path":"/dev/fuse","type":"c","major":10,"minor":229}]}}"#,
        )
        .unwrap();
        let res = effective_resources(&spec);
        let devs = res.devices().as_ref().unwrap();
        assert!(!devs[0].allow(), "the spec's deny-all stays first");
        assert!(devs
            .iter()
            .any(|d| d.allow() && d.major() == Some(1) && d.minor() == Some(3)));
        assert!(devs
            .iter()
            .any(|d| d.allow() && d.major() == Some(10) && d.minor() == Some(229)));
    }
}
