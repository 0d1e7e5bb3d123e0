//! The container's init: the code that runs between `clone` and `execve`.
//!
//! [`InitPlan`] holds everything prepared by the parent (C strings, flag words,
//! capability masks, compiled seccomp programs); [`run`] is the create sequence,
//! top to bottom, each step a named call in the order the kernel requires. Nothing
//! here allocates, locks or panics: a failure is sent to the parent as a
//! [`StepError`] and init exits.

use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use oci_spec::runtime::Spec;

use crate::capabilities::CapPlan;
use crate::error::{Error, Result};
use crate::mounts::cstring;
use crate::namespaces::NamespacePlan;
use crate::rlimits::{self, Rlimit};
use crate::rootfs::RootfsPlan;
use crate::seccomp::SeccompProgram;
use crate::sync::{Channel, Kind, Step, StepError};
use crate::user::UserPlan;

/// The process to exec, prepared before fork.
#[derive(Debug)]
pub(crate) struct ProcessPlan {
    /// `args` as C strings (kept alive for `argv`).
    pub(crate) args: Vec<CString>,
    /// Environment as C strings (kept alive for `envp`).
    pub(crate) env: Vec<CString>,
    /// Directories of `PATH` to search for `args[0]`.
    pub(crate) path_dirs: Vec<CString>,
    /// Working directory.
    pub(crate) cwd: CString,
    /// uid/gid/groups/umask.
    pub(crate) user: UserPlan,
    /// Capability sets.
    pub(crate) caps: CapPlan,
    /// `noNewPrivileges`.
    pub(crate) no_new_privs: bool,
    /// Compiled seccomp filters.
    pub(crate) seccomp: Option<SeccompProgram>,
    /// Resource limits.
    pub(crate) rlimits: Vec<Rlimit>,
    /// Allocate a pty and send it over the console socket.
    pub(crate) terminal: bool,
    /// Initial terminal size (rows, cols).
    pub(crate) console_size: Option<(u16, u16)>,
    /// AppArmor profile for the exec.
    pub(crate) lsm: crate::lsm::LsmPlan,
    /// Personality, I/O priority and CPU scheduler.
    pub(crate) sched: crate::sched::SchedPlan,
    /// Test-only: sleep this long just before `execve` (the fault switch
    /// [`crate::fault::EXEC_PAUSE`]); `None` everywhere else.
    pub(crate) pause_before_exec: Option<std::time::Duration>,
}

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

