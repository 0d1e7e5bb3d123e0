//! `import`: read an image layout or archive, check all of its metadata, then stream
//! each new layer through sha256 and its decompressor (`layer`) into a staging directory, check its
//! digests, and rename it into the store. The index is written last, so a failed
//! import changes nothing a reader can see; `gc` then removes what it left.

use std::path::Path;

use super::config;
use super::digest::Sha256;
use super::docker_archive;
use super::error::{Error, Result};
use super::layer::{self, Expected, Fault};
use super::oci_layout;
use super::reference::normalize;
use super::source::{Format, Source};
use super::store::{Index, LayerRecord, Record, Store};
use super::unpack::EntryError;
use super::ImageSummary;

/// One image read from a layout or archive, its metadata verified.
pub(super) struct Found {
    /// Normalised names to record it under.
    pub(crate) names: Vec<String>,
    /// The manifest digest, for formats that have manifests.
    pub(crate) manifest: Option<Sha256>,
    /// The config digest: the image id.
    pub(crate) id: Sha256,
    /// The config blob, whose digest is `id`.
    pub(crate) config: Vec<u8>,
    /// The layer blobs, bottom first.
    pub(crate) layers: Vec<LayerBlob>,
}

/// Where a layer blob is and what it must hash to.
pub(super) struct LayerBlob {
    /// Its path in the layout or archive.
    pub(crate) file: String,
    /// The blob's digest (of the compressed bytes), when the format states one.
    pub(crate) digest: Option<Sha256>,
    /// The blob's size, when the format states one.
    pub(crate) size: Option<u64>,
}

/// Import `path` under the store's lock; see [`super::ImageStore::import`].
pub(super) fn import(store: &Store, path: &Path, name: Option<&str>) -> Result<Vec<ImageSummary>> {
    let name = name.map(normalize).transpose()?;
    let _lock = store.lock()?;
    let mut index = store.read_index()?;
    // Leftovers of an import that crashed.
    store.gc(&index)?;
    let staging = store.staging()?;
    let result = import_locked(store, &mut index, path, name.as_deref(), staging.path());
    drop(staging);
    if result.is_err() {
        // Layers and configs this import installed are not in the index on disk.
        if let Err(e) = store.read_index().and_then(|on_disk| store.gc(&on_disk)) {
            tracing::warn!(error = %e, "cannot clean up after a failed image import");
        }
    }
    result
}

fn import_locked(
    store: &Store,
    index: &mut Index,
    path: &Path,
    name: Option<&str>,
    staging: &Path,
) -> Result<Vec<ImageSummary>> {
    let src = Source::open(path, staging)?;
    let found = match src.format()? {
        Format::OciLayout => oci_layout::read(&src, name)?,
        Format::DockerArchive => docker_archive::read(&src, name)?,
    };
    // Every config is checked before any layer is unpacked.
    let mut images = Vec::new();
    for f in found {
        let parsed = config::parse(&f.config).map_err(|message| Error::Json {
            path: path.to_path_buf(),
            file: format!("the config of image {}", f.id),
            message,
        })?;
        check_platform(path, &f, &parsed)?;
        if parsed.diff_ids.len() != f.layers.len() {
            return Err(Error::Invalid {
                path: path.to_path_buf(),
                reason: format!(
                    "image {} has {} layers but its config lists {} diff ids",
                    f.id,
                    f.layers.len(),
                    parsed.diff_ids.len()
                ),
            });
        }
        images.push((f, parsed));
    }
    let mut summaries = Vec::new();
    for (f, parsed) in images {
        let mut size = 0;
        for (blob, diff_id) in f.layers.iter().zip(&parsed.diff_ids) {
            size += ensure_layer(store, index, &src, blob, diff_id, staging)?;
        }
        store.write_config(f.id.hex(), &f.config)?;
        let record = Record {
            id: f.id.to_string(),
            manifest: f.manifest.as_ref().map(Sha256::to_string),
            layers: parsed.diff_ids.iter().map(Sha256::to_string).collect(),
            created: parsed.created.clone(),
        };
        for n in &f.names {
            index.images.insert(n.clone(), record.clone());
            summaries.push(ImageSummary {
                name: n.clone(),
                id: record.id.clone(),
                size,
                created: record.created.clone(),
            });
        }
    }
    // A name that moved to this image may have left its old layers unused.
    index.prune();
    store.write_index(index)?;
    store.gc(index)?;
    Ok(summaries)
}

fn check_platform(path: &Path, f: &Found, parsed: &config::Parsed) -> Result<()> {
    match config::foreign_platform(parsed) {
        Some(why) => Err(Error::Invalid {
            path: path.to_path_buf(),
            reason: format!("image {} is {why}", f.id),
        }),
        None => Ok(()),
    }
}

/// Make sure the layer `diff_id` is in the store; returns its unpacked size.
fn ensure_layer(
    store: &Store,
    index: &mut Index,
    src: &Source,
    blob: &LayerBlob,
    diff_id: &Sha256,
    staging: &Path,
) -> Result<u64> {
    if let Some(size) = index.stored_layer(store, diff_id) {
        return Ok(size);
    }
    let dir = staging.join(format!("layer-{}", diff_id.hex()));
    std::fs::create_dir(&dir).map_err(Error::io(&dir, "create directory"))?;
    let size = unpack_verified(src, blob, diff_id, &dir)?;
    store.install_layer(&dir, diff_id.hex())?;
    index
        .layers
        .insert(diff_id.to_string(), LayerRecord { size });
    Ok(size)
}

/// Unpack one layer blob of `src` into `dir`, checking its digests and size.
fn unpack_verified(src: &Source, blob: &LayerBlob, diff_id: &Sha256, dir: &Path) -> Result<u64> {
    let path = src.path();
    let want = Expected {
        digest: blob.digest.as_ref(),
        size: blob.size,
        diff_id,
    };
    layer::unpack_verified(src.open_file(&blob.file)?, &want, dir).map_err(|fault| match fault {
        Fault::Read(e) => Error::Invalid {
            path: path.to_path_buf(),
            reason: format!("cannot read layer {}: {e}", blob.file),
        },
        Fault::Mismatch {
            uncompressed,
            expected,
            actual,
        } => Error::DigestMismatch {
            path: path.to_path_buf(),
            file: if uncompressed {
                format!("{} (uncompressed)", blob.file)
            } else {
                blob.file.clone()
            },
            expected,
            actual,
        },
        Fault::Size { expected, actual } => Error::Invalid {
            path: path.to_path_buf(),
            reason: format!(
                "layer {} is {actual} bytes, but its descriptor says {expected}",
                blob.file
            ),
        },
        Fault::Entry(EntryError { entry, reason }) => Error::Unpack {
            path: path.to_path_buf(),
            layer: blob.file.clone(),
            entry,
            reason,
        },
    })
}
