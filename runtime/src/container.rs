//! The OCI lifecycle of one container after `create` (see [`crate::create`]): `start`,
//! `state`, `kill`, `delete`, `pause`/`resume`, `update`, on state kept under a root
//! directory. The status is always read back from the kernel, never trusted from disk.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use oci_spec::runtime::{LinuxResources, Spec};

use crate::cgroups::{self, Cgroup};
use crate::error::{Error, Result};
use crate::hooks::{self, HookKind};
use crate::mounts::cstring;
use crate::signal::Signal;
use crate::spec;
use crate::state::{ContainerStatus, OciState, StateDir, StoredState};

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
    /// Descriptors to give the process as stdin, stdout and stderr instead of ours
    /// (the pod layer points them at log files); kept open by the caller.
    pub stdio: Option<[std::os::fd::RawFd; 3]>,
    /// With a terminal and no console socket, listen on one of our own and hand the
    /// pty master back (foreground `run`, which then relays it).
    pub proxy_terminal: bool,
}

/// A container with state on disk.
#[derive(Debug, Clone)]
pub struct Container {
    /// Its state directory.
    pub(crate) dir: StateDir,
    /// What was recorded at create time.
    pub state: StoredState,
}

impl Container {
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

    pub(crate) fn run_poststart(&self, spec: &Spec) -> Result<()> {
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
    pub(crate) fn destroy(&self) -> Result<()> {
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
        let mut resources = resources.clone();
        if resources.devices().is_some() {
            // The new rules replace the old ones; the default /dev nodes and the spec's
            // own devices stay reachable, exactly as at create.
            let mut spec = self.spec()?;
            if let Some(linux) = spec.linux_mut() {
                let mut r = linux.resources().clone().unwrap_or_default();
                r.set_devices(resources.devices().clone());
                linux.set_resources(Some(r));
            }
            resources.set_devices(cgroups::effective_resources(&spec).devices().clone());
        }
        Cgroup::open(&self.state.cgroup_path)?.update(&resources)
    }
}
