//! A pod sandbox on disk: its record and where its files are, loaded, saved and
//! locked. What is made in it is the pod layer's ([`crate::pod`]).

use std::path::{Path, PathBuf};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use podrt_runtime::Container as RtContainer;

use super::lock::Lock;
use super::paths::PodPaths;
use super::record::{PodRecord, PodStage};
use crate::error::Result;

/// A pod sandbox on disk: its record and where its files are.
#[derive(Debug, Clone)]
pub struct Sandbox {
    /// The pod's paths.
    pub paths: PodPaths,
    /// `pod.json`.
    pub record: PodRecord,
}

impl Sandbox {
    /// The pod with UID `uid` under `root`, if it has a record.
    pub(crate) fn by_uid(root: &Path, uid: &str) -> Option<Sandbox> {
        Sandbox::at(&PodPaths::new(root, uid).dir).ok()
    }

    /// The pod whose state directory is `pod_dir` (`<root>/pods/<uid>`).
    pub(crate) fn at(pod_dir: &Path) -> Result<Sandbox> {
        let root = pod_dir
            .parent()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let uid = pod_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let paths = PodPaths::new(&root, &uid);
        Ok(Sandbox {
            record: PodRecord::load(&paths.record())?,
            paths,
        })
    }

    /// Where the pod's image store is: the one it was made from, or
    /// `<root>/images` for a pod from before the store had a place of its own.
    pub(crate) fn image_root(&self) -> PathBuf {
        self.record
            .image_root
            .clone()
            .unwrap_or_else(|| self.paths.root.join("images"))
    }

    /// Save the record (the caller holds the pod's lock, or is its only user).
    pub(crate) fn save(&self) -> Result<()> {
        self.record.save(&self.paths.record())
    }

    /// Take this pod's lock and re-read its record, so a change is made on the latest.
    pub(crate) fn lock(&mut self) -> Result<Lock> {
        let lock = Lock::exclusive(&self.paths.lock())?;
        self.record = PodRecord::load(&self.paths.record())?;
        Ok(lock)
    }

    /// Record that every container was started (the pod is made), unless a
    /// delete has begun meanwhile; under the pod's lock.
    pub(crate) fn mark_created(&mut self) -> Result<()> {
        let _lock = self.lock()?;
        if self.record.stage == PodStage::Creating {
            self.record.stage = PodStage::Created;
            self.save()?;
        }
        Ok(())
    }

    /// Changes the pod's metadata (labels, annotations, owner references: what
    /// `kubectl label` and a controller releasing a pod change on a live pod)
    /// under the pod's lock, and saves the record if `change` changed it;
    /// whether it did. The rest of the manifest, what the pod was made from,
    /// never changes.
    pub fn update_metadata(&mut self, change: impl FnOnce(&mut ObjectMeta)) -> Result<bool> {
        let _lock = self.lock()?;
        let before = self.record.manifest.metadata.clone();
        change(&mut self.record.manifest.metadata);
        if self.record.manifest.metadata == before {
            return Ok(false);
        }
        self.save()?;
        Ok(true)
    }

    /// Whether a container made in the pod has a runtime id starting with
    /// `prefix` (the CRI's container ids), without asking its supervisor.
    pub fn has_container_id(&self, prefix: &str) -> bool {
        self.record
            .containers
            .iter()
            .any(|c| c.id.starts_with(prefix))
    }

    /// The pod's cgroup (its containers' are below it), relative to the
    /// hierarchies' roots.
    pub fn cgroup(&self) -> &str {
        &self.record.cgroup_parent
    }

    /// The cgroup of container `name`, if it was made.
    pub fn container_cgroup(&self, name: &str) -> Option<String> {
        let spec = self.runtime_container(name)?.spec().ok()?;
        let path = spec.linux().as_ref()?.cgroups_path().clone()?;
        Some(path.to_string_lossy().into_owned())
    }

    /// The runtime's view of container `name`, if it was made.
    pub fn runtime_container(&self, name: &str) -> Option<RtContainer> {
        let c = self.record.container(name)?;
        RtContainer::load(&self.paths.runtime_root(), &c.id).ok()
    }
}
