//! The desired state on disk: one JSON file per object, under
//! `STATE_DIR/objects/<resource>.<group>/<namespace>/<name>.json`
//! (`deployments.apps/default/web.json`). It lives under `--state-dir`
//! (`/var/lib/podrt`), not under `/run`, so the workloads survive a reboot and
//! `podrt serve` brings their pods back.
//!
//! Writes are atomic (a temporary file, fsync, rename), so a process killed at
//! any point leaves the old object or the new one. Whoever changes objects holds
//! the store's lock ([`Store::lock`]): the agent for one reconcile pass, a
//! command for one apply or delete.

mod lock;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::{Metadata, Resource};
use podrt_sandbox::runtime::private_fs;
use serde::de::DeserializeOwned;
use serde::Serialize;

pub use lock::StoreLock;

use crate::error::{Error, Result};

/// The default `--state-dir`.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/podrt";

pub use crate::objects::DEFAULT_NAMESPACE;

/// A kind the store keeps.
pub trait Stored:
    Resource + Metadata<Ty = ObjectMeta> + Serialize + DeserializeOwned + Clone + PartialEq
{
    /// Whether `self` and `other` want the same thing (spec, labels,
    /// annotations), whatever their status and bookkeeping.
    fn same_desire(&self, other: &Self) -> bool;

    /// Takes `old`'s status (an apply changes only what the user wrote).
    fn keep_status(&mut self, old: &Self);

    /// Fills in what the API server adds once the object has its uid (a Job's
    /// defaults and generated selector); nothing for most kinds.
    fn complete(&mut self) {}

    /// Whether objects of the kind live in a namespace (a Namespace does not).
    const NAMESPACED: bool = true;
}

impl Stored for k8s_openapi::api::core::v1::Namespace {
    fn same_desire(&self, other: &Self) -> bool {
        self.spec == other.spec && same_user_meta(&self.metadata, &other.metadata)
    }
    fn keep_status(&mut self, old: &Self) {
        self.status = old.status.clone();
    }
    fn complete(&mut self) {
        crate::objects::complete_namespace(self);
    }
    const NAMESPACED: bool = false;
}

impl Stored for crate::objects::PodSecurityPolicyObject {
    fn same_desire(&self, other: &Self) -> bool {
        self.spec == other.spec && same_user_meta(&self.metadata, &other.metadata)
    }
    fn keep_status(&mut self, _old: &Self) {}
    const NAMESPACED: bool = false;
}

impl Stored for k8s_openapi::api::core::v1::Secret {
    fn same_desire(&self, other: &Self) -> bool {
        self.data == other.data
            && self.type_ == other.type_
            && self.immutable == other.immutable
            && same_user_meta(&self.metadata, &other.metadata)
    }
    fn keep_status(&mut self, _old: &Self) {}
    fn complete(&mut self) {
        crate::objects::complete_secret(self);
    }
}

impl Stored for k8s_openapi::api::apps::v1::DaemonSet {
    fn same_desire(&self, other: &Self) -> bool {
        self.spec == other.spec && same_user_meta(&self.metadata, &other.metadata)
    }
    fn keep_status(&mut self, old: &Self) {
        self.status = old.status.clone();
    }
}

impl Stored for k8s_openapi::api::core::v1::Service {
    fn same_desire(&self, other: &Self) -> bool {
        self.spec == other.spec && same_user_meta(&self.metadata, &other.metadata)
    }
    fn keep_status(&mut self, old: &Self) {
        self.status = old.status.clone();
    }
}

impl Stored for k8s_openapi::api::core::v1::Endpoints {
    fn same_desire(&self, other: &Self) -> bool {
        self.subsets == other.subsets && same_user_meta(&self.metadata, &other.metadata)
    }
    fn keep_status(&mut self, _old: &Self) {}
}

