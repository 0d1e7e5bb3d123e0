//! `exec`: start another process inside a running container.
//!
//! The new process joins every namespace of the container's init (the PID namespace
//! by the parent around `clone`, the others in the child, the user namespace last),
//! is put in the container's cgroup before it runs any code of its own, and then
//! goes through the same privilege steps as init: capabilities, no_new_privs, seccomp.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use oci_spec::runtime::{Process, Spec};

use crate::cgroups::Cgroup;
use crate::container::Container;
use crate::error::{Error, Result};
use crate::init::{become_process, Descriptors, ProcessPlan};
use crate::namespaces::{restore_pid_ns, JoinNs};
use crate::state::ContainerStatus;
use crate::sync::{Channel, Kind, Message, Step, StepError};

/// Options of `exec`.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// Write the new process's PID here.
    pub pid_file: Option<PathBuf>,
    /// Unix socket for the pty master, if the process has a terminal.
    pub console_socket: Option<PathBuf>,
    /// Descriptors after stdio to pass on.
    pub preserve_fds: u32,
    /// Descriptors to give the process as stdin, stdout and stderr instead of ours.
    pub stdio: Option<[std::os::fd::RawFd; 3]>,
    /// With a terminal and no console socket, hand the pty master back to the caller.
    pub proxy_terminal: bool,
}

/// The container's namespaces that differ from ours, user last. The runtime runs as
/// the host's root, which may join any namespace while it is still in the host's user
/// namespace; once in the container's user namespace it could no longer join a mount
/// or PID namespace that namespace does not own (a container that entered its user
/// namespace after its mounts, see [`crate::namespaces::LATE_USERNS_ANNOTATION`]).
fn container_namespaces(pid: i32) -> Result<(Vec<JoinNs>, Option<JoinNs>)> {
    let order = [
        ("ipc", libc::CLONE_NEWIPC),
        ("uts", libc::CLONE_NEWUTS),
        ("net", libc::CLONE_NEWNET),
        ("cgroup", libc::CLONE_NEWCGROUP),
        ("mnt", libc::CLONE_NEWNS),
        ("user", libc::CLONE_NEWUSER),
    ];
    let differs = |name: &str| -> Result<bool> {
        let theirs = std::fs::metadata(format!("/proc/{pid}/ns/{name}"))
            .map_err(|e| Error::io(format!("reading /proc/{pid}/ns/{name}"), e))?;
        let ours = std::fs::metadata(format!("/proc/self/ns/{name}"))
            .map_err(|e| Error::io(format!("reading /proc/self/ns/{name}"), e))?;
        Ok(theirs.ino() != ours.ino() || theirs.dev() != ours.dev())
    };
    let open = |name: &str, nstype| -> Result<JoinNs> {
        let path = PathBuf::from(format!("/proc/{pid}/ns/{name}"));
        let f = std::fs::File::open(&path)
            .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
        Ok(JoinNs {
            fd: OwnedFd::from(f),
            nstype,
            path,
        })
    };
    let mut joins = Vec::new();
    for (name, flag) in order {
        if differs(name)? {
            joins.push(open(name, flag)?);
        }
    }
    let pid_ns = if differs("pid")? {
        Some(open("pid", libc::CLONE_NEWPID)?)
    } else {
        None
    };
    Ok((joins, pid_ns))
}

/// Build the process to exec from the container's spec with `process` replacing its
/// `process` section (runc's `exec --process` semantics).
pub(crate) fn process_plan(spec: &Spec, process: &Process) -> Result<ProcessPlan> {
    let mut s = spec.clone();
    s.set_process(Some(process.clone()));
    ProcessPlan::from_spec(&s)
}

