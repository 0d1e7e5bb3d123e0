//! `podrt check`: what this host offers podrt and what podrt cannot do here,
//! in the spirit of `runc features` and `podman info`. Everything is read from
//! the kernel and the disk (`/proc`, the cgroup mounts, the CNI dirs); nothing
//! is changed, and what a probe makes (a user namespace, detached idmapped
//! mounts) is gone when it returns. A `Missing` item stops pods from running at all; a
//! `Limited` one says which feature is lost and why.

use std::path::{Path, PathBuf};

use crate::network::NetworkOptions;
use crate::userns::{probe, UsernsOptions, RANGE_SIZE};

/// How an item stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Present and usable.
    Ok,
    /// Usable, with something podrt cannot do (see the detail).
    Limited,
    /// Pods cannot run without it.
    Missing,
}

impl Status {
    /// `ok`, `limited`, `missing`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Limited => "limited",
            Status::Missing => "missing",
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone)]
pub struct Item {
    /// What was checked (`kernel`, `namespaces`, `cgroups`, …).
    pub name: &'static str,
    /// How it stands.
    pub status: Status,
    /// What was found, and what follows from it.
    pub detail: String,
}

fn item(name: &'static str, status: Status, detail: impl Into<String>) -> Item {
    Item {
        name,
        status,
        detail: detail.into(),
    }
}

/// The whole report for a podrt using the state `root`, the image store
/// `image_root`, `network` and `userns`.
pub fn report(
    root: &Path,
    image_root: &Path,
    network: &NetworkOptions,
    userns: &UsernsOptions,
) -> Vec<Item> {
    vec![
        kernel(),
        user(),
        namespaces(),
        cgroups(),
        overlay(),
        seccomp(),
        capabilities(),
        pidfd(),
        safe_lookups(),
        masked_paths(),
        cni(root, network),
        state_root("state", root),
        state_root("images", image_root),
        user_namespaces(&[("state root", root), ("image store", image_root)], userns),
    ]
}

/// Whether pods with `hostUsers: false` can be made: a user namespace, and
/// idmapped mounts where their layers and emptyDirs live (the image store and
/// the pod directories, both under the state root) and on tmpfs (emptyDir
/// `medium: Memory`).
/// Whether pods in their own user namespace can be made: `places` (named) are
/// where their volumes and image layers live, each idmapped into the pod.
fn user_namespaces(places: &[(&str, &Path)], opts: &UsernsOptions) -> Item {
    const NAME: &str = "user namespaces";
    let userns = match probe::scratch_userns() {
        Ok(fd) => fd,
        Err(e) => {
            let e = match e.raw_os_error() {
                Some(libc::ENOSPC) => format!("{e}: sysctl user.max_user_namespaces is reached"),
                _ => e.to_string(),
            };
            return if opts.default_host_users {
                item(
                    NAME,
                    Status::Limited,
                    format!("cannot create one ({e}): pods with hostUsers: false are refused"),
                )
            } else {
                item(
                    NAME,
                    Status::Missing,
                    format!(
                        "cannot create one ({e}): the config's userNamespaces.defaultHostUsers: \
                         false puts every pod that shares nothing of the host in one, so those \
                         are refused"
                    ),
                )
            };
        }
    };
    let mut lacking = Vec::new();
    let mut filesystems = Vec::new();
    for (what, place) in places {
        let dir = existing(place);
        let fs = filesystem(&dir);
        match probe::can_idmap_dir(&dir, &userns) {
            Ok(true) => filesystems.push(fs),
            Ok(false) => lacking.push(format!(
                "the {what} ({fs} at {}) has no idmapped mounts: pods with hostUsers: false \
                 are refused (their image layers and volumes live there)",
                dir.display()
            )),
            Err(e) => lacking.push(format!(
                "probing idmapped mounts on {}: {e}: pods with hostUsers: false may be refused",
                dir.display()
            )),
        }
    }
    match probe::can_idmap_tmpfs(&userns) {
        Ok(true) => {}
        Ok(false) => lacking.push(
            "tmpfs has no idmapped mounts before Linux 6.3: pods with hostUsers: false and \
             emptyDir medium: Memory are refused"
                .to_string(),
        ),
        Err(e) => lacking.push(format!(
            "probing idmapped mounts on tmpfs: {e}: pods with hostUsers: false and emptyDir \
             medium: Memory may be refused"
        )),
    }
    if !lacking.is_empty() {
        return item(NAME, Status::Limited, lacking.join("; "));
    }
    let who = if opts.default_host_users {
        "hostUsers: false pods"
    } else {
        "hostUsers: false pods, and pods without hostUsers that share nothing of the host,"
    };
    item(
        NAME,
        Status::Ok,
        format!(
            "idmapped mounts work on the state root and image store ({}) and tmpfs; {who} \
             get ranges of {RANGE_SIZE} ids from {} ({} ranges)",
            filesystems.join(", "),
            opts.first_id,
            opts.ranges
        ),
    )
}

