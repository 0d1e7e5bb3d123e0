//! The phase rules over hand-made container statuses, then whole statuses of pods
//! on disk under a temporary root: no supervisor answers and no container process
//! runs there, so every state comes from the state files and the pod's record.

use super::*;
use crate::proc::identity::ProcRef;
use crate::state::test_support::{container, on_disk, record, TempDir};
use serde_json::json;

const UID: &str = "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f";
const T0: &str = "2026-01-02T03:04:05Z";
const T1: &str = "2026-01-02T03:04:09Z";

// --- phase: Kubernetes' rules over container statuses ---

fn with_state(state: ContainerState) -> ContainerStatus {
    ContainerStatus {
        state: Some(state),
        ..ContainerStatus::default()
    }
}

fn waiting_status(reason: &str) -> ContainerStatus {
    with_state(ContainerState {
        waiting: Some(ContainerStateWaiting {
            reason: Some(reason.into()),
            message: None,
        }),
        ..ContainerState::default()
    })
}

fn running_status() -> ContainerStatus {
    with_state(running(None))
}

fn exited(code: i32) -> ContainerStatus {
    with_state(ContainerState {
        terminated: Some(ContainerStateTerminated {
            exit_code: code,
            ..ContainerStateTerminated::default()
        }),
        ..ContainerState::default()
    })
}

/// Waiting to be restarted after an exit with `code`.
fn backing_off(code: i32) -> ContainerStatus {
    ContainerStatus {
        last_state: exited(code).state,
        ..waiting_status("CrashLoopBackOff")
    }
}

#[test]
fn a_failed_init_container_fails_the_pod_only_under_restart_policy_never() {
    let inits = [exited(0), exited(1)];
    let apps = [waiting_status("PodInitializing")];
    assert_eq!(phase(&inits, &apps, RestartPolicy::Never), "Failed");
    assert_eq!(phase(&inits, &apps, RestartPolicy::OnFailure), "Pending");
    assert_eq!(phase(&inits, &apps, RestartPolicy::Always), "Pending");
    assert_eq!(phase(&inits, &apps, RestartPolicy::Always), "Pending");
}

#[test]
fn the_pod_is_pending_until_every_app_container_has_started() {
    let inits = [exited(0)];
    let apps = [running_status(), waiting_status("ContainerCreating")];
    assert_eq!(phase(&inits, &apps, RestartPolicy::Never), "Pending");
    assert_eq!(phase(&inits, &apps, RestartPolicy::Always), "Pending");
    let apps = [running_status(), running_status()];
    assert_eq!(phase(&inits, &apps, RestartPolicy::Always), "Running");
}

#[test]
fn a_container_waiting_to_be_restarted_has_started() {
    let apps = [backing_off(2)];
    assert_eq!(phase(&[], &apps, RestartPolicy::Always), "Running");
    assert_eq!(phase(&[], &apps, RestartPolicy::OnFailure), "Running");
}

#[test]
fn under_never_the_pod_ends_with_its_containers() {
    let never = RestartPolicy::Never;
    assert_eq!(phase(&[], &[exited(0), exited(0)], never), "Succeeded");
    assert_eq!(phase(&[], &[exited(0), exited(3)], never), "Failed");
    assert_eq!(phase(&[], &[exited(0), running_status()], never), "Running");
}

#[test]
fn under_on_failure_only_success_ends_the_pod() {
    let on_failure = RestartPolicy::OnFailure;
    assert_eq!(phase(&[], &[exited(0), exited(0)], on_failure), "Succeeded");
    assert_eq!(phase(&[], &[exited(0), exited(3)], on_failure), "Running");
}

#[test]
fn under_always_the_pod_runs_on_whatever_ends() {
    let policy = RestartPolicy::Always;
    assert_eq!(phase(&[], &[exited(0)], policy), "Running");
    assert_eq!(phase(&[], &[exited(1)], policy), "Running");
}

// --- status: the pod on disk, no supervisor, no container process ---

fn spec() -> serde_json::Value {
    json!({
        "initContainers": [{"name": "setup", "image": "busybox"}],
        "containers": [{"name": "app", "image": "nginx"}],
        "restartPolicy": "Never"
    })
}

fn save_state(sandbox: &Sandbox, name: &str, state: &ContainerStateFile) {
    let path = sandbox.paths.container_state(name);
    std::fs::create_dir_all(sandbox.paths.container(name)).expect("container dir");
    state.save(&path).expect("saving state.json");
}

