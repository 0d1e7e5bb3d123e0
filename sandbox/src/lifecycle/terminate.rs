//! Graceful termination of a pod, as the user's documents describe it: every
//! container at once runs its `preStop` hook, then gets its stop signal (SIGTERM or
//! the image's `StopSignal`); at the end of the grace period whatever still runs in
//! the container's cgroup gets SIGKILL. A hook still running when the grace period
//! ends gets 2 more seconds, once, and then the stop signal. One thread does it
//! all, polling, so deadlines are kept to the millisecond.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use podrt_runtime::signal::Signal;
use podrt_runtime::Container as RtContainer;

use crate::image::ImageStore;
use crate::state::Sandbox;

/// The extension a running `preStop` hook gets at the end of the grace period.
const HOOK_EXTENSION: Duration = Duration::from_secs(2);
const TICK: Duration = Duration::from_millis(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Its preStop hook runs (PID).
    Hook(i32),
    /// The stop signal was sent.
    Signalled,
    /// Gone.
    Done,
}

/// Where one container's termination stands: all that [`next`] decides on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Progress {
    phase: Phase,
    /// When the grace period (or the hook's extension) ends.
    deadline: Instant,
    /// The hook has had its extension.
    extended: bool,
}

/// What a tick saw of a container, asked only of the phase it is in (each
/// question has a cost: `waitpid` on the hook, the runtime's state).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    /// In [`Phase::Hook`]: whether the hook has ended.
    Hook { ended: bool },
    /// In [`Phase::Signalled`]: whether the container still runs.
    Signalled { running: bool },
}

/// What a tick does to a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    /// Nothing.
    Wait,
    /// Send its stop signal.
    StopSignal,
    /// SIGKILL the overrunning hook (PID), reap it, then send the stop signal.
    KillHookThenStop(i32),
    /// SIGKILL everything in the container's cgroup.
    KillAll,
}

struct Term {
    container: RtContainer,
    signal: Signal,
    progress: Progress,
}

fn running(c: &RtContainer) -> bool {
    c.status().has_process()
}

/// Stop every container of the pod within `grace` (zero: SIGKILL at once, no hooks).
pub(crate) fn terminate(sandbox: &Sandbox, grace: Duration) {
    let start = Instant::now();
    let deadline = start + grace;
    let spec = sandbox.record.manifest.spec.clone().unwrap_or_default();
    let images = ImageStore::open(&sandbox.image_root()).ok();
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
            let _ = rt.kill(first_signal(grace, signal), grace.is_zero());
        }
        terms.push(Term {
            container: rt,
            signal,
            progress: Progress {
                phase,
                deadline,
                extended: false,
            },
        });
    }
    // Init containers and anything else still running: straight to the signal.
    for c in spec.init_containers.iter().flatten() {
        if let Some(rt) = sandbox.runtime_container(&c.name).filter(running) {
            let signal = Signal(libc::SIGTERM);
            let _ = rt.kill(first_signal(grace, signal), false);
            terms.push(Term {
                container: rt,
                signal,
                progress: Progress {
                    phase: Phase::Signalled,
                    deadline,
                    extended: false,
                },
            });
        }
    }
    while terms.iter().any(|t| t.progress.phase != Phase::Done) {
        let now = Instant::now();
        for t in terms.iter_mut() {
            step(t, now);
        }
        std::thread::sleep(TICK);
    }
}

/// The signal a container gets first: its stop signal, or SIGKILL when there is
/// no grace period.
fn first_signal(grace: Duration, stop: Signal) -> Signal {
    if grace.is_zero() {
        Signal(libc::SIGKILL)
    } else {
        stop
    }
}

/// One tick for one container: ask what its phase needs to know, decide with
/// [`next`], do what it says.
fn step(t: &mut Term, now: Instant) {
    let seen = match t.progress.phase {
        Phase::Hook(pid) => Seen::Hook {
            ended: crate::pod::hooks::poll(pid).is_some(),
        },
        Phase::Signalled => Seen::Signalled {
            running: running(&t.container),
        },
        Phase::Done => return,
    };
    let (progress, action) = next(t.progress, seen, now);
    t.progress = progress;
    match action {
        Action::Wait => {}
        Action::StopSignal => {
            let _ = t.container.kill(t.signal, false);
        }
        Action::KillHookThenStop(pid) => {
            // SAFETY: kill of the hook process we started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            crate::pod::hooks::wait(pid);
            let _ = t.container.kill(t.signal, false);
        }
        Action::KillAll => {
            let _ = t.container.kill(Signal(libc::SIGKILL), true);
        }
    }
}

