//! The PID 1 of a pod whose containers share one PID namespace
//! (`shareProcessNamespace: true`). It does what a pause container's init does and
//! nothing more: it holds the namespace open and reaps the zombies that the
//! containers' orphans become.
//!
//! Every container of the pod sees it as its PID 1, and one granted CAP_SYS_PTRACE
//! may follow `/proc/1/{root,cwd,exe,fd}`, read `/proc/1/environ` or attach to it.
//! So, like a pause container, it keeps nothing of the host: it lives in the pod's
//! net, IPC and UTS namespaces and in a mount namespace of its own whose root is an
//! empty read-only tmpfs (the host's tree is detached), runs from a read-only bind
//! of the podrt binary with an empty environment and `/dev/null` for stdio, holds no
//! capability and cannot regain one, and is not dumpable. Until it execs it is a
//! fork of its creator and only makes async-signal-safe system calls; a failed step
//! reaches the creator as a fixed-size record on a pipe, whose end-of-file says the
//! init is ready.

use std::ffi::{CString, OsString};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

use crate::error::{Error, Result};
use crate::proc::identity::ProcRef;
use crate::proc::roles::Role;

/// The descriptor the init reports a failed step on, kept open across its exec.
const REPORT_FD: RawFd = 3;

/// The pod namespaces the init joins when the pod has them pinned.
const JOINED: [&str; 3] = ["net", "ipc", "uts"];

/// A step of the init's setup, as reported to its creator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
enum Step {
    JoinNamespace = 1,
    PrivateMounts = 2,
    Stdio = 3,
    ReadOnlyBinary = 4,
    NotDumpable = 5,
    EmptyRoot = 6,
    DropCapabilities = 7,
}

impl Step {
    const ALL: [Step; 7] = [
        Step::JoinNamespace,
        Step::PrivateMounts,
        Step::Stdio,
        Step::ReadOnlyBinary,
        Step::NotDumpable,
        Step::EmptyRoot,
        Step::DropCapabilities,
    ];

    /// What the init could not do, for the creator's error.
    fn what(self) -> &'static str {
        match self {
            Step::JoinNamespace => "join the pod's namespaces",
            Step::PrivateMounts => "make its mounts private (mount MS_PRIVATE on /)",
            Step::Stdio => "put /dev/null on its standard descriptors",
            Step::ReadOnlyBinary => "bind the podrt binary read-only",
            Step::NotDumpable => "make itself non-dumpable",
            Step::EmptyRoot => "pivot into an empty read-only root",
            Step::DropCapabilities => "drop its capabilities",
        }
    }

    fn from_code(code: u32) -> Option<Step> {
        Step::ALL.into_iter().find(|s| *s as u32 == code)
    }
}

/// A failed step and its errno, as 8 bytes on the report pipe.
fn encode(step: Step, errno: i32) -> [u8; 8] {
    let mut rec = [0u8; 8];
    rec[..4].copy_from_slice(&(step as u32).to_le_bytes());
    rec[4..].copy_from_slice(&errno.to_le_bytes());
    rec
}

/// The creator's reading of a report record.
fn decode(rec: &[u8; 8]) -> (Option<Step>, i32) {
    let [a, b, c, d, e, f, g, h] = *rec;
    (
        Step::from_code(u32::from_le_bytes([a, b, c, d])),
        i32::from_le_bytes([e, f, g, h]),
    )
}

/// Everything the child needs, made before the fork so the child need not allocate.
struct Prepared {
    /// The pod's pinned namespaces to join.
    namespaces: Vec<OwnedFd>,
    /// The podrt binary, or `None` to stay a fork of the creator.
    exe: Option<CString>,
    /// Owns the strings `argv` points into.
    _args: Vec<CString>,
    /// `podrt-pod-init __podrt-pod-init 3`, NULL-terminated.
    argv: Vec<*const libc::c_char>,
    /// The init's environment: empty, so the creator's is not on show in
    /// `/proc/1/environ`.
    envp: [*const libc::c_char; 1],
}

impl Prepared {
    fn new(dir: &Path, exe: Option<&Path>) -> Result<Prepared> {
        let mut namespaces = Vec::new();
        for kind in JOINED {
            let pin = dir.join("ns").join(kind);
            if !pin.exists() {
                // hostNetwork/hostIPC: the containers keep the host's, and so does the init.
                continue;
            }
            let f = std::fs::File::open(&pin)
                .map_err(|e| Error::io("opening the pod's namespace pin", &pin, e))?;
            namespaces.push(OwnedFd::from(f));
        }
        let exe = exe.and_then(|e| CString::new(e.as_os_str().as_bytes()).ok());
        let role = Role::PodInit {
            report_fd: REPORT_FD,
        };
        let args: Vec<CString> = std::iter::once(OsString::from(role.process_name()))
            .chain(role.args())
            .filter_map(|a| CString::new(a.into_vec()).ok())
            .collect();
        let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
        argv.push(std::ptr::null());
        Ok(Prepared {
            namespaces,
            exe,
            _args: args,
            argv,
            envp: [std::ptr::null()],
        })
    }
}