fn ended(exit_code: Option<i32>, reason: &str) -> Terminated {
    Terminated {
        exit_code,
        signal: None,
        reason: reason.into(),
        started_at: Some(T0.into()),
        finished_at: T1.into(),
    }
}

fn recorded(state: Recorded) -> ContainerStateFile {
    ContainerStateFile {
        state,
        last_state: None,
        restart_count: 0,
    }
}

fn condition(s: &PodStatus, typ: &str) -> String {
    s.conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == typ)
        .map(|c| c.status.clone())
        .unwrap_or_else(|| panic!("no {typ} condition"))
}

fn app(s: &PodStatus) -> &ContainerStatus {
    &s.container_statuses.as_ref().expect("container statuses")[0]
}

fn init(s: &PodStatus) -> &ContainerStatus {
    &s.init_container_statuses.as_ref().expect("init statuses")[0]
}

fn waiting_reason(c: &ContainerStatus) -> Option<&str> {
    c.state.as_ref()?.waiting.as_ref()?.reason.as_deref()
}

fn terminated_of(c: &ContainerStatus) -> &ContainerStateTerminated {
    c.state
        .as_ref()
        .and_then(|s| s.terminated.as_ref())
        .expect("terminated")
}

fn pod(tag: &str, stage: PodStage) -> (TempDir, Sandbox) {
    let mut r = record("web", UID, spec());
    r.stage = stage;
    on_disk(tag, r)
}

#[test]
fn a_pod_being_created_waits_in_container_creating() {
    let (_root, sandbox) = pod("creating", PodStage::Creating);
    let s = status(&sandbox);
    assert_eq!(s.phase.as_deref(), Some("Pending"));
    assert_eq!(waiting_reason(init(&s)), Some("PodInitializing"));
    assert_eq!(waiting_reason(app(&s)), Some("ContainerCreating"));
    assert_eq!(app(&s).image, "nginx");
    assert_eq!(app(&s).container_id, None);
    assert_eq!(condition(&s, "Initialized"), "False");
    assert_eq!(condition(&s, "Ready"), "False");
    assert_eq!(condition(&s, "ContainersReady"), "False");
    assert_eq!(condition(&s, "PodScheduled"), "True");
    assert_eq!(s.reason, None);
    assert_eq!(s.start_time, time(T0));
    assert_eq!(s.qos_class.as_deref(), Some("BestEffort"));
    assert_eq!((s.pod_ip.as_ref(), s.pod_ips.as_ref()), (None, None));
}

#[test]
fn app_containers_not_made_yet_of_a_made_pod_wait_in_pod_initializing() {
    let (_root, sandbox) = pod("initializing", PodStage::Created);
    let s = status(&sandbox);
    assert_eq!(waiting_reason(app(&s)), Some("PodInitializing"));
}

#[test]
fn a_creation_whose_supervisor_died_is_pending_and_says_so() {
    let mut r = record("web", UID, spec());
    r.stage = PodStage::Creating;
    // No process has this start time: the supervisor is dead.
    r.supervisor = Some(ProcRef {
        pid: std::process::id() as i32,
        start_time: u64::MAX,
    });
    r.containers = vec![container("setup", true, Some(T0))];
    let (_root, sandbox) = on_disk("interrupted", r);
    // Whatever the state files say, the pod does not run.
    save_state(
        &sandbox,
        "setup",
        &recorded(Recorded::Terminated(ended(Some(0), "Completed"))),
    );
    let s = status(&sandbox);
    assert_eq!(s.phase.as_deref(), Some("Pending"));
    assert_eq!(s.reason.as_deref(), Some("CreationInterrupted"));
    assert!(
        s.message.as_deref().is_some_and(|m| m.contains("podrt gc")),
        "{:?}",
        s.message
    );
    assert_eq!(condition(&s, "Initialized"), "True");
    assert_eq!(condition(&s, "Ready"), "False");
}

