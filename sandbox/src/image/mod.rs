//! podrt's image store, in `/var/lib/podrt/images` ([`DEFAULT_ROOT`]): images arrive as files (OCI image
//! layouts or docker-archive tars) or from registries (`registry`), are verified
//! against their digests, and their layers are unpacked once into directories that every
//! container of every image sharing them uses as overlayfs lower layers.
//!
//! [`ImageStore`] is the whole API; the modules below it each do one step:
//! `reference` names, `source` reads a directory or tar, `oci_layout` and
//! `docker_archive` the two formats, `config` the image config, `unpack` one layer,
//! `store` the files on disk, `import` ties them together.

mod config;
mod digest;
mod docker_archive;
mod error;
mod import;
mod layer;
mod oci_layout;
mod reference;
pub mod registry;
mod source;
mod store;
mod unpack;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use config::ImageConfig;
pub use error::{Error, Result};

use reference::Reference;
use store::{Index, Record, Store};

/// Where images are kept unless `--image-root` says otherwise: on disk, not
/// under the state root in `/run`, so they outlive a reboot (containerd keeps
/// its content in /var/lib/containerd, podman in /var/lib/containers).
pub const DEFAULT_ROOT: &str = "/var/lib/podrt/images";

/// The image store of one podrt root.
#[derive(Debug, Clone)]
pub struct ImageStore {
    store: Store,
}

/// One name in the store, as `podrt images` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageSummary {
    /// The normalised name, e.g. `docker.io/library/busybox:latest`.
    pub name: String,
    /// The image id: its config digest, `sha256:…`.
    pub id: String,
    /// Bytes of file content in the unpacked layers (not the compressed download
    /// size; a layer shared with other images is counted for each of them).
    pub size: u64,
    /// When the image was built, as its config states it (RFC 3339).
    pub created: Option<String>,
}

/// What `podrt image inspect` shows (podman's field names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageDetails {
    /// The config digest.
    pub id: String,
    /// Every name of the image in the store.
    pub repo_tags: Vec<String>,
    /// `repository@manifest-digest` for the names that came with a manifest.
    pub repo_digests: Vec<String>,
    /// When it was built (RFC 3339), as its config says.
    pub created: Option<String>,
    /// Bytes of file content in its unpacked layers.
    pub size: u64,
    /// Its operating system (always this host's: others are refused).
    pub os: String,
    /// Its architecture (likewise).
    pub architecture: String,
    /// What its containers run with.
    pub config: ImageConfig,
    /// Its layers' diff ids, bottom first.
    pub layers: Vec<String>,
}

/// An image resolved for running a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// The normalised name it was found under.
    pub(crate) name: String,
    /// The image id: its config digest, `sha256:…`.
    pub id: String,
    /// The unpacked layer directories, bottom layer first (reverse them for
    /// overlayfs' `lowerdir`, which [`crate::overlay::mount`] does).
    pub layers: Vec<PathBuf>,
    /// What a container of this image runs with unless told otherwise.
    pub config: ImageConfig,
}

impl ImageStore {
    /// Open (creating dirs) the store in `dir` (podrt's `--image-root`,
    /// [`DEFAULT_ROOT`] unless told otherwise).
    pub fn open(dir: &Path) -> Result<ImageStore> {
        Ok(ImageStore {
            store: Store::open(dir)?,
        })
    }

    /// Import an OCI image layout (directory or tar) or a docker-archive tar
    /// (`docker save`/`podman save` output, optionally gzip-compressed). `name`
    /// (e.g. "busybox:1.36" or "docker.io/library/busybox") sets the image's name
    /// instead of the one the image carries; returns one summary per name imported.
    /// Importing an image again is cheap: layers already in the store are reused.
    pub fn import(&self, path: &Path, name: Option<&str>) -> Result<Vec<ImageSummary>> {
        import::import(&self.store, path, name)
    }

    /// Pull `reference` from its registry (or a mirror) and record it under its
    /// normalised name; layers the store has are not downloaded again.
    pub fn pull(
        &self,
        reference: &str,
        opts: &registry::RegistryOptions,
        progress: &dyn registry::Progress,
    ) -> Result<ImageSummary> {
        registry::pull(&self.store, reference, opts, progress)
    }

    /// Every name in the store, sorted.
    pub fn list(&self) -> Result<Vec<ImageSummary>> {
        let index = self.store.read_index()?;
        Ok(index
            .images
            .iter()
            .map(|(name, rec)| ImageSummary {
                name: name.clone(),
                id: rec.id.clone(),
                size: index.size_of(rec),
                created: rec.created.clone(),
            })
            .collect())
    }

