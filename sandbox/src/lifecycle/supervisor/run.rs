//! The supervisor's loop: run the init containers one at a time, then the app
//! containers; copy their output into CRI-format logs; on each exit record the
//! termination (OOMKilled from the cgroup's OOM events) and restart per
//! `restartPolicy` with kubelet's back-off; stop restarting once the pod is being
//! deleted. It waits on one `poll`: the SIGCHLD signalfd, the output FIFOs, the
//! pidfds of containers taken over from a dead supervisor ([`super::adopt`]), and
//! the earliest restart due.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use podrt_runtime::private_fs;

use super::adopt;
use super::control;
use super::creator;
use super::exit::{self, Exit};
use super::output;
use super::phase::{self, Event, Phase, Rules, Then};
use super::plan::{MadeWhen, Plan};
use super::policy::Backoff;
#[cfg(test)]
use super::policy::RestartPolicy;
use super::protocol::{self, Outcome, Reply, Report, Request, WorkItem};
use super::state::{
    ContainerState, State, CONTAINER_CREATED, CREATE_CONTAINER_ERROR, ERR_IMAGE_PULL,
    IMAGE_PULL_BACK_OFF,
};
use super::terminator;
use crate::cri_log::{LineWriter, Stream};
use crate::proc::pidfd::Watched;
use crate::proc::trim::Schedule;
use crate::state::paths::PodPaths;

/// One output pipe being copied into the log.
struct Pipe {
    fd: OwnedFd,
    writer: LineWriter,
}

/// One container as the supervisor tracks it: its [`Phase`] (what the
/// supervisor does next, changed only through [`phase::step`]) and the I/O
/// that goes with it.
struct Slot {
    name: String,
    init: bool,
    phase: Phase,
    /// For a container taken over from a dead supervisor: not our child, so
    /// watched through a pidfd rather than reaped.
    watch: Option<Watched>,
    cgroup: Option<String>,
    started: Option<(Instant, String)>,
    state: ContainerState,
    backoff: Backoff,
    pipes: Vec<Pipe>,
}

impl Slot {
    /// A container not made yet.
    fn new(name: &str, init: bool, plan: &Plan) -> Slot {
        Slot {
            name: name.to_string(),
            init,
            phase: Phase::Waiting,
            watch: None,
            cgroup: None,
            started: None,
            state: ContainerState {
                state: State::Waiting {
                    reason: if init {
                        "PodInitializing"
                    } else {
                        "ContainerCreating"
                    }
                    .into(),
                    message: None,
                },
                last_state: None,
                restart_count: 0,
            },
            backoff: Backoff::with_max(plan.max_restart_period),
            pipes: Vec::new(),
        }
    }

    /// Apply `event` to the phase; an event the phase cannot take is logged and
    /// changes nothing.
    fn step(&mut self, event: Event, rules: Rules) {
        match phase::step(self.phase, event, rules) {
            Some(next) => self.phase = next,
            None => tracing::warn!(
                "container {}: {event:?} cannot happen while {:?}; ignored",
                self.name,
                self.phase
            ),
        }
    }

    /// Nothing of it will run again and its output is all in the log.
    fn finished(&self) -> bool {
        self.phase == Phase::Done && self.pipes.is_empty()
    }
}

/// The supervisor.
pub(crate) struct Supervisor {
    plan: Plan,
    slots: Vec<Slot>,
    /// Where `apply` waits for the first report, until it is sent.
    report: Option<File>,
    /// A delete has begun: restart nothing.
    terminating: bool,
    /// The terminator process carrying out a delete's termination, while it runs.
    terminator: Option<i32>,
    /// Take over the containers of a dead supervisor before anything else.
    adopting: bool,
}

impl Supervisor {
    /// A supervisor for `plan`, reporting once to `report`.
    pub(crate) fn new(plan: Plan, report: Option<File>) -> Supervisor {
        let slots = plan
            .init_containers
            .iter()
            .map(|n| Slot::new(n, true, &plan))
            .chain(plan.containers.iter().map(|n| Slot::new(n, false, &plan)))
            .collect();
        Supervisor {
            plan,
            slots,
            report,
            terminating: false,
            terminator: None,
            adopting: false,
        }
    }

