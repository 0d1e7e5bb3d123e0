//! One row of `get pods`: kubectl's `printPod` (pkg/printers/internalversion) in
//! Rust — the STATUS reason, READY and RESTARTS counts, and the wide columns.
//!
//! The order of the checks is kubectl's, and it matters: the first init container
//! that has not finished decides the status, and only when initialization is over
//! do the app containers (from last to first) get a say.

use std::time::SystemTime;

use k8s_openapi::api::core::v1::{Container, ContainerStatus, Pod, PodCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::age;
use super::PodRow;

/// The pod's reason for the `NodeLost` case: kubectl shows such a pod as `Unknown`.
const NODE_UNREACHABLE_REASON: &str = "NodeLost";

/// Counters carried through kubectl's two passes over the container statuses.
#[derive(Default)]
struct Tally<'a> {
    restarts: i64,
    last_restart: Option<&'a Time>,
    sidecar_restarts: i64,
    last_sidecar_restart: Option<&'a Time>,
    ready: usize,
}

/// Keep the later of two optional timestamps (an unset one is Go's zero time).
fn later<'a>(current: Option<&'a Time>, candidate: Option<&'a Time>) -> Option<&'a Time> {
    match (current, candidate) {
        (Some(c), Some(n)) if n.0 > c.0 => Some(n),
        (None, n) => n,
        (c, _) => c,
    }
}

/// When the container last terminated, from `lastState.terminated.finishedAt`.
fn last_finished(status: &ContainerStatus) -> Option<&Time> {
    status
        .last_state
        .as_ref()?
        .terminated
        .as_ref()?
        .finished_at
        .as_ref()
}

/// An init container with `restartPolicy: Always` is a sidecar: it keeps running
/// and counts as one of the pod's containers.
fn is_sidecar(container: Option<&Container>) -> bool {
    container.and_then(|c| c.restart_policy.as_deref()) == Some("Always")
}

fn condition_true(conditions: &[PodCondition], kind: &str) -> bool {
    conditions
        .iter()
        .any(|c| c.type_ == kind && c.status == "True")
}

/// Whether the `Initialized` condition is present and true (kubectl looks at the first).
fn initialized(conditions: &[PodCondition]) -> bool {
    conditions
        .iter()
        .find(|c| c.type_ == "Initialized")
        .is_some_and(|c| c.status == "True")
}

/// The reason of a terminated container without one: `Signal:N` or `ExitCode:N`.
fn exit_reason(signal: Option<i32>, exit_code: i32) -> String {
    match signal {
        Some(s) if s != 0 => format!("Signal:{s}"),
        _ => format!("ExitCode:{exit_code}"),
    }
}

/// Walk the init containers as kubectl does; returns the status reason if
/// initialization is still under way (or failed), `None` once it is over.
fn init_reason<'a>(pod: &'a Pod, tally: &mut Tally<'a>) -> Option<String> {
    let spec_inits: &[Container] = pod
        .spec
        .as_ref()
        .and_then(|s| s.init_containers.as_deref())
        .unwrap_or(&[]);
    let statuses = pod
        .status
        .as_ref()
        .and_then(|s| s.init_container_statuses.as_deref())
        .unwrap_or(&[]);
    for (i, status) in statuses.iter().enumerate() {
        let sidecar = is_sidecar(spec_inits.iter().find(|c| c.name == status.name));
        tally.restarts += i64::from(status.restart_count);
        tally.last_restart = later(tally.last_restart, last_finished(status));
        if sidecar {
            tally.sidecar_restarts += i64::from(status.restart_count);
            tally.last_sidecar_restart = later(tally.last_sidecar_restart, last_finished(status));
        }
        let state = status.state.as_ref();
        let terminated = state.and_then(|s| s.terminated.as_ref());
        let waiting = state.and_then(|s| s.waiting.as_ref());
        if terminated.is_some_and(|t| t.exit_code == 0) {
            continue;
        }
        if sidecar && status.started == Some(true) {
            if status.ready {
                tally.ready += 1;
            }
            continue;
        }
        let reason = if let Some(t) = terminated {
            match t.reason.as_deref() {
                Some(r) if !r.is_empty() => format!("Init:{r}"),
                _ => format!("Init:{}", exit_reason(t.signal, t.exit_code)),
            }
        } else {
            match waiting.and_then(|w| w.reason.as_deref()) {
                Some(r) if !r.is_empty() && r != "PodInitializing" => format!("Init:{r}"),
                _ => format!("Init:{i}/{}", spec_inits.len()),
            }
        };
        return Some(reason);
    }
    None
}

