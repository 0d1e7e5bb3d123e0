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

/// What a pull before making a container came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pulled {
    /// Nothing to pull (the policy, or the store has the image).
    NotNeeded,
    /// Pulled: the image id.
    Pulled(String),
}

/// Pull `container`'s image of `spec` if its policy asks for it now; the error is
/// kubelet's `ErrImagePull` message.
pub fn pull_for(
    settings: &PullSettings,
    store: &ImageStore,
    spec: &k8s_openapi::api::core::v1::PodSpec,
    container: &str,
) -> Result<Pulled, String> {
    let Some(u) = image_uses(spec, settings.default_policy)
        .into_iter()
        .find(|u| u.container == container)
    else {
        return Ok(Pulled::NotNeeded);
    };
    let wanted = match u.policy {
        PullPolicy::Always => true,
        PullPolicy::IfNotPresent => store.resolve(&u.image).is_err(),
        PullPolicy::Never => false,
    };
    if !wanted {
        return Ok(Pulled::NotNeeded);
    }
    store
        .pull(&u.image, &settings.registries, &Quiet)
        .map(|summary| Pulled::Pulled(summary.id))
        .map_err(|e| format!("Failed to pull image {:?}: {e}", u.image))
}