impl ProcessPlan {
    /// Translate `process` (args, env, cwd, user, capabilities, rlimits, seccomp).
    pub(crate) fn from_spec(spec: &Spec) -> Result<ProcessPlan> {
        let process = spec
            .process()
            .as_ref()
            .ok_or_else(|| Error::spec("process", "missing: nothing to run"))?;
        let args = process.args().clone().unwrap_or_default();
        if args.is_empty() || args[0].is_empty() {
            return Err(Error::spec("process.args", "empty: nothing to run"));
        }
        let env = process.env().clone().unwrap_or_default();
        let path = env
            .iter()
            .find_map(|e| e.strip_prefix("PATH="))
            .unwrap_or(DEFAULT_PATH);
        if !process.cwd().is_absolute() {
            return Err(Error::spec(
                "process.cwd",
                format!("{} is not absolute", process.cwd().display()),
            ));
        }
        let seccomp = match spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
            Some(s) => Some(SeccompProgram::compile(s)?),
            None => None,
        };
        Ok(ProcessPlan {
            args: args
                .iter()
                .enumerate()
                .map(|(i, a)| cstring(a, &format!("process.args[{i}]")))
                .collect::<Result<_>>()?,
            env: env
                .iter()
                .enumerate()
                .map(|(i, a)| cstring(a, &format!("process.env[{i}]")))
                .collect::<Result<_>>()?,
            path_dirs: path
                .split(':')
                .filter(|d| d.starts_with('/'))
                .map(|d| cstring(d, "process.env PATH"))
                .collect::<Result<_>>()?,
            cwd: cstring(process.cwd(), "process.cwd")?,
            user: UserPlan::from_spec(process.user()),
            caps: CapPlan::from_spec(process.capabilities().as_ref())?,
            no_new_privs: process.no_new_privileges().unwrap_or(false),
            seccomp,
            rlimits: rlimits::from_spec(process.rlimits().as_deref().unwrap_or(&[]))?,
            terminal: process.terminal().unwrap_or(false),
            lsm: crate::lsm::LsmPlan::from_spec(spec)?,
            sched: crate::sched::SchedPlan::from_spec(spec)?,
            console_size: process
                .console_size()
                .map(|b| (b.height() as u16, b.width() as u16)),
            pause_before_exec: None,
        })
    }

    /// Null-terminated pointer arrays for `execve`; build before fork.
    pub(crate) fn pointers(&self) -> (Vec<*const libc::c_char>, Vec<*const libc::c_char>) {
        let argv = self
            .args
            .iter()
            .map(|a| a.as_ptr())
            .chain(std::iter::once(std::ptr::null()))
            .collect();
        let envp = self
            .env
            .iter()
            .map(|a| a.as_ptr())
            .chain(std::iter::once(std::ptr::null()))
            .collect();
        (argv, envp)
    }

    /// Find `args[0]` in `PATH` (inside the container root); writes the result into
    /// `buf`. Async-signal-safe.
    pub(crate) fn resolve<'a>(
        &self,
        buf: &'a mut [u8; libc::PATH_MAX as usize],
    ) -> std::result::Result<&'a CStr, i32> {
        let prog = self.args[0].to_bytes();
        let is_exec = |p: &CStr| -> std::result::Result<(), i32> {
            // SAFETY: stat/access on a valid C string into a struct we own.
            unsafe {
                let mut st: libc::stat = std::mem::zeroed();
                if libc::stat(p.as_ptr(), &mut st) < 0 {
                    return Err(nix::errno::Errno::last_raw());
                }
                if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
                    return Err(libc::EISDIR);
                }
                if libc::access(p.as_ptr(), libc::X_OK) < 0 {
                    return Err(nix::errno::Errno::last_raw());
                }
            }
            Ok(())
        };
        if prog.contains(&b'/') {
            let len = prog.len().min(buf.len() - 1);
            buf[..len].copy_from_slice(&prog[..len]);
            buf[len] = 0;
            let c = CStr::from_bytes_until_nul(&buf[..]).map_err(|_| libc::EINVAL)?;
            is_exec(c)?;
            return Ok(c);
        }
        let mut found = None;
        let mut last_err = libc::ENOENT;
        for dir in &self.path_dirs {
            let d = dir.to_bytes();
            let total = d.len() + 1 + prog.len();
            if total >= buf.len() {
                continue;
            }
            buf[..d.len()].copy_from_slice(d);
            buf[d.len()] = b'/';
            buf[d.len() + 1..total].copy_from_slice(prog);
            buf[total] = 0;
            let c = CStr::from_bytes_until_nul(&buf[..]).map_err(|_| libc::EINVAL)?;
            match is_exec(c) {
                Ok(()) => {
                    found = Some(total);
                    break;
                }
                Err(e) => {
                    if e != libc::ENOENT && e != libc::ENOTDIR {
                        last_err = e;
                    }
                }
            }
        }
        match found {
            Some(_) => CStr::from_bytes_until_nul(&buf[..]).map_err(|_| libc::EINVAL),
            None => Err(last_err),
        }
    }
}

/// The descriptors a container process is given besides its terminal.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Descriptors {
    /// Descriptors to install as stdin, stdout and stderr (the caller keeps them open
    /// until the process has started); `None` inherits the caller's own.
    pub(crate) stdio: Option<[RawFd; 3]>,
    /// Extra descriptors after stdio to pass to the process (`--preserve-fds`).
    pub(crate) preserve_fds: u32,
}

