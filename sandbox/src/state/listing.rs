//! Finding pods under podrt's root: by name or UID, or all of them.

use std::path::Path;

use super::paths::{self, PodPaths};
use super::record::PodRecord;
use super::Sandbox;
use crate::error::{Error, Result};

/// Find the pod `name` of `namespace` (names are unique per namespace), or the
/// pod whose UID is `name`, whatever its namespace.
pub fn find(root: &Path, namespace: &str, name: &str) -> Result<Option<Sandbox>> {
    Ok(list_pod_sandboxes(root)?.into_iter().find(|s| {
        (s.record.name == name && s.record.namespace == namespace) || s.record.uid == name
    }))
}

/// Load the pod `name` of `namespace` (or by UID), or [`Error::PodNotFound`].
pub fn get(root: &Path, namespace: &str, name: &str) -> Result<Sandbox> {
    find(root, namespace, name)?.ok_or_else(|| Error::PodNotFound(not_found(namespace, name)))
}

/// The pod named in a not-found message: `web`, or `team-a/web` outside the
/// default namespace.
fn not_found(namespace: &str, name: &str) -> String {
    if namespace == "default" {
        name.to_string()
    } else {
        format!("{namespace}/{name}")
    }
}

/// `ListPodSandbox`: every pod under `root`, oldest first. Directories without a
/// readable record (a crash during creation) are skipped.
pub fn list_pod_sandboxes(root: &Path) -> Result<Vec<Sandbox>> {
    let dir = paths::pods_dir(root);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("listing", &dir, e)),
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let uid = entry.file_name().to_string_lossy().into_owned();
        let paths = PodPaths::new(root, &uid);
        if let Ok(record) = PodRecord::load(&paths.record()) {
            out.push(Sandbox { paths, record });
        }
    }
    out.sort_by(|a, b| a.record.created.cmp(&b.record.created));
    Ok(out)
}
