//! The OCI lifecycle of one container: `create`, `start`, `state`, `kill`, `delete`,
//! `pause`/`resume`, `update`, on state kept under a root directory.
//!
//! `create` prepares every step in this (parent) process, clones init with the PID and
//! user namespaces it needs, puts it in its cgroup, lets it run its set-up and waits
//! for "ready". In [`StartMode::Create`] init then blocks on the exec FIFO until
//! `start`; in [`StartMode::Run`] it execs straight away (one process, no re-exec).
//! Any failure kills init, removes the cgroup and the state directory: nothing stays.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use oci_spec::runtime::{LinuxResources, Spec};

use crate::cgroups::{self, Cgroup};
use crate::console::ConsoleListener;
use crate::error::{Error, Result};
use crate::hooks::{self, HookKind};
use crate::init::{self, InitPlan, ProcessPlan};
use crate::mounts::cstring;
use crate::namespaces::{self, NamespacePlan};
use crate::rootfs::RootfsPlan;
use crate::signal::Signal;
use crate::spec::{self, Bundle};
use crate::state::{ContainerStatus, OciState, StateDir, StoredState, STATE_VERSION};
use crate::sync::{Channel, Kind, Message};

/// How far `create` takes the container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartMode {
    /// Stop at "created": init waits on the exec FIFO for `start`.
    Create,
    /// Exec the user process at once (`run`).
    Run,
}

/// Options of `create`/`run`, as runc's command line gives them.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// State root (`--root`).
    pub root: PathBuf,
    /// Container id.
    pub id: String,
    /// Bundle directory.
    pub bundle: PathBuf,
    /// Write init's PID here.
    pub pid_file: Option<PathBuf>,
    /// Unix socket to send the pty master to.
    pub console_socket: Option<PathBuf>,
    /// Use move+chroot instead of pivot_root.
    pub no_pivot: bool,
    /// Do not create a new session keyring.
    pub no_new_keyring: bool,
    /// Descriptors after stdio to pass to the process.
    pub preserve_fds: u32,
    /// With a terminal and no console socket, listen on one of our own and hand the
    /// pty master back (foreground `run`, which then relays it).
    pub proxy_terminal: bool,
}

/// A container with state on disk.
#[derive(Debug, Clone)]
pub struct Container {
    /// Its state directory.
    pub dir: StateDir,
    /// What was recorded at create time.
    pub state: StoredState,
}

/// Undoes a half-made container unless disarmed.
struct CreateGuard {
    dir: StateDir,
    cgroup: Option<Cgroup>,
    child: Option<i32>,
    armed: bool,
}

impl Drop for CreateGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Some(pid) = self.child {
            // SAFETY: kill/waitpid on the child we cloned.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            }
        }
        if let Some(cg) = &mut self.cgroup {
            for pid in cg.pids() {
                // SAFETY: only processes in our own new cgroup.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            if let Err(e) = cg.destroy() {
                tracing::warn!("cleanup after failed create: {e}");
            }
        }
        let _ = self.dir.remove();
    }
}

fn now_rfc3339() -> String {
    humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string()
}

fn connect_console(path: &Path) -> Result<OwnedFd> {
    let sock = std::os::unix::net::UnixStream::connect(path).map_err(|e| {
        Error::io(
            format!("connecting to console socket {}", path.display()),
            e,
        )
    })?;
    Ok(OwnedFd::from(sock))
}

fn make_fifo(path: &Path) -> Result<OwnedFd> {
    let c = cstring(path, "exec fifo")?;
    // SAFETY: mkfifo/open on a valid C string.
    unsafe {
        let old = libc::umask(0);
        let rc = libc::mkfifo(c.as_ptr(), 0o622);
        libc::umask(old);
        if rc < 0 {
            return Err(Error::io(
                format!("creating {}", path.display()),
                std::io::Error::last_os_error(),
            ));
        }
        let fd = libc::open(c.as_ptr(), libc::O_PATH | libc::O_CLOEXEC);
        if fd < 0 {
            return Err(Error::io(
                format!("opening {}", path.display()),
                std::io::Error::last_os_error(),
            ));
        }
        Ok(<OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd))
    }
}