/// Install `stdio` as descriptors 0, 1 and 2. Each is first copied above 2, so a
/// source that is itself 0, 1 or 2 is not overwritten before it is used; the copies
/// are closed again so none lands in the `--preserve-fds` range.
fn redirect_stdio(stdio: &[RawFd; 3]) -> std::result::Result<(), StepError> {
    let mut copies: [RawFd; 3] = [-1; 3];
    for (i, fd) in stdio.iter().enumerate() {
        // SAFETY: fcntl(F_DUPFD) on a descriptor number; no memory is passed.
        let copy = unsafe { libc::fcntl(*fd, libc::F_DUPFD, 3) };
        if copy < 0 {
            return Err(StepError::last(Step::Stdio, i as u32));
        }
        copies[i] = copy;
    }
    for (i, copy) in copies.iter().enumerate() {
        // SAFETY: dup2/close on descriptor numbers we just made.
        unsafe {
            if libc::dup2(*copy, i as RawFd) < 0 {
                return Err(StepError::last(Step::Stdio, i as u32));
            }
            libc::close(*copy);
        }
    }
    Ok(())
}

/// Everything init needs, prepared before fork.
#[derive(Debug)]
pub(crate) struct InitPlan {
    /// Namespaces to join and create.
    pub(crate) namespaces: NamespacePlan,
    /// `hostname`.
    pub(crate) hostname: Option<CString>,
    /// `domainname`.
    pub(crate) domainname: Option<CString>,
    /// Filesystem steps.
    pub(crate) rootfs: RootfsPlan,
    /// The process.
    pub(crate) process: ProcessPlan,
    /// The exec FIFO (`O_PATH`), when `start` should release init.
    pub(crate) exec_fifo: Option<OwnedFd>,
    /// Connected console socket, when `process.terminal` is set.
    pub(crate) console_socket: Option<OwnedFd>,
    /// Stop before pivot_root so the parent can run create-time hooks.
    pub(crate) pause_for_hooks: bool,
    /// Which descriptors the process gets.
    pub(crate) fds: Descriptors,
    /// Join a fresh session keyring (runc's default).
    pub(crate) new_keyring: bool,
}

impl InitPlan {
    /// Describe a failed step as a sentence naming its path or field.
    pub(crate) fn describe(&self, err: StepError) -> String {
        let what = match err.step {
            Step::JoinNamespace => self.namespaces.describe_join(err.index),
            Step::Unshare => "creating namespaces (unshare)".into(),
            Step::Hostname => format!(
                "setting hostname {:?}",
                self.hostname.as_deref().unwrap_or_default()
            ),
            Step::Domainname => "setting domainname".into(),
            Step::RootPropagation => "making / a slave mount".into(),
            Step::MountTarget
            | Step::Mount
            | Step::Remount
            | Step::CopyUp
            | Step::Device
            | Step::DevSymlink
            | Step::PivotRoot
            | Step::MaskPath
            | Step::ReadonlyPath
            | Step::ReadonlyRoot
            | Step::RootfsPropagation
            | Step::RootfsBind
            | Step::Sysctl => self.rootfs.describe(err.step, err.index),
            _ => return self.process.describe(err),
        };
        format!("{what}: {}", std::io::Error::from_raw_os_error(err.errno))
    }
}

