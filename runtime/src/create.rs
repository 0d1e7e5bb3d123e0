//! `create`, step by step: check everything the spec asks for with no side effect,
//! record the container as "creating", clone init, give it its cgroup, id maps and
//! OOM score, then wait for it to report ready (running the create-time hooks when it
//! pauses for them). In [`StartMode::Create`] init then blocks on the exec FIFO until
//! `start`; in [`StartMode::Run`] it execs straight away (one process, no re-exec).
//! Any failure kills init, removes the cgroup and the state directory: nothing stays.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxResources, Spec};

use crate::cgroups::{self, Cgroup};
use crate::console;
use crate::container::{Container, CreateOptions, StartMode};
use crate::error::{Error, Result};
use crate::hooks::{self, HookKind};
use crate::init::{self, Descriptors, InitPlan, ProcessPlan};
use crate::mounts::cstring;
use crate::namespaces::{self, NamespacePlan};
use crate::rootfs::RootfsPlan;
use crate::spec::{self, Bundle};
use crate::state::{ContainerStatus, StateDir, StoredState, STATE_VERSION};
use crate::sync::{Channel, Kind, Message};

/// The hook lists that run while init waits before pivot_root.
const CREATE_HOOKS: [HookKind; 3] = [
    HookKind::Prestart,
    HookKind::CreateRuntime,
    HookKind::CreateContainer,
];

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

/// Everything learnt from the bundle before anything is created.
struct Checked {
    bundle: PathBuf,
    spec: Spec,
    rootfs: PathBuf,
    cgroup_path: String,
    resources: LinuxResources,
    namespaces: NamespacePlan,
    process: ProcessPlan,
    rootfs_plan: RootfsPlan,
}

/// Check the bundle; no state, cgroup or process exists yet.
fn check(opts: &CreateOptions, bundle: Bundle) -> Result<Checked> {
    spec::validate_id(&opts.id)?;
    if StateDir::new(&opts.root, &opts.id).exists() {
        return Err(Error::AlreadyExists(opts.id.clone()));
    }
    let Bundle {
        dir: bundle,
        spec,
        rootfs,
    } = bundle;
    let cgroup_path = cgroups::path_for(&spec, &opts.id)?;
    cgroups::check_hugepages(&spec)?;
    crate::sched::check_unsupported(&spec)?;
    let resources = cgroups::effective_resources(&spec);
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
    Ok(Checked {
        bundle,
        spec,
        rootfs,
        cgroup_path,
        resources,
        namespaces,
        process,
        rootfs_plan,
    })
}

fn now_rfc3339() -> String {
    humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string()
}

/// The FIFO init blocks on until `start`, as an `O_PATH` descriptor for init.
/// Writable by all (0622, as runc's): init reopens it for writing once it is the
/// container's user; host users cannot reach it in its 0700 state directory.
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

/// Clone init. A raw `clone` (not `fork`) so new PID/user namespaces apply to init
/// itself; a PID namespace given by path is entered around the clone. Returns in the
/// runtime only: init runs [`init::run`] and exits.
fn spawn_init(
    plan: &InitPlan,
    parent_chan: Channel,
    child_chan: Channel,
    argv: &[*const libc::c_char],
    envp: &[*const libc::c_char],
) -> Result<(i32, Channel)> {
    // Init may join a PID namespace where other containers already run (a pod's
    // shared one): born non-dumpable, it is never open to them as podrt, through
    // /proc/<pid>/exe or /proc/<pid>/fd, before it execs (see [`crate::dumpable`]).
    let hidden = crate::dumpable::hide_children()?;
    let saved_pid_ns = match &plan.namespaces.join_pid {
        Some(join) => Some(namespaces::enter_pid_ns_for_children(join)?),
        None => None,
    };
    // SAFETY: clone without CLONE_VM and with a null stack behaves like fork: the child
    // gets a copy-on-write copy of this single-threaded process.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (plan.namespaces.clone_flags | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    if pid == 0 {
        // In init: never return into the runtime's code.
        drop(parent_chan);
        let err = init::run(plan, &child_chan, argv, envp);
        child_chan.send_failure(err);
        // SAFETY: _exit is async-signal-safe and skips destructors and atexit.
        unsafe { libc::_exit(127) };
    }
    let clone_error = std::io::Error::last_os_error();
    drop(hidden);
    if let Some(own) = &saved_pid_ns {
        // Only the runtime switches back; init stays in the joined namespace.
        namespaces::restore_pid_ns(own.as_raw_fd())?;
    }
    if pid < 0 {
        return Err(Error::io("cloning the container's init", clone_error));
    }
    Ok((pid as i32, parent_chan))
}