    /// A supervisor that takes the pod over from a dead one ([`super::adopt`]),
    /// reporting [`Report::Adopted`] to `report` once it has.
    pub(crate) fn adopting(plan: Plan, report: Option<File>) -> Supervisor {
        let mut s = Supervisor::new(plan, report);
        s.adopting = true;
        s
    }

    fn state_path(&self, name: &str) -> PathBuf {
        PodPaths::of_dir(&self.plan.pod_dir).container_state(name)
    }

    fn save(&self, i: usize) {
        let s = &self.slots[i];
        if let Err(e) = s.state.save(&self.state_path(&s.name)) {
            tracing::warn!("{e}");
        }
    }

    /// Tell `apply` how creation ended. Before [`Report::Ready`], the pod is
    /// marked made in its record: were `apply` killed now, the pod is whole, and
    /// nothing may take it for a creation that was interrupted.
    fn send_report(&mut self, report: Report) {
        if self.report.is_some() && report == Report::Ready {
            self.mark_created();
        }
        self.report(report);
    }

    /// Send the one report, once.
    fn report(&mut self, report: Report) {
        if let Some(mut r) = self.report.take() {
            let _ = protocol::send(&mut r, &report);
        }
    }

    fn mark_created(&self) {
        let made = crate::state::Sandbox::at(&self.plan.pod_dir).and_then(|mut s| s.mark_created());
        if let Err(e) = made {
            tracing::warn!("{e}");
        }
    }

    fn terminating(&mut self) -> bool {
        self.terminating =
            self.terminating || PodPaths::of_dir(&self.plan.pod_dir).terminating().exists();
        self.terminating
    }

    /// The rules for the container at `i`.
    fn rules(&self, i: usize) -> Rules {
        Rules {
            policy: self.plan.restart_policy,
            init: self.slots[i].init,
            terminating: self.terminating,
        }
    }

    /// Every container not running now is done; the running ones end with the
    /// termination.
    fn stop_restarts(&mut self) {
        self.terminating = true;
        self.stop_others();
    }

    /// Answer the requests waiting on the control socket.
    fn serve(&mut self, listener: &std::os::unix::net::UnixListener) {
        while let Ok((conn, _)) = listener.accept() {
            let reply = match control::read_request(&conn) {
                Some(Ok(request)) => self.answer(request),
                // One this supervisor cannot read (another podrt release's): the
                // error says so.
                Some(Err(e)) => Reply::Error {
                    message: e.to_string(),
                },
                None => continue,
            };
            control::reply(&conn, &reply);
        }
    }

    /// Carry out one request.
    fn answer(&mut self, request: Request) -> Reply {
        match request {
            Request::Status => Reply::Status {
                containers: self
                    .slots
                    .iter()
                    .map(|s| (s.name.clone(), s.state.clone()))
                    .collect(),
            },
            Request::Terminate { grace_ms } => {
                self.stop_restarts();
                // One terminator at a time; a delete after one has died (with the
                // command that asked for it) starts a new one.
                if self.terminator.is_none() {
                    self.terminator =
                        terminator::spawn(&self.plan, Duration::from_millis(grace_ms));
                }
                Reply::Ok
            }
            Request::Terminating => {
                self.stop_restarts();
                Reply::Ok
            }
            Request::Create { name } => self.create(&name),
            Request::Start { name } => self.start_created(&name),
            Request::ReopenLog { name } => self.reopen_log(&name),
            Request::Forget { name } => {
                self.forget(&name);
                Reply::Ok
            }
        }
    }

    /// kubelet drives this pod ([`MadeWhen::Kubelet`]).
    fn kubelet(&self) -> bool {
        self.plan.made_when == MadeWhen::Kubelet
    }