/// Walk the app containers from last to first: the first one (from the start of
/// the list) with a waiting or terminated reason wins, as in kubectl.
fn app_reason<'a>(pod: &'a Pod, mut reason: String, tally: &mut Tally<'a>) -> String {
    tally.restarts = tally.sidecar_restarts;
    tally.last_restart = tally.last_sidecar_restart;
    let statuses = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_deref())
        .unwrap_or(&[]);
    let mut has_running = false;
    for status in statuses.iter().rev() {
        tally.restarts += i64::from(status.restart_count);
        tally.last_restart = later(tally.last_restart, last_finished(status));
        let state = status.state.as_ref();
        let waiting = state
            .and_then(|s| s.waiting.as_ref())
            .and_then(|w| w.reason.as_deref());
        let terminated = state.and_then(|s| s.terminated.as_ref());
        if let Some(w) = waiting.filter(|w| !w.is_empty()) {
            reason = w.to_string();
        } else if let Some(t) = terminated {
            reason = match t.reason.as_deref() {
                Some(r) if !r.is_empty() => r.to_string(),
                _ => exit_reason(t.signal, t.exit_code),
            };
        } else if status.ready && state.is_some_and(|s| s.running.is_some()) {
            has_running = true;
            tally.ready += 1;
        }
    }
    if reason == "Completed" && has_running {
        let conditions = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_deref())
            .unwrap_or(&[]);
        reason = if condition_true(conditions, "Ready") {
            "Running"
        } else {
            "NotReady"
        }
        .to_string();
    }
    reason
}

/// The STATUS, READY and RESTARTS cells of one pod.
fn status_cells(pod: &Pod, now: SystemTime) -> (String, String, String) {
    let status = pod.status.as_ref();
    let conditions = status.and_then(|s| s.conditions.as_deref()).unwrap_or(&[]);
    let phase = status.and_then(|s| s.phase.as_deref()).unwrap_or("");
    let pod_reason = status
        .and_then(|s| s.reason.as_deref())
        .filter(|r| !r.is_empty());
    let mut reason = pod_reason.unwrap_or(phase).to_string();
    let gated = conditions
        .iter()
        .any(|c| c.type_ == "PodScheduled" && c.reason.as_deref() == Some("SchedulingGated"));
    if gated {
        reason = "SchedulingGated".to_string();
    }

    let spec = pod.spec.as_ref();
    let inits = spec
        .and_then(|s| s.init_containers.as_deref())
        .unwrap_or(&[]);
    let total = spec.map_or(0, |s| s.containers.len())
        + inits.iter().filter(|c| is_sidecar(Some(c))).count();

    let mut tally = Tally::default();
    let init = init_reason(pod, &mut tally);
    let initializing = init.is_some();
    if let Some(init) = init {
        reason = init;
    }
    if !initializing || initialized(conditions) {
        reason = app_reason(pod, reason, &mut tally);
    }

    if pod.metadata.deletion_timestamp.is_some() {
        if pod_reason == Some(NODE_UNREACHABLE_REASON) {
            reason = "Unknown".to_string();
        } else if phase != "Succeeded" && phase != "Failed" {
            reason = "Terminating".to_string();
        }
    }

    let restarts = match tally.last_restart {
        Some(last) if tally.restarts != 0 => {
            format!("{} ({} ago)", tally.restarts, age::since(Some(last), now))
        }
        _ => tally.restarts.to_string(),
    };
    (reason, format!("{}/{total}", tally.ready), restarts)
}

/// `<none>` for an empty cell, as kubectl's wide columns print it.
fn or_none(s: Option<&str>) -> String {
    s.filter(|s| !s.is_empty()).unwrap_or("<none>").to_string()
}

/// The READINESS GATES cell: how many of the pod's readiness gates are true.
fn readiness_gates(pod: &Pod) -> String {
    let gates = pod
        .spec
        .as_ref()
        .and_then(|s| s.readiness_gates.as_deref())
        .unwrap_or(&[]);
    if gates.is_empty() {
        return "<none>".to_string();
    }
    let conditions = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or(&[]);
    let met = gates
        .iter()
        .filter(|g| {
            conditions
                .iter()
                .find(|c| c.type_ == g.condition_type)
                .is_some_and(|c| c.status == "True")
        })
        .count();
    format!("{met}/{}", gates.len())
}

/// Build the row kubectl prints for `pod` at time `now`.
pub(crate) fn row(pod: &Pod, now: SystemTime) -> PodRow {
    let (status, ready, restarts) = status_cells(pod, now);
    let pod_status = pod.status.as_ref();
    // kubectl reads podIPs[0]; its internal conversion fills podIPs from podIP.
    let ip = pod_status
        .and_then(|s| s.pod_ips.as_ref())
        .and_then(|ips| ips.first())
        .map(|ip| ip.ip.as_str())
        .or_else(|| pod_status.and_then(|s| s.pod_ip.as_deref()));
    PodRow {
        name: pod.metadata.name.clone().unwrap_or_default(),
        ready,
        status,
        restarts,
        age: age::since(pod.metadata.creation_timestamp.as_ref(), now),
        ip: or_none(ip),
        node: or_none(pod.spec.as_ref().and_then(|s| s.node_name.as_deref())),
        nominated_node: or_none(pod_status.and_then(|s| s.nominated_node_name.as_deref())),
        readiness_gates: readiness_gates(pod),
    }
}

#[cfg(test)]
mod tests;
