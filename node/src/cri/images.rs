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

/// An image the store has: its id, and one of its names to ask the store by.
pub(crate) struct Named {
    /// The config digest, `sha256:…`.
    pub(crate) id: String,
    /// One of its names.
    pub(crate) name: String,
}

/// The image `reference` names, if the store has it.
pub(crate) fn resolve(store: &ImageStore, reference: &str) -> Result<Option<Named>, Status> {
    let bare = reference.strip_prefix("sha256:").unwrap_or(reference);
    let hex = bare.len() >= MIN_ID_PREFIX && bare.bytes().all(|b| b.is_ascii_hexdigit());
    if hex {
        let list = store.list().map_err(|e| store_error("listing images", e))?;
        // One entry per id: an image with several names is one image.
        let mut ids: BTreeMap<String, String> = BTreeMap::new();
        for i in list {
            if i.id.trim_start_matches("sha256:").starts_with(bare) {
                ids.entry(i.id).or_insert(i.name);
            }
        }
        if ids.len() > 1 {
            return Err(Status::invalid_argument(format!(
                "image.image: {reference:?} is the start of {} images' ids",
                ids.len()
            )));
        }
        if let Some((id, name)) = ids.pop_first() {
            return Ok(Some(Named { id, name }));
        }
    }
    match store.names(reference) {
        Ok((name, id, _)) => Ok(Some(Named { id, name })),
        Err(ImageError::NotFound { .. }) => Ok(None),
        // A hex string that is no id nor a valid name is simply not there.
        Err(ImageError::InvalidReference { .. }) if hex => Ok(None),
        Err(e) => Err(store_error("looking up the image", e)),
    }
}

/// Every image, one entry per id with all its names.
pub(crate) fn list(store: &ImageStore) -> Result<Vec<v1::Image>, Status> {
    let mut first_name: BTreeMap<String, String> = BTreeMap::new();
    for i in store.list().map_err(|e| store_error("listing images", e))? {
        first_name.entry(i.id).or_insert(i.name);
    }
    let mut out = Vec::new();
    for name in first_name.values() {
        // An image removed meanwhile is not listed.
        if let Some((image, _)) = inspected(store, name)? {
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
    match resolve(store, reference)? {
        Some(named) => inspected(store, &named.name),
        None => Ok(None),
    }
}

/// The image named `name` as the CRI describes it, with `image inspect`'s
/// details as info; `None` if it has gone.
fn inspected(store: &ImageStore, name: &str) -> Result<Option<(v1::Image, Info)>, Status> {
    let details = match store.inspect(name) {
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
    let Some(Named { id, .. }) = resolve(store, reference)? else {
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
