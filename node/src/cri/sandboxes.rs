//! podrt's pods as CRI pod sandboxes: `ListPodSandbox`, `PodSandboxStatus`.
//!
//! A sandbox's id is the pod's podrt UID (new for every pod, so a pod made again
//! under the same name is another sandbox, as kubelet expects of a new attempt).
//! A pod made with `podrt apply` carries the labels kubelet would have given
//! its sandbox (`io.kubernetes.pod.{name,namespace,uid}`) besides its own, so
//! tools that select kubelet's pods by them find it. Ids may be given as a
//! unique prefix, as crictl prints them shortened.

use std::collections::HashMap;

use k8s_cri::v1;
use k8s_openapi::api::core::v1::Pod;
use podrt_sandbox::lifecycle::status::pod_object;
use podrt_sandbox::state::Sandbox;
use tonic::Status;

use super::nanos;

/// kubelet's label of a sandbox's pod name.
pub(crate) const POD_NAME_LABEL: &str = "io.kubernetes.pod.name";
/// kubelet's label of a sandbox's pod namespace.
pub(crate) const POD_NAMESPACE_LABEL: &str = "io.kubernetes.pod.namespace";
/// kubelet's label of a sandbox's pod UID.
pub(crate) const POD_UID_LABEL: &str = "io.kubernetes.pod.uid";

/// One pod as the CRI sees it: its state on disk and its object now.
pub(crate) struct Found {
    /// The pod's state.
    pub(crate) sandbox: Sandbox,
    /// `get -o yaml`'s object, with its status as of now.
    pub(crate) pod: Pod,
}

impl Found {
    /// The sandbox id.
    pub(crate) fn id(&self) -> &str {
        &self.sandbox.record.uid
    }
}

/// Every pod under `root`, oldest first.
pub(crate) fn all(root: &std::path::Path) -> Result<Vec<Found>, Status> {
    matching(root, |_| true)
}

/// The pods under `root` that `keep` keeps, their statuses computed only for
/// them (a status asks the pod's supervisor).
fn matching(root: &std::path::Path, keep: impl Fn(&Sandbox) -> bool) -> Result<Vec<Found>, Status> {
    let pods = podrt_sandbox::state::listing::list_pod_sandboxes(root)
        .map_err(|e| Status::internal(format!("listing pods: {e}")))?;
    Ok(pods
        .into_iter()
        .filter(|sandbox| keep(sandbox))
        .map(|sandbox| Found {
            pod: pod_object(&sandbox),
            sandbox,
        })
        .collect())
}

/// The pods holding a container whose id starts with `container_id`.
pub(crate) fn holding(root: &std::path::Path, container_id: &str) -> Result<Vec<Found>, Status> {
    matching(root, |s| s.has_container_id(container_id))
}

/// The one of `hits` (all starting with `id`) that `id` names: the one it
/// is the whole id of, else the only one; `NotFound` if none,
/// `InvalidArgument` naming `field` if the prefix is shared. `what` is the
/// kind of object, for messages.
pub(crate) fn by_prefix<T>(
    mut hits: Vec<T>,
    id_of: impl Fn(&T) -> &str,
    id: &str,
    field: &str,
    what: &str,
) -> Result<T, Status> {
    if let Some(i) = hits.iter().position(|h| id_of(h) == id) {
        return Ok(hits.swap_remove(i));
    }
    match hits.len() {
        0 => Err(Status::not_found(format!("{what} {id:?} not found"))),
        1 => Ok(hits.remove(0)),
        n => Err(Status::invalid_argument(format!(
            "{field}: {id:?} is the start of {n} {what}s' ids; give more of it"
        ))),
    }
}

/// The pod whose sandbox id is `id` or starts with it (see [`by_prefix`]).
pub(crate) fn find(root: &std::path::Path, id: &str) -> Result<Found, Status> {
    if id.is_empty() {
        return Err(Status::invalid_argument("pod_sandbox_id: empty"));
    }
    let hits = matching(root, |s| s.record.uid.starts_with(id))?;
    by_prefix(hits, Found::id, id, "pod_sandbox_id", "pod sandbox")
}

/// The sandbox's labels: the pod's, and kubelet's own where the pod has not
/// set them.
pub(crate) fn labels(f: &Found) -> HashMap<String, String> {
    if let Some(k) = &f.sandbox.record.kubelet {
        return k.labels.clone().into_iter().collect();
    }
    let meta = &f.pod.metadata;
    let mut labels: HashMap<String, String> = meta
        .labels
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    for (key, value) in [
        (POD_NAME_LABEL, meta.name.clone().unwrap_or_default()),
        (POD_NAMESPACE_LABEL, f.sandbox.record.namespace.clone()),
        (POD_UID_LABEL, f.sandbox.record.uid.clone()),
    ] {
        labels.entry(key.to_string()).or_insert(value);
    }
    labels
}

