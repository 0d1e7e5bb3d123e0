//! Where a pod's files live under podrt's root (DESIGN.md §3): one place that knows
//! the layout, so no other module joins path strings of its own.

use std::path::{Path, PathBuf};

/// podrt's default state root.
pub const DEFAULT_ROOT: &str = "/run/podrt";

/// The paths of one pod's state directory, `<root>/pods/<uid>/`.
#[derive(Debug, Clone)]
pub struct PodPaths {
    /// podrt's root (`--root`).
    pub(crate) root: PathBuf,
    /// `<root>/pods/<uid>`.
    pub(crate) dir: PathBuf,
}

impl PodPaths {
    /// The paths of the pod with `uid` under `root`.
    pub(crate) fn new(root: &Path, uid: &str) -> PodPaths {
        PodPaths {
            root: root.to_path_buf(),
            dir: pods_dir(root).join(uid),
        }
    }

    /// The paths of the pod whose directory is `dir` (`<root>/pods/<uid>`), for a
    /// process handed only that directory (the supervisor and its helpers).
    pub fn of_dir(dir: &Path) -> PodPaths {
        PodPaths {
            root: dir
                .parent()
                .and_then(Path::parent)
                .unwrap_or(Path::new("/"))
                .to_path_buf(),
            dir: dir.to_path_buf(),
        }
    }

    /// `pod.json`: the manifest, podrt's record and the last known status.
    pub(crate) fn record(&self) -> PathBuf {
        self.dir.join("pod.json")
    }

    /// The `flock` file serialising changes to this pod.
    pub(crate) fn lock(&self) -> PathBuf {
        self.dir.join("lock")
    }

    /// The pin (bind mount) of one of the pod's shared namespaces: `net`, `ipc`, `uts`.
    pub(crate) fn ns(&self, kind: &str) -> PathBuf {
        self.dir.join("ns").join(kind)
    }

    /// The pod's `/etc/hosts`, `/etc/hostname`, `/etc/resolv.conf`.
    pub(crate) fn etc(&self, file: &str) -> PathBuf {
        self.dir.join("etc").join(file)
    }

    /// Where volume `name` lives (emptyDir contents).
    pub(crate) fn volume(&self, name: &str) -> PathBuf {
        self.dir.join("volumes").join(name)
    }

    /// The directory of one container: rootfs, upper/work dirs, log.
    pub(crate) fn container(&self, name: &str) -> PathBuf {
        self.dir.join("containers").join(name)
    }

    /// The overlay mount point serving as a container's root filesystem.
    pub(crate) fn rootfs(&self, name: &str) -> PathBuf {
        self.container(name).join("rootfs")
    }

    /// A container's writable layer: the overlay's upper directory, holding
    /// what the container wrote to its root filesystem.
    pub fn writable_layer(&self, name: &str) -> PathBuf {
        self.container(name).join("upper")
    }

    /// A container's stdout and stderr, both appended to one file.
    pub fn log(&self, name: &str) -> PathBuf {
        self.container(name).join("log")
    }

    /// Held (shared) by every process deleting the pod: while it is locked, the
    /// deletion is under way and nobody needs to carry it on.
    pub(crate) fn delete_lock(&self) -> PathBuf {
        PodPaths::delete_lock_in(&self.dir)
    }

    /// Present once the pod's supervisor has ended its work (nothing of the pod
    /// will run again): a dead supervisor then needs no successor.
    pub(crate) fn supervisor_done(&self) -> PathBuf {
        PodPaths::supervisor_done_in(&self.dir)
    }

    /// [`PodPaths::supervisor_done`] of the pod directory `dir`.
    pub(crate) fn supervisor_done_in(dir: &Path) -> PathBuf {
        dir.join("supervisor.done")
    }

    /// [`PodPaths::delete_lock`] of the pod directory `dir`.
    pub(crate) fn delete_lock_in(dir: &Path) -> PathBuf {
        dir.join("delete.lock")
    }

    /// The runtime's state root for this pod's containers.
    pub(crate) fn runtime_root(&self) -> PathBuf {
        self.dir.join("runtime")
    }

    /// Present once the pod is being deleted: the supervisor restarts nothing then.
    pub(crate) fn terminating(&self) -> PathBuf {
        self.dir.join("terminating")
    }

    /// A container's state as its supervisor last saw it (restarts, last exit).
    pub(crate) fn container_state(&self, name: &str) -> PathBuf {
        self.container(name).join("state.json")
    }

    /// What the supervisor runs: written before it starts (`supervisor.json`).
    pub(crate) fn supervisor_plan(&self) -> PathBuf {
        self.dir.join("supervisor.json")
    }

    /// The supervisor's own log (its stderr after `apply` returns).
    pub(crate) fn supervisor_log(&self) -> PathBuf {
        self.dir.join("supervisor.log")
    }

    /// The pod's events (`describe pod`): what making its containers met.
    pub(crate) fn events(&self) -> PathBuf {
        self.dir.join("events.json")
    }
}

/// `<root>/pods`.
pub(crate) fn pods_dir(root: &Path) -> PathBuf {
    root.join("pods")
}

/// The lock taken while a pod name is being claimed, so two `apply`s of the same
/// name cannot both succeed.
pub(crate) fn names_lock(root: &Path) -> PathBuf {
    root.join("pods.lock")
}

/// Where the built-in network's `host-local` IPAM keeps its leases: under the
/// root, so they live and die with the pods (both go on reboot with `/run`).
pub(crate) fn ipam_dir(root: &Path) -> PathBuf {
    root.join("cni").join("networks")
}

/// The table of user-namespace id ranges taken by pods with `hostUsers: false`:
/// one file per taken range, named by its index (see [`crate::userns`]).
pub(crate) fn userns_dir(root: &Path) -> PathBuf {
    root.join("userns")
}

/// The file marking range `index` of [`userns_dir`] as taken; it holds the pod's UID.
pub(crate) fn userns_range(root: &Path, index: u32) -> PathBuf {
    userns_dir(root).join(index.to_string())
}

/// The `flock` file of [`userns_dir`]: shared while a range is taken, exclusive
/// while one is given back, so a file judged stale is the file removed.
pub(crate) fn userns_lock(root: &Path) -> PathBuf {
    root.join("userns.lock")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_paths_of_a_pod_directory_are_those_of_its_root_and_uid() {
        let root = Path::new("/run/podrt-x");
        let made = PodPaths::new(root, "u1");
        let found = PodPaths::of_dir(&made.dir);
        assert_eq!(found.root, made.root);
        assert_eq!(found.dir, made.dir);
        assert_eq!(found.container_state("c"), made.container_state("c"));
        assert_eq!(
            found.log("c"),
            Path::new("/run/podrt-x/pods/u1/containers/c/log")
        );
    }
}