/// `path`, or its nearest ancestor that exists.
fn existing(path: &Path) -> PathBuf {
    path.ancestors()
        .find(|p| p.exists())
        .unwrap_or(Path::new("/"))
        .to_path_buf()
}

/// The name of the filesystem `path` is on (`ext4`, `xfs`, `tmpfs`, …).
fn filesystem(path: &Path) -> String {
    use nix::sys::statfs::{self, FsType};
    let Ok(fs) = statfs::statfs(path) else {
        return "unknown filesystem".into();
    };
    let known: [(FsType, &str); 7] = [
        (statfs::EXT4_SUPER_MAGIC, "ext4"),
        (statfs::XFS_SUPER_MAGIC, "xfs"),
        (statfs::BTRFS_SUPER_MAGIC, "btrfs"),
        (statfs::TMPFS_MAGIC, "tmpfs"),
        (statfs::OVERLAYFS_SUPER_MAGIC, "overlayfs"),
        (statfs::F2FS_SUPER_MAGIC, "f2fs"),
        (statfs::NFS_SUPER_MAGIC, "nfs"),
    ];
    let kind = fs.filesystem_type();
    known
        .iter()
        .find(|(magic, _)| *magic == kind)
        .map(|(_, name)| name.to_string())
        .unwrap_or_else(|| format!("filesystem type {:#x}", kind.0))
}

fn kernel() -> Item {
    let release = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    let version: Vec<u32> = release
        .split(|c: char| !c.is_ascii_digit())
        .take(2)
        .filter_map(|p| p.parse().ok())
        .collect();
    // pidfd_open (5.3) and the cgroup v2 freezer (5.2) are the newest things podrt needs.
    if version.as_slice() >= [5, 3].as_slice() {
        item("kernel", Status::Ok, format!("Linux {release}"))
    } else {
        item(
            "kernel",
            Status::Missing,
            format!("Linux {release}: podrt needs 5.3 or later (pidfd_open)"),
        )
    }
}

/// Whether a syscall exists: called with arguments it must refuse, anything but
/// `ENOSYS` means the kernel has it.
fn has_syscall(nr: libc::c_long) -> bool {
    // SAFETY: every probed call gets a bad descriptor (-1) and null pointers, which
    // the kernel rejects (EBADF/EFAULT/EINVAL) before touching anything.
    let rc = unsafe { libc::syscall(nr, -1, std::ptr::null::<u8>(), 0, std::ptr::null::<u8>(), 0) };
    rc == 0 || nix::errno::Errno::last_raw() != libc::ENOSYS
}

/// How mount targets and subPaths are looked up (see `podrt_runtime::in_root`).
fn safe_lookups() -> Item {
    let openat2 = has_syscall(libc::SYS_openat2);
    let mount_api = has_syscall(libc::SYS_open_tree) && has_syscall(libc::SYS_mount_setattr);
    let mut limits = Vec::new();
    if !openat2 {
        limits.push("no openat2 (Linux < 5.6): paths inside a container's root and subPaths are walked one component at a time with O_NOFOLLOW");
    }
    if !mount_api {
        limits.push("no open_tree/mount_setattr (Linux < 5.12): binds use mount(2) and a remount checked against the source");
    }
    if limits.is_empty() {
        item(
            "safe lookups",
            Status::Ok,
            "openat2 (targets resolved inside the root), open_tree + mount_setattr + move_mount (binds through descriptors)",
        )
    } else {
        item("safe lookups", Status::Limited, limits.join("; "))
    }
}

fn user() -> Item {
    if nix::unistd::geteuid().is_root() {
        item("user", Status::Ok, "root")
    } else {
        item(
            "user",
            Status::Missing,
            "not root: podrt creates namespaces, mounts and cgroups, run it as root",
        )
    }
}

