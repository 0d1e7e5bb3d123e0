//! A pod's status as Kubernetes writes it (`status.phase`, `conditions`,
//! `initContainerStatuses`, `containerStatuses`), derived on each read from the
//! kernel (is the container's process alive?) and the supervisor's container states,
//! never stored, so it cannot go stale.

use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting,
    ContainerStatus, Pod, PodCondition, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use podrt_runtime::ContainerStatus as Rt;

use crate::lifecycle::supervisor::control;
use crate::lifecycle::supervisor::protocol::{Reply, Request};
use crate::lifecycle::supervisor::state::{
    ContainerState as ContainerStateFile, State as Recorded, Terminated, UNKNOWN_REASON,
};
use crate::manifest::RestartPolicy;
use crate::state::record::PodStage;
use crate::state::Sandbox;

/// `exitCode` of a container whose exit status nobody saw.
pub const UNKNOWN_EXIT_CODE: i32 = -1;
/// `message` of such a termination.
const UNSEEN_MESSAGE: &str =
    "the container ended while no supervisor watched it: its exit status is unknown";

/// The pod as `get -o yaml` shows it: the manifest with `metadata.uid`,
/// `creationTimestamp`, `deletionTimestamp` and `status` filled in.
pub fn pod_object(sandbox: &Sandbox) -> Pod {
    let r = &sandbox.record;
    let mut pod = r.manifest.clone();
    pod.metadata.uid = Some(r.uid.clone());
    pod.metadata.creation_timestamp = time(&r.created);
    pod.metadata.deletion_timestamp = r.deletion_timestamp.as_deref().and_then(time);
    pod.metadata.namespace = Some(r.namespace.clone());
    pod.status = Some(status(sandbox));
    pod
}

fn time(s: &str) -> Option<Time> {
    s.parse().ok().map(Time)
}

/// The pod's status now.
pub(crate) fn status(sandbox: &Sandbox) -> PodStatus {
    let r = &sandbox.record;
    // A live supervisor is asked; its state files answer when it is gone.
    let live: Option<Live> = match control::request(&sandbox.paths.dir, &Request::Status) {
        Ok(Reply::Status { containers }) => Some(containers),
        _ => None,
    };
    let live = live.as_ref();
    let spec = r.manifest.spec.clone().unwrap_or_default();
    let inits: Vec<ContainerStatus> = spec
        .init_containers
        .iter()
        .flatten()
        .map(|c| {
            container_status(
                sandbox,
                live,
                &c.name,
                c.image.as_deref(),
                "PodInitializing",
            )
        })
        .collect();
    // kubelet's reason for an app container not made yet: PodInitializing
    // while init containers have yet to succeed, else ContainerCreating.
    let waiting = if r.stage == PodStage::Creating || inits.iter().all(|s| exit_code(s) == Some(0))
    {
        "ContainerCreating"
    } else {
        "PodInitializing"
    };
    let apps: Vec<ContainerStatus> = spec
        .containers
        .iter()
        .map(|c| container_status(sandbox, live, &c.name, c.image.as_deref(), waiting))
        .collect();
    let inits_done = inits.iter().all(|s| exit_code(s) == Some(0));
    // A creation whose supervisor died is not a pod that runs, whatever of it
    // was started: it is shown for what it is until `podrt gc` (or a delete)
    // removes it.
    let interrupted = r.stage == PodStage::Creating && r.dead_supervisor().is_some();
    let phase = if interrupted {
        "Pending"
    } else {
        phase(&inits, &apps, r.settings().restart_policy)
    };
    let ready = !interrupted && !apps.is_empty() && apps.iter().all(|s| s.ready);
    let pod_ips: Vec<PodIP> = r
        .network
        .as_ref()
        .map(|n| n.pod_ips())
        .unwrap_or_default()
        .into_iter()
        .map(|ip| PodIP { ip: ip.to_string() })
        .collect();
    let condition = |typ: &str, ok: bool| PodCondition {
        type_: typ.to_string(),
        status: if ok { "True" } else { "False" }.into(),
        last_transition_time: time(&r.created),
        ..PodCondition::default()
    };
    PodStatus {
        reason: interrupted.then(|| "CreationInterrupted".to_string()),
        message: interrupted.then(|| {
            "the pod's creation was interrupted (its supervisor is gone): podrt gc or delete removes it"
                .to_string()
        }),
        phase: Some(phase.to_string()),
        conditions: Some(vec![
            condition("Initialized", inits_done),
            condition("Ready", ready),
            condition("ContainersReady", ready),
            condition("PodScheduled", true),
        ]),
        start_time: time(&r.created),
        host_ip: None,
        pod_ip: pod_ips.first().map(|ip| ip.ip.clone()),
        pod_ips: (!pod_ips.is_empty()).then_some(pod_ips),
        init_container_statuses: (!inits.is_empty()).then_some(inits),
        container_statuses: Some(apps),
        qos_class: Some(crate::pod::qos::qos_class(&spec).into()),
        ..PodStatus::default()
    }
}

fn exit_code(s: &ContainerStatus) -> Option<i32> {
    s.state
        .as_ref()
        .and_then(|st| st.terminated.as_ref())
        .map(|t| t.exit_code)
}

