//! The CRI's ImageService over podrt's image store ([`super::images`]):
//! images imported with `podrt image import` or pulled by `podrt image pull`
//! are the ones listed, and `PullImage` pulls as `image pull` does, with the
//! request's credentials searched before the configured ones (as kubelet's
//! pull secrets are).

use std::sync::Arc;

use base64::Engine;
use k8s_cri::v1;
use k8s_cri::v1::image_service_server::ImageService;
use podrt_sandbox::image::registry::{PullSecret, Quiet, RegistryOptions};
use podrt_sandbox::image::ImageStore;
use podrt_sandbox::pod::Options;
use tonic::{Request, Response, Status};

use super::images;
use super::server::blocking;

/// The ImageService of one podrt installation.
pub(crate) struct Images {
    opts: Arc<Options>,
    registries: Arc<RegistryOptions>,
}

impl Images {
    /// For pods under `opts` (its image store), pulling with `registries`.
    pub(crate) fn new(opts: Arc<Options>, registries: RegistryOptions) -> Images {
        Images {
            opts,
            registries: Arc::new(registries),
        }
    }

    /// Run `work` on the store, off the async workers.
    async fn with_store<T: Send + 'static>(
        &self,
        work: impl FnOnce(&ImageStore) -> Result<T, Status> + Send + 'static,
    ) -> Result<T, Status> {
        let root = self.opts.image_root.clone();
        blocking(move || {
            let store = ImageStore::open(&root)
                .map_err(|e| images::store_error("opening the image store", e))?;
            work(&store)
        })
        .await
    }
}

/// The image a request names, which must be given.
fn reference(spec: Option<&v1::ImageSpec>) -> Result<String, Status> {
    spec.map(|s| s.image.trim().to_string())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Status::invalid_argument("image.image: empty: name the image"))
}

/// The request's credentials as a pull secret for `reference`'s registry (or
/// the `server_address` they name).
fn credentials(auth: &v1::AuthConfig, reference: &str) -> Option<PullSecret> {
    let mut entry = serde_json::Map::new();
    if !auth.auth.is_empty() {
        entry.insert("auth".into(), auth.auth.clone().into());
    } else if !auth.username.is_empty() || !auth.password.is_empty() {
        let pair = format!("{}:{}", auth.username, auth.password);
        let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
        entry.insert("auth".into(), encoded.into());
    }
    if !auth.identity_token.is_empty() {
        entry.insert("identitytoken".into(), auth.identity_token.clone().into());
    }
    if !auth.registry_token.is_empty() {
        entry.insert("registrytoken".into(), auth.registry_token.clone().into());
    }
    if entry.is_empty() {
        return None;
    }
    let server = if auth.server_address.is_empty() {
        images::registry_of(reference)
    } else {
        auth.server_address.clone()
    };
    let config = serde_json::json!({ "auths": { server: entry } });
    Some(PullSecret {
        name: "the PullImage request's auth".into(),
        config: config.to_string().into_bytes(),
    })
}

#[tonic::async_trait]
impl ImageService for Images {
    async fn list_images(
        &self,
        request: Request<v1::ListImagesRequest>,
    ) -> Result<Response<v1::ListImagesResponse>, Status> {
        let wanted = request
            .into_inner()
            .filter
            .and_then(|f| f.image)
            .map(|s| s.image)
            .filter(|s| !s.is_empty());
        let images = self
            .with_store(move |store| {
                let all = images::list(store)?;
                let Some(wanted) = wanted else {
                    return Ok(all);
                };
                let id = images::resolve(store, &wanted)?.map(|n| n.id);
                Ok(all
                    .into_iter()
                    .filter(|i| Some(&i.id) == id.as_ref())
                    .collect())
            })
            .await?;
        Ok(Response::new(v1::ListImagesResponse { images }))
    }

    async fn image_status(
        &self,
        request: Request<v1::ImageStatusRequest>,
    ) -> Result<Response<v1::ImageStatusResponse>, Status> {
        let request = request.into_inner();
        let reference = reference(request.image.as_ref())?;
        let verbose = request.verbose;
        let found = self
            .with_store(move |store| images::status(store, &reference))
            .await?;
        Ok(Response::new(match found {
            Some((image, info)) => v1::ImageStatusResponse {
                image: Some(image),
                info: if verbose { info } else { Default::default() },
            },
            None => v1::ImageStatusResponse::default(),
        }))
    }

    async fn pull_image(
        &self,
        request: Request<v1::PullImageRequest>,
    ) -> Result<Response<v1::PullImageResponse>, Status> {
        let request = request.into_inner();
        let reference = reference(request.image.as_ref())?;
        let mut registries = (*self.registries).clone();
        if let Some(secret) = request
            .auth
            .as_ref()
            .and_then(|a| credentials(a, &reference))
        {
            registries.pull_secrets.insert(0, secret);
        }
        let image_ref = self
            .with_store(
                move |store| match store.pull(&reference, &registries, &Quiet) {
                    Ok(summary) => Ok(summary.id),
                    Err(e @ podrt_sandbox::image::Error::InvalidReference { .. }) => {
                        Err(Status::invalid_argument(format!("image.image: {e}")))
                    }
                    Err(e) => Err(Status::unknown(e.to_string())),
                },
            )
            .await?;
        Ok(Response::new(v1::PullImageResponse { image_ref }))
    }

    async fn remove_image(
        &self,
        request: Request<v1::RemoveImageRequest>,
    ) -> Result<Response<v1::RemoveImageResponse>, Status> {
        let reference = reference(request.into_inner().image.as_ref())?;
        self.with_store(move |store| images::remove(store, &reference))
            .await?;
        Ok(Response::new(v1::RemoveImageResponse {}))
    }

    async fn image_fs_info(
        &self,
        _request: Request<v1::ImageFsInfoRequest>,
    ) -> Result<Response<v1::ImageFsInfoResponse>, Status> {
        let root = self.opts.image_root.clone();
        let usage = blocking(move || Ok(images::usage(&root))).await?;
        Ok(Response::new(v1::ImageFsInfoResponse {
            image_filesystems: vec![usage],
            container_filesystems: Vec::new(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_credentials_become_a_secret_for_the_registry() {
        let auth = v1::AuthConfig {
            username: "u".into(),
            password: "p".into(),
            ..v1::AuthConfig::default()
        };
        let secret = credentials(&auth, "127.0.0.1:5000/busybox:1").unwrap();
        let config: serde_json::Value = serde_json::from_slice(&secret.config).unwrap();
        assert_eq!(config["auths"]["127.0.0.1:5000"]["auth"], "dTpw");
        assert!(credentials(&v1::AuthConfig::default(), "busybox").is_none());
    }
}