    /// `CreateContainer` of a kubelet pod: make the container `name` (in the
    /// manifest already) and leave its process waiting to be started. A
    /// container that cannot be made leaves nothing behind: no slot, no retry.
    fn create(&mut self, name: &str) -> Reply {
        let refuse = |message: String| Reply::Error { message };
        if !self.kubelet() {
            return refuse(format!(
                "container {name}: this pod was not made over the CRI; its containers are its manifest's"
            ));
        }
        if self.terminating() {
            return refuse(format!("container {name}: the pod sandbox is stopped"));
        }
        if self.slots.iter().any(|s| s.name == name) {
            return refuse(format!("container {name}: already made"));
        }
        self.slots.push(Slot::new(name, false, &self.plan));
        let i = self.slots.len() - 1;
        match self.start_with(&[i], true) {
            None => {
                self.plan.containers.push(name.to_string());
                self.save_plan();
                Reply::Ok
            }
            Some(message) => {
                self.slots.pop();
                let _ = std::fs::remove_file(self.state_path(name));
                refuse(message)
            }
        }
    }

    /// `StartContainer` of a kubelet pod: release the process of the container
    /// `name` made by [`Self::create`].
    fn start_created(&mut self, name: &str) -> Reply {
        let refuse = |message: String| Reply::Error { message };
        let Some(i) = self.slots.iter().position(|s| s.name == name) else {
            return refuse(format!("container {name}: not made"));
        };
        let s = &self.slots[i];
        let created =
            matches!(&s.state.state, State::Waiting { reason, .. } if reason == CONTAINER_CREATED);
        if !created || s.phase.pid().is_none() {
            return refuse(format!(
                "container {name}: not in the created state (it has been started before)"
            ));
        }
        let started = crate::state::Sandbox::at(&self.plan.pod_dir).and_then(|mut sandbox| {
            let _lock = sandbox.lock()?;
            crate::pod::start_container(&mut sandbox, name)
        });
        if let Err(e) = started {
            return refuse(e.to_string());
        }
        let now = crate::proc::clock::now_nanos();
        let s = &mut self.slots[i];
        s.started = Some((Instant::now(), now.clone()));
        s.state.state = State::Running { started_at: now };
        self.save(i);
        Reply::Ok
    }

    /// `ReopenContainerLog`: the container `name`'s output goes to a new file at
    /// its log's path (the old one was renamed). Refused if it does not run,
    /// as containerd and CRI-O refuse it.
    fn reopen_log(&mut self, name: &str) -> Reply {
        let log = PodPaths::of_dir(&self.plan.pod_dir).log(name);
        let Some(s) = self.slots.iter_mut().find(|s| s.name == name) else {
            return Reply::Error {
                message: format!("container {name}: not found"),
            };
        };
        if !matches!(s.state.state, State::Running { .. }) || s.pipes.is_empty() {
            return Reply::Error {
                message: format!("container {name}: not running"),
            };
        }
        for pipe in &mut s.pipes {
            match private_fs::open_append(&log) {
                Ok(f) => pipe.writer.reopen(f),
                Err(e) => {
                    return Reply::Error {
                        message: format!("reopening {}: {e}", log.display()),
                    }
                }
            }
        }
        Reply::Ok
    }

    /// `RemoveContainer` of a kubelet pod: stop watching the container `name`
    /// (its caller removes it from the runtime and the record).
    fn forget(&mut self, name: &str) {
        let Some(i) = self.slots.iter().position(|s| s.name == name) else {
            return;
        };
        let mut slot = self.slots.remove(i);
        for pipe in &mut slot.pipes {
            let _ = pipe.writer.finish();
        }
        let _ = std::fs::remove_file(self.state_path(name));
        self.plan.containers.retain(|c| c != name);
        self.save_plan();
    }

    /// Write the plan again (a kubelet pod's containers changed), for a
    /// supervisor that takes the pod over.
    fn save_plan(&self) {
        let path = PodPaths::of_dir(&self.plan.pod_dir).supervisor_plan();
        if let Err(e) = self.plan.save(&path) {
            tracing::warn!("{e}");
        }
    }

