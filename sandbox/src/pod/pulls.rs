//! Pulling when a container is made, as kubelet does: by the container's
//! `imagePullPolicy` (`Always`: every time it is made, restarts included;
//! `IfNotPresent`: when the store lacks the image; `Never`: not at all). The
//! settings travel with the pod (its supervisor's plan), since the process that
//! makes its containers has no command line of its own.

use serde::{Deserialize, Serialize};

use crate::image::registry::{Quiet, RegistryOptions};
use crate::image::ImageStore;
use crate::manifest::pull_policy::{image_uses, PullPolicy};

/// How a pod's images are pulled when its containers are made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PullSettings {
    /// How registries are reached, with the pod's pull Secrets.
    pub registries: RegistryOptions,
    /// The config's `defaultImagePullPolicy`.
    pub default_policy: Option<PullPolicy>,
    /// The caller pulled what the pod needed before making it (`podrt apply`):
    /// a container's first start pulls nothing.
    pub prepulled: bool,
}

/// Whether a container of `spec` naming `image` will have it pulled before it
/// is made (its policy is not `Never`), so that validation may count the image
/// as there; always false without `settings`.
pub fn will_pull(
    settings: Option<&PullSettings>,
    spec: &k8s_openapi::api::core::v1::PodSpec,
    image: &str,
) -> bool {
    settings.is_some_and(|s| {
        image_uses(spec, s.default_policy)
            .iter()
            .any(|u| u.image == image && u.policy != PullPolicy::Never)
    })
}

/// What making `container` of `spec` asks of the store now: its image, and
/// whether it must be pulled (its policy is `Always`, or `IfNotPresent` and the
/// store lacks it); `None` for a container with no image or policy `Never`.
pub fn needed(
    settings: &PullSettings,
    store: &ImageStore,
    spec: &k8s_openapi::api::core::v1::PodSpec,
    container: &str,
) -> Option<(String, bool)> {
    let u = image_uses(spec, settings.default_policy)
        .into_iter()
        .find(|u| u.container == container)?;
    let pull = match u.policy {
        PullPolicy::Always => true,
        PullPolicy::IfNotPresent => store.resolve(&u.image).is_err(),
        PullPolicy::Never => return None,
    };
    Some((u.image, pull))
}

/// Pull `image` with `settings`; the error is kubelet's `ErrImagePull` message.
pub fn pull(settings: &PullSettings, store: &ImageStore, image: &str) -> Result<String, String> {
    store
        .pull(image, &settings.registries, &Quiet)
        .map(|summary| summary.id)
        .map_err(|e| format!("Failed to pull image {image:?}: {e}"))
}
