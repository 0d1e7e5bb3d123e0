//! STATUS, READY and RESTARTS for each case kubectl distinguishes, from Pod JSON.

use std::time::{Duration, UNIX_EPOCH};

use serde_json::{json, Value};

use super::*;

const CREATED: &str = "2026-11-25T14:00:00Z";
/// Five minutes before `now()`.
const FIVE_MIN_AGO: &str = "2026-11-25T14:05:00Z";

fn now() -> SystemTime {
    let t: Time = serde_json::from_value(json!("2026-11-25T14:10:00Z")).unwrap();
    UNIX_EPOCH + Duration::from_nanos(t.0.as_nanosecond() as u64)
}

/// A pod with init containers `inits`, containers `apps`, and `status`.
fn pod(inits: Value, apps: &[&str], status: Value) -> Pod {
    let apps: Vec<Value> = apps
        .iter()
        .map(|n| json!({"name": n, "image": "busybox"}))
        .collect();
    serde_json::from_value(json!({
        "metadata": {"name": "web", "uid": "u1", "creationTimestamp": CREATED},
        "spec": {"initContainers": inits, "containers": apps},
        "status": status,
    }))
    .unwrap()
}

fn cs(name: &str, ready: bool, restarts: i32, state: Value) -> Value {
    json!({"name": name, "image": "busybox", "imageID": "", "ready": ready, "restartCount": restarts, "state": state})
}
fn running() -> Value {
    json!({"running": {"startedAt": CREATED}})
}
fn waiting(reason: &str) -> Value {
    json!({"waiting": {"reason": reason}})
}
fn terminated(reason: Option<&str>, exit_code: i32, signal: Option<i32>) -> Value {
    json!({"terminated": {"reason": reason, "exitCode": exit_code, "signal": signal, "finishedAt": CREATED}})
}
fn inits(n: usize) -> Value {
    (0..n)
        .map(|i| json!({"name": format!("init{i}"), "image": "busybox"}))
        .collect()
}
fn app_pod(phase: &str, statuses: Vec<Value>) -> Pod {
    let names: Vec<String> = (0..statuses.len()).map(|i| format!("c{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    pod(
        json!([]),
        &names,
        json!({"phase": phase, "containerStatuses": statuses}),
    )
}
fn init_pod(init_statuses: Vec<Value>) -> Pod {
    let app = cs("c0", false, 0, waiting("PodInitializing"));
    pod(
        inits(2),
        &["c0"],
        json!({"phase": "Pending", "initContainerStatuses": init_statuses, "containerStatuses": [app]}),
    )
}
fn status(p: &Pod) -> String {
    row(p, now()).status
}

#[test]
fn phase_when_nothing_else_is_known() {
    assert_eq!(
        status(&pod(json!([]), &["c0"], json!({"phase": "Pending"}))),
        "Pending"
    );
    let gated = json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]});
    assert_eq!(status(&pod(json!([]), &["c0"], gated)), "SchedulingGated");
}

#[test]
fn running_pod() {
    let r = row(
        &app_pod(
            "Running",
            vec![cs("c0", true, 0, running()), cs("c1", false, 0, running())],
        ),
        now(),
    );
    assert_eq!(
        (
            r.status.as_str(),
            r.ready.as_str(),
            r.restarts.as_str(),
            r.age.as_str()
        ),
        ("Running", "1/2", "0", "10m")
    );
}

#[test]
fn init_progress() {
    let p = init_pod(vec![
        cs("init0", false, 0, running()),
        cs("init1", false, 0, waiting("PodInitializing")),
    ]);
    assert_eq!(status(&p), "Init:0/2");
    let p = init_pod(vec![
        cs("init0", false, 0, terminated(Some("Completed"), 0, None)),
        cs("init1", false, 0, running()),
    ]);
    assert_eq!(status(&p), "Init:1/2");
}

#[test]
fn init_failures() {
    let p = init_pod(vec![cs(
        "init0",
        false,
        0,
        terminated(Some("Error"), 1, None),
    )]);
    assert_eq!(status(&p), "Init:Error");
    let p = init_pod(vec![cs("init0", false, 0, terminated(None, 2, None))]);
    assert_eq!(status(&p), "Init:ExitCode:2");
    let p = init_pod(vec![cs("init0", false, 0, terminated(None, 137, Some(9)))]);
    assert_eq!(status(&p), "Init:Signal:9");
    let mut crash = cs("init0", false, 3, waiting("CrashLoopBackOff"));
    crash["lastState"] =
        json!({"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": FIVE_MIN_AGO}});
    let r = row(&init_pod(vec![crash]), now());
    assert_eq!(
        (r.status.as_str(), r.restarts.as_str(), r.ready.as_str()),
        ("Init:CrashLoopBackOff", "3 (5m ago)", "0/1")
    );
}

