//! podrt's containers in the CRI's terms: `ListContainers`, `ContainerStatus`.
//!
//! A container is listed once it has been made (it has a runtime id); one that
//! is still to be made (an app container behind init containers) is not, as
//! kubelet would not have created it yet. Its id is the runtime's container id
//! (what `podrt-runc list` shows), its attempt its restart count, its log the
//! CRI-format file the supervisor writes. Like sandboxes, a container of a pod
//! made with `podrt apply` carries kubelet's labels
//! (`io.kubernetes.container.name` and the pod's).

use std::collections::HashMap;

use k8s_cri::v1;
use k8s_openapi::api::core::v1::{Container as PodContainer, ContainerStatus};

use podrt_sandbox::state::kubelet_meta::KubeletContainer;

use super::nanos;
use super::sandboxes::{self, Found};

/// kubelet's label of a container's name.
pub(crate) const CONTAINER_NAME_LABEL: &str = "io.kubernetes.container.name";

/// The `podrt://` container id Kubernetes' status shows, without its scheme.
const SCHEME: &str = "podrt://";

/// One made container of a pod: its manifest entry and its status now.
pub(crate) struct Made<'a> {
    /// The pod it belongs to.
    pub(crate) pod: &'a Found,
    /// Its entry in `spec.containers` or `spec.initContainers`.
    pub(crate) spec: Option<PodContainer>,
    /// Its status (`containerStatuses`/`initContainerStatuses`).
    pub(crate) status: ContainerStatus,
    /// Its id.
    pub(crate) id: String,
    /// What kubelet said of it, if kubelet made it.
    pub(crate) kubelet: Option<KubeletContainer>,
}

/// The made containers of `pod`, init containers first.
pub(crate) fn of(pod: &Found) -> Vec<Made<'_>> {
    let spec = pod.pod.spec.clone().unwrap_or_default();
    let status = pod.pod.status.clone().unwrap_or_default();
    let specs: Vec<PodContainer> = spec
        .init_containers
        .unwrap_or_default()
        .into_iter()
        .chain(spec.containers)
        .collect();
    status
        .init_container_statuses
        .unwrap_or_default()
        .into_iter()
        .chain(status.container_statuses.unwrap_or_default())
        .filter_map(|st| {
            let id = st
                .container_id
                .as_deref()?
                .strip_prefix(SCHEME)?
                .to_string();
            let kubelet = pod
                .sandbox
                .record
                .kubelet
                .as_ref()
                .and_then(|k| k.containers.get(&st.name))
                .cloned();
            Some(Made {
                pod,
                spec: specs.iter().find(|c| c.name == st.name).cloned(),
                status: st,
                id,
                kubelet,
            })
        })
        .collect()
}

/// The container whose id is `id` or starts with it, among `pods` (those
/// [`sandboxes::holding`] it); see [`sandboxes::by_prefix`].
pub(crate) fn find<'a>(pods: &'a [Found], id: &str) -> Result<Made<'a>, tonic::Status> {
    if id.is_empty() {
        return Err(tonic::Status::invalid_argument("container_id: empty"));
    }
    let hits: Vec<Made<'a>> = pods
        .iter()
        .flat_map(of)
        .filter(|m| m.id.starts_with(id))
        .collect();
    sandboxes::by_prefix(hits, |m| m.id.as_str(), id, "container_id", "container")
}

/// CREATED until it first starts, RUNNING while it runs, EXITED once it has
/// ended (also while it waits to be restarted).
fn state(st: &ContainerStatus) -> v1::ContainerState {
    let Some(state) = &st.state else {
        return v1::ContainerState::ContainerUnknown;
    };
    if state.running.is_some() {
        v1::ContainerState::ContainerRunning
    } else if state.terminated.is_some() || st.last_state.is_some() {
        v1::ContainerState::ContainerExited
    } else if state.waiting.is_some() {
        v1::ContainerState::ContainerCreated
    } else {
        v1::ContainerState::ContainerUnknown
    }
}

/// Whether it runs now.
pub(crate) fn running(m: &Made<'_>) -> bool {
    state(&m.status) == v1::ContainerState::ContainerRunning
}

/// The container's labels: those kubelet gave it, or for a pod made with
/// `podrt apply` kubelet's own, as the pod carries none per container.
fn labels(m: &Made<'_>) -> HashMap<String, String> {
    if let Some(k) = &m.kubelet {
        return k.labels.clone().into_iter().collect();
    }
    let pod = sandboxes::labels(m.pod);
    let mut labels = HashMap::from([(CONTAINER_NAME_LABEL.to_string(), m.status.name.clone())]);
    for key in [
        sandboxes::POD_NAME_LABEL,
        sandboxes::POD_NAMESPACE_LABEL,
        sandboxes::POD_UID_LABEL,
    ] {
        if let Some(v) = pod.get(key) {
            labels.insert(key.to_string(), v.clone());
        }
    }
    labels
}

/// Its annotations: those kubelet gave it (a pod made with `podrt apply` has
/// none per container).
fn annotations(m: &Made<'_>) -> HashMap<String, String> {
    m.kubelet
        .as_ref()
        .map(|k| k.annotations.clone().into_iter().collect())
        .unwrap_or_default()
}