fn namespaces() -> Item {
    let kinds = ["mnt", "uts", "ipc", "net", "pid", "cgroup", "user", "time"];
    let have: Vec<&str> = kinds
        .iter()
        .copied()
        .filter(|k| Path::new("/proc/self/ns").join(k).exists())
        .collect();
    let missing: Vec<&str> = ["mnt", "uts", "ipc", "net", "pid", "cgroup"]
        .into_iter()
        .filter(|k| !have.contains(k))
        .collect();
    if missing.is_empty() {
        item("namespaces", Status::Ok, have.join(" "))
    } else {
        item(
            "namespaces",
            Status::Missing,
            format!("have {}; missing {}", have.join(" "), missing.join(" ")),
        )
    }
}

fn cgroups() -> Item {
    let hierarchies = podrt_runtime::cgroups::hierarchies();
    let unified = hierarchies
        .iter()
        .any(|(p, v2)| *v2 && p == Path::new("/sys/fs/cgroup"));
    let controllers: Vec<String> = if unified {
        std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers")
            .unwrap_or_default()
            .split_whitespace()
            .map(String::from)
            .collect()
    } else {
        let mut c: Vec<String> = hierarchies
            .iter()
            .filter(|(_, v2)| !v2)
            .filter_map(|(p, _)| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .flat_map(|n| n.split(',').map(String::from).collect::<Vec<_>>())
            .filter(|n| n != "systemd" && n != "unified")
            .collect();
        c.sort();
        c.dedup();
        c
    };
    if hierarchies.is_empty() {
        return item(
            "cgroups",
            Status::Missing,
            "no cgroup filesystem is mounted",
        );
    }
    let layout = if unified {
        "v2 (unified)"
    } else if hierarchies.iter().any(|(_, v2)| *v2) {
        "hybrid (v1 controllers, v2 unified beside them)"
    } else {
        "v1"
    };
    let lacking: Vec<&str> = ["memory", "cpu", "pids", "cpuset"]
        .into_iter()
        .filter(|c| !controllers.iter().any(|have| have == c))
        .collect();
    let detail = format!("{layout}; controllers {}", controllers.join(" "));
    if lacking.is_empty() {
        item("cgroups", Status::Ok, detail)
    } else {
        item(
            "cgroups",
            Status::Limited,
            format!(
                "{detail}; no {}: those limits cannot be set",
                lacking.join(", ")
            ),
        )
    }
}

fn overlay() -> Item {
    let filesystems = std::fs::read_to_string("/proc/filesystems").unwrap_or_default();
    if filesystems
        .lines()
        .any(|l| l.trim_end().ends_with("overlay"))
    {
        return item("overlayfs", Status::Ok, "in /proc/filesystems");
    }
    let release = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    let module = Path::new("/lib/modules")
        .join(&release)
        .join("kernel/fs/overlayfs");
    if module.exists() {
        item("overlayfs", Status::Ok, "a module, loaded on first mount")
    } else {
        item(
            "overlayfs",
            Status::Missing,
            "not in /proc/filesystems and no module: image roots cannot be mounted",
        )
    }
}

fn seccomp() -> Item {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let actions =
        std::fs::read_to_string("/proc/sys/kernel/seccomp/actions_avail").unwrap_or_default();
    if status
        .lines()
        .any(|l| l.starts_with("Seccomp_filters:") || l.starts_with("Seccomp:"))
        && !actions.is_empty()
    {
        item(
            "seccomp",
            Status::Ok,
            format!("filters; actions {}", actions.trim()),
        )
    } else {
        item(
            "seccomp",
            Status::Limited,
            "no seccomp filters: RuntimeDefault and Localhost profiles cannot be applied",
        )
    }
}

fn capabilities() -> Item {
    let held = caps::read(None, caps::CapSet::Permitted).unwrap_or_default();
    let mut lacking: Vec<String> = caps::all()
        .into_iter()
        .filter(|c| !held.contains(c))
        .map(|c| c.to_string())
        .collect();
    lacking.sort();
    if lacking.is_empty() {
        item("capabilities", Status::Ok, "every capability")
    } else if held.contains(&caps::Capability::CAP_SYS_ADMIN) {
        item(
            "capabilities",
            Status::Limited,
            format!(
                "podrt lacks {}: privileged containers do not get {}",
                lacking.join(", "),
                if lacking.len() == 1 { "it" } else { "them" }
            ),
        )
    } else {
        item(
            "capabilities",
            Status::Missing,
            format!(
                "podrt lacks {} (CAP_SYS_ADMIN among them)",
                lacking.join(", ")
            ),
        )
    }
}

fn pidfd() -> Item {
    // SAFETY: pidfd_open of our own PID; the descriptor is closed at once.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, std::process::id(), 0) };
    if fd >= 0 {
        // SAFETY: closing the descriptor just opened.
        unsafe { libc::close(fd as i32) };
        item("pidfd", Status::Ok, "pidfd_open works")
    } else {
        item(
            "pidfd",
            Status::Limited,
            format!("pidfd_open: {}", std::io::Error::last_os_error()),
        )
    }
}

fn masked_paths() -> Item {
    let absent: Vec<&str> = [
        "/proc/kcore",
        "/proc/sysrq-trigger",
        "/proc/timer_list",
        "/proc/keys",
        "/proc/latency_stats",
        "/proc/sched_debug",
    ]
    .into_iter()
    .filter(|p| !Path::new(p).exists())
    .collect();
    if absent.is_empty() {
        item("/proc", Status::Ok, "every masked path exists")
    } else {
        item(
            "/proc",
            Status::Ok,
            format!(
                "{} absent on this kernel (nothing to mask there)",
                absent.join(" ")
            ),
        )
    }
}

fn cni(root: &Path, network: &NetworkOptions) -> Item {
    let list = match crate::network::resolve(network, root) {
        Ok(l) => l,
        Err(e) => {
            return item(
                "cni",
                Status::Missing,
                format!("{e}: only hostNetwork pods can run"),
            )
        }
    };
    let source = list
        .source
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "built-in".into());
    let types: Vec<String> = list
        .plugins
        .iter()
        .filter_map(|p| p["type"].as_str().map(String::from))
        .collect();
    let found = |t: &str| crate::cni::exec::plugin_path(t, &network.bin_dirs).is_some();
    let missing: Vec<&str> = types
        .iter()
        .map(String::as_str)
        .filter(|t| !found(t))
        .collect();
    let dirs: Vec<String> = network
        .bin_dirs
        .iter()
        .map(|d| d.display().to_string())
        .collect();
    let detail = format!("network {} ({source}): {}", list.name, types.join(", "));
    if missing.iter().any(|t| *t != "portmap") {
        return item(
            "cni",
            Status::Missing,
            format!(
                "{detail}; {} not in {}: only hostNetwork pods can run",
                missing.join(", "),
                dirs.join(":")
            ),
        );
    }
    if missing.contains(&"portmap") {
        return item(
            "cni",
            Status::Limited,
            format!(
                "{detail}; portmap not in {}: hostPort cannot be used",
                dirs.join(":")
            ),
        );
    }
    let iptables = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
                .any(|d| d.join("iptables").is_file())
        })
        .unwrap_or(false);
    if types.iter().any(|t| t == "portmap") && !iptables {
        return item(
            "cni",
            Status::Limited,
            format!("{detail}; no iptables: portmap, and so hostPort, cannot work"),
        );
    }
    item("cni", Status::Ok, detail)
}

