//! The table of host id ranges taken by pods in their own user namespace.
//!
//! The table is a directory, `<root>/userns/`, with one file per taken range,
//! named by its index and holding the UID of the pod that has it. A range is
//! taken by creating its file with `O_CREAT|O_EXCL`, so two pods made at once
//! never get the same range. Giving ranges back holds the table's lock
//! exclusively (taking one holds it shared): the file judged to be a pod's, or
//! stale, is then the file removed, never one a new pod took meanwhile.

use std::collections::HashSet;
use std::fs::OpenOptions;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use podrt_runtime::private_fs;

use super::options::UsernsOptions;
use crate::error::{Error, Result};
use crate::state::lock::Lock;
use crate::state::paths;
use crate::state::record::Allocation;

/// How many ids every pod's range has: uid and gid 0 to 65535 in the pod, as
/// kubelet gives each pod.
pub(crate) const RANGE_SIZE: u32 = 65536;

/// A taken range younger than this is never judged stale: its pod may not have
/// written its record yet.
pub(crate) const STALE_AFTER: Duration = Duration::from_secs(60);

/// A range given back by [`release_stale`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Released {
    /// The range's index.
    pub(crate) index: u32,
    /// The UID of the pod that had it (empty if its file was empty).
    pub(crate) pod_uid: String,
}

/// Take the first free range of `opts` for pod `pod_uid`.
///
/// Fails with an error naming `spec.hostUsers` when every range is taken.
pub(crate) fn allocate(root: &Path, pod_uid: &str, opts: &UsernsOptions) -> Result<Allocation> {
    let dir = paths::userns_dir(root);
    private_fs::own_dir(&dir).map_err(|e| Error::io("creating", &dir, e))?;
    let _lock = Lock::shared(&paths::userns_lock(root))?;
    let taken: HashSet<u32> = std::fs::read_dir(&dir)
        .map_err(|e| Error::io("reading", &dir, e))?
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    for index in (0..opts.ranges).filter(|i| !taken.contains(i)) {
        let Some(range) = opts.range(index) else {
            break;
        };
        let path = paths::userns_range(root, index);
        let mut file = match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(private_fs::FILE_MODE)
            .open(&path)
        {
            Ok(f) => f,
            // Another pod took it since the directory was read.
            Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Error::io("creating", &path, e)),
        };
        if let Err(e) = file.write_all(pod_uid.as_bytes()) {
            let _ = std::fs::remove_file(&path);
            return Err(Error::io("writing", &path, e));
        }
        return Ok(Allocation { index, range });
    }
    Err(Error::Unsupported {
        field: "spec.hostUsers".into(),
        message: format!(
            "all {} id ranges of the config's userNamespaces are in use by other pods \
             (raise userNamespaces.ranges in the config, or delete a pod with hostUsers: false)",
            opts.ranges
        ),
    })
}

/// Give range `index` back if pod `pod_uid` has it. Idempotent: a range already
/// given back, or another pod's, is left alone; a failure is only logged.
pub(crate) fn release(root: &Path, index: u32, pod_uid: &str) {
    let path = paths::userns_range(root, index);
    if !paths::userns_dir(root).is_dir() {
        return;
    }
    let _lock = match Lock::exclusive(&paths::userns_lock(root)) {
        Ok(lock) => lock,
        Err(e) => {
            tracing::warn!("giving back user namespace range {index}: {e}");
            return;
        }
    };
    match std::fs::read_to_string(&path) {
        Ok(owner) if owner.trim() == pod_uid => {
            if let Err(e) = std::fs::remove_file(&path) {
                tracing::warn!("giving back {}: {e}", path.display());
            }
        }
        Ok(owner) => tracing::debug!(
            "{} belongs to pod {:?}, not {pod_uid:?}: left alone",
            path.display(),
            owner.trim()
        ),
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => tracing::warn!("reading {}: {e}", path.display()),
    }
}