/// The termination's rules, without I/O: a hook that ends lets the stop signal
/// go; a hook still running at the deadline gets [`HOOK_EXTENSION`] once, then is
/// killed and the stop signal sent; a signalled container that is gone is done,
/// one still running at the deadline gets SIGKILL. A sighting that does not
/// belong to the phase changes nothing.
fn next(p: Progress, seen: Seen, now: Instant) -> (Progress, Action) {
    let signalled = Progress {
        phase: Phase::Signalled,
        ..p
    };
    let done = Progress {
        phase: Phase::Done,
        ..p
    };
    match (p.phase, seen) {
        (Phase::Hook(_), Seen::Hook { ended: true }) => (signalled, Action::StopSignal),
        (Phase::Hook(_), Seen::Hook { ended: false }) if now < p.deadline => (p, Action::Wait),
        (Phase::Hook(_), Seen::Hook { ended: false }) if !p.extended => (
            Progress {
                deadline: now + HOOK_EXTENSION,
                extended: true,
                ..p
            },
            Action::Wait,
        ),
        (Phase::Hook(pid), Seen::Hook { ended: false }) => {
            (signalled, Action::KillHookThenStop(pid))
        }
        (Phase::Signalled, Seen::Signalled { running: false }) => (done, Action::Wait),
        (Phase::Signalled, Seen::Signalled { running: true }) if now >= p.deadline => {
            (done, Action::KillAll)
        }
        _ => (p, Action::Wait),
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

#[cfg(test)]
mod tests {
    use super::*;

    const HOOK_PID: i32 = 4242;

    fn at(phase: Phase, deadline: Instant, extended: bool) -> Progress {
        Progress {
            phase,
            deadline,
            extended,
        }
    }

    #[test]
    fn a_prestop_hook_that_ends_lets_the_stop_signal_go() {
        let t0 = Instant::now();
        let deadline = t0 + Duration::from_secs(30);
        let (p, action) = next(
            at(Phase::Hook(HOOK_PID), deadline, false),
            Seen::Hook { ended: true },
            t0,
        );
        assert_eq!(action, Action::StopSignal);
        // The grace period goes on counting from the start, not from the signal.
        assert_eq!(p, at(Phase::Signalled, deadline, false));
    }

    #[test]
    fn a_prestop_hook_within_the_grace_period_is_waited_for() {
        let t0 = Instant::now();
        let start = at(Phase::Hook(HOOK_PID), t0 + Duration::from_secs(30), false);
        let (p, action) = next(start, Seen::Hook { ended: false }, t0);
        assert_eq!((p, action), (start, Action::Wait));
    }

    #[test]
    fn a_prestop_hook_overrunning_the_grace_period_gets_two_seconds_once() {
        let t0 = Instant::now();
        let deadline = t0 + Duration::from_secs(30);
        // A tick late: the extension counts from when the overrun is seen.
        let late = deadline + Duration::from_millis(3);
        let (p, action) = next(
            at(Phase::Hook(HOOK_PID), deadline, false),
            Seen::Hook { ended: false },
            late,
        );
        assert_eq!(action, Action::Wait);
        assert_eq!(p, at(Phase::Hook(HOOK_PID), late + HOOK_EXTENSION, true));
        assert_eq!(HOOK_EXTENSION, Duration::from_secs(2));

        // Within the extension: still waited for.
        let within = late + Duration::from_secs(1);
        assert_eq!(
            next(p, Seen::Hook { ended: false }, within),
            (p, Action::Wait)
        );
    }

    #[test]
    fn a_prestop_hook_overrunning_its_extension_is_killed_and_the_stop_signal_sent() {
        let t0 = Instant::now();
        let extended_deadline = t0 + Duration::from_secs(32);
        let (p, action) = next(
            at(Phase::Hook(HOOK_PID), extended_deadline, true),
            Seen::Hook { ended: false },
            extended_deadline,
        );
        assert_eq!(action, Action::KillHookThenStop(HOOK_PID));
        assert_eq!(p, at(Phase::Signalled, extended_deadline, true));
        // The deadline has passed already: the next tick SIGKILLs what still runs.
        let (p, action) = next(p, Seen::Signalled { running: true }, extended_deadline);
        assert_eq!(action, Action::KillAll);
        assert_eq!(p.phase, Phase::Done);
    }

    #[test]
    fn a_hook_that_ends_within_its_extension_keeps_the_extended_deadline() {
        let t0 = Instant::now();
        let extended_deadline = t0 + Duration::from_secs(32);
        let (p, action) = next(
            at(Phase::Hook(HOOK_PID), extended_deadline, true),
            Seen::Hook { ended: true },
            t0 + Duration::from_secs(31),
        );
        assert_eq!(action, Action::StopSignal);
        assert_eq!(p, at(Phase::Signalled, extended_deadline, true));
    }

    #[test]
    fn a_signalled_container_still_running_before_the_deadline_is_waited_for() {
        let t0 = Instant::now();
        let start = at(Phase::Signalled, t0 + Duration::from_secs(30), false);
        let seen = Seen::Signalled { running: true };
        assert_eq!(next(start, seen, t0), (start, Action::Wait));
    }

    #[test]
    fn a_signalled_container_still_running_at_grace_period_expiry_gets_sigkill() {
        let t0 = Instant::now();
        let deadline = t0 + Duration::from_secs(30);
        let (p, action) = next(
            at(Phase::Signalled, deadline, false),
            Seen::Signalled { running: true },
            deadline,
        );
        assert_eq!(action, Action::KillAll);
        assert_eq!(p, at(Phase::Done, deadline, false));
    }

    #[test]
    fn a_container_already_gone_is_done_without_a_signal() {
        let t0 = Instant::now();
        let deadline = t0 + Duration::from_secs(30);
        for now in [t0, deadline, deadline + Duration::from_secs(1)] {
            let (p, action) = next(
                at(Phase::Signalled, deadline, false),
                Seen::Signalled { running: false },
                now,
            );
            assert_eq!(action, Action::Wait, "at {now:?}");
            assert_eq!(p, at(Phase::Done, deadline, false));
        }
    }

    #[test]
    fn grace_zero_kills_at_once_and_on_the_first_tick() {
        assert_eq!(
            first_signal(Duration::ZERO, Signal(libc::SIGTERM)),
            Signal(libc::SIGKILL)
        );
        assert_eq!(
            first_signal(Duration::ZERO, Signal(libc::SIGQUIT)),
            Signal(libc::SIGKILL)
        );
        // Force: the deadline is the start, so a container that survived the
        // SIGKILL of its process gets its whole cgroup killed on the first tick.
        let start = Instant::now();
        let (p, action) = next(
            at(Phase::Signalled, start, false),
            Seen::Signalled { running: true },
            start,
        );
        assert_eq!((p.phase, action), (Phase::Done, Action::KillAll));
    }

    #[test]
    fn with_a_grace_period_the_first_signal_is_the_stop_signal() {
        let grace = Duration::from_secs(30);
        assert_eq!(
            first_signal(grace, Signal(libc::SIGQUIT)),
            Signal(libc::SIGQUIT)
        );
        assert_eq!(
            first_signal(Duration::from_millis(1), Signal(libc::SIGTERM)),
            Signal(libc::SIGTERM)
        );
    }

    #[test]
    fn done_stays_done_and_a_sighting_of_another_phase_changes_nothing() {
        let t0 = Instant::now();
        let late = t0 + Duration::from_secs(60);
        let done = at(Phase::Done, t0, false);
        for seen in [
            Seen::Hook { ended: true },
            Seen::Signalled { running: true },
        ] {
            assert_eq!(next(done, seen, late), (done, Action::Wait));
        }
        let hook = at(Phase::Hook(HOOK_PID), t0, false);
        let seen = Seen::Signalled { running: true };
        assert_eq!(next(hook, seen, late), (hook, Action::Wait));
        let signalled = at(Phase::Signalled, t0, false);
        let seen = Seen::Hook { ended: true };
        assert_eq!(next(signalled, seen, late), (signalled, Action::Wait));
    }
}
