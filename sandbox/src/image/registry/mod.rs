//! Pulling an image from a registry (OCI distribution API v2, through the
//! `oci-client` crate) into the store: resolve the reference to a manifest (an
//! index to this host's platform), fetch and check the config, then fetch the
//! layers the store does not have, a few at a time, each streamed straight into
//! its unpacked directory and verified on the way (`fetch`).
//!
//! Each finished layer is recorded in the index at once, so a pull that fails or
//! is killed half-way keeps the layers it completed (a retry skips them; `image
//! prune` removes them if no retry comes) and leaves nothing half-written: an
//! unfinished layer is only ever in the store's `tmp/`, which the next pull,
//! import or prune clears. The image's name is recorded last.
//!
//! The pull holds the store's lock throughout, so pulls (and imports) of one
//! store run one after another, as kubelet's serialised pulls do.

mod auth;
mod client;
mod fetch;
mod progress;
mod settings;

use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::StreamExt;
use oci_client::manifest::OciImageManifest;

pub use progress::{LayerState, Progress, Quiet};
pub use settings::{check_host, PullSecret, RegistryOptions, DEFAULT_AUTH_FILE, DEFAULT_CERTS_DIR};

use super::config;
use super::digest::Sha256;
use super::error::{Error, Result};
use super::oci_layout::unpackable;
use super::reference::Reference;
use super::store::{Index, LayerRecord, Record, Store};
use super::ImageSummary;
use client::Endpoint;
use fetch::Job;

/// Layers downloaded at once (Docker's and containerd's default is 3).
const PARALLEL_LAYERS: usize = 3;

/// Pull `reference` into `store`; see [`super::ImageStore::pull`].
pub(super) fn pull(
    store: &Store,
    reference: &str,
    opts: &RegistryOptions,
    progress: &dyn Progress,
) -> Result<ImageSummary> {
    let r = Reference::parse(reference)?;
    let name = r.to_string();
    let fail = |reason: String| Error::Pull {
        reference: name.clone(),
        reason,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| fail(format!("cannot start the network runtime: {e}")))?;
    runtime.block_on(pull_from_endpoints(store, &r, &name, opts, progress))
}

/// Try the registry's mirrors, then the registry.
async fn pull_from_endpoints(
    store: &Store,
    r: &Reference,
    name: &str,
    opts: &RegistryOptions,
    progress: &dyn Progress,
) -> Result<ImageSummary> {
    let fail = |reason: String| Error::Pull {
        reference: name.to_string(),
        reason,
    };
    let (host, path) = r
        .repository
        .split_once('/')
        .ok_or_else(|| fail("the reference has no repository path".into()))?;
    let endpoints = opts.endpoints(host);
    let mut tried = Vec::new();
    for (i, ep_host) in endpoints.iter().enumerate() {
        let last = i + 1 == endpoints.len();
        let endpoint = Endpoint::new(ep_host, path, opts).map_err(fail)?;
        let image = oci_reference(ep_host, path, r);
        match pull_one(store, &endpoint, &image, r, name, progress).await {
            Ok(summary) => return Ok(summary),
            // A mirror that cannot serve the manifest is skipped; one that fails
            // half-way through the layers is not hidden.
            Err(Failure::Resolve(reason)) if !last => tried.push(format!("{ep_host}: {reason}")),
            Err(Failure::Resolve(reason) | Failure::Fetch(reason)) => {
                tried.push(reason);
                return Err(fail(tried.join("; then ")));
            }
            Err(Failure::Store(e)) => return Err(e),
        }
    }
    Err(fail("no registry to pull from".into()))
}

/// How one endpoint failed.
enum Failure {
    /// No manifest or config from it.
    Resolve(String),
    /// A layer failed.
    Fetch(String),
    /// The store failed.
    Store(Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure::Store(e)
    }
}

/// The crate's reference for `repository` on `host`, by digest when given.
fn oci_reference(host: &str, path: &str, r: &Reference) -> oci_client::Reference {
    match (&r.digest, &r.tag) {
        (Some(d), _) => oci_client::Reference::with_digest(host.into(), path.into(), d.clone()),
        (None, tag) => oci_client::Reference::with_tag(
            host.into(),
            path.into(),
            tag.clone().unwrap_or_else(|| "latest".into()),
        ),
    }
}