    /// Run until no container will run again and their output is drained.
    /// Returns the exit status (1 when the pod could not be created).
    pub(crate) fn run(&mut self) -> i32 {
        let mut mask = SigSet::empty();
        mask.add(Signal::SIGCHLD);
        let _ = mask.thread_block();
        let sfd = match SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        {
            Ok(s) => s,
            Err(e) => {
                self.send_report(Report::Failed {
                    message: format!("creating a signalfd: {e}"),
                });
                return 1;
            }
        };
        // Listening before the first start: `apply` returns on the ok that
        // start_next_phase may send, and the next command must find the socket.
        // Adopting: the pod is ours before its control socket is replaced.
        let claimed = if self.adopting {
            match self.claim() {
                Some(me) => Some(me),
                None => return 1,
            }
        } else {
            None
        };
        let listener = control::listen(&self.plan.pod_dir);
        if let Some(me) = claimed {
            if !self.take_over(me) {
                return 1;
            }
        }
        let supervised = matches!(
            self.plan.made_when,
            MadeWhen::Supervised | MadeWhen::Kubelet
        );
        if supervised && !self.adopting {
            // Made: the containers are this supervisor's to start from now on.
            self.send_report(Report::Ready);
        }
        // kubelet's containers start when it asks.
        if !self.kubelet() && !self.start_next_phase() {
            return 1;
        }
        crate::proc::trim::drop_clean_file_pages();
        // Code paths used once in a while (requests, log copying, restarts) are let
        // go again after them, so the resident size returns to the idle one.
        let mut trim = Schedule::trimmed_at(Instant::now());
        loop {
            trim.trim_if_due(Instant::now());
            self.reap();
            // A kubelet pod lives, with or without containers, until stopped.
            let done =
                self.slots.iter().all(Slot::finished) && (!self.kubelet() || self.terminating());
            if done {
                self.send_report(Report::Ready);
                // Nothing of the pod will run again: no successor is needed.
                let done = crate::state::paths::PodPaths::supervisor_done_in(&self.plan.pod_dir);
                if let Err(e) = private_fs::write(&done, b"") {
                    tracing::warn!("creating {}: {e}", done.display());
                }
                return 0;
            }
            let timeout = self
                .slots
                .iter()
                .filter_map(|s| s.phase.due_at())
                .chain(trim.due_at())
                .min()
                .map(|t| t.saturating_duration_since(Instant::now()));
            let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
            if let Some(l) = &listener {
                fds.push(PollFd::new(l.as_fd(), PollFlags::POLLIN));
            }
            let skip = fds.len();
            // (slot, Some(pipe)) for an output FIFO, (slot, None) for a pidfd.
            let mut owners = Vec::new();
            for (i, s) in self.slots.iter().enumerate() {
                for (j, p) in s.pipes.iter().enumerate() {
                    fds.push(PollFd::new(p.fd.as_fd(), PollFlags::POLLIN));
                    owners.push((i, Some(j)));
                }
                if let Some(w) = &s.watch {
                    fds.push(PollFd::new(w.fd.as_fd(), PollFlags::POLLIN));
                    owners.push((i, None));
                }
            }
            let t = match timeout {
                Some(d) => PollTimeout::try_from(d.as_millis().min(60_000) as i32 + 1)
                    .unwrap_or(PollTimeout::MAX),
                None => PollTimeout::NONE,
            };
            match poll(&mut fds, t) {
                Ok(0) => {}
                Ok(_) => trim.worked(Instant::now()),
                Err(_) => continue,
            }
            let ready: Vec<(usize, Option<usize>)> = fds[skip..]
                .iter()
                .zip(owners)
                .filter(|(f, _)| f.revents().is_some_and(|r| !r.is_empty()))
                .map(|(_, o)| o)
                .collect();
            drop(fds);
            while let Ok(Some(_)) = sfd.read_signal() {}
            if let Some(l) = &listener {
                self.serve(l);
            }
            // Output first: what a container wrote before it ended goes to its log.
            let (pipes, watched): (Vec<_>, Vec<_>) =
                ready.into_iter().partition(|(_, j)| j.is_some());
            for (i, j) in pipes.into_iter().rev() {
                if let Some(j) = j {
                    self.drain(i, j);
                }
            }
            for (i, _) in watched {
                self.watched_ended(i);
            }
            self.restart_due();
        }
    }