#[test]
fn a_container_recorded_running_whose_process_is_gone_is_status_unknown() {
    let mut r = record("web", UID, spec());
    r.containers = vec![
        container("setup", true, Some(T0)),
        container("app", false, Some(T0)),
    ];
    let (_root, sandbox) = on_disk("unknown", r);
    save_state(
        &sandbox,
        "setup",
        &recorded(Recorded::Terminated(ended(Some(0), "Completed"))),
    );
    save_state(
        &sandbox,
        "app",
        &recorded(Recorded::Running {
            started_at: T1.into(),
        }),
    );
    let s = status(&sandbox);
    let t = terminated_of(app(&s));
    assert_eq!(t.exit_code, UNKNOWN_EXIT_CODE);
    assert_eq!(t.reason.as_deref(), Some(UNKNOWN_REASON));
    assert_eq!(t.message.as_deref(), Some(UNSEEN_MESSAGE));
    assert_eq!(t.started_at, time(T1));
    assert_eq!(t.container_id.as_deref(), Some("podrt://id-app"));
    assert!(!app(&s).ready);
    assert_eq!(app(&s).started, Some(false));
    assert_eq!(condition(&s, "Initialized"), "True");
    // Never, and it ended with -1: the pod failed.
    assert_eq!(s.phase.as_deref(), Some("Failed"));
}

#[test]
fn containers_that_completed_under_never_make_the_pod_succeed() {
    let mut r = record("web", UID, spec());
    r.containers = vec![
        container("setup", true, Some(T0)),
        container("app", false, Some(T0)),
    ];
    let (_root, sandbox) = on_disk("succeeded", r);
    for name in ["setup", "app"] {
        save_state(
            &sandbox,
            name,
            &recorded(Recorded::Terminated(ended(Some(0), "Completed"))),
        );
    }
    let s = status(&sandbox);
    assert_eq!(s.phase.as_deref(), Some("Succeeded"));
    let t = terminated_of(app(&s));
    assert_eq!((t.exit_code, t.reason.as_deref()), (0, Some("Completed")));
    assert_eq!(t.message, None);
    assert_eq!(
        (t.started_at.clone(), t.finished_at.clone()),
        (time(T0), time(T1))
    );
    assert_eq!(app(&s).image, "docker.io/library/busybox:latest");
    assert!(app(&s).image_id.starts_with("sha256:"));
}

#[test]
fn an_exit_nobody_saw_is_minus_one_with_the_reason_recorded() {
    let mut r = record("web", UID, spec());
    r.containers = vec![container("setup", true, Some(T0))];
    let (_root, sandbox) = on_disk("unseen", r);
    save_state(
        &sandbox,
        "setup",
        &recorded(Recorded::Terminated(ended(None, UNKNOWN_REASON))),
    );
    let s = status(&sandbox);
    let t = terminated_of(init(&s));
    assert_eq!(t.exit_code, UNKNOWN_EXIT_CODE);
    assert_eq!(t.message.as_deref(), Some(UNSEEN_MESSAGE));
    // -1 is no success: the init container failed, and under Never the pod.
    assert_eq!(condition(&s, "Initialized"), "False");
    assert_eq!(s.phase.as_deref(), Some("Failed"));
}

#[test]
fn a_restarted_container_shows_its_last_termination_and_restart_count() {
    let mut r = record("web", UID, json!({"containers": [{"name": "app"}]}));
    r.containers = vec![container("app", false, Some(T0))];
    let (_root, sandbox) = on_disk("restarted", r);
    let mut signalled = ended(Some(137), "Error");
    signalled.signal = Some(libc::SIGKILL);
    save_state(
        &sandbox,
        "app",
        &ContainerStateFile {
            state: Recorded::Waiting {
                reason: "CrashLoopBackOff".into(),
                message: Some("back-off 40s".into()),
            },
            last_state: Some(signalled),
            restart_count: 4,
        },
    );
    let s = status(&sandbox);
    let c = app(&s);
    assert_eq!(waiting_reason(c), Some("CrashLoopBackOff"));
    let msg = c
        .state
        .as_ref()
        .and_then(|st| st.waiting.as_ref()?.message.clone());
    assert_eq!(msg.as_deref(), Some("back-off 40s"));
    assert_eq!(c.restart_count, 4);
    let last = c.last_state.as_ref().and_then(|l| l.terminated.as_ref());
    let last = last.expect("last state");
    assert_eq!((last.exit_code, last.signal), (137, Some(libc::SIGKILL)));
    assert_eq!(s.init_container_statuses, None);
    // Waiting to be restarted counts as started: the pod runs (Always).
    assert_eq!(s.phase.as_deref(), Some("Running"));
}