/// Start the pod's init in a new PID namespace; containers join `/proc/<pid>/ns/pid`.
/// With `exe` (the podrt binary) the init execs it as a fresh small process, else it
/// stays a fork of the caller (and then keeps the caller's environment strings in
/// its memory, where `/proc/1/environ` shows them to a container with
/// CAP_SYS_PTRACE; the CLI always passes `exe`). Returns once the init is set up; `dir` is the pod's
/// directory, whose namespace pins it joins. Must be called from a single-threaded
/// process.
pub(crate) fn spawn(dir: &Path, exe: Option<&Path>) -> Result<ProcRef> {
    let prep = Prepared::new(dir, exe)?;
    let (report_r, report_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| Error::io("making the pod's PID 1 report pipe for", dir, e.into()))?;
    // SAFETY: clone without CLONE_VM and a null stack behaves as fork; the child only
    // runs `child`, which makes async-signal-safe system calls on memory prepared
    // before the clone, and never returns.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (libc::CLONE_NEWPID | libc::CLONE_NEWNS | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    if pid < 0 {
        return Err(Error::last_os(
            "starting the pod's PID 1 (clone CLONE_NEWPID|CLONE_NEWNS) for",
            dir,
        ));
    }
    if pid == 0 {
        child(&prep, report_w.as_raw_fd());
    }
    let pid = pid as i32;
    drop(report_w);
    drop(prep);
    if let Some((step, errno)) = read_report(report_r) {
        // SAFETY: waitpid on our own child, which exits right after its report.
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
        let what = step.map_or("set itself up", Step::what);
        return Err(Error::Create {
            pod: dir.display().to_string(),
            message: format!(
                "the pod's PID 1 could not {what}: {}",
                nix::errno::Errno::from_raw(errno)
            ),
        });
    }
    ProcRef::of(pid).ok_or_else(|| Error::Create {
        pod: dir.display().to_string(),
        message: format!("the pod's PID 1 (host PID {pid}) died at once"),
    })
}

/// Wait for the init's report: `None` at end-of-file (it is ready), else the failed
/// step and its errno.
fn read_report(fd: OwnedFd) -> Option<(Option<Step>, i32)> {
    let mut rec = [0u8; 8];
    let mut got = 0;
    while got < rec.len() {
        // SAFETY: read into the unfilled tail of a local buffer, length passed with it.
        let n = unsafe {
            libc::read(
                fd.as_raw_fd(),
                rec[got..].as_mut_ptr().cast(),
                rec.len() - got,
            )
        };
        match n {
            0 => break,
            n if n > 0 => got += n as usize,
            _ if nix::errno::Errno::last() == nix::errno::Errno::EINTR => {}
            _ => return Some((None, nix::errno::Errno::last_raw())),
        }
    }
    match got {
        0 => None,
        8 => Some(decode(&rec)),
        _ => Some((None, libc::EIO)),
    }
}

/// The forked child: join the pod's namespaces, move the report pipe to
/// [`REPORT_FD`], detach its mounts from the host's, and exec the podrt binary
/// read-only (or, without one or if exec fails, set up and reap in place).
fn child(prep: &Prepared, report: RawFd) -> ! {
    for ns in &prep.namespaces {
        // SAFETY: setns on a namespace descriptor opened before the fork.
        if unsafe { libc::setns(ns.as_raw_fd(), 0) } != 0 {
            fail(report, Step::JoinNamespace);
        }
    }
    // SAFETY: dup2/fcntl on descriptors this process holds; integers only.
    unsafe {
        if report != REPORT_FD && libc::dup2(report, REPORT_FD) < 0 {
            fail(report, Step::Stdio);
        }
        libc::fcntl(REPORT_FD, libc::F_SETFD, 0);
    }
    // Private first: nothing mounted below may reach the host's namespace.
    // SAFETY: mount with NUL-terminated constants and null pointers.
    let private = unsafe {
        libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        )
    };
    if private != 0 {
        fail(REPORT_FD, Step::PrivateMounts);
    }
    stdio_to_dev_null();
    if let Some(exe) = &prep.exe {
        bind_read_only(exe);
        // SAFETY: execve with a NUL-terminated path and NULL-terminated argv and envp
        // that point into `prep`, alive until the exec replaces this image.
        unsafe { libc::execve(exe.as_ptr(), prep.argv.as_ptr(), prep.envp.as_ptr()) };
        // The binary is gone (replaced by an upgrade): stay a fork of the creator.
    }
    become_init(REPORT_FD)
}

/// `/dev/null` on 0, 1 and 2: the creator's stdio may be a user's terminal.
fn stdio_to_dev_null() {
    // SAFETY: open of a NUL-terminated constant, dup2 and close of descriptors this
    // process holds.
    unsafe {
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC);
        if null < 0 {
            fail(REPORT_FD, Step::Stdio);
        }
        for fd in 0..3 {
            if null != fd && libc::dup2(null, fd) < 0 {
                fail(REPORT_FD, Step::Stdio);
            }
        }
        if null > 2 {
            libc::close(null);
        }
    }
}