    /// Record ourselves as the pod's supervisor ([`adopt::claim`]); `None` (the
    /// command told) if the pod is not ours to take over.
    fn claim(&mut self) -> Option<crate::proc::identity::ProcRef> {
        let report = match adopt::claim(&self.plan.pod_dir) {
            Ok(adopt::Claim::Ours(me)) => return Some(me),
            Ok(adopt::Claim::Leave(why)) => Report::Left { why },
            Err(e) => Report::Failed {
                message: e.to_string(),
            },
        };
        self.report(report);
        None
    }

    /// Take the pod over from its dead supervisor ([`adopt`]): restore every
    /// container's record, watch the live ones, and tell the command waiting on us;
    /// then record the ones that ended meanwhile and apply the restart policy to
    /// them. False (the command told) if the pod cannot be found again.
    fn take_over(&mut self, me: crate::proc::identity::ProcRef) -> bool {
        let resumed = match adopt::resume(&self.plan) {
            Ok(r) => r,
            Err(e) => {
                self.report(Report::Failed {
                    message: e.to_string(),
                });
                return false;
            }
        };
        // Containers that ended while no supervisor watched, with what is known.
        let mut seen = Vec::new();
        let now = Instant::now();
        for r in resumed {
            let Some(i) = self.slots.iter().position(|s| s.name == r.name) else {
                continue;
            };
            let rules = self.rules(i);
            let s = &mut self.slots[i];
            s.cgroup = r.cgroup;
            if let Some(state) = r.state {
                s.state = state;
            }
            let State::Running { started_at } = &s.state.state else {
                s.phase = phase::resumed(&s.state.state, rules, now);
                continue;
            };
            s.started = Some((Instant::now(), started_at.clone()));
            // One that ended (its pidfd readable) may still say how: a zombie
            // not reaped yet. One whose process is gone ran as far as its record
            // goes (PID 0: none to reap); its end is handed to the phase at once.
            match r.live {
                Some(w) if w.ended() => {
                    s.phase = Phase::Running { pid: w.proc.pid };
                    seen.push((i, w.exit_status().map_or(Exit::Unknown, Exit::Status)))
                }
                Some(w) => {
                    s.phase = Phase::Running { pid: w.proc.pid };
                    s.watch = Some(w);
                    s.pipes = reopen_logs(&self.plan.pod_dir, &s.name, r.outputs);
                }
                None => {
                    s.phase = Phase::Running { pid: 0 };
                    seen.push((i, Exit::Unknown));
                }
            }
        }
        // An init container that failed for good (restartPolicy Never): nothing
        // else will ever run.
        let failed_for_good = self.slots.iter().any(|s| {
            s.init
                && s.phase == Phase::Done
                && matches!(&s.state.state, State::Terminated(t) if t.exit_code != Some(0))
        });
        if failed_for_good {
            self.stop_others();
        }
        let running = self.slots.iter().filter(|s| s.watch.is_some()).count();
        let unknown = seen.iter().filter(|(_, e)| *e == Exit::Unknown).count();
        self.report(Report::Adopted {
            pid: me.pid,
            start_time: me.start_time,
            running,
            ended: seen.len(),
            unknown,
        });
        for (i, exit) in seen {
            self.ended(i, exit);
        }
        true
    }

    /// Copy what a pipe has into the log; at end of file close it.
    fn drain(&mut self, i: usize, j: usize) {
        let mut buf = [0u8; 65536];
        let pipe = &mut self.slots[i].pipes[j];
        let n = nix::unistd::read(&pipe.fd, &mut buf).unwrap_or(0);
        if n == 0 {
            let _ = pipe.writer.finish();
            self.slots[i].pipes.remove(j);
        } else {
            let _ = pipe.writer.write(&buf[..n]);
        }
    }