impl Stored for k8s_openapi::api::discovery::v1::EndpointSlice {
    fn same_desire(&self, other: &Self) -> bool {
        self.endpoints == other.endpoints
            && self.ports == other.ports
            && self.address_type == other.address_type
            && same_user_meta(&self.metadata, &other.metadata)
    }
    fn keep_status(&mut self, _old: &Self) {}
}

impl Stored for k8s_openapi::api::apps::v1::ControllerRevision {
    fn same_desire(&self, other: &Self) -> bool {
        self.data == other.data
            && self.revision == other.revision
            && same_user_meta(&self.metadata, &other.metadata)
    }
    fn keep_status(&mut self, _old: &Self) {}
}

impl Stored for k8s_openapi::api::apps::v1::StatefulSet {
    fn same_desire(&self, other: &Self) -> bool {
        self.spec == other.spec && same_user_meta(&self.metadata, &other.metadata)
    }
    fn keep_status(&mut self, old: &Self) {
        self.status = old.status.clone();
    }
}

impl Stored for k8s_openapi::api::batch::v1::Job {
    fn same_desire(&self, other: &Self) -> bool {
        self.spec == other.spec && same_user_meta(&self.metadata, &other.metadata)
    }
    fn keep_status(&mut self, old: &Self) {
        self.status = old.status.clone();
    }
    fn complete(&mut self) {
        crate::objects::complete_job(self);
    }
}

impl Stored for k8s_openapi::api::apps::v1::Deployment {
    fn same_desire(&self, other: &Self) -> bool {
        self.spec == other.spec && same_user_meta(&self.metadata, &other.metadata)
    }
    fn keep_status(&mut self, old: &Self) {
        self.status = old.status.clone();
    }
}

impl Stored for k8s_openapi::api::apps::v1::ReplicaSet {
    fn same_desire(&self, other: &Self) -> bool {
        self.spec == other.spec && same_user_meta(&self.metadata, &other.metadata)
    }
    fn keep_status(&mut self, old: &Self) {
        self.status = old.status.clone();
    }
}

fn same_user_meta(a: &ObjectMeta, b: &ObjectMeta) -> bool {
    a.labels == b.labels && a.annotations == b.annotations
}

/// What an apply did, in kubectl's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The object is new.
    Created,
    /// It existed and changed.
    Configured,
    /// It existed as it is.
    Unchanged,
}

impl std::fmt::Display for Applied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Applied::Created => "created",
            Applied::Configured => "configured",
            Applied::Unchanged => "unchanged",
        })
    }
}

/// The objects under one state directory, seen from one namespace: `get`,
/// `list`, `put`, `apply` and `remove` act on that namespace's objects (and on
/// Namespaces themselves, which belong to none).
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
    namespace: String,
}

impl Store {
    /// The store under `state_dir`, made (0700) if missing, seen from the
    /// `default` namespace.
    pub fn open(state_dir: &Path) -> Result<Store> {
        let dir = state_dir.join("objects");
        private_fs::create_dir_all(&dir).map_err(|e| Error::io("creating", &dir, e))?;
        Ok(Store {
            dir: state_dir.to_path_buf(),
            namespace: DEFAULT_NAMESPACE.to_string(),
        })
    }

    /// The same store seen from `namespace`.
    pub fn in_namespace(&self, namespace: &str) -> Store {
        Store {
            dir: self.dir.clone(),
            namespace: namespace.to_string(),
        }
    }

    /// The namespace this view acts on.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Every namespace that holds objects of some kind, plus `default`, sorted.
    /// Stored Namespaces are listed by [`Self::list`] of `Namespace`.
    pub fn namespaces_in_use(&self) -> Result<Vec<String>> {
        let objects = self.dir.join("objects");
        let mut out = std::collections::BTreeSet::new();
        out.insert(DEFAULT_NAMESPACE.to_string());
        let kinds = fs::read_dir(&objects).map_err(|e| Error::io("listing", &objects, e))?;
        for kind in kinds.flatten() {
            if kind
                .file_name()
                .to_string_lossy()
                .starts_with("namespaces.")
            {
                continue;
            }
            let Ok(entries) = fs::read_dir(kind.path()) else {
                continue;
            };
            for e in entries.flatten() {
                if e.path().is_dir() {
                    out.insert(e.file_name().to_string_lossy().into_owned());
                }
            }
        }
        Ok(out.into_iter().collect())
    }