/// Wait for init's "ready", running the create-time hooks if it pauses for them.
fn await_ready(chan: &Channel, plan: &InitPlan, spec: &Spec, state: &StoredState) -> Result<()> {
    let signal_err = |e| Error::io("signalling init", std::io::Error::from_raw_os_error(e));
    loop {
        match chan.recv() {
            Ok(Message::Kind(Kind::RunHooks)) => {
                let oci = state.to_oci(ContainerStatus::Creating);
                for kind in CREATE_HOOKS {
                    hooks::run(
                        kind,
                        &hooks::list(spec.hooks().as_ref(), kind),
                        &oci,
                        state.pid,
                    )?;
                }
                chan.send(Kind::HooksDone).map_err(signal_err)?;
            }
            Ok(Message::Kind(Kind::Ready)) => return Ok(()),
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
        let bundle = spec::load_bundle(&opts.bundle)?;
        Container::create_from_bundle(opts, bundle, mode)
    }

    /// Create from a bundle already in memory (see [`Bundle::from_spec`]); this is how
    /// a library user, such as the pod layer, creates a container without writing a
    /// `config.json`. `opts.bundle` is ignored.
    pub fn create_from_bundle(
        opts: &CreateOptions,
        bundle: Bundle,
        mode: StartMode,
    ) -> Result<(Container, Option<OwnedFd>)> {
        let c = check(opts, bundle)?;
        let pause_for_hooks = CREATE_HOOKS
            .iter()
            .any(|k| !hooks::list(c.spec.hooks().as_ref(), *k).is_empty());
        let dir = StateDir::new(&opts.root, &opts.id);
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
            bundle: c.bundle.clone(),
            rootfs: c.rootfs.clone(),
            pid: 0,
            pid_start_time: 0,
            created: now_rfc3339(),
            cgroup_path: c.cgroup_path.clone(),
            annotations: c.spec.annotations().clone().unwrap_or_default(),
            owner: String::from("root"),
        };
        dir.save(&state)?;
        let exec_fifo = match mode {
            StartMode::Create => Some(make_fifo(&dir.fifo())?),
            StartMode::Run => None,
        };
        let (console_socket, own_console) = console::connect(
            opts.console_socket.as_deref(),
            c.process.terminal,
            &opts.root,
            &opts.id,
        )?;
        let spec = c.spec;
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
            namespaces: c.namespaces,
            rootfs: c.rootfs_plan,
            process: c.process,
            exec_fifo,
            console_socket,
            pause_for_hooks,
            fds: Descriptors {
                stdio: opts.stdio,
                preserve_fds: opts.preserve_fds,
            },
            new_keyring: !opts.no_new_keyring,
        };
        let (argv, envp) = plan.process.pointers();
        let cgroup = Cgroup::open(&c.cgroup_path)?;
        let (parent_chan, child_chan) = Channel::pair()?;
        // Test-only (the fault switch LEAK_DIRECTORY): a host directory open in the
        // runtime while it clones init.
        let leaked = crate::fault::active(crate::fault::LEAK_DIRECTORY)
            .then(|| std::fs::File::open(&dir.path).ok());
        let (pid, chan) = spawn_init(&plan, parent_chan, child_chan, &argv, &envp)?;
        drop(leaked);
        guard.child = Some(pid);

        // Cgroup, id maps and OOM score before init may continue.
        guard
            .cgroup
            .insert(cgroup)
            .enter_and_apply(pid, &c.resources)?;
        plan.namespaces.write_id_maps(pid)?;
        write_oom_score(pid, &spec)?;
        chan.send(Kind::Go)
            .map_err(|e| Error::io("signalling init", std::io::Error::from_raw_os_error(e)))?;
        state.pid = pid;
        state.pid_start_time = crate::proc_info::stat(pid)
            .map(|s| s.start_time)
            .unwrap_or(0);
        await_ready(&chan, &plan, &spec, &state)?;

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
            if let Ok(Message::Failed(err)) = chan.recv() {
                let _ = container.destroy();
                return Err(Error::Init(plan.describe(err)));
            }
            container.run_poststart(&spec)?;
        }
        Ok((container, master))
    }
}
