//! `import`: read an image layout or archive, check all of its metadata, then stream
//! each new layer through sha256 and gunzip into a staging directory, check its
//! digests, and rename it into the store. The index is written last, so a failed
//! import changes nothing a reader can see; `gc` then removes what it left.

use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use super::config;
use super::digest::{HashingReader, Sha256};
use super::docker_archive;
use super::error::{Error, Result};
use super::oci_layout;
use super::reference::normalize;
use super::source::{Compression, Format, Source};
use super::store::{Index, LayerRecord, Record, Store};
use super::unpack::{unpack, EntryError};
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
    let (os, arch) = config::host_platform();
    let (img_os, img_arch) = &parsed.platform;
    if img_os != os || img_arch != arch {
        return Err(Error::Invalid {
            path: path.to_path_buf(),
            reason: format!(
                "image {} is built for {img_os}/{img_arch}, but this host is {os}/{arch}",
                f.id
            ),
        });
    }
    Ok(())
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
    let key = diff_id.to_string();
    if let Some(rec) = index.layers.get(&key) {
        if store.layer_dir(diff_id.hex()).is_dir() {
            return Ok(rec.size);
        }
    }
    let dir = staging.join(format!("layer-{}", diff_id.hex()));
    std::fs::create_dir(&dir).map_err(Error::io(&dir, "create directory"))?;
    let size = unpack_verified(src, blob, diff_id, &dir)?;
    store.install_layer(&dir, diff_id.hex())?;
    index.layers.insert(key, LayerRecord { size });
    Ok(size)
}

/// Unpack one layer blob into `dir`, checking the blob's digest and size and the
/// diff id of the uncompressed tar, all in the same single read.
fn unpack_verified(src: &Source, blob: &LayerBlob, diff_id: &Sha256, dir: &Path) -> Result<u64> {
    let path = src.path();
    let read_err = |e: io::Error| Error::Invalid {
        path: path.to_path_buf(),
        reason: format!("cannot read layer {}: {e}", blob.file),
    };
    let mut raw = BufReader::new(HashingReader::new(src.open_file(&blob.file)?));
    let streamed = match Compression::sniff(raw.fill_buf().map_err(read_err)?) {
        Compression::Zstd => {
            return Err(Error::Invalid {
                path: path.to_path_buf(),
                reason: format!(
                    "layer {} is zstd-compressed, which podrt cannot unpack yet; re-export the \
                     image with gzip layers (e.g. `skopeo copy --dest-compress-format gzip`)",
                    blob.file
                ),
            })
        }
        Compression::Gzip => unpack_stream(flate2::bufread::MultiGzDecoder::new(&mut raw), dir),
        Compression::None => unpack_stream(&mut raw, dir),
    };
    // Read the blob to its end whatever happened, so a corrupt blob is reported
    // as one rather than as the gzip or tar error it caused.
    let _ = io::copy(&mut raw, &mut io::sink());
    let (blob_digest, blob_size) = raw.into_inner().finish().map_err(read_err)?;
    if let Some(expected) = &blob.digest {
        if blob_digest != *expected {
            return Err(mismatch(path, blob.file.clone(), expected, &blob_digest));
        }
    }
    if let Some(expected) = blob.size {
        if expected != blob_size {
            return Err(Error::Invalid {
                path: path.to_path_buf(),
                reason: format!(
                    "layer {} is {blob_size} bytes, but its descriptor says {expected}",
                    blob.file
                ),
            });
        }
    }
    match streamed.diff_id {
        Ok(actual) if actual != *diff_id => {
            let file = format!("{} (uncompressed)", blob.file);
            return Err(mismatch(path, file, diff_id, &actual));
        }
        Ok(_) => {}
        // An unpack error below says more than the read error it led to.
        Err(e) if streamed.unpacked.is_ok() => return Err(read_err(e)),
        Err(_) => {}
    }
    streamed
        .unpacked
        .map_err(|EntryError { entry, reason }| Error::Unpack {
            path: path.to_path_buf(),
            layer: blob.file.clone(),
            entry,
            reason,
        })
}

/// What streaming one layer tar gave: the unpack's outcome and the tar's digest.
struct Streamed {
    unpacked: std::result::Result<u64, EntryError>,
    diff_id: io::Result<Sha256>,
}

/// Unpack a tar stream, then hash it to its end, also after a failed unpack: an
/// altered layer is then reported as the digest mismatch it is.
fn unpack_stream<R: Read>(tar: R, dir: &Path) -> Streamed {
    let mut tar = HashingReader::new(tar);
    let unpacked = unpack(&mut tar, dir);
    Streamed {
        unpacked,
        diff_id: tar.finish().map(|(d, _)| d),
    }
}

fn mismatch(path: &Path, file: String, expected: &Sha256, actual: &Sha256) -> Error {
    Error::DigestMismatch {
        path: path.to_path_buf(),
        file,
        expected: expected.to_string(),
        actual: actual.to_string(),
    }
}