    /// Start what should run now: the next init container, or all app containers.
    /// Returns false if the pod could not be created (reported to `apply`).
    fn start_next_phase(&mut self) -> bool {
        let next_init = self
            .slots
            .iter()
            .position(|s| s.init && s.phase != Phase::Done);
        let targets: Vec<usize> = match next_init {
            Some(i) => vec![i],
            None => (0..self.slots.len())
                .filter(|&i| !self.slots[i].init)
                .collect(),
        };
        // What already ran (before a takeover too) is left to its restart policy.
        if targets.iter().any(|&i| self.slots[i].phase.attempted()) {
            return true;
        }
        let failed = self.start(&targets);
        // `apply` is answered once the first phase has started: the app
        // containers, or the first init container, which may wait for long
        // (for a Service, as the seed's do) and must not hold `apply`.
        if failed.is_none() {
            self.send_report(Report::Ready);
        }
        match failed {
            Some(message) if self.report.is_some() => {
                self.send_report(Report::Failed { message });
                false
            }
            _ => true,
        }
    }

    /// Create and start the containers at `targets`; the first failure's message.
    fn start(&mut self, targets: &[usize]) -> Option<String> {
        self.start_with(targets, false)
    }

    /// Create the containers at `targets` and, unless `create_only`, start
    /// them; the first failure's message.
    fn start_with(&mut self, targets: &[usize], create_only: bool) -> Option<String> {
        let mut items = Vec::new();
        let mut ends = Vec::new();
        for &i in targets {
            let name = &self.slots[i].name;
            let paths = PodPaths::of_dir(&self.plan.pod_dir);
            let dir = paths.container(name);
            let channels = private_fs::create_dir_all(&dir).and_then(|()| {
                Ok((
                    output::create(&output::fifo_path(&dir, Stream::Stdout))?,
                    output::create(&output::fifo_path(&dir, Stream::Stderr))?,
                ))
            });
            let (out, err) = match channels {
                Ok(c) => c,
                Err(e) => {
                    let message = format!(
                        "creating the output FIFOs of container {name} in {}: {e}",
                        dir.display()
                    );
                    // None of them is started now: each is tried again later.
                    for &i in targets {
                        self.start_failed(i, &message, None);
                    }
                    return Some(message);
                }
            };
            // A first start after `apply` pulled needs no pull; any other start
            // pulls as the container's imagePullPolicy says.
            let prepulled = self.plan.pulling.as_ref().is_some_and(|p| p.prepulled);
            let pull = !prepulled || self.slots[i].phase.attempted();
            items.push(WorkItem {
                name: name.clone(),
                stdout_fd: out.writer.as_raw_fd(),
                stderr_fd: err.writer.as_raw_fd(),
                pull,
                create_only,
            });
            ends.push((i, out, err, paths.log(name)));
        }
        let outcomes = creator::run(&self.plan, &items);
        let mut first_error = None;
        for ((i, out, err, log), outcome) in ends.into_iter().zip(outcomes) {
            // The container holds its ends now; ours would keep the FIFOs from
            // ever reaching their end.
            drop(out.writer);
            drop(err.writer);
            match outcome {
                Outcome::Started { pid, cgroup, .. } => {
                    let now = crate::proc::clock::now_nanos();
                    let rules = self.rules(i);
                    let s = &mut self.slots[i];
                    s.step(Event::Started { pid }, rules);
                    s.cgroup = Some(cgroup);
                    s.started = Some((Instant::now(), now.clone()));
                    s.state.state = State::Running { started_at: now };
                    s.pipes = log_pipes(&log, out.reader, err.reader);
                }
                Outcome::Created { pid, cgroup, .. } => {
                    let rules = self.rules(i);
                    let s = &mut self.slots[i];
                    s.step(Event::Started { pid }, rules);
                    s.cgroup = Some(cgroup);
                    s.state.state = State::Waiting {
                        reason: CONTAINER_CREATED.into(),
                        message: None,
                    };
                    s.pipes = log_pipes(&log, out.reader, err.reader);
                }
                Outcome::Failed {
                    message, reason, ..
                } => {
                    first_error
                        .get_or_insert(format!("container {}: {message}", self.slots[i].name));
                    self.start_failed(i, &message, reason.as_deref());
                }
                Outcome::Aborted { message } => {
                    first_error
                        .get_or_insert(format!("container {}: {message}", self.slots[i].name));
                    self.start_failed(i, &message, None);
                }
            }
            self.save(i);
        }
        first_error
    }