/// Give back every range whose pod is not `alive` (by UID), except ranges taken
/// in the last [`STALE_AFTER`]: for `podrt gc`. Returns what was given back.
pub(crate) fn release_stale(root: &Path, alive: &dyn Fn(&str) -> bool) -> Vec<Released> {
    let dir = paths::userns_dir(root);
    let mut out = Vec::new();
    if !dir.is_dir() {
        return out;
    }
    let _lock = match Lock::exclusive(&paths::userns_lock(root)) {
        Ok(lock) => lock,
        Err(e) => {
            tracing::warn!("giving back stale user namespace ranges: {e}");
            return out;
        }
    };
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return out;
    };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let Some(index) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        let path = entry.path();
        let young = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| now.duration_since(t).unwrap_or_default() < STALE_AFTER);
        let Ok(owner) = std::fs::read_to_string(&path) else {
            continue;
        };
        let pod_uid = owner.trim();
        if young || (!pod_uid.is_empty() && alive(pod_uid)) {
            continue;
        }
        match std::fs::remove_file(&path) {
            Ok(()) => out.push(Released {
                index,
                pod_uid: pod_uid.to_string(),
            }),
            Err(e) => tracing::warn!("giving back {}: {e}", path.display()),
        }
    }
    out.sort_by_key(|r| r.index);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("podrt-userns-{name}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn small(ranges: u32) -> UsernsOptions {
        UsernsOptions {
            ranges,
            ..UsernsOptions::default()
        }
    }

    /// Make range `index`'s file look taken long ago.
    fn age(root: &Path, index: u32) {
        let file = std::fs::File::options()
            .write(true)
            .open(paths::userns_range(root, index))
            .unwrap();
        file.set_modified(SystemTime::now() - 2 * STALE_AFTER)
            .unwrap();
    }

    #[test]
    fn two_pods_get_different_ranges_and_a_release_frees_one() {
        let root = scratch("two");
        let opts = small(4);
        let a = allocate(&root, "pod-a", &opts).unwrap();
        let b = allocate(&root, "pod-b", &opts).unwrap();
        assert_eq!((a.index, b.index), (0, 1));
        assert_eq!(a.range.first, opts.first_id);
        assert_eq!(b.range.first, opts.first_id + RANGE_SIZE);
        assert_eq!(b.range.map_line(), "0 1879113728 65536\n");
        assert_eq!(
            std::fs::read_to_string(paths::userns_range(&root, 1)).unwrap(),
            "pod-b"
        );
        release(&root, a.index, "pod-a");
        assert!(!paths::userns_range(&root, 0).exists());
        // Idempotent.
        release(&root, a.index, "pod-a");
        let c = allocate(&root, "pod-c", &opts).unwrap();
        assert_eq!(c.index, 0);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_full_table_names_the_field_and_the_setting() {
        let root = scratch("full");
        let opts = small(2);
        allocate(&root, "pod-a", &opts).unwrap();
        allocate(&root, "pod-b", &opts).unwrap();
        let e = allocate(&root, "pod-c", &opts).unwrap_err().to_string();
        assert_eq!(
            e,
            "spec.hostUsers: all 2 id ranges of the config's userNamespaces are in use by \
             other pods (raise userNamespaces.ranges in the config, or delete a pod with \
             hostUsers: false)"
        );
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn release_with_another_pods_uid_keeps_the_range() {
        let root = scratch("wrong");
        let a = allocate(&root, "pod-a", &small(2)).unwrap();
        release(&root, a.index, "pod-b");
        assert!(paths::userns_range(&root, a.index).exists());
        // A range never taken, and a table never made, are no errors.
        release(&root, 1, "pod-a");
        release(&root.join("none"), 0, "pod-a");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn stale_ranges_go_and_young_or_living_ones_stay() {
        let root = scratch("stale");
        let opts = small(4);
        for pod in ["dead", "alive", "young-dead"] {
            allocate(&root, pod, &opts).unwrap();
        }
        age(&root, 0);
        age(&root, 1);
        let released = release_stale(&root, &|uid| uid == "alive");
        assert_eq!(
            released,
            [Released {
                index: 0,
                pod_uid: "dead".into()
            }]
        );
        assert!(paths::userns_range(&root, 1).exists());
        assert!(paths::userns_range(&root, 2).exists());
        assert!(release_stale(&root.join("none"), &|_| false).is_empty());
        std::fs::remove_dir_all(&root).unwrap();
    }
}