/// Start `process` in `container`; returns its host PID once it has exec'd, and the
/// pty master when [`ExecOptions::proxy_terminal`] made the runtime its own console
/// socket.
pub fn exec_with_terminal(
    container: &Container,
    process: &Process,
    opts: &ExecOptions,
) -> Result<(i32, Option<OwnedFd>)> {
    let status = container.status();
    if status != ContainerStatus::Running && status != ContainerStatus::Created {
        return Err(Error::WrongStatus {
            id: container.id().to_string(),
            status,
            op: "exec (it is not running)",
        });
    }
    let spec = container.spec()?;
    let mut plan = process_plan(&spec, process)?;
    if crate::fault::active(crate::fault::EXEC_PAUSE) {
        plan.pause_before_exec = Some(crate::fault::EXEC_PAUSE_FOR);
    }
    if plan.terminal && opts.console_socket.is_none() && !opts.proxy_terminal {
        return Err(Error::spec(
            "process.terminal",
            "a detached process with a terminal needs --console-socket",
        ));
    }
    let (console, own_console) = crate::console::connect(
        opts.console_socket.as_deref(),
        plan.terminal,
        &container.dir.path,
        "exec",
    )?;
    let (joins, pid_ns) = container_namespaces(container.state.pid)?;
    let mut cgroup = Cgroup::open(&container.state.cgroup_path)?;
    let (argv, envp) = plan.pointers();
    let (parent_chan, child_chan) = Channel::pair()?;

    // The child is in the container's PID namespace from its first instruction: it
    // must be born non-dumpable, or the container could open its /proc/<pid>/exe (the
    // host's podrt binary) before it execs.
    let hidden = crate::dumpable::hide_children()?;
    let saved = match &pid_ns {
        Some(j) => Some(crate::namespaces::enter_pid_ns_for_children(j)?),
        None => None,
    };
    // SAFETY: fork of this single-threaded process; the child only runs async-signal-safe code.
    let pid = unsafe { libc::fork() };
    if pid != 0 {
        drop(hidden);
    }
    if let Some(own) = &saved {
        if pid != 0 {
            restore_pid_ns(own.as_raw_fd())?;
        }
    }
    if pid < 0 {
        return Err(Error::io(
            "forking the exec process",
            std::io::Error::last_os_error(),
        ));
    }
    if pid == 0 {
        drop(parent_chan);
        let err = match child(
            &joins,
            &plan,
            &child_chan,
            console.as_ref(),
            &Descriptors {
                stdio: opts.stdio,
                preserve_fds: opts.preserve_fds,
            },
            &argv,
            &envp,
        ) {
            Ok(never) => match never {},
            Err(e) => e,
        };
        child_chan.send_failure(err);
        // SAFETY: _exit skips destructors; async-signal-safe.
        unsafe { libc::_exit(127) };
    }
    drop(child_chan);
    let fail = |e: Error| -> Error {
        // SAFETY: kill/waitpid on the child we forked.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, std::ptr::null_mut(), 0);
        }
        e
    };
    if let Err(e) = cgroup.add(pid) {
        return Err(fail(e));
    }
    if let Err(e) = parent_chan.send(Kind::Go) {
        return Err(fail(Error::io(
            "signalling the exec process",
            std::io::Error::from_raw_os_error(e),
        )));
    }
    loop {
        match parent_chan.recv() {
            Ok(Message::Kind(Kind::Ready)) => continue,
            Ok(Message::Closed) => break, // exec'd: the channel was close-on-exec
            Ok(Message::Failed(err)) => {
                let msg = if err.step == Step::JoinNamespace {
                    joins
                        .get(err.index as usize)
                        .map(|j| {
                            format!(
                                "joining {}: {}",
                                j.path.display(),
                                std::io::Error::from_raw_os_error(err.errno)
                            )
                        })
                        .unwrap_or_else(|| plan.describe(err))
                } else {
                    plan.describe(err)
                };
                // SAFETY: reap the child we forked.
                unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
                return Err(Error::Init(msg));
            }
            Ok(Message::Kind(_)) => {}
            Err(e) => {
                return Err(fail(Error::io(
                    "reading from the exec process",
                    std::io::Error::from_raw_os_error(e),
                )))
            }
        }
    }
    if let Some(pid_file) = &opts.pid_file {
        crate::state::write_atomic(pid_file, pid.to_string().as_bytes())?;
    }
    let master = match &own_console {
        Some(l) => Some(l.receive_master()?),
        None => None,
    };
    Ok((pid, master))
}

fn child(
    joins: &[JoinNs],
    plan: &ProcessPlan,
    chan: &Channel,
    console: Option<&OwnedFd>,
    fds: &Descriptors,
    argv: &[*const libc::c_char],
    envp: &[*const libc::c_char],
) -> std::result::Result<std::convert::Infallible, StepError> {
    chan.expect(Kind::Go)?;
    for (i, ns) in joins.iter().enumerate() {
        // SAFETY: setns on descriptors we own.
        if unsafe { libc::setns(ns.fd.as_raw_fd(), ns.nstype) } < 0 {
            return Err(StepError::last(Step::JoinNamespace, i as u32));
        }
    }
    if plan.terminal {
        // SAFETY: setsid has no arguments; a new session is needed for a controlling tty.
        unsafe { libc::setsid() };
    }
    become_process(plan, chan, console, None, fds, argv, envp)
}