    /// The state directory the store lives in (a StatefulSet's volumes live
    /// beside it).
    pub fn state_dir(&self) -> &Path {
        &self.dir
    }

    /// Waits for and takes the store's lock: one writer at a time.
    pub fn lock(&self) -> Result<StoreLock> {
        StoreLock::take(&self.dir.join("store.lock"))
    }

    fn kind_dir<T: Stored>(&self) -> PathBuf {
        let group = if T::GROUP.is_empty() {
            "core"
        } else {
            T::GROUP
        };
        let dir = self
            .dir
            .join("objects")
            .join(format!("{}.{group}", T::URL_PATH_SEGMENT));
        if T::NAMESPACED {
            dir.join(&self.namespace)
        } else {
            dir
        }
    }

    fn path<T: Stored>(&self, name: &str) -> PathBuf {
        self.kind_dir::<T>().join(format!("{name}.json"))
    }

    /// The object named `name`, if stored.
    pub fn get<T: Stored>(&self, name: &str) -> Result<Option<T>> {
        read(&self.path::<T>(name))
    }

    /// Every object of the kind, by name.
    pub fn list<T: Stored>(&self) -> Result<Vec<T>> {
        let dir = self.kind_dir::<T>();
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("listing", &dir, e)),
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        paths.sort();
        let mut out = Vec::new();
        for p in paths {
            if let Some(obj) = read(&p)? {
                out.push(obj);
            }
        }
        Ok(out)
    }

    /// Writes `obj` as it is (a controller's update of spec or status), in this
    /// view's namespace.
    pub fn put<T: Stored>(&self, obj: &T) -> Result<()> {
        let name = obj.metadata().name.clone().unwrap_or_default();
        let dir = self.kind_dir::<T>();
        private_fs::create_dir_all(&dir).map_err(|e| Error::io("creating", &dir, e))?;
        write_atomic(&self.path::<T>(&name), obj)
    }

    /// Stores what a user applied, in this view's namespace: a new object gets its uid, creation time and
    /// generation 1; a changed one keeps those and its status, and its
    /// generation goes up by one. Either is completed ([`Stored::complete`])
    /// before it is compared or written. The caller holds the lock.
    pub fn apply<T: Stored>(&self, mut obj: T) -> Result<(Applied, T)> {
        let name = obj.metadata().name.clone().unwrap_or_default();
        let meta = obj.metadata_mut();
        meta.namespace = T::NAMESPACED.then(|| self.namespace.clone());
        meta.uid = None;
        meta.creation_timestamp = None;
        meta.generation = None;
        meta.resource_version = None;
        match self.get::<T>(&name)? {
            Some(old) => {
                let was = old.metadata();
                let meta = obj.metadata_mut();
                meta.uid = was.uid.clone();
                obj.complete();
                if old.same_desire(&obj) {
                    return Ok((Applied::Unchanged, old));
                }
                let was = old.metadata();
                let meta = obj.metadata_mut();
                meta.creation_timestamp = was.creation_timestamp.clone();
                meta.generation = Some(was.generation.unwrap_or(1) + 1);
                meta.owner_references = was.owner_references.clone();
                obj.keep_status(&old);
                self.put(&obj)?;
                Ok((Applied::Configured, obj))
            }
            None => {
                let meta = obj.metadata_mut();
                meta.uid = Some(uuid::Uuid::new_v4().to_string());
                meta.creation_timestamp = Some(Time(jiff::Timestamp::now()));
                meta.generation = Some(1);
                obj.complete();
                self.put(&obj)?;
                Ok((Applied::Created, obj))
            }
        }
    }

    /// Removes the (empty) directories of `namespace`'s objects, once the
    /// objects are gone; a directory still holding one stays.
    pub fn remove_namespace_dirs(&self, namespace: &str) -> Result<()> {
        let objects = self.dir.join("objects");
        let kinds = fs::read_dir(&objects).map_err(|e| Error::io("listing", &objects, e))?;
        for kind in kinds.flatten() {
            let dir = kind.path().join(namespace);
            match fs::remove_dir(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound || !dir.is_dir() => {}
                Err(e) => return Err(Error::io("removing", &dir, e)),
            }
        }
        Ok(())
    }

    /// Removes the object; false if it was not there.
    pub fn remove<T: Stored>(&self, name: &str) -> Result<bool> {
        let path = self.path::<T>(name);
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Error::io("removing", &path, e)),
        }
    }
}