fn write_oom_score(pid: i32, spec: &Spec) -> Result<()> {
    let Some(score) = spec.process().as_ref().and_then(|p| p.oom_score_adj()) else {
        return Ok(());
    };
    let path = format!("/proc/{pid}/oom_score_adj");
    std::fs::write(&path, score.to_string()).map_err(|e| {
        let current = std::fs::read_to_string("/proc/self/oom_score_adj").unwrap_or_default();
        if e.raw_os_error() == Some(libc::EACCES) || e.raw_os_error() == Some(libc::EPERM) {
            Error::spec(
                "process.oomScoreAdj",
                format!(
                    "cannot set {score}: lowering below the runtime's own {} needs CAP_SYS_RESOURCE, which this host denies",
                    current.trim()
                ),
            )
        } else {
            Error::io(format!("writing {path}"), e)
        }
    })
}

/// Clone init. A raw `clone` (not `fork`) so new PID/user namespaces apply to init itself.
fn clone_init(flags: libc::c_int) -> Result<i32> {
    // SAFETY: clone without CLONE_VM and with a null stack behaves like fork: the child
    // gets a copy-on-write copy of this single-threaded process.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (flags | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    if pid < 0 {
        return Err(Error::io(
            "cloning the container's init",
            std::io::Error::last_os_error(),
        ));
    }
    Ok(pid as i32)
}

impl Container {
    /// Create a container from a bundle and take it to "created" (or running).
    pub fn create(opts: &CreateOptions, mode: StartMode) -> Result<Container> {
        Container::create_with_terminal(opts, mode).map(|(c, _)| c)
    }