/// Whether `root` (shown as `name`) can be written, or made where it is missing.
fn state_root(name: &'static str, root: &Path) -> Item {
    let mut at = root;
    while !at.exists() {
        match at.parent() {
            Some(p) => at = p,
            None => break,
        }
    }
    match nix::unistd::access(at, nix::unistd::AccessFlags::W_OK) {
        Ok(()) => item(name, Status::Ok, format!("{} (writable)", root.display())),
        Err(e) => item(
            name,
            Status::Missing,
            format!("{}: {} is not writable: {e}", root.display(), at.display()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[ignore = "needs root: scripts/test.sh runs it"]
    fn every_item_reports_and_this_host_can_run_pods() {
        let dir = std::env::temp_dir().join(format!("podrt-check-{}", std::process::id()));
        let opts = NetworkOptions {
            conf_dir: dir.join("net.d"),
            ..NetworkOptions::default()
        };
        let items = report(&dir, &dir.join("images"), &opts, &UsernsOptions::default());
        let names: Vec<&str> = items.iter().map(|i| i.name).collect();
        for want in [
            "kernel",
            "namespaces",
            "cgroups",
            "overlayfs",
            "seccomp",
            "capabilities",
            "cni",
            "state",
            "images",
        ] {
            assert!(names.contains(&want), "{want} missing from {names:?}");
        }
        assert!(items.iter().all(|i| !i.detail.is_empty()));
        let kernel = items.iter().find(|i| i.name == "kernel").unwrap();
        assert_eq!(kernel.status, Status::Ok, "{}", kernel.detail);
        // podrt's tests run as root on Linux ≥ 6.3.
        let userns = items.iter().find(|i| i.name == "user namespaces").unwrap();
        assert_eq!(userns.status, Status::Ok, "{}", userns.detail);
        assert!(
            userns.detail.contains("from 1879048192 (4096 ranges)"),
            "{}",
            userns.detail
        );
    }
}
