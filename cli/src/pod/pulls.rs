//! Pulling on `apply` and `create`: the images a manifest's pods and pod
//! templates need by their `imagePullPolicy` (`Always`; `IfNotPresent` when the
//! store lacks them) are pulled after the whole manifest is validated and before
//! any of it is made, so a failed pull (kubelet's ErrImagePull) leaves nothing
//! behind. `Never` pulls nothing: validation refuses a missing image. A pod's
//! `imagePullSecrets` are tried before the credentials files.

use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::PodSpec;
use podrt_sandbox::image::registry::{PullSecret, Quiet, RegistryOptions};
use podrt_sandbox::image::ImageStore;
use podrt_sandbox::manifest::pull_policy::{image_uses, PullPolicy};

/// How apply pulls: the registries and the config's default policy.
pub(crate) struct Pulling {
    /// How registries are reached.
    pub(crate) registries: RegistryOptions,
    /// The config's `defaultImagePullPolicy`.
    pub(crate) default: Option<PullPolicy>,
}

/// One image to pull, with the first container that needs it and the pull
/// Secrets of every owner that needs it.
pub(crate) struct Need {
    owner: String,
    container: String,
    image: String,
    secrets: Vec<PullSecret>,
}

/// The images `specs` (each with its owner, e.g. `pod "web"`, and its pull
/// Secrets) need pulled.
pub(crate) fn plan<'a>(
    store: &ImageStore,
    pulling: &Pulling,
    specs: impl Iterator<Item = (String, &'a PodSpec, Vec<PullSecret>)>,
) -> Vec<Need> {
    let mut needs: Vec<Need> = Vec::new();
    for (owner, spec, secrets) in specs {
        for u in image_uses(spec, pulling.default) {
            let wanted = match u.policy {
                PullPolicy::Always => true,
                PullPolicy::IfNotPresent => store.resolve(&u.image).is_err(),
                PullPolicy::Never => false,
            };
            if !wanted {
                continue;
            }
            match needs.iter_mut().find(|n| n.image == u.image) {
                Some(n) => {
                    for s in &secrets {
                        if !n.secrets.contains(s) {
                            n.secrets.push(s.clone());
                        }
                    }
                }
                None => needs.push(Need {
                    owner: owner.clone(),
                    container: u.container,
                    image: u.image,
                    secrets: secrets.clone(),
                }),
            }
        }
    }
    needs
}

/// Whether `image` is among the images to pull.
pub(crate) fn will_pull(needs: &[Need], image: &str) -> bool {
    needs.iter().any(|n| n.image == image)
}

/// Pull them, in order; the first failure names the owner, container and image.
pub(crate) fn run(store: &ImageStore, pulling: &Pulling, needs: &[Need]) -> Result<()> {
    for n in needs {
        eprintln!(
            "Pulling image {:?} ({}, container {:?})",
            n.image, n.owner, n.container
        );
        let registries = RegistryOptions {
            pull_secrets: n.secrets.clone(),
            ..pulling.registries.clone()
        };
        store
            .pull(&n.image, &registries, &Quiet)
            .with_context(|| format!("{}: container {:?}: ErrImagePull", n.owner, n.container))?;
    }
    Ok(())
}