    /// [`Container::create`], also returning the pty master when
    /// [`CreateOptions::proxy_terminal`] made the runtime its own console socket.
    pub fn create_with_terminal(
        opts: &CreateOptions,
        mode: StartMode,
    ) -> Result<(Container, Option<OwnedFd>)> {
        spec::validate_id(&opts.id)?;
        let dir = StateDir::new(&opts.root, &opts.id);
        if dir.exists() {
            return Err(Error::AlreadyExists(opts.id.clone()));
        }
        let Bundle {
            dir: bundle,
            spec,
            rootfs,
        } = spec::load_bundle(&opts.bundle)?;
        let cgroup_path = cgroups::path_for(&spec, &opts.id)?;
        cgroups::check_hugepages(&spec)?;
        let resources = cgroups::effective_resources(&spec);

        // Everything that can be checked is checked before any state exists.
        let namespaces = NamespacePlan::from_spec(&spec)?;
        let process = ProcessPlan::from_spec(&spec)?;
        let rootfs_plan =
            RootfsPlan::from_spec(&spec, &rootfs, &namespaces, &cgroup_path, opts.no_pivot)?;
        if process.terminal && opts.console_socket.is_none() && !opts.proxy_terminal {
            return Err(Error::spec(
                "process.terminal",
                "a detached container with a terminal needs --console-socket",
            ));
        }
        if let Some(hostname) = spec.hostname() {
            if !namespaces.has(libc::CLONE_NEWUTS) {
                return Err(Error::spec(
                    "hostname",
                    format!("{hostname:?} needs a UTS namespace"),
                ));
            }
        }
        let hook_list = |k| hooks::list(spec.hooks().as_ref(), k);
        let create_hooks = [
            HookKind::Prestart,
            HookKind::CreateRuntime,
            HookKind::CreateContainer,
        ];
        let pause_for_hooks = create_hooks.iter().any(|k| !hook_list(*k).is_empty());

        dir.create(&opts.root)?;
        let mut guard = CreateGuard {
            dir: dir.clone(),
            cgroup: None,
            child: None,
            armed: true,
        };
        // Recorded at once with PID 0, so `state` and `list` show "creating" meanwhile
        // and `delete` can clean up after a runtime that died half-way.
        let mut state = StoredState {
            version: STATE_VERSION,
            id: opts.id.clone(),
            bundle,
            rootfs: rootfs.clone(),
            pid: 0,
            pid_start_time: 0,
            created: now_rfc3339(),
            cgroup_path: cgroup_path.clone(),
            annotations: spec.annotations().clone().unwrap_or_default(),
            owner: String::from("root"),
        };
        dir.save(&state)?;
        let exec_fifo = match mode {
            StartMode::Create => Some(make_fifo(&dir.fifo())?),
            StartMode::Run => None,
        };
        let own_console = match (&opts.console_socket, process.terminal) {
            (None, true) => Some(ConsoleListener::bind(&opts.root, &opts.id)?),
            _ => None,
        };
        let console_socket = match (&opts.console_socket, &own_console, process.terminal) {
            (Some(p), _, true) => Some(connect_console(p)?),
            (None, Some(l), true) => Some(connect_console(&l.path)?),
            _ => None,
        };
        let plan = InitPlan {
            hostname: spec
                .hostname()
                .as_ref()
                .map(|h| cstring(h, "hostname"))
                .transpose()?,
            domainname: spec
                .domainname()
                .as_ref()
                .map(|h| cstring(h, "domainname"))
                .transpose()?,
            namespaces,
            rootfs: rootfs_plan,
            process,
            exec_fifo,
            console_socket,
            pause_for_hooks,
            preserve_fds: opts.preserve_fds,
            new_keyring: !opts.no_new_keyring,
        };
        let (argv, envp) = plan.process.pointers();
        let cgroup = Cgroup::open(&cgroup_path)?;
        let (parent_chan, child_chan) = Channel::pair()?;

        let saved_pid_ns = match &plan.namespaces.join_pid {
            Some(join) => Some(namespaces::enter_pid_ns_for_children(join)?),
            None => None,
        };
        let cloned = clone_init(plan.namespaces.clone_flags);
        if let (Some(own), Ok(pid)) = (&saved_pid_ns, &cloned) {
            // Only the runtime switches back; init must stay in the joined namespace.
            if *pid != 0 {
                namespaces::restore_pid_ns(own.as_raw_fd())?;
            }
        }
        let pid = cloned?;
        if pid == 0 {
            // In init: never return into the runtime's code.
            drop(parent_chan);
            let err = init::run(&plan, &child_chan, &argv, &envp);
            child_chan.send_failure(err);
            // SAFETY: _exit is async-signal-safe and skips destructors and atexit.
            unsafe { libc::_exit(127) };
        }
        drop(child_chan);
        guard.child = Some(pid);

        // Parent side: cgroup, id maps and OOM score before init may continue.
        let cgroup = guard.cgroup.insert(cgroup);
        cgroup.enter_and_apply(pid, &resources)?;
        plan.namespaces.write_id_maps(pid)?;
        write_oom_score(pid, &spec)?;
        parent_chan
            .send(Kind::Go)
            .map_err(|e| Error::io("signalling init", std::io::Error::from_raw_os_error(e)))?;

        state.pid = pid;
        state.pid_start_time = crate::proc_info::stat(pid)
            .map(|s| s.start_time)
            .unwrap_or(0);
        loop {
            match parent_chan.recv() {
                Ok(Message::Kind(Kind::RunHooks)) => {
                    let oci = state.to_oci(ContainerStatus::Creating);
                    for kind in create_hooks {
                        hooks::run(kind, &hook_list(kind), &oci, pid)?;
                    }
                    parent_chan.send(Kind::HooksDone).map_err(|e| {
                        Error::io("signalling init", std::io::Error::from_raw_os_error(e))
                    })?;
                }
                Ok(Message::Kind(Kind::Ready)) => break,
                Ok(Message::Failed(err)) => return Err(Error::Init(plan.describe(err))),
                Ok(Message::Closed) | Ok(Message::Kind(_)) => {
                    return Err(Error::Init(
                        "init exited during set-up without a report".into(),
                    ))
                }
                Err(e) => {
                    return Err(Error::io(
                        "reading from init",
                        std::io::Error::from_raw_os_error(e),
                    ))
                }
            }
        }
        dir.save_spec(&spec)?;
        dir.save(&state)?;
        if let Some(pid_file) = &opts.pid_file {
            crate::state::write_atomic(pid_file, pid.to_string().as_bytes())?;
        }
        let master = match &own_console {
            Some(l) => Some(l.receive_master()?),
            None => None,
        };
        guard.armed = false;
        let container = Container { dir, state };
        if mode == StartMode::Run {
            // init execs on its own; a failed exec shows up as the channel carrying a report.
            if let Ok(Message::Failed(err)) = parent_chan.recv() {
                let _ = container.destroy();
                return Err(Error::Init(plan.describe(err)));
            }
            container.run_poststart(&spec)?;
        }
        Ok((container, master))
    }