/// When it was made: when kubelet made it; for a pod made with `podrt
/// apply`, when it (last) started, or the pod's creation before.
fn created_at(m: &Made<'_>) -> i64 {
    if let Some(k) = &m.kubelet {
        return k.created_at;
    }
    let started = m.status.state.as_ref().and_then(|s| {
        s.running
            .as_ref()
            .and_then(|r| r.started_at.clone())
            .or_else(|| s.terminated.as_ref().and_then(|t| t.started_at.clone()))
    });
    match started {
        Some(t) => nanos::of(Some(&t)),
        None => nanos::of(m.pod.pod.metadata.creation_timestamp.as_ref()),
    }
}

fn metadata(m: &Made<'_>) -> v1::ContainerMetadata {
    if let Some(k) = &m.kubelet {
        return v1::ContainerMetadata {
            name: k.name.clone(),
            attempt: k.attempt,
        };
    }
    v1::ContainerMetadata {
        name: m.status.name.clone(),
        attempt: u32::try_from(m.status.restart_count).unwrap_or(0),
    }
}

fn image(m: &Made<'_>) -> v1::ImageSpec {
    v1::ImageSpec {
        image: m.status.image.clone(),
        user_specified_image: match &m.kubelet {
            Some(k) => k.image.clone(),
            None => m
                .spec
                .as_ref()
                .and_then(|c| c.image.clone())
                .unwrap_or_default(),
        },
        ..v1::ImageSpec::default()
    }
}

/// The `ListContainers` entry.
pub(crate) fn container(m: &Made<'_>) -> v1::Container {
    v1::Container {
        id: m.id.clone(),
        pod_sandbox_id: m.pod.id().to_string(),
        metadata: Some(metadata(m)),
        image: Some(image(m)),
        image_ref: m.status.image_id.clone(),
        state: state(&m.status) as i32,
        created_at: created_at(m),
        labels: labels(m),
        annotations: annotations(m),
        image_id: m.status.image_id.clone(),
    }
}

/// Whether `c` passes `filter` (all of its parts that are set).
pub(crate) fn matches(filter: Option<&v1::ContainerFilter>, c: &v1::Container) -> bool {
    let Some(filter) = filter else {
        return true;
    };
    (filter.id.is_empty() || c.id.starts_with(&filter.id))
        && (filter.pod_sandbox_id.is_empty()
            || c.pod_sandbox_id.starts_with(&filter.pod_sandbox_id))
        && filter.state.as_ref().is_none_or(|s| s.state == c.state)
        && sandboxes::selected(&filter.label_selector, &c.labels)
}

/// The `ContainerStatus` status.
pub(crate) fn status(m: &Made<'_>) -> v1::ContainerStatus {
    let st = &m.status;
    let running = st.state.as_ref().and_then(|s| s.running.as_ref());
    // The termination shown: the current one, or the last while it waits to
    // be restarted.
    let ended = st
        .state
        .as_ref()
        .and_then(|s| s.terminated.as_ref())
        .or_else(|| {
            st.last_state
                .as_ref()
                .and_then(|s| s.terminated.as_ref())
                .filter(|_| running.is_none())
        });
    let started_at = running
        .and_then(|r| r.started_at.as_ref())
        .or_else(|| ended.and_then(|t| t.started_at.as_ref()));
    let waiting = st.state.as_ref().and_then(|s| s.waiting.as_ref());
    let mounts = m
        .spec
        .as_ref()
        .and_then(|c| c.volume_mounts.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|vm| v1::Mount {
            container_path: vm.mount_path,
            readonly: vm.read_only.unwrap_or(false),
            ..v1::Mount::default()
        })
        .collect();
    v1::ContainerStatus {
        id: m.id.clone(),
        metadata: Some(metadata(m)),
        state: state(st) as i32,
        created_at: created_at(m),
        started_at: nanos::of(started_at),
        finished_at: nanos::of(ended.and_then(|t| t.finished_at.as_ref())),
        exit_code: ended.map_or(0, |t| t.exit_code),
        image: Some(image(m)),
        image_ref: st.image_id.clone(),
        reason: ended
            .and_then(|t| t.reason.clone())
            .or_else(|| waiting.and_then(|w| w.reason.clone()))
            .unwrap_or_default(),
        message: ended
            .and_then(|t| t.message.clone())
            .or_else(|| waiting.and_then(|w| w.message.clone()))
            .unwrap_or_default(),
        labels: labels(m),
        annotations: annotations(m),
        mounts,
        log_path: log_path(m),
        resources: None,
        image_id: st.image_id.clone(),
        user: None,
    }
}

/// Where its log is: where kubelet asked for it (a link to the one the
/// supervisor writes), or that one.
fn log_path(m: &Made<'_>) -> String {
    let asked = m
        .pod
        .sandbox
        .record
        .kubelet
        .as_ref()
        .zip(m.kubelet.as_ref());
    match asked {
        Some((pod, c)) if !pod.log_directory.is_empty() && !c.log_path.is_empty() => {
            std::path::Path::new(&pod.log_directory)
                .join(&c.log_path)
                .display()
                .to_string()
        }
        _ => m
            .pod
            .sandbox
            .paths
            .log(&m.status.name)
            .display()
            .to_string(),
    }
}

/// `verbose`'s `info`: the pod's entry for the container, its status, and its
/// pod's sandbox id.
pub(crate) fn info(m: &Made<'_>) -> HashMap<String, String> {
    let info = serde_json::json!({
        "sandboxID": m.pod.id(),
        "container": m.spec,
        "status": m.status,
    });
    HashMap::from([("info".to_string(), info.to_string())])
}
