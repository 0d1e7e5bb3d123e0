//! A pod's events, as `kubectl describe pod` lists them under the pod: what
//! kubelet would report while making its containers (`Pulling`, `Pulled`, and
//! `Failed` with `ErrImagePull`). Kept as `core/v1` Event objects in the pod's
//! `events.json`, written by the process that makes the containers (one at a
//! time per pod), gone with the pod.
//!
//! Recording is best effort: an event that cannot be written is logged and the
//! work goes on. A repeat of an event with the same type, reason and message is
//! counted (`count`, `lastTimestamp`), as the API server folds repeats, and only
//! the most recent [`KEPT`] are kept.

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

use super::record::{read_json, write_atomic};
use super::Sandbox;

/// How many events are kept per pod.
pub const KEPT: usize = 30;

/// An event's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Something went as it should.
    Normal,
    /// Something failed.
    Warning,
}

impl Kind {
    /// The event's `type`: `Normal` or `Warning`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Normal => "Normal",
            Kind::Warning => "Warning",
        }
    }
}

/// A new event (count 1) of `type_` about `involved`, reported by `component`
/// at `now`, named as the API server names events: `<object>.<nanoseconds in
/// hex>`, in the object's namespace.
pub fn new_event(
    involved: ObjectReference,
    type_: Kind,
    reason: &str,
    message: &str,
    component: &str,
    now: Time,
) -> Event {
    Event {
        metadata: ObjectMeta {
            name: Some(format!(
                "{}.{:x}",
                involved.name.as_deref().unwrap_or_default(),
                now.0.as_nanosecond() as u64
            )),
            namespace: involved.namespace.clone(),
            ..ObjectMeta::default()
        },
        involved_object: involved,
        reason: Some(reason.to_string()),
        message: Some(message.to_string()),
        type_: Some(type_.as_str().to_string()),
        count: Some(1),
        first_timestamp: Some(now.clone()),
        last_timestamp: Some(now),
        source: Some(EventSource {
            component: Some(component.to_string()),
            host: None,
        }),
        ..Event::default()
    }
}

/// The pod's events, oldest first (an empty list when it has none).
pub fn list(sandbox: &Sandbox) -> Vec<Event> {
    read_json(&sandbox.paths.events())
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// Adds an event to `events` (oldest first) as the API server's correlator
/// does: a repeat of one with the same type, reason and message is counted
/// (`count`, `lastTimestamp`) and moved last, anything else is `new(now)`
/// appended; only the latest `kept` stay.
pub fn fold(
    events: &mut Vec<Event>,
    type_: &str,
    reason: &str,
    message: &str,
    kept: usize,
    new: impl FnOnce(Time) -> Event,
) {
    let now = Time(jiff::Timestamp::now());
    let same = events.iter().position(|e| {
        e.reason.as_deref() == Some(reason)
            && e.message.as_deref() == Some(message)
            && e.type_.as_deref() == Some(type_)
    });
    let event = match same {
        Some(i) => {
            let mut e = events.remove(i);
            e.count = Some(e.count.unwrap_or(1) + 1);
            e.last_timestamp = Some(now);
            e
        }
        None => new(now),
    };
    events.push(event);
    if events.len() > kept {
        events.drain(..events.len() - kept);
    }
}

/// Record an event about `container` of the pod (logged, never failing).
pub(crate) fn record(sandbox: &Sandbox, container: &str, kind: Kind, reason: &str, message: &str) {
    let path = sandbox.paths.events();
    let mut events = list(sandbox);
    let record = &sandbox.record;
    let involved = ObjectReference {
        kind: Some("Pod".into()),
        name: Some(record.name.clone()),
        namespace: Some(record.namespace.clone()),
        uid: Some(record.uid.clone()),
        field_path: Some(format!("spec.containers{{{container}}}")),
        ..ObjectReference::default()
    };
    fold(&mut events, kind.as_str(), reason, message, KEPT, |now| {
        new_event(involved, kind, reason, message, "kubelet", now)
    });
    let written = serde_json::to_vec(&events)
        .map_err(|e| e.to_string())
        .and_then(|data| write_atomic(&path, &data).map_err(|e| e.to_string()));
    if let Err(e) = written {
        tracing::warn!(pod = %sandbox.record.name, reason, error = %e, "recording an event");
    }
}