    /// Load an existing container.
    pub fn load(root: &Path, id: &str) -> Result<Container> {
        spec::validate_id(id)?;
        let dir = StateDir::new(root, id);
        if !dir.path.exists() {
            return Err(Error::NotFound(id.to_string()));
        }
        let state = dir.load()?;
        Ok(Container { dir, state })
    }

    /// Every container under `root`, sorted by id.
    pub fn list(root: &Path) -> Result<Vec<Container>> {
        let entries = match std::fs::read_dir(root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(format!("reading {}", root.display()), e)),
        };
        let mut out: Vec<Container> = entries
            .flatten()
            .filter_map(|e| Container::load(root, &e.file_name().to_string_lossy()).ok())
            .collect();
        out.sort_by(|a, b| a.state.id.cmp(&b.state.id));
        Ok(out)
    }

    /// The id.
    pub fn id(&self) -> &str {
        &self.state.id
    }

    /// Current status, from the kernel.
    pub fn status(&self) -> ContainerStatus {
        let frozen = cgroups::frozen_at(&self.state.cgroup_path);
        self.state.status(&self.dir, frozen)
    }

    /// The OCI state document.
    pub fn oci_state(&self) -> OciState {
        self.state.to_oci(self.status())
    }

    /// The spec saved at create time.
    pub fn spec(&self) -> Result<Spec> {
        self.dir.load_spec()
    }

    fn run_poststart(&self, spec: &Spec) -> Result<()> {
        let list = hooks::list(spec.hooks().as_ref(), HookKind::Poststart);
        hooks::run(
            HookKind::Poststart,
            &list,
            &self.oci_state(),
            self.state.pid,
        )
    }

    /// Release init from the exec FIFO so it execs the user process.
    pub fn start(&self) -> Result<()> {
        let status = self.status();
        if status != ContainerStatus::Created {
            return Err(Error::WrongStatus {
                id: self.id().to_string(),
                status,
                op: "start (only a created container can start)",
            });
        }
        let spec = self.spec()?;
        let start_hooks = hooks::list(spec.hooks().as_ref(), HookKind::StartContainer);
        hooks::run(
            HookKind::StartContainer,
            &start_hooks,
            &self.oci_state(),
            self.state.pid,
        )?;
        let fifo = self.dir.fifo();
        let c = cstring(&fifo, "exec fifo")?;
        // SAFETY: open on a valid C string; O_NONBLOCK so a dead init cannot hang us.
        let fd = unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_RDONLY | libc::O_NONBLOCK | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(Error::io(
                format!("opening {}", fifo.display()),
                std::io::Error::last_os_error(),
            ));
        }
        // SAFETY: fd was just opened by us.
        let fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut byte = [0u8; 1];
            // SAFETY: read into a one-byte stack buffer.
            let n =
                unsafe { libc::read(fd.as_raw_fd(), byte.as_mut_ptr() as *mut libc::c_void, 1) };
            if n == 1 {
                break;
            }
            if !self.state.init_alive() {
                return Err(Error::Init(format!(
                    "container {} init died before start",
                    self.id()
                )));
            }
            if Instant::now() > deadline {
                return Err(Error::Init(format!(
                    "container {} init did not answer start",
                    self.id()
                )));
            }
            let mut pfd = libc::pollfd {
                fd: fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: poll on one descriptor we own.
            unsafe { libc::poll(&mut pfd, 1, 5) };
        }
        let _ = std::fs::remove_file(&fifo);
        self.run_poststart(&spec)
    }

    /// Send a signal to init, or with `all` to every process in the cgroup.
    pub fn kill(&self, signal: Signal, all: bool) -> Result<()> {
        let status = self.status();
        if status == ContainerStatus::Stopped && !all {
            return Err(Error::WrongStatus {
                id: self.id().to_string(),
                status,
                op: "kill (the container is not running)",
            });
        }
        let targets = if all {
            Cgroup::open(&self.state.cgroup_path)?.pids()
        } else {
            vec![self.state.pid]
        };
        for pid in targets {
            // SAFETY: kill with integer arguments; PIDs come from our cgroup or state.
            if unsafe { libc::kill(pid, signal.0) } < 0 {
                let e = std::io::Error::last_os_error();
                if e.raw_os_error() != Some(libc::ESRCH) {
                    return Err(Error::io(
                        format!("sending signal {} to {pid}", signal.0),
                        e,
                    ));
                }
            }
        }
        Ok(())
    }

    /// Remove the container. A running one needs `force` (it is killed first).
    pub fn delete(&self, force: bool) -> Result<()> {
        let status = self.status();
        match status {
            ContainerStatus::Stopped | ContainerStatus::Created | ContainerStatus::Creating => {}
            _ if force => {}
            _ => {
                return Err(Error::WrongStatus {
                    id: self.id().to_string(),
                    status,
                    op: "delete (stop it first or use --force)",
                })
            }
        }
        self.destroy()?;
        let spec = self.spec().ok();
        let post = hooks::list(
            spec.as_ref().and_then(|s| s.hooks().as_ref()),
            HookKind::Poststop,
        );
        let mut oci = self.state.to_oci(ContainerStatus::Stopped);
        oci.pid = 0;
        // Poststop failures are logged, not fatal: the container is gone already.
        if let Err(e) = hooks::run(HookKind::Poststop, &post, &oci, 0) {
            tracing::warn!("{e}");
        }
        self.dir.remove()
    }

    /// Kill every process, remove the cgroup and the state files.
    fn destroy(&self) -> Result<()> {
        let mut cg = Cgroup::open(&self.state.cgroup_path)?;
        let kill_all = |cg: &Cgroup| {
            for pid in cg.pids() {
                // SAFETY: only processes of this container's cgroup.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        };
        if self.state.init_alive() {
            // SAFETY: the recorded init, verified by its start time.
            unsafe { libc::kill(self.state.pid, libc::SIGKILL) };
        }
        kill_all(&cg);
        if cg.is_frozen() {
            // Killed processes in a frozen cgroup only die once thawed.
            let _ = cg.set_frozen(false);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while (self.state.init_alive() || !cg.pids().is_empty()) && Instant::now() < deadline {
            // Reap init if we happen to be its parent (run), else wait for its reaper.
            // SAFETY: waitpid with WNOHANG on a PID we recorded.
            unsafe { libc::waitpid(self.state.pid, std::ptr::null_mut(), libc::WNOHANG) };
            kill_all(&cg);
            std::thread::sleep(Duration::from_millis(2));
        }
        if cg.exists() {
            cg.destroy()?;
        }
        Ok(())
    }

    /// Freeze every process (`pause`).
    pub fn pause(&self) -> Result<()> {
        let status = self.status();
        if status != ContainerStatus::Running && status != ContainerStatus::Created {
            return Err(Error::WrongStatus {
                id: self.id().to_string(),
                status,
                op: "pause",
            });
        }
        Cgroup::open(&self.state.cgroup_path)?.set_frozen(true)
    }

    /// Thaw every process (`resume`).
    pub fn resume(&self) -> Result<()> {
        let status = self.status();
        if status != ContainerStatus::Paused {
            return Err(Error::WrongStatus {
                id: self.id().to_string(),
                status,
                op: "resume (it is not paused)",
            });
        }
        Cgroup::open(&self.state.cgroup_path)?.set_frozen(false)
    }

    /// PIDs of every process in the container.
    pub fn pids(&self) -> Result<Vec<i32>> {
        Ok(Cgroup::open(&self.state.cgroup_path)?.pids())
    }

    /// Apply new resource limits.
    pub fn update(&self, resources: &LinuxResources) -> Result<()> {
        let status = self.status();
        if status == ContainerStatus::Stopped {
            return Err(Error::WrongStatus {
                id: self.id().to_string(),
                status,
                op: "update",
            });
        }
        Cgroup::open(&self.state.cgroup_path)?.update(resources)
    }
}