impl ProcessPlan {
    /// Describe a failed process step (shared by init and exec).
    pub(crate) fn describe(&self, err: StepError) -> String {
        let what = match err.step {
            Step::Rlimit => format!("setting process.rlimits[{}]", err.index),
            Step::Cwd if err.index == CWD_OUTSIDE_ROOT => {
                return format!(
                    "process.cwd {} leads outside the container's root filesystem (through a descriptor of the runtime?): refused, as it would give the process a directory of the host",
                    self.cwd.to_string_lossy()
                )
            }
            Step::Cwd if err.index == CWD_UNREADABLE => format!(
                "checking that process.cwd {} is inside the container's root",
                self.cwd.to_string_lossy()
            ),
            Step::Cwd => format!("changing into process.cwd {}", self.cwd.to_string_lossy()),
            Step::Setgroups => "setting process.user.additionalGids".into(),
            Step::Setgid => format!("setting gid {}", err.index),
            Step::Setuid => format!("setting uid {}", err.index),
            Step::CapBounding | Step::CapAmbient => {
                format!("applying {}", crate::capabilities::name_of(err.index))
            }
            Step::Capset => "setting process.capabilities".into(),
            Step::NoNewPrivs => "setting no_new_privs".into(),
            Step::Seccomp => "installing the seccomp filter (linux.seccomp)".into(),
            Step::ExecFifo => "waiting on the exec FIFO".into(),
            Step::Exec => format!(
                "executing process.args[0] {:?}",
                self.args[0].to_string_lossy()
            ),
            Step::Console => "setting up the terminal (--console-socket)".into(),
            Step::Apparmor => "setting process.apparmorProfile".into(),
            Step::Sched => [
                "setting linux.personality",
                "setting process.ioPriority",
                "setting process.scheduler",
            ]
            .get(err.index as usize)
            .unwrap_or(&"scheduling")
            .to_string(),
            Step::CloseFds => "closing inherited descriptors".into(),
            Step::Stdio => format!("installing descriptor {} of the process's stdio", err.index),
            Step::Sync => "waiting for the runtime".into(),
            Step::JoinNamespace => format!("joining the container's namespace #{}", err.index),
            Step::Cgroup => "joining the container's cgroup".into(),
            other => format!("{other:?}"),
        };
        let errno = std::io::Error::from_raw_os_error(err.errno);
        let hint = match (err.step, err.errno) {
            (Step::Exec, libc::ENOENT) => " (not found in the container's PATH)",
            _ => "",
        };
        format!("{what}: {errno}{hint}")
    }
}

fn check(rc: libc::c_int, step: Step, index: u32) -> std::result::Result<(), StepError> {
    if rc < 0 {
        Err(StepError::last(step, index))
    } else {
        Ok(())
    }
}

/// The create sequence. Runs in the cloned child; returns only on failure.
/// `argv`/`envp` are the pointer arrays from [`ProcessPlan::pointers`].
pub(crate) fn run(
    plan: &InitPlan,
    chan: &Channel,
    argv: &[*const libc::c_char],
    envp: &[*const libc::c_char],
) -> StepError {
    match sequence(plan, chan, argv, envp) {
        Ok(never) => match never {},
        Err(e) => e,
    }
}

fn sequence(
    plan: &InitPlan,
    chan: &Channel,
    argv: &[*const libc::c_char],
    envp: &[*const libc::c_char],
) -> std::result::Result<std::convert::Infallible, StepError> {
    let p = &plan.process;
    // The parent puts us in the cgroup, writes id maps and the OOM score first.
    chan.expect(Kind::Go)?;
    // Joined namespaces first (user first among them), then new ones, so a cgroup
    // namespace is rooted at the cgroup the parent just put us in.
    plan.namespaces.enter()?;
    // SAFETY: plain syscalls with integer or C-string arguments throughout this function.
    unsafe {
        check(libc::setsid(), Step::Setsid, 0)?;
        if plan.new_keyring {
            // A fresh session keyring so containers do not share the host's; kernels
            // without keyrings (ENOSYS) or that refuse it are tolerated, as runc does.
            libc::syscall(
                libc::SYS_keyctl,
                1, /* KEYCTL_JOIN_SESSION_KEYRING */
                std::ptr::null::<libc::c_char>(),
            );
        }
        if let Some(h) = &plan.hostname {
            check(
                libc::sethostname(h.as_ptr(), h.to_bytes().len()),
                Step::Hostname,
                0,
            )?;
        }
        if let Some(d) = &plan.domainname {
            check(
                libc::setdomainname(d.as_ptr(), d.to_bytes().len()),
                Step::Domainname,
                0,
            )?;
        }
    }
    // Mounts and devices need CAP_SYS_ADMIN/CAP_MKNOD, which we still hold.
    plan.rootfs.prepare()?;
    if plan.pause_for_hooks {
        // createRuntime/createContainer hooks run now: namespaces exist, root not yet pivoted.
        chan.send(Kind::RunHooks).map_err(|errno| StepError {
            step: Step::Sync,
            errno,
            index: 0,
        })?;
        chan.expect(Kind::HooksDone)?;
    }
    plan.rootfs.pivot()?;
    plan.rootfs.finish()?;
    // A user namespace asked to be entered after the mounts is entered now, before
    // the process takes its identity (see `namespaces`).
    plan.namespaces.enter_late_user()?;
    become_process(
        p,
        chan,
        plan.console_socket.as_ref(),
        plan.exec_fifo.as_ref(),
        &plan.fds,
        argv,
        envp,
    )
}

