//! The store on disk, under `<root>/images`:
//!
//! ```text
//! lock                  flock held by import and remove
//! index.json            name → image id, manifest digest, layer diff ids (atomic rename)
//! configs/<hex>.json    config blobs, by image id
//! layers/<hex>/         unpacked layers, by diff id, shared between images
//! tmp/                  staging for one import; always empty when no import runs
//! ```
//!
//! All of it is root's alone (directories 0700, files 0600), except the unpacked
//! layers' contents, which keep the image's own owners and modes.
//!
//! Under the lock, `index.json` is the truth: a layer or config it does not
//! reference is garbage (a failed or crashed import, a removed image) and `gc`
//! deletes it. A layer it records that no image uses yet (the completed part of a
//! failed pull) is kept for the retry until `image prune`. Readers (`list`, `resolve`) take no lock; they see one index or the
//! next, never half of one.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use podrt_runtime::private_fs;
use serde::{Deserialize, Serialize};

use super::digest::Sha256;
use super::error::{Error, Result};

const INDEX_VERSION: u32 = 1;

/// `index.json`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct Index {
    /// Format version; a newer one is refused rather than misread.
    pub(crate) version: u32,
    /// Normalised name → image.
    pub(crate) images: BTreeMap<String, Record>,
    /// Diff id → what is known about the unpacked layer.
    pub(crate) layers: BTreeMap<String, LayerRecord>,
}

/// One named image.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Record {
    /// Config digest (`sha256:…`), the image id.
    pub(crate) id: String,
    /// Manifest digest, when the image came with a manifest (OCI layouts).
    pub(crate) manifest: Option<String>,
    /// Diff ids, bottom layer first.
    pub(crate) layers: Vec<String>,
    /// `created` from the config.
    pub(crate) created: Option<String>,
}

/// One unpacked layer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct LayerRecord {
    /// Bytes of regular-file content in it.
    pub(crate) size: u64,
}

impl Index {
    /// The unpacked size of layer `diff_id` if the store has it: recorded here,
    /// and its directory in `store`.
    pub(crate) fn stored_layer(&self, store: &Store, diff_id: &Sha256) -> Option<u64> {
        let rec = self.layers.get(&diff_id.to_string())?;
        store.layer_dir(diff_id.hex()).is_dir().then_some(rec.size)
    }

    /// Bytes of file content in the unpacked layers of `rec`.
    pub(crate) fn size_of(&self, rec: &Record) -> u64 {
        rec.layers
            .iter()
            .filter_map(|l| self.layers.get(l))
            .map(|l| l.size)
            .sum()
    }

    /// Forget layers no image uses any more.
    pub(crate) fn prune(&mut self) {
        let used: BTreeSet<&String> = self.images.values().flat_map(|r| &r.layers).collect();
        let unused: Vec<String> = self
            .layers
            .keys()
            .filter(|k| !used.contains(k))
            .cloned()
            .collect();
        for k in unused {
            self.layers.remove(&k);
        }
    }
}

/// Paths and on-disk operations of the store.
#[derive(Debug, Clone)]
pub(super) struct Store {
    dir: PathBuf,
}

/// A directory removed (with everything in it) when dropped, also on error paths.
pub(super) struct TempDir(PathBuf);

impl TempDir {
    /// Its path.
    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if let Err(e) = fs::remove_dir_all(&self.0) {
            if e.kind() != io::ErrorKind::NotFound {
                tracing::warn!(path = %self.0.display(), error = %e, "cannot remove image staging directory");
            }
        }
    }
}

impl Store {
    /// Open the store in `dir`, creating its directories (0700, as `dir`
    /// itself if it is missing).
    pub(crate) fn open(dir: &Path) -> Result<Store> {
        let store = Store {
            dir: dir.to_path_buf(),
        };
        for d in [
            store.dir.clone(),
            store.layers_dir(),
            store.configs_dir(),
            store.tmp_dir(),
        ] {
            private_fs::own_dir(&d).map_err(Error::io(&d, "create directory"))?;
        }
        Ok(store)
    }

    fn layers_dir(&self) -> PathBuf {
        self.dir.join("layers")
    }

    fn configs_dir(&self) -> PathBuf {
        self.dir.join("configs")
    }

    fn tmp_dir(&self) -> PathBuf {
        self.dir.join("tmp")
    }

    fn index_path(&self) -> PathBuf {
        self.dir.join("index.json")
    }

    /// Where the layer with diff id `sha256:<hex>` is unpacked.
    pub(crate) fn layer_dir(&self, hex: &str) -> PathBuf {
        self.layers_dir().join(hex)
    }

    /// Where the config blob of image `sha256:<hex>` is kept.
    pub(crate) fn config_path(&self, hex: &str) -> PathBuf {
        self.configs_dir().join(format!("{hex}.json"))
    }

    /// Take the store's exclusive lock; released when the guard drops.
    pub(crate) fn lock(&self) -> Result<Flock<File>> {
        let path = self.dir.join("lock");
        let f = private_fs::open_lock(&path).map_err(Error::io(&path, "open lock file"))?;
        Flock::lock(f, FlockArg::LockExclusive).map_err(|(_, e)| Error::io(&path, "lock")(e.into()))
    }