/// The pod's annotations, unchanged (kubelet's as given, for a pod it made).
pub(crate) fn annotations(f: &Found) -> HashMap<String, String> {
    if let Some(k) = &f.sandbox.record.kubelet {
        return k.annotations.clone().into_iter().collect();
    }
    f.pod
        .metadata
        .annotations
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect()
}

/// Its metadata: name, namespace, UID and attempt (kubelet's, for a pod it
/// made).
fn metadata(f: &Found) -> v1::PodSandboxMetadata {
    if let Some(k) = &f.sandbox.record.kubelet {
        return v1::PodSandboxMetadata {
            name: k.name.clone(),
            uid: k.uid.clone(),
            namespace: k.namespace.clone(),
            attempt: k.attempt,
        };
    }
    v1::PodSandboxMetadata {
        name: f.sandbox.record.name.clone(),
        uid: f.sandbox.record.uid.clone(),
        namespace: f.sandbox.record.namespace.clone(),
        attempt: 0,
    }
}

/// Ready while its namespaces stand: until its deletion begins, unless its
/// creation was cut short.
pub(crate) fn state(f: &Found) -> v1::PodSandboxState {
    let status = f.pod.status.as_ref();
    let interrupted = status.and_then(|s| s.reason.as_deref()) == Some("CreationInterrupted");
    if f.pod.metadata.deletion_timestamp.is_some() || interrupted {
        v1::PodSandboxState::SandboxNotready
    } else {
        v1::PodSandboxState::SandboxReady
    }
}

fn created_at(f: &Found) -> i64 {
    nanos::of(f.pod.metadata.creation_timestamp.as_ref())
}

/// The `ListPodSandbox` entry.
pub(crate) fn pod_sandbox(f: &Found) -> v1::PodSandbox {
    v1::PodSandbox {
        id: f.id().to_string(),
        metadata: Some(metadata(f)),
        state: state(f) as i32,
        created_at: created_at(f),
        labels: labels(f),
        annotations: annotations(f),
        runtime_handler: String::new(),
    }
}

/// Whether `sandbox` passes `filter` (all of its parts that are set).
pub(crate) fn matches(filter: Option<&v1::PodSandboxFilter>, sandbox: &v1::PodSandbox) -> bool {
    let Some(filter) = filter else {
        return true;
    };
    (filter.id.is_empty() || sandbox.id.starts_with(&filter.id))
        && filter
            .state
            .as_ref()
            .is_none_or(|s| s.state == sandbox.state)
        && selected(&filter.label_selector, &sandbox.labels)
}

/// Whether `labels` hold every pair of `selector`.
pub(crate) fn selected(
    selector: &HashMap<String, String>,
    labels: &HashMap<String, String>,
) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// The namespaces the pod shares with the host (NODE), across its containers
/// (POD) or per container (CONTAINER).
fn namespaces(f: &Found) -> v1::NamespaceOption {
    let spec = f.pod.spec.clone().unwrap_or_default();
    let node_or = |host: Option<bool>, otherwise: v1::NamespaceMode| {
        if host == Some(true) {
            v1::NamespaceMode::Node as i32
        } else {
            otherwise as i32
        }
    };
    let shared_pid = if spec.share_process_namespace == Some(true) {
        v1::NamespaceMode::Pod
    } else {
        v1::NamespaceMode::Container
    };
    v1::NamespaceOption {
        network: node_or(spec.host_network, v1::NamespaceMode::Pod),
        pid: node_or(spec.host_pid, shared_pid),
        ipc: node_or(spec.host_ipc, v1::NamespaceMode::Pod),
        target_id: String::new(),
        userns_options: None,
    }
}

/// The `PodSandboxStatus` status.
pub(crate) fn status(f: &Found) -> v1::PodSandboxStatus {
    let ips: Vec<String> = f
        .pod
        .status
        .as_ref()
        .and_then(|s| s.pod_ips.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|ip| ip.ip)
        .collect();
    v1::PodSandboxStatus {
        id: f.id().to_string(),
        metadata: Some(metadata(f)),
        state: state(f) as i32,
        created_at: created_at(f),
        network: Some(v1::PodSandboxNetworkStatus {
            ip: ips.first().cloned().unwrap_or_default(),
            additional_ips: ips
                .iter()
                .skip(1)
                .map(|ip| v1::PodIp { ip: ip.clone() })
                .collect(),
        }),
        linux: Some(v1::LinuxPodSandboxStatus {
            namespaces: Some(v1::Namespace {
                options: Some(namespaces(f)),
            }),
        }),
        labels: labels(f),
        annotations: annotations(f),
        runtime_handler: String::new(),
    }
}

/// `verbose`'s `info`: the pod object as `get -o json` shows it.
pub(crate) fn info(f: &Found) -> HashMap<String, String> {
    let info = serde_json::json!({ "pod": f.pod });
    HashMap::from([("info".to_string(), info.to_string())])
}