/// The second half, shared by init and `exec`: terminal, limits, cwd, privileges,
/// seccomp, then `execve`. Runs inside the container's namespaces and root.
pub(crate) fn become_process(
    p: &ProcessPlan,
    chan: &Channel,
    console_socket: Option<&OwnedFd>,
    exec_fifo: Option<&OwnedFd>,
    fds: &Descriptors,
    argv: &[*const libc::c_char],
    envp: &[*const libc::c_char],
) -> std::result::Result<std::convert::Infallible, StepError> {
    if let Some(stdio) = &fds.stdio {
        redirect_stdio(stdio)?;
    }
    if p.terminal {
        if let Some(sock) = console_socket {
            crate::console::setup_pty(sock.as_raw_fd(), p.console_size)?;
        }
    }
    rlimits::apply(&p.rlimits)?;
    // Real-time policies need CAP_SYS_NICE, which the capability steps below may drop.
    p.sched.apply()?;
    // Only stdio and --preserve-fds may reach the process. Everything else the runtime
    // had open is closed for real *before* chdir, or `process.cwd: /proc/self/fd/N`
    // would lead into whatever directory the runtime held (CVE-2024-21626); what is
    // still needed until exec (the channel, the exec FIFO) stays, close-on-exec.
    // Done before an early seccomp install: a strict profile need not allow close_range.
    let first = fds.preserve_fds.saturating_add(3);
    crate::descriptors::close_all_but(
        first,
        [chan.raw(), exec_fifo.map_or(-1, |f| f.as_raw_fd())],
    )?;
    crate::descriptors::close_on_exec_from(first)?;
    enter_cwd(&p.cwd)?;
    // Bounding set needs CAP_SETPCAP: cut it while we are still fully privileged.
    p.caps.apply_bounding()?;
    if p.no_new_privs {
        // SAFETY: prctl with integer arguments.
        let ret = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
        check(ret, Step::NoNewPrivs, 0)?;
    } else if let Some(filter) = &p.seccomp {
        // Without no_new_privs, installing a filter needs CAP_SYS_ADMIN: do it before
        // the capabilities go.
        filter.install(false).map_err(|errno| StepError {
            step: Step::Seccomp,
            errno,
            index: 0,
        })?;
    }
    p.user.apply_groups()?;
    p.user.apply_uid()?;
    p.caps.apply_sets()?;
    p.caps.apply_ambient()?;
    // SAFETY: plain syscalls with integer arguments.
    unsafe {
        libc::prctl(libc::PR_SET_KEEPCAPS, 0, 0, 0, 0);
    }
    p.user.apply_umask();
    // Resolve the program now so a missing binary fails `create`, not `start`.
    let mut buf = [0u8; libc::PATH_MAX as usize];
    let prog = p.resolve(&mut buf).map_err(|errno| StepError {
        step: Step::Exec,
        errno,
        index: 0,
    })?;
    chan.send(Kind::Ready).map_err(|errno| StepError {
        step: Step::Sync,
        errno,
        index: 0,
    })?;
    if let Some(fifo) = exec_fifo {
        wait_for_start(fifo)?;
    }
    p.lsm.apply()?;
    if p.no_new_privs {
        if let Some(filter) = &p.seccomp {
            // As late as possible, so the filter need not allow the runtime's own calls.
            filter.install(true).map_err(|errno| StepError {
                step: Step::Seccomp,
                errno,
                index: 0,
            })?;
        }
    }
    reset_signals();
    if let Some(pause) = p.pause_before_exec {
        pause_for(pause);
    }
    // SAFETY: argv/envp are null-terminated arrays of pointers into CStrings that the
    // plan keeps alive; prog is a valid C string in our stack buffer.
    unsafe { libc::execve(prog.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
    Err(StepError::last(Step::Exec, 0))
}

/// [`StepError::index`] of a [`Step::Cwd`] failure: `getcwd` failed after `chdir`.
const CWD_UNREADABLE: u32 = 1;
/// [`StepError::index`] of a [`Step::Cwd`] failure: the cwd is outside the root.
const CWD_OUTSIDE_ROOT: u32 = 2;

/// `chdir` into `process.cwd`, then make sure it is inside the container's root. A
/// descriptor still open (stdio, `--preserve-fds`) may be a directory of the host, and
/// `/proc/self/fd/N` would lead there; the raw `getcwd` syscall then answers with a
/// path that starts with "(unreachable)" instead of "/", as runc checks too.
fn enter_cwd(cwd: &CStr) -> std::result::Result<(), StepError> {
    // SAFETY: chdir on a valid C string.
    check(unsafe { libc::chdir(cwd.as_ptr()) }, Step::Cwd, 0)?;
    let mut buf = [0u8; libc::PATH_MAX as usize];
    // SAFETY: the kernel writes at most buf.len() bytes into our stack buffer.
    let len = unsafe { libc::syscall(libc::SYS_getcwd, buf.as_mut_ptr(), buf.len()) };
    if len < 0 {
        return Err(StepError::last(Step::Cwd, CWD_UNREADABLE));
    }
    if len == 0 || buf[0] != b'/' {
        return Err(StepError {
            step: Step::Cwd,
            errno: libc::EXDEV,
            index: CWD_OUTSIDE_ROOT,
        });
    }
    Ok(())
}

/// Sleep for `pause` (only the test switch asks for it); async-signal-safe.
fn pause_for(pause: std::time::Duration) {
    let mut want = libc::timespec {
        tv_sec: pause.as_secs() as libc::time_t,
        tv_nsec: pause.subsec_nanos() as libc::c_long,
    };
    let mut left = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: nanosleep reads and writes two timespecs we own on the stack.
    while unsafe { libc::nanosleep(&want, &mut left) } < 0
        && nix::errno::Errno::last_raw() == libc::EINTR
    {
        want = left;
    }
}

/// Block until `start` opens the FIFO for reading, then tell it we go.
fn wait_for_start(fifo: &OwnedFd) -> std::result::Result<(), StepError> {
    // Re-open our O_PATH descriptor for writing through the container's /proc.
    let path = crate::in_root::ProcFdPath::new(fifo.as_raw_fd());
    // SAFETY: open/write/close on a NUL-terminated stack buffer and our own descriptor.
    unsafe {
        let fd = libc::open(path.as_cstr().as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return Err(StepError::last(Step::ExecFifo, 0));
        }
        let byte = b"0";
        libc::write(fd, byte.as_ptr() as *const libc::c_void, 1);
        libc::close(fd);
    }
    Ok(())
}

/// Undo what the Rust runtime and the parent changed: SIGPIPE ignored, signals blocked.
fn reset_signals() {
    // SAFETY: sigprocmask/signal with values we construct; both are async-signal-safe.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
