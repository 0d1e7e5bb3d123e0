//! Reading an OCI image layout (directory or oci-archive tar): `oci-layout`,
//! `index.json` and the blobs it leads to, following nested indexes down to the
//! host platform's manifest. Every blob is checked against its digest and size.
//! Layers are only described here; the importer streams and verifies them.

use oci_spec::image::{Descriptor, ImageIndex, ImageManifest, Platform};
use serde::de::DeserializeOwned;

use super::config::host_platform;
use super::digest::Sha256;
use super::error::{Error, Result};
use super::import::{Found, LayerBlob};
use super::reference::normalize;
use super::source::Source;

/// Image documents are small; a bigger file is not one.
const DOC_LIMIT: u64 = 4 << 20;
const REF_NAME: &str = "org.opencontainers.image.ref.name";
const CONTAINERD_NAME: &str = "io.containerd.image.name";
const MAX_DEPTH: usize = 4;
const INDEX_TYPES: [&str; 2] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];
const MANIFEST_TYPES: [&str; 2] = [
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];
const CONFIG_TYPES: [&str; 2] = [
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.docker.container.image.v1+json",
];
const LAYER_PREFIXES: [&str; 2] = [
    "application/vnd.oci.image.layer.",
    "application/vnd.docker.image.rootfs.",
];

/// Whether a layer of `media_type` is a tar podrt can unpack (plain or
/// compressed; not encrypted).
pub(super) fn unpackable(media_type: &str) -> bool {
    LAYER_PREFIXES.iter().any(|p| media_type.starts_with(p)) && !media_type.contains("encrypted")
}

/// One manifest found in the layout, with the names its index entries give it.
struct Candidate {
    digest: Sha256,
    manifest: ImageManifest,
    names: Vec<String>,
}

/// Read the layout's images for this host. `name` (normalised) replaces the names
/// the layout gives; it needs the layout to hold exactly one image.
pub(super) fn read(src: &Source, name: Option<&str>) -> Result<Vec<Found>> {
    let layout: serde_json::Value =
        parse(src, "oci-layout", &src.read_small("oci-layout", DOC_LIMIT)?)?;
    if !layout["imageLayoutVersion"]
        .as_str()
        .is_some_and(|v| v.starts_with("1."))
    {
        return Err(invalid(
            src,
            format!(
                "oci-layout has imageLayoutVersion {}, podrt reads 1.x",
                layout["imageLayoutVersion"]
            ),
        ));
    }
    let index: ImageIndex = parse(src, "index.json", &src.read_small("index.json", DOC_LIMIT)?)?;
    let mut candidates: Vec<Candidate> = Vec::new();
    let mut other_platforms = Vec::new();
    for desc in index.manifests() {
        if !matches_host(desc.platform().as_ref(), &mut other_platforms) {
            continue;
        }
        let Some((digest, manifest)) = manifest_for(src, desc, 0, &mut other_platforms)? else {
            continue;
        };
        let names = own_name(desc).into_iter().collect::<Vec<_>>();
        match candidates.iter_mut().find(|c| c.digest == digest) {
            Some(c) => c.names.extend(names),
            None => candidates.push(Candidate {
                digest,
                manifest,
                names,
            }),
        }
    }
    if candidates.is_empty() {
        let (os, arch) = host_platform();
        let seen = if other_platforms.is_empty() {
            "none".to_string()
        } else {
            other_platforms.join(", ")
        };
        return Err(invalid(
            src,
            format!("index.json has no image manifest for {os}/{arch} (platforms present: {seen})"),
        ));
    }
    if let Some(name) = name {
        if candidates.len() > 1 {
            let list: Vec<String> = candidates.iter().map(|c| c.digest.to_string()).collect();
            return Err(invalid(
                src,
                format!(
                    "it holds {} images ({}), and --name can name only one; import it without --name to use their own names",
                    candidates.len(),
                    list.join(", ")
                ),
            ));
        }
        candidates[0].names = vec![name.to_string()];
    } else {
        for c in &mut candidates {
            c.names = normalized_names(src, &c.names)?;
        }
    }
    candidates.into_iter().map(|c| found(src, c)).collect()
}

/// Follow `desc` to a manifest: directly, or through (nested) indexes picking the
/// host platform. `None` for descriptors that are not images (attestations, artifacts).
fn manifest_for(
    src: &Source,
    desc: &Descriptor,
    depth: usize,
    other_platforms: &mut Vec<String>,
) -> Result<Option<(Sha256, ImageManifest)>> {
    let media_type = desc.media_type().to_string();
    let digest = sha256(src, desc)?;
    if MANIFEST_TYPES.contains(&media_type.as_str()) {
        let manifest = parse(
            src,
            &blob_path(&digest),
            &read_blob(src, &digest, desc.size())?,
        )?;
        return Ok(Some((digest, manifest)));
    }
    if !INDEX_TYPES.contains(&media_type.as_str()) {
        return Ok(None);
    }
    if depth >= MAX_DEPTH {
        return Err(invalid(
            src,
            format!("indexes are nested more than {MAX_DEPTH} deep at {digest}"),
        ));
    }
    let index: ImageIndex = parse(
        src,
        &blob_path(&digest),
        &read_blob(src, &digest, desc.size())?,
    )?;
    for child in index.manifests() {
        if matches_host(child.platform().as_ref(), other_platforms) {
            if let Some(found) = manifest_for(src, child, depth + 1, other_platforms)? {
                return Ok(Some(found));
            }
        }
    }
    Ok(None)
}

