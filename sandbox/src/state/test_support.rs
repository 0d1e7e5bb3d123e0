//! Test fixtures for the pod's state: a record as `apply` writes one, and that pod
//! on disk under a temporary root removed when the test ends, pass or fail. No
//! kernel object is made: what needs root is left to the integration tests.

use k8s_openapi::api::core::v1::{Pod, PodSpec};
use serde_json::Value;

pub(crate) use crate::cni::test_support::TempDir;
use crate::state::paths::PodPaths;
use crate::state::record::{ContainerRecord, PodRecord, PodStage, RECORD_VERSION};
use crate::state::Sandbox;

/// The record of pod `name` (UID `uid`) whose spec is the JSON `spec`, at
/// [`PodStage::Created`], with no container made yet.
pub(crate) fn record(name: &str, uid: &str, spec: Value) -> PodRecord {
    let spec: PodSpec = serde_json::from_value(spec).expect("a valid PodSpec");
    let mut manifest = Pod {
        spec: Some(spec),
        ..Pod::default()
    };
    manifest.metadata.name = Some(name.to_string());
    let settings = Some(crate::manifest::settings_of(&manifest));
    PodRecord {
        version: RECORD_VERSION,
        uid: uid.to_string(),
        name: name.to_string(),
        namespace: "default".into(),
        created: "2026-01-02T03:04:05Z".into(),
        manifest,
        settings,
        hostname: name.to_string(),
        // No installation uses this parent: a removal that prunes empty
        // parents never touches a real one.
        cgroup_parent: format!("/podrt-unit-tests/pod{uid}"),
        stage: PodStage::Created,
        deletion_timestamp: None,
        pod_init: None,
        supervisor: None,
        containers: Vec::new(),
        volumes: Vec::new(),
        network: None,
        security: Default::default(),
        userns: None,
        image_root: None,
        kubelet: None,
    }
}

/// The record of container `name`, started at `started_at` if given.
pub(crate) fn container(name: &str, init: bool, started_at: Option<&str>) -> ContainerRecord {
    ContainerRecord {
        name: name.to_string(),
        id: format!("id-{name}"),
        init,
        image: "busybox".into(),
        image_name: "docker.io/library/busybox:latest".into(),
        image_id: format!("sha256:{}", "ab".repeat(32)),
        started_at: started_at.map(String::from),
    }
}

/// `record` saved as a pod under a fresh temporary root (`tag` names it); the root
/// goes when the returned [`TempDir`] is dropped.
pub(crate) fn on_disk(tag: &str, record: PodRecord) -> (TempDir, Sandbox) {
    let root = TempDir::new(&format!("state-{tag}"));
    let paths = PodPaths::new(root.path(), &record.uid);
    std::fs::create_dir_all(&paths.dir).expect("pod dir");
    let sandbox = Sandbox { paths, record };
    sandbox.save().expect("saving pod.json");
    (root, sandbox)
}