/// Bind `exe` on itself read-only (in this private mount namespace), so that
/// `/proc/1/exe` reopened for writing fails with EROFS even once nothing runs it.
fn bind_read_only(exe: &CString) {
    // SAFETY: mount with NUL-terminated paths that live in `prep` and null pointers.
    unsafe {
        let bound = libc::mount(
            exe.as_ptr(),
            exe.as_ptr(),
            std::ptr::null(),
            libc::MS_BIND,
            std::ptr::null(),
        );
        let flags = libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | libc::MS_NOSUID;
        if bound != 0
            || libc::mount(
                std::ptr::null(),
                exe.as_ptr(),
                std::ptr::null(),
                flags | libc::MS_NODEV,
                std::ptr::null(),
            ) != 0
        {
            fail(REPORT_FD, Step::ReadOnlyBinary);
        }
    }
}

/// Report `step` as failed with the current errno, then exit.
fn fail(report: RawFd, step: Step) -> ! {
    let rec = encode(step, nix::errno::Errno::last_raw());
    // SAFETY: write of a local buffer with its length, then _exit; both are
    // async-signal-safe.
    unsafe {
        libc::write(report, rec.as_ptr().cast(), rec.len());
        libc::_exit(1)
    }
}

/// The init after its exec (`podrt __podrt-pod-init FD`): set up as the module
/// says, reporting failures on descriptor `report` (the argument), then reap.
pub fn run(report: RawFd) -> ! {
    become_init(report)
}

/// Not dumpable, an empty root, no capabilities; then close every inherited
/// descriptor (the report pipe's end-of-file tells the creator it is ready) and reap.
fn become_init(report: RawFd) -> ! {
    // SAFETY: prctl with integer arguments.
    if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } != 0 {
        fail(report, Step::NotDumpable);
    }
    if !empty_root() {
        fail(report, Step::EmptyRoot);
    }
    if !drop_capabilities() {
        fail(report, Step::DropCapabilities);
    }
    reap_forever()
}

/// Replace this mount namespace's root with an empty read-only tmpfs and detach the
/// host's tree, so `/proc/1/root/..` leads nowhere: the runtime's own pivot, or,
/// where `/` cannot be pivoted (an initramfs root), its move+chroot; `..` from an
/// overmounted root comes back to the tmpfs. `/proc` is only the place the tmpfs is
/// mounted before it becomes `/`.
fn empty_root() -> bool {
    use podrt_runtime::pivot_root::{move_root, pivot_root};
    let flags = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
    // SAFETY: mount with NUL-terminated constants and null pointers.
    let mounted = unsafe {
        libc::mount(
            c"podrt-pod-init".as_ptr(),
            c"/proc".as_ptr(),
            c"tmpfs".as_ptr(),
            flags,
            c"mode=0555,size=4k".as_ptr().cast(),
        )
    } == 0;
    if !mounted {
        return false;
    }
    let rooted = match pivot_root(c"/proc") {
        Ok(()) => true,
        Err(e) if e.errno == libc::EINVAL => move_root(c"/proc").is_ok(),
        Err(_) => false,
    };
    // SAFETY: mount with a NUL-terminated constant and null pointers.
    rooted
        && unsafe {
            libc::mount(
                std::ptr::null(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | flags,
                std::ptr::null(),
            )
        } == 0
}

/// Drop every capability for good: the bounding set (so an exec as uid 0 gains
/// none back), no_new_privs, then the effective, permitted and inheritable sets —
/// the runtime's own steps with every set empty.
fn drop_capabilities() -> bool {
    let none = podrt_runtime::capabilities::CapPlan::default();
    // SAFETY: prctl with integer arguments.
    let no_new_privs = || unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } == 0;
    none.apply_bounding().is_ok() && no_new_privs() && none.apply_sets().is_ok()
}

/// The init's whole life: close inherited descriptors, wait for SIGCHLD, reap.
fn reap_forever() -> ! {
    // SAFETY: every call below is async-signal-safe and takes integers or pointers
    // to locals.
    unsafe {
        libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
        libc::setsid();
        let name = b"podrt-pod-init\0";
        libc::prctl(libc::PR_SET_NAME, name.as_ptr() as libc::c_ulong, 0, 0, 0);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGCHLD);
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::sigdelset(&mut all, libc::SIGCHLD);
        libc::sigprocmask(libc::SIG_BLOCK, &all, std::ptr::null_mut());
        loop {
            while libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) > 0 {}
            libc::sigwaitinfo(&set, std::ptr::null_mut());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_record_names_its_step_and_errno() {
        for step in Step::ALL {
            assert_eq!(
                decode(&encode(step, libc::EPERM)),
                (Some(step), libc::EPERM)
            );
            assert!(!step.what().is_empty());
        }
        assert_eq!(decode(&[0, 0, 0, 0, 2, 0, 0, 0]), (None, 2));
    }
}