/// Does `platform` (if given) match the host? Remembers the ones that do not.
fn matches_host(platform: Option<&Platform>, others: &mut Vec<String>) -> bool {
    let Some(p) = platform else { return true };
    let (os, arch) = host_platform();
    let (p_os, p_arch) = (p.os().to_string(), p.architecture().to_string());
    if p_os == os && p_arch == arch {
        return true;
    }
    let s = format!("{p_os}/{p_arch}");
    if !others.contains(&s) {
        others.push(s);
    }
    false
}

/// The name an index entry gives its image: containerd's full name, else the OCI
/// ref name (which may be only a tag).
fn own_name(desc: &Descriptor) -> Option<String> {
    let ann = desc.annotations().as_ref()?;
    ann.get(CONTAINERD_NAME)
        .or_else(|| ann.get(REF_NAME))
        .cloned()
}

fn normalized_names(src: &Source, raw: &[String]) -> Result<Vec<String>> {
    let Some(first) = raw.first() else {
        return Err(Error::NameNeeded {
            path: src.path().to_path_buf(),
            reason: format!("the image has no name (no {REF_NAME} annotation in index.json)"),
        });
    };
    let mut names = Vec::new();
    for r in raw {
        // A bare word is a tag only ("latest"), as skopeo's `oci:DIR:TAG` writes it.
        if !r.contains(['/', ':']) {
            return Err(Error::NameNeeded {
                path: src.path().to_path_buf(),
                reason: format!("the image's name is only the tag {r:?}"),
            });
        }
        let n = normalize(r)
            .map_err(|e| invalid(src, format!("index.json names the image {first:?}: {e}")))?;
        if !names.contains(&n) {
            names.push(n);
        }
    }
    Ok(names)
}

fn found(src: &Source, c: Candidate) -> Result<Found> {
    let config = c.manifest.config();
    let config_type = config.media_type().to_string();
    if !CONFIG_TYPES.contains(&config_type.as_str()) {
        return Err(invalid(
            src,
            format!(
                "manifest {} is not a container image (config media type {config_type})",
                c.digest
            ),
        ));
    }
    let id = sha256(src, config)?;
    let config_bytes = read_blob(src, &id, config.size())?;
    let mut layers = Vec::new();
    for l in c.manifest.layers() {
        let media_type = l.media_type().to_string();
        let digest = sha256(src, l)?;
        if !unpackable(&media_type) {
            return Err(invalid(
                src,
                format!("layer {digest} has media type {media_type}, which podrt cannot unpack"),
            ));
        }
        layers.push(LayerBlob {
            file: blob_path(&digest),
            digest: Some(digest),
            size: Some(l.size()),
        });
    }
    Ok(Found {
        names: c.names,
        manifest: Some(c.digest),
        id,
        config: config_bytes,
        layers,
    })
}

fn sha256(src: &Source, desc: &Descriptor) -> Result<Sha256> {
    Sha256::parse(desc.digest().as_ref()).ok_or_else(|| {
        invalid(
            src,
            format!(
                "digest {} is not sha256, the only algorithm podrt supports",
                desc.digest()
            ),
        )
    })
}

pub(super) fn blob_path(digest: &Sha256) -> String {
    format!("blobs/sha256/{}", digest.hex())
}

/// Read a JSON blob, checking its digest and then its size.
fn read_blob(src: &Source, digest: &Sha256, size: u64) -> Result<Vec<u8>> {
    let file = blob_path(digest);
    let bytes = src.read_small(&file, DOC_LIMIT)?;
    let actual = Sha256::of(&bytes);
    if actual != *digest {
        return Err(Error::DigestMismatch {
            path: src.path().to_path_buf(),
            file,
            expected: digest.to_string(),
            actual: actual.to_string(),
        });
    }
    if bytes.len() as u64 != size {
        return Err(invalid(
            src,
            format!(
                "{file} is {} bytes, but its descriptor says {size}",
                bytes.len()
            ),
        ));
    }
    Ok(bytes)
}

fn parse<T: DeserializeOwned>(src: &Source, file: &str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| Error::Json {
        path: src.path().to_path_buf(),
        file: file.to_string(),
        message: e.to_string(),
    })
}

fn invalid(src: &Source, reason: String) -> Error {
    Error::Invalid {
        path: src.path().to_path_buf(),
        reason,
    }
}