/// Reads the JSON object at `path`; none if the file is missing.
pub(crate) fn read<T: DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    let text = match fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("reading", path, e)),
    };
    serde_json::from_slice(&text)
        .map(Some)
        .map_err(|source| Error::Corrupt {
            path: path.to_path_buf(),
            source,
        })
}

/// Temporary file, fsync, rename: the path holds the old or the new object.
/// Writes `obj` as JSON to `path` atomically: a temporary file, fsync, rename.
pub(crate) fn write_atomic<T: Serialize>(path: &Path, obj: &T) -> Result<()> {
    let data = serde_json::to_vec_pretty(obj).map_err(|source| Error::Corrupt {
        path: path.to_path_buf(),
        source,
    })?;
    let tmp = path.with_extension("json.tmp");
    let mut f = private_fs::create_file(&tmp, private_fs::FILE_MODE)
        .map_err(|e| Error::io("creating", &tmp, e))?;
    f.write_all(&data)
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::io("writing", &tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| Error::io("renaming into place", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};

    fn deployment(name: &str, replicas: i32) -> Deployment {
        Deployment {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..ObjectMeta::default()
            },
            spec: DeploymentSpec {
                replicas: Some(replicas),
                ..DeploymentSpec::default()
            },
            status: None,
        }
    }

    fn temp_dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("podrt-store-{tag}-{}", uuid::Uuid::new_v4()));
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn apply_creates_then_is_unchanged_then_configures() {
        let dir = temp_dir("apply");
        let store = Store::open(&dir).unwrap();
        let (a, first) = store.apply(deployment("web", 2)).unwrap();
        assert_eq!(a, Applied::Created);
        let uid = first.metadata.uid.clone().expect("a uid");
        assert_eq!(first.metadata.generation, Some(1));
        let (a, _) = store.apply(deployment("web", 2)).unwrap();
        assert_eq!(a, Applied::Unchanged);
        let (a, changed) = store.apply(deployment("web", 3)).unwrap();
        assert_eq!(a, Applied::Configured);
        assert_eq!(changed.metadata.uid.as_deref(), Some(uid.as_str()));
        assert_eq!(changed.metadata.generation, Some(2));
        let listed: Vec<Deployment> = store.list().unwrap();
        assert_eq!(listed, vec![changed]);
        assert!(dir
            .join("objects/deployments.apps/default/web.json")
            .is_file());
        assert!(store.remove::<Deployment>("web").unwrap());
        assert!(!store.remove::<Deployment>("web").unwrap());
        assert_eq!(store.get::<Deployment>("web").unwrap(), None);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_corrupt_file_is_an_error_naming_it() {
        let dir = temp_dir("corrupt");
        let store = Store::open(&dir).unwrap();
        store.put(&deployment("web", 1)).unwrap();
        let path = dir.join("objects/deployments.apps/default/web.json");
        fs::write(&path, b"{not json").unwrap();
        let e = store.get::<Deployment>("web").unwrap_err().to_string();
        assert!(e.contains(&path.display().to_string()), "{e}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