async fn pull_one(
    store: &Store,
    endpoint: &Endpoint,
    image: &oci_client::Reference,
    r: &Reference,
    name: &str,
    progress: &dyn Progress,
) -> std::result::Result<ImageSummary, Failure> {
    let resolve =
        |e: &oci_client::errors::OciDistributionError| Failure::Resolve(endpoint.explain(e));
    let (manifest, manifest_digest, config_text, list_digest) = endpoint
        .client
        .pull_manifest_and_config_and_list_digest(image, &endpoint.auth)
        .await
        .map_err(|e| resolve(&e))?;
    let (id, checked) = check_image(&manifest, config_text.as_bytes()).map_err(Failure::Resolve)?;
    // A pull by digest must get that digest (the index's, or the manifest's).
    if let Some(want) = &r.digest {
        if list_digest.as_ref() != Some(want) && manifest_digest != *want {
            return Err(Failure::Resolve(format!(
                "the registry returned manifest {manifest_digest}, not {want}"
            )));
        }
    }
    progress.resolved(&manifest_digest, manifest.layers.len());
    let _lock = store.lock()?;
    let mut index = store.read_index()?;
    // Leftovers of a pull or import that crashed.
    store.gc(&index)?;
    let staging = store.staging()?;
    let mut jobs = Vec::new();
    let mut size = 0;
    for (descriptor, diff_id) in manifest.layers.iter().zip(&checked.diff_ids) {
        if let Some(stored) = index.stored_layer(store, diff_id) {
            progress.layer(&descriptor.digest, descriptor.size, LayerState::Exists);
            size += stored;
            continue;
        }
        if jobs.iter().any(|j: &Job| j.diff_id == *diff_id) {
            continue;
        }
        let digest = Sha256::parse(&descriptor.digest).ok_or_else(|| {
            Failure::Resolve(format!(
                "layer digest {:?} is not a sha256 digest, the only kind podrt verifies",
                descriptor.digest
            ))
        })?;
        let dir = staging.path().join(format!("layer-{}", diff_id.hex()));
        podrt_runtime::private_fs::create_dir(&dir).map_err(Error::io(&dir, "create directory"))?;
        jobs.push(Job {
            descriptor: descriptor.clone(),
            digest,
            diff_id: diff_id.clone(),
            dir,
        });
    }
    let cancel = AtomicBool::new(false);
    let mut first_failure = None;
    let mut results = futures_util::stream::iter(jobs.iter())
        .map(|job| {
            let cancel = &cancel;
            async move {
                (
                    job,
                    fetch::fetch(endpoint, image, job, cancel, progress).await,
                )
            }
        })
        .buffer_unordered(PARALLEL_LAYERS);
    while let Some((job, result)) = results.next().await {
        match result {
            Ok(layer_size) => {
                if let Err(e) = keep_layer(store, &mut index, job, layer_size) {
                    cancel.store(true, Ordering::Relaxed);
                    first_failure.get_or_insert(Failure::Store(e));
                    continue;
                }
                size += layer_size;
                progress.layer(
                    &job.descriptor.digest,
                    job.descriptor.size,
                    LayerState::Done,
                );
            }
            Err(reason) => {
                cancel.store(true, Ordering::Relaxed);
                first_failure
                    .get_or_insert(Failure::Fetch(format!("layer {}: {reason}", job.digest)));
            }
        }
    }
    drop(results);
    drop(staging);
    if let Some(f) = first_failure {
        return Err(f);
    }
    store.write_config(id.hex(), config_text.as_bytes())?;
    let record = Record {
        id: id.to_string(),
        manifest: Some(list_digest.unwrap_or(manifest_digest)),
        layers: checked.diff_ids.iter().map(Sha256::to_string).collect(),
        created: checked.created.clone(),
    };
    index.images.insert(name.to_string(), record.clone());
    store.write_index(&index)?;
    Ok(ImageSummary {
        name: name.to_string(),
        id: record.id,
        size,
        created: record.created,
    })
}

/// Install a finished layer and record it in the index on disk at once.
fn keep_layer(store: &Store, index: &mut Index, job: &Job, size: u64) -> Result<()> {
    store.install_layer(&job.dir, job.diff_id.hex())?;
    index
        .layers
        .insert(job.diff_id.to_string(), LayerRecord { size });
    store.write_index(index)
}

/// The config, checked against the manifest and this host, before any layer;
/// returns its digest (the image id) and its parsed form.
fn check_image(
    manifest: &OciImageManifest,
    config_bytes: &[u8],
) -> std::result::Result<(Sha256, config::Parsed), String> {
    let id = Sha256::of(config_bytes);
    if manifest.config.digest != id.to_string() {
        return Err(format!(
            "the config has digest {id}, but the manifest says {}",
            manifest.config.digest
        ));
    }
    let parsed =
        config::parse(config_bytes).map_err(|e| format!("the image config is not valid: {e}"))?;
    if let Some(why) = config::foreign_platform(&parsed) {
        return Err(format!("the image is {why}"));
    }
    if parsed.diff_ids.len() != manifest.layers.len() {
        return Err(format!(
            "the manifest has {} layers but the config lists {} diff ids",
            manifest.layers.len(),
            parsed.diff_ids.len()
        ));
    }
    if let Some(l) = manifest.layers.iter().find(|l| !unpackable(&l.media_type)) {
        return Err(format!(
            "layer {} has media type {}, which podrt cannot unpack",
            l.digest, l.media_type
        ));
    }
    Ok((id, parsed))
}
