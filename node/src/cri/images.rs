//! podrt's image store in the CRI's terms. An image's id is its config digest
//! (`sha256:…`), as containerd's is; its repo tags are every name it has in
//! the store. A reference is a name (normalised as `podrt images` does, so
//! `busybox` is `docker.io/library/busybox:latest`), `repo@digest`, or an id
//! (whole, without `sha256:`, or a unique prefix of at least 12 digits).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use k8s_cri::v1;
use podrt_sandbox::image::{Error as ImageError, ImageStore};
use tonic::Status;

/// The shortest id prefix taken for an id (what `crictl images` prints).
const MIN_ID_PREFIX: usize = 12;

/// A store error as a gRPC status: a bad reference is the caller's, the rest
/// the store's.
pub(crate) fn store_error(what: &str, e: ImageError) -> Status {
    match e {
        ImageError::InvalidReference { .. } => {
            Status::invalid_argument(format!("image.image: {e}"))
        }
        ImageError::NotFound { .. } => Status::not_found(e.to_string()),
        e => Status::internal(format!("{what}: {e}")),
    }
}

/// The id `reference` names, if the store has it.
pub(crate) fn resolve(store: &ImageStore, reference: &str) -> Result<Option<String>, Status> {
    let bare = reference.strip_prefix("sha256:").unwrap_or(reference);
    let hex = bare.len() >= MIN_ID_PREFIX && bare.bytes().all(|b| b.is_ascii_hexdigit());
    if hex {
        let list = store.list().map_err(|e| store_error("listing images", e))?;
        // One entry per name: an image with several names is one id.
        let mut ids: Vec<String> = list
            .into_iter()
            .map(|i| i.id)
            .filter(|id| id.trim_start_matches("sha256:").starts_with(bare))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        if ids.len() == 1 {
            return Ok(ids.pop());
        }
        if ids.len() > 1 {
            return Err(Status::invalid_argument(format!(
                "image.image: {reference:?} is the start of {} images' ids",
                ids.len()
            )));
        }
    }
    match store.names(reference) {
        Ok((_, id, _)) => Ok(Some(id)),
        Err(ImageError::NotFound { .. }) => Ok(None),
        // A hex string that is no id nor a valid name is simply not there.
        Err(ImageError::InvalidReference { .. }) if hex => Ok(None),
        Err(e) => Err(store_error("looking up the image", e)),
    }
}

/// Every image, one entry per id with all its names.
pub(crate) fn list(store: &ImageStore) -> Result<Vec<v1::Image>, Status> {
    let mut by_id: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for i in store.list().map_err(|e| store_error("listing images", e))? {
        by_id.entry(i.id).or_default().push(i.name);
    }
    let mut out = Vec::new();
    for id in by_id.keys() {
        // An image removed meanwhile is not listed.
        if let Some((image, _)) = status(store, id)? {
            out.push(image);
        }
    }
    Ok(out)
}

/// `verbose`'s `info` map.
pub(crate) type Info = HashMap<String, String>;

/// The image `reference` names, and its details for `verbose`'s info.
pub(crate) fn status(
    store: &ImageStore,
    reference: &str,
) -> Result<Option<(v1::Image, Info)>, Status> {
    let Some(id) = resolve(store, reference)? else {
        return Ok(None);
    };
    let Some(name) = name_of(store, &id)? else {
        return Ok(None);
    };
    let details = match store.inspect(&name) {
        Ok(d) => d,
        Err(ImageError::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(store_error("inspecting the image", e)),
    };
    let (uid, username) = user(details.config.user.as_deref());
    let image = v1::Image {
        id: details.id.clone(),
        repo_tags: details.repo_tags.clone(),
        repo_digests: details.repo_digests.clone(),
        size: details.size,
        uid,
        username,
        spec: Some(v1::ImageSpec {
            image: details.id.clone(),
            ..v1::ImageSpec::default()
        }),
        pinned: false,
    };
    let info = serde_json::to_string(&details).unwrap_or_default();
    Ok(Some((image, HashMap::from([("info".to_string(), info)]))))
}

/// One name of the image `id`, to ask the store by.
fn name_of(store: &ImageStore, id: &str) -> Result<Option<String>, Status> {
    let list = store.list().map_err(|e| store_error("listing images", e))?;
    Ok(list.into_iter().find(|i| i.id == id).map(|i| i.name))
}

/// The image's user as the CRI gives it: a numeric user (with or without a
/// group) as `uid`, a name as `username`.
fn user(user: Option<&str>) -> (Option<v1::Int64Value>, String) {
    let Some(user) = user.filter(|u| !u.is_empty()) else {
        return (Some(v1::Int64Value { value: 0 }), String::new());
    };
    let who = user.split(':').next().unwrap_or(user);
    match who.parse::<i64>() {
        Ok(value) => (Some(v1::Int64Value { value }), String::new()),
        Err(_) => (None, who.to_string()),
    }
}

/// Remove every name of the image `reference` names; nothing if it is gone.
pub(crate) fn remove(store: &ImageStore, reference: &str) -> Result<(), Status> {
    let Some(id) = resolve(store, reference)? else {
        return Ok(());
    };
    let list = store.list().map_err(|e| store_error("listing images", e))?;
    for name in list.into_iter().filter(|i| i.id == id).map(|i| i.name) {
        match store.remove(&name) {
            Ok(()) | Err(ImageError::NotFound { .. }) => {}
            Err(e) => return Err(store_error("removing the image", e)),
        }
    }
    Ok(())
}

/// How much the image store holds on its filesystem: bytes in use (blocks)
/// and inodes, counted over its tree.
pub(crate) fn usage(image_root: &Path) -> v1::FilesystemUsage {
    let (bytes, inodes) = super::disk_usage::tree_usage(image_root);
    v1::FilesystemUsage {
        timestamp: super::nanos::now(),
        fs_id: Some(v1::FilesystemIdentifier {
            mountpoint: image_root.display().to_string(),
        }),
        used_bytes: Some(v1::UInt64Value { value: bytes }),
        inodes_used: Some(v1::UInt64Value { value: inodes }),
    }
}

/// The registry an image reference is pulled from, as credentials name it:
/// its first component when that is a host (has a dot or a port, or is
/// `localhost`), else Docker Hub.
pub(crate) fn registry_of(reference: &str) -> String {
    match reference.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            first.to_string()
        }
        _ => "docker.io".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_are_numbers_or_names() {
        assert_eq!(user(None).0, Some(v1::Int64Value { value: 0 }));
        assert_eq!(
            user(Some("1000:1000")).0,
            Some(v1::Int64Value { value: 1000 })
        );
        assert_eq!(user(Some("nobody")), (None, "nobody".to_string()));
    }

    #[test]
    fn registries_of_references() {
        assert_eq!(registry_of("busybox"), "docker.io");
        assert_eq!(registry_of("library/busybox:1"), "docker.io");
        assert_eq!(registry_of("127.0.0.1:5000/busybox"), "127.0.0.1:5000");
        assert_eq!(registry_of("quay.io/x/y"), "quay.io");
        assert_eq!(registry_of("localhost/x"), "localhost");
    }
}