#[test]
fn without_any_supervisor_record_the_container_record_decides() {
    let mut r = record(
        "web",
        UID,
        json!({"containers": [{"name": "new"}, {"name": "old"}]}),
    );
    r.containers = vec![
        container("new", false, None),
        container("old", false, Some(T0)),
    ];
    let (_root, sandbox) = on_disk("no-supervisor", r);
    let s = status(&sandbox);
    let apps = s.container_statuses.as_ref().expect("statuses");
    // Made, never started.
    assert_eq!(waiting_reason(&apps[0]), Some("ContainerCreating"));
    assert_eq!(apps[0].restart_count, 0);
    // Started, and no process runs: ended, how is unknown.
    let t = terminated_of(&apps[1]);
    assert_eq!(t.exit_code, UNKNOWN_EXIT_CODE);
    assert_eq!(t.reason.as_deref(), Some(UNKNOWN_REASON));
    assert_eq!(t.started_at, time(T0));
}

#[test]
fn the_supervisors_answer_wins_over_the_state_file() {
    let mut r = record("web", UID, json!({"containers": [{"name": "app"}]}));
    r.containers = vec![container("app", false, Some(T0))];
    let (_root, sandbox) = on_disk("live", r);
    save_state(
        &sandbox,
        "app",
        &recorded(Recorded::Terminated(ended(Some(0), "Completed"))),
    );
    let live: Live = [(
        "app".to_string(),
        ContainerStateFile {
            state: Recorded::Waiting {
                reason: "CrashLoopBackOff".into(),
                message: None,
            },
            last_state: Some(ended(Some(2), "Error")),
            restart_count: 1,
        },
    )]
    .into();
    let c = container_status(&sandbox, Some(&live), "app", None, "PodInitializing");
    assert_eq!(waiting_reason(&c), Some("CrashLoopBackOff"));
    assert_eq!(c.restart_count, 1);
    // A container the answer does not name falls back to its file.
    let c = container_status(&sandbox, Some(&Live::new()), "app", None, "PodInitializing");
    assert_eq!(terminated_of(&c).reason.as_deref(), Some("Completed"));
}

#[test]
fn pod_ips_come_from_the_network_result_ipv4_first() {
    let mut r = record("web", UID, json!({"containers": [{"name": "app"}]}));
    r.network = Some(crate::state::record::PodNetwork {
        list: crate::cni::NetworkList {
            name: "podrt".into(),
            cni_version: "1.0.0".into(),
            plugins: vec![json!({"type": "bridge"})],
            source: None,
        },
        bin_dirs: Vec::new(),
        ifname: "eth0".into(),
        capability_args: Default::default(),
        result: Some(
            crate::cni::CniResult::from_json(json!({
                "cniVersion": "1.0.0",
                "interfaces": [{"name": "eth0", "sandbox": "/proc/1/ns/net"}],
                "ips": [
                    {"address": "fd00::9/64", "interface": 0},
                    {"address": "10.88.0.9/16", "interface": 0}
                ]
            }))
            .expect("a valid result"),
        ),
    });
    let (_root, sandbox) = on_disk("ips", r);
    let s = status(&sandbox);
    assert_eq!(s.pod_ip.as_deref(), Some("10.88.0.9"));
    let ips: Vec<String> = s.pod_ips.iter().flatten().map(|p| p.ip.clone()).collect();
    assert_eq!(ips, ["10.88.0.9", "fd00::9"]);
}

#[test]
fn the_pod_object_carries_the_records_identity_and_times() {
    let mut r = record("web", UID, json!({"containers": [{"name": "app"}]}));
    r.namespace = "team".into();
    r.stage = PodStage::Deleting;
    r.deletion_timestamp = Some(T1.into());
    let (_root, sandbox) = on_disk("object", r);
    let p = pod_object(&sandbox);
    assert_eq!(p.metadata.uid.as_deref(), Some(UID));
    assert_eq!(p.metadata.namespace.as_deref(), Some("team"));
    assert_eq!(p.metadata.creation_timestamp, time(T0));
    assert!(p.metadata.creation_timestamp.is_some());
    assert_eq!(p.metadata.deletion_timestamp, time(T1));
    assert!(p.metadata.deletion_timestamp.is_some());
    let s = p.status.expect("status");
    assert_eq!(s.phase.as_deref(), Some("Pending"));
}

#[test]
fn a_timestamp_that_does_not_parse_is_left_out() {
    assert_eq!(time("yesterday"), None);
    assert!(time(T0).is_some());
}
