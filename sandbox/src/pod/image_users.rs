//! Which pods use which images, so the image store never deletes layers that a
//! container's overlay root still stacks: an image is used by a pod from the
//! moment the pod names it (its containers' records, and the images its manifest
//! names that resolve in the store, for containers not made yet).

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::Result;
use crate::image::ImageStore;
use crate::state::listing::list_pod_sandboxes;

/// Image id → the pods (`namespace/name`) that use it.
pub fn image_users(root: &Path, store: &ImageStore) -> Result<BTreeMap<String, Vec<String>>> {
    let mut users: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for sandbox in list_pod_sandboxes(root)? {
        let meta = &sandbox.record.manifest.metadata;
        let pod = format!(
            "{}/{}",
            meta.namespace.as_deref().unwrap_or("default"),
            meta.name.as_deref().unwrap_or("")
        );
        let mut ids: Vec<String> = sandbox
            .record
            .containers
            .iter()
            .map(|c| c.image_id.clone())
            .collect();
        let spec = sandbox.record.manifest.spec.as_ref();
        let named = spec
            .into_iter()
            .flat_map(|s| s.init_containers.iter().flatten().chain(&s.containers))
            .filter_map(|c| c.image.as_deref());
        for image in named {
            if let Ok(resolved) = store.resolve(image) {
                ids.push(resolved.id);
            }
        }
        ids.sort();
        ids.dedup();
        for id in ids {
            users.entry(id).or_default().push(pod.clone());
        }
    }
    Ok(users)
}