/// Kubernetes' phase rules: Pending until the app containers run; Succeeded or
/// Failed when all have ended and will not be restarted; Running otherwise.
fn phase(
    inits: &[ContainerStatus],
    apps: &[ContainerStatus],
    policy: RestartPolicy,
) -> &'static str {
    let never = policy == RestartPolicy::Never;
    let init_failed = inits.iter().any(|s| exit_code(s).is_some_and(|c| c != 0));
    if init_failed && never {
        return "Failed";
    }
    // Started at least once: not waiting, or waiting to be restarted.
    let started = |s: &ContainerStatus| {
        s.state.as_ref().is_some_and(|st| st.waiting.is_none()) || s.last_state.is_some()
    };
    if !apps.iter().all(started) {
        return "Pending";
    }
    let codes: Vec<Option<i32>> = apps.iter().map(exit_code).collect();
    let all_ended = codes.iter().all(Option::is_some);
    match policy {
        // Always restarts whatever ends: the pod runs on.
        RestartPolicy::Never | RestartPolicy::OnFailure if all_ended => {
            if codes.iter().all(|c| *c == Some(0)) {
                "Succeeded"
            } else if never {
                "Failed"
            } else {
                "Running"
            }
        }
        _ => "Running",
    }
}

/// Container states as the supervisor reports them on its socket.
type Live = std::collections::BTreeMap<String, ContainerStateFile>;

fn container_status(
    sandbox: &Sandbox,
    live: Option<&Live>,
    name: &str,
    image: Option<&str>,
    waiting_reason: &str,
) -> ContainerStatus {
    let mut st = ContainerStatus {
        name: name.to_string(),
        image: image.unwrap_or_default().to_string(),
        ..ContainerStatus::default()
    };
    // The supervisor's record of it: what it answers, else its state file.
    let recorded = || match live.and_then(|l| l.get(name)) {
        Some(state) => Some(state.clone()),
        None => ContainerStateFile::load(&sandbox.paths.container_state(name))
            .ok()
            .flatten(),
    };
    let Some(rec) = sandbox.record.container(name) else {
        // Not made yet: the supervisor's word on why (ErrImagePull,
        // CreateContainerError), else the pod's stage.
        let (reason, message) = match recorded().map(|r| r.state) {
            Some(Recorded::Waiting { reason, message }) => (reason, message),
            _ => (waiting_reason.to_string(), None),
        };
        st.state = Some(ContainerState {
            waiting: Some(ContainerStateWaiting {
                reason: Some(reason),
                message,
            }),
            ..ContainerState::default()
        });
        return st;
    };
    st.image = rec.image_name.clone();
    st.image_id = rec.image_id.clone();
    st.container_id = Some(format!("podrt://{}", rec.id));
    let rt = sandbox.runtime_container(name).map(|c| c.status());
    let alive = matches!(rt, Some(Rt::Running) | Some(Rt::Paused));
    let recorded = recorded();
    let started_at = rec.started_at.as_deref().and_then(time);
    let (state, last, restarts) = match recorded {
        Some(r) => {
            let state = match r.state {
                // The supervisor saw it start; the kernel says whether it still runs.
                Recorded::Running { started_at } if alive => running(time(&started_at)),
                Recorded::Running { started_at } => unknown(time(&started_at), &st),
                Recorded::Waiting { reason, message } => ContainerState {
                    waiting: Some(ContainerStateWaiting {
                        reason: Some(reason),
                        message,
                    }),
                    ..ContainerState::default()
                },
                Recorded::Terminated(t) => terminated(&t, &st),
            };
            let last = r.last_state.map(|t| terminated(&t, &st));
            (state, last, r.restart_count)
        }
        // No supervisor record (a library caller's pod): the kernel's word only.
        None if alive => (running(started_at), None, 0),
        None if rec.started_at.is_none() => (
            ContainerState {
                waiting: Some(ContainerStateWaiting {
                    reason: Some("ContainerCreating".into()),
                    message: None,
                }),
                ..ContainerState::default()
            },
            None,
            0,
        ),
        None => (unknown(started_at, &st), None, 0),
    };
    st.ready = state.running.is_some();
    st.started = Some(state.running.is_some());
    st.restart_count = restarts as i32;
    st.last_state = last;
    st.state = Some(state);
    st
}

fn running(started_at: Option<Time>) -> ContainerState {
    ContainerState {
        running: Some(ContainerStateRunning { started_at }),
        ..ContainerState::default()
    }
}

fn terminated(t: &Terminated, st: &ContainerStatus) -> ContainerState {
    ContainerState {
        terminated: Some(ContainerStateTerminated {
            // The API has no "unknown" exit code: -1, which no process can exit
            // with, and the reason and message say what it means.
            exit_code: t.exit_code.unwrap_or(UNKNOWN_EXIT_CODE),
            signal: t.signal,
            reason: Some(t.reason.clone()),
            started_at: t.started_at.as_deref().and_then(time),
            finished_at: time(&t.finished_at),
            container_id: st.container_id.clone(),
            message: t.exit_code.is_none().then(|| UNSEEN_MESSAGE.to_string()),
        }),
        ..ContainerState::default()
    }
}

/// Ended, but nobody saw how (its supervisor was gone): say so, invent nothing.
fn unknown(started_at: Option<Time>, st: &ContainerStatus) -> ContainerState {
    ContainerState {
        terminated: Some(ContainerStateTerminated {
            exit_code: UNKNOWN_EXIT_CODE,
            reason: Some(UNKNOWN_REASON.into()),
            message: Some(UNSEEN_MESSAGE.into()),
            started_at,
            container_id: st.container_id.clone(),
            ..ContainerStateTerminated::default()
        }),
        ..ContainerState::default()
    }
}

#[cfg(test)]
mod tests;
