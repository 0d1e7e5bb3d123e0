//! `describe pod` pages for a running pod with an init container, and a pod
//! being deleted; checked line by line where kubectl's layout is subtle.

use std::time::{Duration, UNIX_EPOCH};

use serde_json::json;

use super::*;

fn now() -> SystemTime {
    // 2026-11-25T14:10:00Z
    UNIX_EPOCH + Duration::from_secs(1_795_615_800)
}

fn pod() -> Pod {
    serde_json::from_value(json!({
        "metadata": {
            "name": "web", "namespace": "default", "uid": "0b7e", "creationTimestamp": "2026-11-25T14:00:00Z",
            "labels": {"tier": "front", "app": "web"},
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}", "note": "hello"},
        },
        "spec": {
            "nodeName": "node1",
            "initContainers": [{"name": "setup", "image": "busybox", "command": ["sh", "-c", "true"]}],
            "containers": [{
                "name": "app", "image": "nginx:1.27", "ports": [{"containerPort": 80}],
                "env": [{"name": "MODE", "value": "prod"}, {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}, "requests": {"cpu": "250m", "memory": "64Mi"}},
                "volumeMounts": [{"name": "data", "mountPath": "/data"}, {"name": "cache", "mountPath": "/cache", "readOnly": true}],
            }],
            "volumes": [{"name": "data", "emptyDir": {}}, {"name": "cache", "hostPath": {"path": "/var/cache", "type": "Directory"}}],
        },
        "status": {
            "phase": "Running", "hostIP": "192.168.1.10", "podIP": "10.88.0.2", "podIPs": [{"ip": "10.88.0.2"}],
            "startTime": "2026-11-25T14:00:01Z",
            "conditions": [{"type": "Initialized", "status": "True"}, {"type": "PodScheduled", "status": "True"}],
            "initContainerStatuses": [{
                "name": "setup", "image": "busybox", "imageID": "sha256:abc", "containerID": "podrt://111",
                "ready": false, "restartCount": 0,
                "state": {"terminated": {"exitCode": 0, "reason": "Completed",
                                         "startedAt": "2026-11-25T14:00:01Z", "finishedAt": "2026-11-25T14:00:02Z"}},
            }],
            "containerStatuses": [{
                "name": "app", "image": "nginx:1.27", "imageID": "sha256:def", "containerID": "podrt://222",
                "ready": true, "restartCount": 2, "state": {"running": {"startedAt": "2026-11-25T14:05:00Z"}},
                "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled",
                                             "startedAt": "2026-11-25T14:01:00Z", "finishedAt": "2026-11-25T14:04:59Z"}},
            }],
        },
    }))
    .unwrap()
}

#[track_caller]
fn assert_has(page: &str, want: &str) {
    assert!(page.contains(want), "missing:\n{want}\nin page:\n{page}");
}

#[test]
fn header_is_aligned_and_complete() {
    let page = describe(&pod(), &[], now());
    assert!(page.starts_with(
        "\
Name:         web
Namespace:    default
Node:         node1/192.168.1.10
Start Time:   Wed, 25 Nov 2026 14:00:01 +0000
Labels:       app=web
              tier=front
Annotations:  note: hello
Status:       Running
IP:           10.88.0.2
IPs:
  IP:  10.88.0.2
Init Containers:
  setup:
"
    ));
    assert!(!page.contains("last-applied"));
}

#[test]
fn containers_show_state_resources_env_and_mounts() {
    let page = describe(&pod(), &[], now());
    assert_has(&page, "    Command:\n      sh\n      -c\n      true\n    State:          Terminated\n      Reason:       Completed\n      Exit Code:    0\n");
    assert_has(&page, "    Container ID:   podrt://222\n    Image:          nginx:1.27\n    Image ID:       sha256:def\n    Port:           80/TCP\n    Host Port:      0/TCP\n");
    assert_has(&page, "    State:          Running\n      Started:      Wed, 25 Nov 2026 14:05:00 +0000\n    Last State:     Terminated\n      Reason:       OOMKilled\n      Exit Code:    137\n");
    assert_has(&page, "    Ready:          True\n    Restart Count:  2\n    Limits:\n      cpu:     500m\n      memory:  128Mi\n    Requests:\n");
    assert_has(
        &page,
        "    Environment:\n      MODE:  prod\n      POD:   web (v1:metadata.name)\n",
    );
    assert_has(
        &page,
        "    Mounts:\n      /cache from cache (ro)\n      /data from data (rw)\n",
    );
    assert_has(
        &page,
        "    Environment:    <none>\n    Mounts:         <none>\n",
    );
}

#[test]
fn conditions_volumes_and_trailer() {
    let page = describe(&pod(), &[], now());
    assert_has(
        &page,
        "Conditions:\n  Type           Status\n  Initialized    True \n  PodScheduled   True \n",
    );
    assert_has(&page, "  data:\n    Type:       EmptyDir (a temporary directory that shares a pod's lifetime)\n    Medium:     \n    SizeLimit:  <unset>\n");
    assert_has(&page, "    Type:          HostPath (bare host directory volume)\n    Path:          /var/cache\n    HostPathType:  Directory\n");
    // The last volume's block runs on through the trailer, as in kubectl.
    let trailer =
        "    HostPathType:  Directory\nQoS Class:         Burstable\nNode-Selectors:    <none>\n\
                   Tolerations:       <none>\nEvents:            <none>\n";
    assert!(page.ends_with(trailer), "{page}");
}

#[test]
fn deleted_pod_is_terminating() {
    let mut p = pod();
    p.metadata.deletion_timestamp = serde_json::from_value(json!("2026-11-25T14:05:00Z")).unwrap();
    p.metadata.deletion_grace_period_seconds = Some(30);
    let page = describe(&p, &[], now());
    assert_has(
        &page,
        "Status:                    Terminating (lasts 5m)\nTermination Grace Period:  30s\n",
    );
}

#[test]
fn empty_pod_prints_placeholders() {
    let p: Pod =
        serde_json::from_value(json!({"metadata": {"name": "bare"}, "spec": {"containers": []}}))
            .unwrap();
    let page = describe(&p, &[], now());
    assert_has(&page, "Node:         <none>\n");
    assert_has(&page, "IPs:          <none>\nContainers: <none>\nVolumes:         <none>\nQoS Class:       BestEffort\n");
}
