//! Reading a docker-archive (`docker save` / `podman save` output): `manifest.json`
//! lists each image's config file, repo tags and layer tars. The archive carries no
//! manifest digests, so integrity rests on the config's own sha256 (the image id)
//! and on each layer's diff id, which the importer checks while unpacking.

use std::path::Path;

use serde::Deserialize;

use super::digest::Sha256;
use super::error::{Error, Result};
use super::import::{Found, LayerBlob};
use super::reference::normalize;
use super::source::Source;

const DOC_LIMIT: u64 = 4 << 20;

/// One entry of `manifest.json`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Entry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// Read the archive's images. `name` (normalised) replaces the repo tags; it needs
/// the archive to hold exactly one image.
pub(super) fn read(src: &Source, name: Option<&str>) -> Result<Vec<Found>> {
    let bytes = src.read_small("manifest.json", DOC_LIMIT)?;
    let entries: Vec<Entry> = serde_json::from_slice(&bytes).map_err(|e| Error::Json {
        path: src.path().to_path_buf(),
        file: "manifest.json".into(),
        message: e.to_string(),
    })?;
    if entries.is_empty() {
        return Err(invalid(src, "manifest.json lists no images".into()));
    }
    if name.is_some() && entries.len() > 1 {
        return Err(invalid(
            src,
            format!(
                "it holds {} images, and --name can name only one; import it without --name to use their RepoTags",
                entries.len()
            ),
        ));
    }
    entries.into_iter().map(|e| found(src, e, name)).collect()
}

fn found(src: &Source, e: Entry, name: Option<&str>) -> Result<Found> {
    let names = match name {
        Some(n) => vec![n.to_string()],
        None => repo_tags(src, &e)?,
    };
    let config = src.read_small(&e.config, DOC_LIMIT)?;
    let id = Sha256::of(&config);
    // `<hex>.json` (classic) and `blobs/sha256/<hex>` (Docker 25+) name the digest.
    if let Some(expected) = named_digest(&e.config) {
        if expected != id {
            return Err(Error::DigestMismatch {
                path: src.path().to_path_buf(),
                file: e.config,
                expected: expected.to_string(),
                actual: id.to_string(),
            });
        }
    }
    let layers = e
        .layers
        .into_iter()
        .map(|file| LayerBlob {
            digest: named_digest(&file).filter(|_| file.contains("blobs/sha256/")),
            size: None,
            file,
        })
        .collect();
    Ok(Found {
        names,
        manifest: None,
        id,
        config,
        layers,
    })
}

fn repo_tags(src: &Source, e: &Entry) -> Result<Vec<String>> {
    let tags = e.repo_tags.clone().unwrap_or_default();
    if tags.is_empty() {
        return Err(Error::NameNeeded {
            path: src.path().to_path_buf(),
            reason: format!("the image {} has no RepoTags", e.config),
        });
    }
    let mut names = Vec::new();
    for t in &tags {
        let n =
            normalize(t).map_err(|err| invalid(src, format!("manifest.json RepoTags: {err}")))?;
        if !names.contains(&n) {
            names.push(n);
        }
    }
    Ok(names)
}

/// The digest a file's name states: `…/<hex>`, `<hex>.json`, `blobs/sha256/<hex>`.
fn named_digest(file: &str) -> Option<Sha256> {
    let base = Path::new(file).file_name()?.to_str()?;
    Sha256::from_hex(base.strip_suffix(".json").unwrap_or(base))
}

fn invalid(src: &Source, reason: String) -> Error {
    Error::Invalid {
        path: src.path().to_path_buf(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b";

    #[test]
    fn digests_are_read_from_classic_and_oci_style_file_names() {
        assert_eq!(named_digest(&format!("{HEX}.json")).unwrap().hex(), HEX);
        assert_eq!(
            named_digest(&format!("blobs/sha256/{HEX}")).unwrap().hex(),
            HEX
        );
        assert_eq!(named_digest(&format!("{HEX}/layer.tar")), None);
        assert_eq!(named_digest("config.json"), None);
    }

    #[test]
    fn manifest_entries_parse_with_and_without_tags() {
        let json = format!(
            r#"[{{"Config":"{HEX}.json","RepoTags":["busybox:latest"],"Layers":["a/layer.tar"]}},
               {{"Config":"c.json","RepoTags":null,"Layers":[]}}]"#
        );
        let e: Vec<Entry> = serde_json::from_str(&json).unwrap();
        assert_eq!(
            e[0].repo_tags.as_deref(),
            Some(&["busybox:latest".to_string()][..])
        );
        assert_eq!(e[1].repo_tags, None);
    }
}