#[test]
fn pod_initializing_after_init_containers_finish() {
    let done = |n: &str| cs(n, false, 0, terminated(Some("Completed"), 0, None));
    let p = init_pod(vec![done("init0"), done("init1")]);
    assert_eq!(status(&p), "PodInitializing");
}

#[test]
fn app_container_reasons() {
    let mut crash = cs("c0", false, 5, waiting("CrashLoopBackOff"));
    crash["lastState"] = json!({"terminated": {"exitCode": 1, "finishedAt": FIVE_MIN_AGO}});
    let r = row(&app_pod("Running", vec![crash]), now());
    assert_eq!(
        (r.status.as_str(), r.restarts.as_str()),
        ("CrashLoopBackOff", "5 (5m ago)")
    );
    let cases = [
        (
            "Succeeded",
            terminated(Some("Completed"), 0, None),
            "Completed",
        ),
        ("Failed", terminated(Some("Error"), 1, None), "Error"),
        (
            "Failed",
            terminated(Some("OOMKilled"), 137, None),
            "OOMKilled",
        ),
        ("Failed", terminated(None, 3, None), "ExitCode:3"),
        ("Failed", terminated(None, 137, Some(9)), "Signal:9"),
    ];
    for (phase, state, want) in cases {
        let r = row(&app_pod(phase, vec![cs("c0", false, 0, state)]), now());
        assert_eq!((r.status.as_str(), r.ready.as_str()), (want, "0/1"));
    }
}

#[test]
fn completed_with_a_running_container_is_running_or_not_ready() {
    let statuses = vec![
        cs("c0", false, 0, terminated(Some("Completed"), 0, None)),
        cs("c1", true, 0, running()),
    ];
    assert_eq!(status(&app_pod("Running", statuses.clone())), "NotReady");
    let mut p = app_pod("Running", statuses);
    let ready: Vec<PodCondition> =
        serde_json::from_value(json!([{"type": "Ready", "status": "True"}])).unwrap();
    p.status.as_mut().unwrap().conditions = Some(ready);
    assert_eq!(status(&p), "Running");
}

#[test]
fn deletion() {
    let mut p = app_pod("Running", vec![cs("c0", true, 0, running())]);
    p.metadata.deletion_timestamp = serde_json::from_value(json!(FIVE_MIN_AGO)).unwrap();
    assert_eq!(status(&p), "Terminating");
    p.status.as_mut().unwrap().reason = Some("NodeLost".into());
    assert_eq!(status(&p), "Unknown");
    let mut done = app_pod(
        "Succeeded",
        vec![cs("c0", false, 0, terminated(Some("Completed"), 0, None))],
    );
    done.metadata.deletion_timestamp = serde_json::from_value(json!(FIVE_MIN_AGO)).unwrap();
    assert_eq!(status(&done), "Completed");
}

#[test]
fn sidecars_count_as_containers() {
    let inits = json!([{"name": "init0", "image": "busybox"}, {"name": "side", "image": "busybox", "restartPolicy": "Always"}]);
    let mut side = cs("side", true, 2, running());
    side["started"] = json!(true);
    side["lastState"] = json!({"terminated": {"exitCode": 1, "finishedAt": FIVE_MIN_AGO}});
    let st = json!({
        "phase": "Running",
        "initContainerStatuses": [cs("init0", false, 4, terminated(Some("Completed"), 0, None)), side],
        "containerStatuses": [cs("c0", true, 1, running())],
    });
    let r = row(&pod(inits, &["c0"], st), now());
    // Finished init containers' restarts no longer count; the sidecar's do.
    assert_eq!(
        (r.status.as_str(), r.ready.as_str(), r.restarts.as_str()),
        ("Running", "2/2", "3 (5m ago)")
    );
}

#[test]
fn wide_cells() {
    let mut p = app_pod("Running", vec![cs("c0", true, 0, running())]);
    assert_eq!(
        (row(&p, now()).ip, row(&p, now()).node),
        ("<none>".to_string(), "<none>".to_string())
    );
    let st = p.status.as_mut().unwrap();
    st.pod_ip = Some("10.88.0.5".into());
    st.conditions = Some(
        serde_json::from_value(json!([{"type": "example.com/gate", "status": "True"}])).unwrap(),
    );
    let spec = p.spec.as_mut().unwrap();
    spec.node_name = Some("node1".into());
    spec.readiness_gates = Some(
        serde_json::from_value(
            json!([{"conditionType": "example.com/gate"}, {"conditionType": "x"}]),
        )
        .unwrap(),
    );
    let r = row(&p, now());
    assert_eq!(
        (
            r.ip.as_str(),
            r.node.as_str(),
            r.nominated_node.as_str(),
            r.readiness_gates.as_str()
        ),
        ("10.88.0.5", "node1", "<none>", "1/2")
    );
}