    /// A fresh staging directory under `tmp/`, on the same filesystem as `layers/`
    /// so a finished layer can be renamed into place.
    pub(crate) fn staging(&self) -> Result<TempDir> {
        let path = self.tmp_dir().join(uuid::Uuid::new_v4().to_string());
        private_fs::create_dir(&path).map_err(Error::io(&path, "create directory"))?;
        Ok(TempDir(path))
    }

    /// Read `index.json`; an empty index if there is none yet.
    pub(crate) fn read_index(&self) -> Result<Index> {
        let path = self.index_path();
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(Index {
                    version: INDEX_VERSION,
                    ..Index::default()
                })
            }
            Err(e) => return Err(Error::io(&path, "read")(e)),
        };
        let index: Index = serde_json::from_slice(&bytes).map_err(|e| Error::Store {
            path: path.clone(),
            reason: format!(
                "podrt's image index is damaged ({e}); remove it and import the images again"
            ),
        })?;
        if index.version != INDEX_VERSION {
            return Err(Error::Store {
                path,
                reason: format!(
                    "image index version {} is not {INDEX_VERSION}; it was written by another podrt version",
                    index.version
                ),
            });
        }
        Ok(index)
    }

    /// Replace `index.json` atomically: write a temp file, fsync, rename.
    pub(crate) fn write_index(&self, index: &Index) -> Result<()> {
        let path = self.index_path();
        let tmp = self
            .tmp_dir()
            .join(format!("index-{}", uuid::Uuid::new_v4()));
        let bytes = serde_json::to_vec_pretty(index).map_err(|e| Error::Store {
            path: path.clone(),
            reason: format!("cannot serialise the image index: {e}"),
        })?;
        write_synced(&tmp, &bytes).map_err(Error::io(&tmp, "write"))?;
        fs::rename(&tmp, &path).map_err(|e| {
            let _ = fs::remove_file(&tmp);
            Error::io(&path, "replace")(e)
        })
    }

    /// Keep a config blob (idempotent: the name is its digest).
    pub(crate) fn write_config(&self, hex: &str, bytes: &[u8]) -> Result<()> {
        let path = self.config_path(hex);
        if path.exists() {
            return Ok(());
        }
        let tmp = self
            .tmp_dir()
            .join(format!("config-{}", uuid::Uuid::new_v4()));
        write_synced(&tmp, bytes).map_err(Error::io(&tmp, "write"))?;
        fs::rename(&tmp, &path).map_err(|e| {
            let _ = fs::remove_file(&tmp);
            Error::io(&path, "create")(e)
        })
    }

    /// Move a finished layer from staging into place. `false` if it was already
    /// there (then `staged` is left for its `TempDir` to remove).
    pub(crate) fn install_layer(&self, staged: &Path, hex: &str) -> Result<bool> {
        let dest = self.layer_dir(hex);
        // Everything unpacked must be on disk before the rename makes it look complete.
        let dir = File::open(staged).map_err(Error::io(staged, "open"))?;
        nix::unistd::syncfs(&dir).map_err(|e| Error::io(staged, "sync")(e.into()))?;
        match fs::rename(staged, &dest) {
            Ok(()) => Ok(true),
            Err(e) if matches!(e.raw_os_error(), Some(libc::EEXIST | libc::ENOTEMPTY)) => Ok(false),
            Err(e) => Err(Error::io(&dest, "install layer")(e)),
        }
    }

    /// With the lock held: delete what `index` does not reference, and anything
    /// left in `tmp/`. A layer is renamed into `tmp/` before it is deleted, so a
    /// crash never leaves half a layer under `layers/`.
    pub(crate) fn gc(&self, index: &Index) -> Result<()> {
        // Layers recorded without an image (a pull that failed after them) stay
        // for its retry, until `prune`.
        let layers: BTreeSet<&str> = index
            .images
            .values()
            .flat_map(|r| &r.layers)
            .chain(index.layers.keys())
            .filter_map(|d| d.strip_prefix("sha256:"))
            .collect();
        let configs: BTreeSet<String> = index
            .images
            .values()
            .filter_map(|r| r.id.strip_prefix("sha256:"))
            .map(|hex| format!("{hex}.json"))
            .collect();
        for (name, path) in entries(&self.layers_dir())? {
            if !layers.contains(name.as_str()) {
                let doomed = self.tmp_dir().join(format!("gc-{}", uuid::Uuid::new_v4()));
                fs::rename(&path, &doomed).map_err(Error::io(&path, "move away unused layer"))?;
            }
        }
        for (name, path) in entries(&self.configs_dir())? {
            if !configs.contains(&name) {
                fs::remove_file(&path).map_err(Error::io(&path, "remove unused config"))?;
            }
        }
        for (_, path) in entries(&self.tmp_dir())? {
            let r = if path.is_dir() {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
            r.map_err(Error::io(&path, "remove"))?;
        }
        Ok(())
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = private_fs::create_file(path, private_fs::FILE_MODE)?;
    f.write_all(bytes)?;
    f.sync_all()
}

fn entries(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).map_err(Error::io(dir, "list"))? {
        let e = e.map_err(Error::io(dir, "list"))?;
        out.push((e.file_name().to_string_lossy().into_owned(), e.path()));
    }
    Ok(out)
}
