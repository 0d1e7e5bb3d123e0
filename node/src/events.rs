//! Events, as `kubectl describe` shows them under each object: what a
//! controller did (`ScalingReplicaSet`, `SuccessfulCreate`, `SuccessfulDelete`,
//! `Completed`) or failed to do (`FailedCreate`), kept as `core/v1` Event
//! objects in one JSON file per object under
//! `STATE_DIR/events/<namespace>/<Kind>/<name>.json`.
//!
//! Recording is best effort: an event that cannot be written is logged and the
//! controller's pass goes on. A repeat of the last event with the same reason
//! and message is counted (`count`, `lastTimestamp`), as the API server's event
//! correlator folds repeats, and only the most recent [`KEPT`] are kept, so the
//! files stay small. Only the agent writes them, under the store's lock.

use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{Event, ObjectReference};
use podrt_sandbox::runtime::private_fs;
use podrt_sandbox::state::events::{fold, new_event};

use crate::error::{Error, Result};
use crate::store::{read, write_atomic, Store};

/// How many events are kept per object.
pub const KEPT: usize = 30;

/// `Normal` or `Warning`, as Kubernetes types events (the pods' events'
/// type).
pub use podrt_sandbox::state::events::Kind as EventType;

/// The events of one namespace under one state directory.
#[derive(Debug, Clone)]
pub struct Events {
    dir: PathBuf,
    namespace: String,
}

/// What an event is about: the object's kind (`Deployment`), name and uid.
#[derive(Debug, Clone, Copy)]
pub struct About<'a> {
    /// `Deployment`, `ReplicaSet`, …
    pub kind: &'a str,
    /// `metadata.name`.
    pub name: &'a str,
    /// `metadata.uid`.
    pub uid: &'a str,
}

impl Events {
    /// The events kept under `state_dir` about objects of `namespace`.
    pub fn new(state_dir: &Path, namespace: &str) -> Events {
        Events {
            dir: state_dir.join("events").join(namespace),
            namespace: namespace.to_string(),
        }
    }

    /// The events about the objects of the store's namespace.
    pub fn of(store: &Store) -> Events {
        Events::new(store.state_dir(), store.namespace())
    }

    /// Forgets every event of the namespace (the namespace is being deleted).
    pub fn forget_namespace(&self) {
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(namespace = %self.namespace, error = %e, "removing the namespace's events");
            }
        }
    }

    fn path(&self, kind: &str, name: &str) -> PathBuf {
        self.dir.join(kind).join(format!("{name}.json"))
    }

    /// Records an event about `about` from `component` (logged, never failing).
    pub fn record(
        &self,
        about: About<'_>,
        kind: EventType,
        reason: &str,
        component: &str,
        message: &str,
    ) {
        if let Err(e) = self.try_record(about, kind, reason, component, message) {
            tracing::warn!(object = %about.name, reason, error = %e, "recording an event");
        }
    }

    fn try_record(
        &self,
        about: About<'_>,
        kind: EventType,
        reason: &str,
        component: &str,
        message: &str,
    ) -> Result<()> {
        let path = self.path(about.kind, about.name);
        let mut list: Vec<Event> = read(&path)?.unwrap_or_default();
        // Events of an earlier object of the same name are not this one's.
        list.retain(|e| e.involved_object.uid.as_deref() == Some(about.uid));
        let involved = ObjectReference {
            kind: Some(about.kind.to_string()),
            name: Some(about.name.to_string()),
            namespace: Some(self.namespace.clone()),
            uid: Some(about.uid.to_string()),
            ..ObjectReference::default()
        };
        fold(&mut list, kind.as_str(), reason, message, KEPT, |now| {
            Event {
                reporting_component: Some(component.to_string()),
                ..new_event(involved, kind, reason, message, component, now)
            }
        });
        let dir = self.dir.join(about.kind);
        private_fs::create_dir_all(&dir).map_err(|e| Error::io("creating", &dir, e))?;
        write_atomic(&path, &list)
    }

    /// The events about the `kind` object `name` (of uid `uid`, when given),
    /// oldest first.
    pub fn list(&self, kind: &str, name: &str, uid: Option<&str>) -> Result<Vec<Event>> {
        let mut list: Vec<Event> = read(&self.path(kind, name))?.unwrap_or_default();
        if let Some(uid) = uid {
            list.retain(|e| e.involved_object.uid.as_deref() == Some(uid));
        }
        list.sort_by_key(|e| e.last_timestamp.as_ref().map(|t| t.0));
        Ok(list)
    }

    /// `SuccessfulCreate`: a controller made the pod `pod`.
    pub fn created(&self, about: About<'_>, component: &str, pod: &str) {
        let message = format!("Created pod: {pod}");
        self.record(
            about,
            EventType::Normal,
            "SuccessfulCreate",
            component,
            &message,
        );
    }

    /// `FailedCreate`: a controller could not make a pod.
    pub fn failed_create(&self, about: About<'_>, component: &str, error: &dyn std::fmt::Display) {
        let message = format!("Error creating: {error}");
        self.record(
            about,
            EventType::Warning,
            "FailedCreate",
            component,
            &message,
        );
    }

    /// `SuccessfulDelete`: a controller deleted the pod `pod`.
    pub fn deleted(&self, about: About<'_>, component: &str, pod: &str) {
        let message = format!("Deleted pod: {pod}");
        self.record(
            about,
            EventType::Normal,
            "SuccessfulDelete",
            component,
            &message,
        );
    }

    /// Forgets the events about an object that is gone.
    pub fn forget(&self, kind: &str, name: &str) {
        let path = self.path(kind, name);
        if let Err(e) = std::fs::remove_file(&path) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(path = %path.display(), error = %e, "removing events");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_are_counted_and_only_the_latest_are_kept() {
        let dir = std::env::temp_dir().join(format!("podrt-events-{}", std::process::id()));
        let events = Events::new(&dir, "default");
        let web = About {
            kind: "ReplicaSet",
            name: "web",
            uid: "u1",
        };
        events.record(
            web,
            EventType::Normal,
            "SuccessfulCreate",
            "replicaset-controller",
            "Created pod: a",
        );
        events.record(
            web,
            EventType::Normal,
            "SuccessfulCreate",
            "replicaset-controller",
            "Created pod: a",
        );
        events.record(
            web,
            EventType::Warning,
            "FailedCreate",
            "replicaset-controller",
            "Error creating: x",
        );
        let list = events.list("ReplicaSet", "web", Some("u1")).unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].count, Some(2));
        assert_eq!(list[1].type_.as_deref(), Some("Warning"));
        for i in 0..KEPT + 5 {
            events.record(
                web,
                EventType::Normal,
                "SuccessfulDelete",
                "replicaset-controller",
                &format!("Deleted pod: {i}"),
            );
        }
        let list = events.list("ReplicaSet", "web", None).unwrap();
        assert_eq!(list.len(), KEPT);
        assert_eq!(
            list[KEPT - 1].message.as_deref(),
            Some(&*format!("Deleted pod: {}", KEPT + 4))
        );
        // A new object of the same name starts afresh.
        let again = About { uid: "u2", ..web };
        events.record(
            again,
            EventType::Normal,
            "SuccessfulCreate",
            "replicaset-controller",
            "Created pod: b",
        );
        assert_eq!(events.list("ReplicaSet", "web", None).unwrap().len(), 1);
        events.forget("ReplicaSet", "web");
        assert!(events.list("ReplicaSet", "web", None).unwrap().is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
