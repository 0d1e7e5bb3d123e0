//! `GetContainerEvents`: a stream of container lifecycle events (created,
//! started, stopped, deleted) for kubelet's evented PLEG.
//!
//! podrt's containers change in their supervisors, which tell nobody; so each
//! subscriber gets a task that looks at every container every
//! [`POLL`] and sends what changed since its last look (nothing for what
//! existed when it subscribed, as containerd sends only new events). Each
//! event carries its pod's status and its containers' statuses. The task ends
//! when the subscriber goes.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use k8s_cri::v1;
use tonic::Status;

use super::server::blocking;
use super::{containers, nanos, sandboxes};

/// How often the containers are looked at.
pub(crate) const POLL: Duration = Duration::from_millis(250);

/// What an event needs of one container: its state, and its pod's statuses
/// at the look.
#[derive(Clone)]
pub(crate) struct Seen {
    /// The container's state.
    pub(crate) state: v1::ContainerState,
    /// Its pod's sandbox status.
    pub(crate) pod: v1::PodSandboxStatus,
    /// Its pod's containers' statuses.
    pub(crate) containers: Vec<v1::ContainerStatus>,
}

/// Every container under `root` now, by id.
fn look(root: &std::path::Path) -> Result<BTreeMap<String, Seen>, Status> {
    let mut seen = BTreeMap::new();
    for pod in sandboxes::all(root)? {
        let made = containers::of(&pod);
        let statuses: Vec<v1::ContainerStatus> = made.iter().map(containers::status).collect();
        let status = sandboxes::status(&pod);
        for (m, st) in made.iter().zip(&statuses) {
            seen.insert(
                m.id.clone(),
                Seen {
                    state: v1::ContainerState::try_from(st.state)
                        .unwrap_or(v1::ContainerState::ContainerUnknown),
                    pod: status.clone(),
                    containers: statuses.clone(),
                },
            );
        }
    }
    Ok(seen)
}

/// The events that lead from `before` to `now`, in order.
pub(crate) fn changes(
    before: &BTreeMap<String, Seen>,
    now: &BTreeMap<String, Seen>,
    at: i64,
) -> Vec<v1::ContainerEventResponse> {
    use v1::ContainerEventType as Event;
    use v1::ContainerState as State;
    let event = |id: &str, kind: Event, seen: &Seen| v1::ContainerEventResponse {
        container_id: id.to_string(),
        container_event_type: kind as i32,
        created_at: at,
        pod_sandbox_status: Some(seen.pod.clone()),
        containers_statuses: seen.containers.clone(),
    };
    let mut out = Vec::new();
    for (id, seen) in now {
        let was = before.get(id).map(|s| s.state);
        if was.is_none() {
            out.push(event(id, Event::ContainerCreatedEvent, seen));
        }
        let started_before = matches!(was, Some(State::ContainerRunning | State::ContainerExited));
        let runs_or_ran = matches!(seen.state, State::ContainerRunning | State::ContainerExited);
        if runs_or_ran && !started_before {
            out.push(event(id, Event::ContainerStartedEvent, seen));
        }
        if seen.state == State::ContainerExited && was != Some(State::ContainerExited) {
            out.push(event(id, Event::ContainerStoppedEvent, seen));
        }
        // Restarted in place (a CLI pod's restartPolicy): stopped, then started.
        if seen.state == State::ContainerRunning && was == Some(State::ContainerExited) {
            out.push(event(id, Event::ContainerStartedEvent, seen));
        }
    }
    for (id, seen) in before {
        if !now.contains_key(id) {
            out.push(event(id, Event::ContainerDeletedEvent, seen));
        }
    }
    out
}

/// The stream one subscriber reads, from the moment this returns (the first
/// look is taken before).
pub(crate) async fn subscribe(
    root: PathBuf,
) -> Result<
    tokio_stream::wrappers::ReceiverStream<Result<v1::ContainerEventResponse, Status>>,
    Status,
> {
    let look_now = move || {
        let root = root.clone();
        async move { blocking(move || look(&root)).await }
    };
    let mut before = look_now().await?;
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(POLL).await;
            if tx.is_closed() {
                return;
            }
            let Ok(now) = look_now().await else {
                continue;
            };
            for e in changes(&before, &now, nanos::now()) {
                if tx.send(Ok(e)).await.is_err() {
                    return;
                }
            }
            before = now;
        }
    });
    Ok(tokio_stream::wrappers::ReceiverStream::new(rx))
}

#[cfg(test)]
mod tests {
    use super::*;
    use v1::ContainerEventType as Event;
    use v1::ContainerState as State;

    fn seen(state: State) -> Seen {
        Seen {
            state,
            pod: v1::PodSandboxStatus::default(),
            containers: Vec::new(),
        }
    }

    fn kinds(before: &[(&str, State)], now: &[(&str, State)]) -> Vec<(String, Event)> {
        let map = |l: &[(&str, State)]| {
            l.iter()
                .map(|(id, s)| (id.to_string(), seen(*s)))
                .collect::<BTreeMap<_, _>>()
        };
        changes(&map(before), &map(now), 1)
            .into_iter()
            .map(|e| {
                (
                    e.container_id,
                    Event::try_from(e.container_event_type).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn a_containers_life_in_events() {
        let a = |e| ("a".to_string(), e);
        assert_eq!(
            kinds(&[], &[("a", State::ContainerCreated)]),
            vec![a(Event::ContainerCreatedEvent)]
        );
        assert_eq!(
            kinds(&[], &[("a", State::ContainerRunning)]),
            vec![
                a(Event::ContainerCreatedEvent),
                a(Event::ContainerStartedEvent)
            ]
        );
        assert_eq!(
            kinds(
                &[("a", State::ContainerCreated)],
                &[("a", State::ContainerRunning)]
            ),
            vec![a(Event::ContainerStartedEvent)]
        );
        assert_eq!(
            kinds(
                &[("a", State::ContainerRunning)],
                &[("a", State::ContainerExited)]
            ),
            vec![a(Event::ContainerStoppedEvent)]
        );
        assert_eq!(
            kinds(
                &[("a", State::ContainerExited)],
                &[("a", State::ContainerRunning)]
            ),
            vec![a(Event::ContainerStartedEvent)]
        );
        assert_eq!(
            kinds(&[("a", State::ContainerExited)], &[]),
            vec![a(Event::ContainerDeletedEvent)]
        );
        assert!(kinds(
            &[("a", State::ContainerRunning)],
            &[("a", State::ContainerRunning)]
        )
        .is_empty());
        // Created and gone through a whole life between two looks.
        assert_eq!(
            kinds(&[], &[("a", State::ContainerExited)]),
            vec![
                a(Event::ContainerCreatedEvent),
                a(Event::ContainerStartedEvent),
                a(Event::ContainerStoppedEvent)
            ]
        );
    }
}