    /// The container at `i` could not be made or started: it waits out a
    /// back-off (at least a second) and is tried again, whatever the policy.
    /// It waits in `CreateContainerError`, or in the `reason` given; a pull that
    /// fails again is kubelet's `ImagePullBackOff`, and pulls are tried again
    /// after 10 s at least, as kubelet's image back-off does.
    fn start_failed(&mut self, i: usize, message: &str, reason: Option<&str>) {
        let rules = self.rules(i);
        let s = &mut self.slots[i];
        let pulls_again = reason == Some(ERR_IMAGE_PULL) && s.state.state.pull_failed();
        let reason = match reason {
            _ if pulls_again => IMAGE_PULL_BACK_OFF,
            Some(r) => r,
            None => CREATE_CONTAINER_ERROR,
        };
        s.state.state = State::Waiting {
            reason: reason.into(),
            message: Some(message.to_string()),
        };
        // kubelet's image back-off starts at 10 s; other failures are tried
        // again after a second at least.
        let floor = if s.state.state.pull_failed() {
            Duration::from_secs(10)
        } else {
            Duration::from_secs(1)
        };
        let delay = s.backoff.next(Duration::ZERO);
        let retry_at = Instant::now() + delay.max(floor);
        s.step(Event::StartFailed { retry_at }, rules);
    }

    /// Reap every ended child and act on containers that ended.
    fn reap(&mut self) {
        loop {
            let mut status = 0;
            // SAFETY: waitpid with WNOHANG and a pointer to a local.
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if pid <= 0 {
                return;
            }
            if self.terminator == Some(pid) {
                self.terminator = None;
            }
            // A watched container is not our child: a child with its (recycled)
            // PID is someone else.
            if let Some(i) = self
                .slots
                .iter()
                .position(|s| s.phase.pid() == Some(pid) && s.watch.is_none())
            {
                self.ended(i, Exit::Status(status));
            }
        }
    }

    /// A watched container's pidfd says it has ended. Its output FIFOs are
    /// drained of what is left and closed now: a FIFO reopened after its writer had
    /// already closed it never reports end of file.
    fn watched_ended(&mut self, i: usize) {
        let Some(w) = self.slots[i].watch.take() else {
            return;
        };
        for j in (0..self.slots[i].pipes.len()).rev() {
            while self.slots[i]
                .pipes
                .get(j)
                .is_some_and(|p| crate::proc::ready::readable_now(&p.fd))
            {
                self.drain(i, j);
            }
        }
        for mut pipe in std::mem::take(&mut self.slots[i].pipes) {
            let _ = pipe.writer.finish();
        }
        let exit = w.exit_status().map_or(Exit::Unknown, Exit::Status);
        self.ended(i, exit);
    }