    /// Resolve a pod's `image:` string. Error::NotFound names the reference and
    /// says to run `podrt image import`.
    pub fn resolve(&self, reference: &str) -> Result<Image> {
        let index = self.store.read_index()?;
        let (name, rec) = find(&index, reference)?;
        let mut layers = Vec::with_capacity(rec.layers.len());
        for diff_id in &rec.layers {
            let dir = self
                .store
                .layer_dir(diff_id.strip_prefix("sha256:").unwrap_or(diff_id));
            if !dir.is_dir() {
                return Err(damaged(&dir, &name));
            }
            layers.push(dir);
        }
        let hex = rec.id.strip_prefix("sha256:").unwrap_or(&rec.id);
        let config_path = self.store.config_path(hex);
        let bytes =
            std::fs::read(&config_path).map_err(Error::io(&config_path, "read image config"))?;
        let config = config::parse(&bytes)
            .map_err(|_| damaged(&config_path, &name))?
            .config;
        Ok(Image {
            name,
            id: rec.id.clone(),
            layers,
            config,
        })
    }

    /// The normalised name and image id `reference` resolves to, and every other
    /// name of that id.
    pub fn names(&self, reference: &str) -> Result<(String, String, Vec<String>)> {
        let index = self.store.read_index()?;
        let (name, rec) = find(&index, reference)?;
        let others = index
            .images
            .iter()
            .filter(|(n, r)| r.id == rec.id && **n != name)
            .map(|(n, _)| n.clone())
            .collect();
        Ok((name, rec.id, others))
    }

    /// What `image inspect` shows of `reference`.
    pub fn inspect(&self, reference: &str) -> Result<ImageDetails> {
        let index = self.store.read_index()?;
        let (_, rec) = find(&index, reference)?;
        let image = self.resolve(reference)?;
        let mut names = Vec::new();
        let mut digests = Vec::new();
        for (n, r) in index.images.iter().filter(|(_, r)| r.id == rec.id) {
            names.push(n.clone());
            if let (Some(d), Ok(parsed)) = (&r.manifest, Reference::parse(n)) {
                let repo_digest = format!("{}@{d}", parsed.repository);
                if !digests.contains(&repo_digest) {
                    digests.push(repo_digest);
                }
            }
        }
        let (os, arch) = config::host_platform();
        Ok(ImageDetails {
            id: rec.id.clone(),
            repo_tags: names,
            repo_digests: digests,
            created: rec.created.clone(),
            size: index.size_of(&rec),
            os: os.to_string(),
            architecture: arch.to_string(),
            config: image.config,
            layers: rec.layers.clone(),
        })
    }

    /// `image prune`: forget and delete the layers no image uses (what failed
    /// pulls kept for a retry) and anything left in the staging area; with
    /// `images`, first remove those names. Returns the bytes of layers removed.
    pub fn prune(&self, images: &[String]) -> Result<u64> {
        let _lock = self.store.lock()?;
        let mut index = self.store.read_index()?;
        for name in images {
            index.images.remove(name);
        }
        let before: u64 = index.layers.values().map(|l| l.size).sum();
        index.prune();
        let after: u64 = index.layers.values().map(|l| l.size).sum();
        self.store.write_index(&index)?;
        self.store.gc(&index)?;
        Ok(before.saturating_sub(after))
    }

    /// Remove an image by name (layers no longer used by any image are removed too).
    /// The caller must make sure no container still runs on it.
    pub fn remove(&self, reference: &str) -> Result<()> {
        let _lock = self.store.lock()?;
        let mut index = self.store.read_index()?;
        let (name, _) = find(&index, reference)?;
        index.images.remove(&name);
        index.prune();
        self.store.write_index(&index)?;
        self.store.gc(&index)
    }
}

/// The name and record `reference` resolves to: its normalised form, or for
/// `repo@digest` the image of that repository with that manifest or config digest.
fn find(index: &Index, reference: &str) -> Result<(String, Record)> {
    let r = Reference::parse(reference)?;
    let key = r.to_string();
    if let Some(rec) = index.images.get(&key) {
        return Ok((key, rec.clone()));
    }
    if let Some(digest) = &r.digest {
        let hit = index.images.iter().find(|(name, rec)| {
            Reference::parse(name).is_ok_and(|n| n.repository == r.repository)
                && (rec.manifest.as_ref() == Some(digest) || rec.id == *digest)
        });
        if let Some((name, rec)) = hit {
            return Ok((name.clone(), rec.clone()));
        }
    }
    Err(Error::NotFound {
        reference: reference.to_string(),
    })
}

fn damaged(path: &Path, name: &str) -> Error {
    Error::Store {
        path: path.to_path_buf(),
        reason: format!(
            "missing or damaged in the image store; remove the image {name:?} and import it again"
        ),
    }
}
