//! Making and changing pods over the CRI, one blocking function per call
//! (the service runs them off its async workers): stopping and removing
//! sandboxes, and creating, starting, stopping and removing containers of a
//! pod made by `RunPodSandbox` ([`podrt_sandbox::lifecycle::kubelet`]).
//! Sandboxes themselves are made by the [`super::maker`].
//!
//! Stop and remove are idempotent: a sandbox or container already gone is
//! stopped and removed. Errors keep podrt's message and get the gRPC code a
//! client can act on ([`status_of`]).

use std::path::Path;
use std::time::Duration;

use k8s_cri::v1;
use podrt_sandbox::lifecycle::kubelet;
use podrt_sandbox::Error;
use tonic::Status;

use super::sandboxes::{self, Found};

/// The gRPC status of a podrt error: a bad request is `InvalidArgument`, a name
/// taken `AlreadyExists`, something missing `NotFound`, the rest `Internal`.
pub(crate) fn status_of(e: &Error) -> Status {
    let message = e.to_string();
    match e {
        Error::Invalid { .. }
        | Error::Unsupported { .. }
        | Error::HostPortTaken { .. }
        | Error::Manifest(_)
        | Error::Refused { .. }
        | Error::Policy(_) => Status::invalid_argument(message),
        Error::PodExists(_) => Status::already_exists(message),
        Error::PodNotFound(_) | Error::ContainerNotFound { .. } => Status::not_found(message),
        Error::Image(podrt_sandbox::image::Error::NotFound { .. }) => Status::not_found(message),
        _ => Status::internal(message),
    }
}

/// `StopPodSandbox`: every container killed, the sandbox kept (not ready).
pub(crate) fn stop_sandbox(root: &Path, id: &str) -> Result<(), Status> {
    let Some(mut found) = existing(root, id)? else {
        return Ok(());
    };
    kubelet::stop_pod(&mut found.sandbox).map_err(|e| status_of(&e))
}

/// `RemovePodSandbox`: all of it gone.
pub(crate) fn remove_sandbox(root: &Path, id: &str) -> Result<(), Status> {
    let Some(mut found) = existing(root, id)? else {
        return Ok(());
    };
    kubelet::remove_pod(&mut found.sandbox).map_err(|e| status_of(&e))
}

/// The sandbox `id` names, or none if it is gone (a stop or remove of it is
/// done then).
fn existing(root: &Path, id: &str) -> Result<Option<Found>, Status> {
    match sandboxes::find(root, id) {
        Ok(found) => Ok(Some(found)),
        Err(s) if s.code() == tonic::Code::NotFound => Ok(None),
        Err(s) => Err(s),
    }
}

/// `CreateContainer` in the sandbox `sandbox_id`; the new container's id.
pub(crate) fn create_container(
    root: &Path,
    sandbox_id: &str,
    config: &v1::ContainerConfig,
) -> Result<String, Status> {
    let mut found = sandboxes::find(root, sandbox_id)?;
    let reference = config
        .image
        .as_ref()
        .map(|i| i.image.as_str())
        .filter(|i| !i.is_empty())
        .ok_or_else(|| Status::invalid_argument("config.image.image: empty"))?;
    let store = kubelet::images_of(&found.sandbox).map_err(|e| status_of(&e))?;
    let image = super::images::resolve(&store, reference)?.ok_or_else(|| {
        Status::not_found(format!(
            "config.image.image: image {reference:?} is not in podrt's store (pull it first)"
        ))
    })?;
    let new = super::container_config::translate(config, &image.name)?;
    let (_, id) = kubelet::create_container(&mut found.sandbox, new).map_err(|e| status_of(&e))?;
    Ok(id)
}

/// The container `id` (or a unique prefix of it): its pod and its name there.
fn container(root: &Path, id: &str) -> Result<(Found, String), Status> {
    let pods = sandboxes::holding(root, id)?;
    let (pod_id, name) = {
        let made = super::containers::find(&pods, id)?;
        (made.pod.id().to_string(), made.status.name.clone())
    };
    let found = pods
        .into_iter()
        .find(|f| f.id() == pod_id)
        .ok_or_else(|| Status::not_found(format!("container {id:?} not found")))?;
    Ok((found, name))
}

/// `StartContainer`.
pub(crate) fn start_container(root: &Path, id: &str) -> Result<(), Status> {
    let (found, name) = container(root, id)?;
    kubelet::start_container(&found.sandbox, &name).map_err(|e| status_of(&e))
}

/// `StopContainer`, with `timeout` seconds before SIGKILL (0: at once).
pub(crate) fn stop_container(root: &Path, id: &str, timeout: i64) -> Result<(), Status> {
    let (found, name) = match container(root, id) {
        Ok(c) => c,
        Err(s) if s.code() == tonic::Code::NotFound => return Ok(()),
        Err(s) => return Err(s),
    };
    let timeout = Duration::from_secs(u64::try_from(timeout).unwrap_or(0));
    kubelet::stop_container(&found.sandbox, &name, timeout).map_err(|e| status_of(&e))
}

/// `RemoveContainer`.
pub(crate) fn remove_container(root: &Path, id: &str) -> Result<(), Status> {
    let (mut found, name) = match container(root, id) {
        Ok(c) => c,
        Err(s) if s.code() == tonic::Code::NotFound => return Ok(()),
        Err(s) => return Err(s),
    };
    kubelet::remove_container(&mut found.sandbox, &name).map_err(|e| status_of(&e))
}

/// `ReopenContainerLog`: a running container writes to a new file at its log
/// path.
pub(crate) fn reopen_log(root: &Path, id: &str) -> Result<(), Status> {
    let (found, name) = container(root, id)?;
    kubelet::reopen_log(&found.sandbox, &name)
        .map_err(|e| Status::failed_precondition(e.to_string()))
}
