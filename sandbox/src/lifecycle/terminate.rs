//! Graceful termination of a pod, as the user's documents describe it: every
//! container at once runs its `preStop` hook, then gets its stop signal (SIGTERM or
//! the image's `StopSignal`); at the end of the grace period whatever still runs in
//! the container's cgroup gets SIGKILL. A hook still running when the grace period
//! ends gets 2 more seconds, once, and then the stop signal. One thread does it
//! all, polling, so deadlines are kept to the millisecond.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use podrt_runtime::signal::Signal;
use podrt_runtime::{Container as RtContainer, ContainerStatus};

use crate::image::ImageStore;
use crate::state::Sandbox;

/// The extension a running `preStop` hook gets at the end of the grace period.
const HOOK_EXTENSION: Duration = Duration::from_secs(2);
const TICK: Duration = Duration::from_millis(2);

#[derive(Debug, PartialEq, Eq)]
enum Phase {
    /// Its preStop hook runs (PID).
    Hook(i32),
    /// The stop signal was sent.
    Signalled,
    /// Gone.
    Done,
}

struct Term {
    container: RtContainer,
    signal: Signal,
    phase: Phase,
    deadline: Instant,
    extended: bool,
}

fn running(c: &RtContainer) -> bool {
    matches!(
        c.status(),
        ContainerStatus::Running | ContainerStatus::Paused | ContainerStatus::Created
    )
}

/// Stop every container of the pod within `grace` (zero: SIGKILL at once, no hooks).
pub fn terminate(sandbox: &Sandbox, grace: Duration) {
    let start = Instant::now();
    let deadline = start + grace;
    let spec = sandbox.record.manifest.spec.clone().unwrap_or_default();
    let images = ImageStore::open(&sandbox.paths.root).ok();
    let netns: Option<PathBuf> = Some(sandbox.paths.ns("net")).filter(|p| p.exists());
    let mut terms: Vec<Term> = Vec::new();
    for (i, c) in spec.containers.iter().enumerate() {
        let Some(rt) = sandbox.runtime_container(&c.name).filter(running) else {
            continue;
        };
        let signal = stop_signal(sandbox, &c.name, images.as_ref());
        let hook = c
            .lifecycle
            .as_ref()
            .and_then(|l| l.pre_stop.as_ref())
            .filter(|_| !grace.is_zero());
        let phase = match hook {
            Some(h) => {
                let field = format!("spec.containers[{i}].lifecycle.preStop");
                match crate::pod::hooks::start(h, &rt, netns.as_deref(), &field) {
                    Ok(pid) => Phase::Hook(pid),
                    Err(e) => {
                        tracing::warn!("container {}: preStop: {e}", c.name);
                        Phase::Signalled
                    }
                }
            }
            None => Phase::Signalled,
        };
        if phase == Phase::Signalled {
            let sig = if grace.is_zero() {
                Signal(libc::SIGKILL)
            } else {
                signal
            };
            let _ = rt.kill(sig, grace.is_zero());
        }
        terms.push(Term {
            container: rt,
            signal,
            phase,
            deadline,
            extended: false,
        });
    }
    // Init containers and anything else still running: straight to the signal.
    for c in spec.init_containers.iter().flatten() {
        if let Some(rt) = sandbox.runtime_container(&c.name).filter(running) {
            let _ = rt.kill(
                Signal(if grace.is_zero() {
                    libc::SIGKILL
                } else {
                    libc::SIGTERM
                }),
                false,
            );
            terms.push(Term {
                container: rt,
                signal: Signal(libc::SIGTERM),
                phase: Phase::Signalled,
                deadline,
                extended: false,
            });
        }
    }
    while terms.iter().any(|t| t.phase != Phase::Done) {
        let now = Instant::now();
        for t in terms.iter_mut() {
            step(t, now);
        }
        std::thread::sleep(TICK);
    }
}

fn step(t: &mut Term, now: Instant) {
    match t.phase {
        Phase::Hook(pid) => {
            if crate::pod::hooks::poll(pid).is_some() {
                let _ = t.container.kill(t.signal, false);
                t.phase = Phase::Signalled;
            } else if now >= t.deadline && !t.extended {
                t.deadline = now + HOOK_EXTENSION;
                t.extended = true;
            } else if now >= t.deadline {
                // SAFETY: kill of the hook process we started.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                crate::pod::hooks::wait(pid);
                let _ = t.container.kill(t.signal, false);
                t.phase = Phase::Signalled;
            }
        }
        Phase::Signalled => {
            if !running(&t.container) {
                t.phase = Phase::Done;
            } else if now >= t.deadline {
                let _ = t.container.kill(Signal(libc::SIGKILL), true);
                t.phase = Phase::Done;
            }
        }
        Phase::Done => {}
    }
}

/// The image's `StopSignal`, else SIGTERM.
fn stop_signal(sandbox: &Sandbox, name: &str, images: Option<&ImageStore>) -> Signal {
    let image = sandbox.record.container(name).map(|c| c.image_name.clone());
    image
        .and_then(|i| images?.resolve(&i).ok())
        .and_then(|img| img.config.stop_signal)
        .and_then(|s| s.parse::<Signal>().ok())
        .unwrap_or(Signal(libc::SIGTERM))
}