    /// The container at `i` ended so: record it, and let its phase and the pod
    /// go on as [`phase`] decides.
    fn ended(&mut self, i: usize, exit: Exit) {
        self.terminating();
        let rules = self.rules(i);
        let s = &mut self.slots[i];
        let (ran, started_at) = match s.started.take() {
            Some((at, text)) => (at.elapsed(), Some(text)),
            None => (Duration::ZERO, None),
        };
        let t = exit::terminated(exit, s.cgroup.as_deref(), started_at);
        let exit_code = t.exit_code;
        // The back-off advances only if it is restarted.
        let mut backoff = s.backoff.clone();
        let delay = backoff.next(ran);
        s.step(
            Event::Exited {
                exit_code,
                retry_at: Instant::now() + delay,
            },
            rules,
        );
        s.state.state = State::Terminated(t.clone());
        let restarting = s.phase.due_at().is_some();
        if restarting {
            s.backoff = backoff;
            s.state.last_state = Some(t);
            if !delay.is_zero() {
                s.state.state = State::Waiting {
                    reason: "CrashLoopBackOff".into(),
                    message: Some(format!(
                        "back-off {}s restarting failed container={} pod={}",
                        delay.as_secs(),
                        s.name,
                        self.plan.pod
                    )),
                };
            }
        }
        self.save(i);
        match phase::after_exit(rules.init, exit_code, restarting, rules.terminating) {
            Then::Nothing => {}
            Then::ReportMade => self.send_report(Report::Ready),
            Then::FailPod => {
                self.stop_others();
                self.send_report(Report::Ready);
            }
            Then::NextPhase => {
                self.start_next_phase();
                crate::proc::trim::drop_clean_file_pages();
            }
            Then::StopRestarts => self.stop_others(),
        }
    }

    /// Every container not running now is done (the pod failed, or is being
    /// deleted).
    fn stop_others(&mut self) {
        for i in 0..self.slots.len() {
            let rules = self.rules(i);
            self.slots[i].step(Event::Stop, rules);
        }
    }

    /// Restart containers whose back-off has run out.
    fn restart_due(&mut self) {
        let now = Instant::now();
        let due: Vec<usize> = (0..self.slots.len())
            .filter(|&i| self.slots[i].phase.due(now))
            .collect();
        if due.is_empty() {
            return;
        }
        if self.terminating() {
            self.stop_others();
            return;
        }
        // A container that never started (it could not be made, or its image
        // pulled) is tried again, not restarted: kubelet does not count it.
        for &i in &due {
            if !self.slots[i].state.state.not_made() {
                self.slots[i].state.restart_count += 1;
            }
        }
        self.start(&due);
        crate::proc::trim::drop_clean_file_pages();
    }
}

/// Log writers for a container's output FIFOs just made.
fn log_pipes(log: &std::path::Path, stdout: OwnedFd, stderr: OwnedFd) -> Vec<Pipe> {
    [(stdout, Stream::Stdout), (stderr, Stream::Stderr)]
        .into_iter()
        .filter_map(|(fd, stream)| {
            let f = private_fs::open_append(log).ok()?;
            Some(Pipe {
                fd,
                writer: LineWriter::new(f, stream),
            })
        })
        .collect()
}

/// Log writers for a taken-over container's reopened output FIFOs.
fn reopen_logs(
    pod_dir: &std::path::Path,
    name: &str,
    outputs: Vec<(OwnedFd, Stream)>,
) -> Vec<Pipe> {
    let log = PodPaths::of_dir(pod_dir).log(name);
    outputs
        .into_iter()
        .filter_map(|(fd, stream)| {
            let f = private_fs::open_append(&log).ok()?;
            Some(Pipe {
                fd,
                writer: LineWriter::new(f, stream),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_is_read_from_the_plan() {
        let plan = Plan {
            pod: "p".into(),
            pod_dir: PathBuf::from("/nonexistent"),
            restart_policy: RestartPolicy::Never,
            init_containers: vec!["i".into()],
            containers: vec!["a".into(), "b".into()],
            helper_exe: None,
            max_restart_period: None,
            made_when: MadeWhen::Running,
            pulling: None,
        };
        let s = Supervisor::new(plan, None);
        assert_eq!(s.slots.len(), 3);
        assert!(s.slots[0].init && !s.slots[1].init);
        assert_eq!(
            s.slots[0].state.state,
            State::Waiting {
                reason: "PodInitializing".into(),
                message: None
            }
        );
    }
}
