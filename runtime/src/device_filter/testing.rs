//! Test helpers shared by the device filter unit tests: building OCI device rules,
//! and a real cgroup v2 directory with a forked child that probes device opens in it.

use std::ffi::{CStr, CString};
use std::io;
use std::path::PathBuf;

use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

/// A `linux.resources.devices` entry with the given fields.
pub(super) fn rule(
    allow: bool,
    typ: Option<LinuxDeviceType>,
    major: Option<i64>,
    minor: Option<i64>,
    access: Option<&str>,
) -> LinuxDeviceCgroup {
    let mut r = LinuxDeviceCgroup::default();
    r.set_allow(allow)
        .set_typ(typ)
        .set_major(major)
        .set_minor(minor)
        .set_access(access.map(String::from));
    r
}

/// deny all, allow c 1:3 rw (null), allow c 1:5 r (zero).
pub(super) fn sample_rules() -> Vec<LinuxDeviceCgroup> {
    let c = Some(LinuxDeviceType::C);
    vec![
        rule(false, Some(LinuxDeviceType::A), None, None, Some("rwm")),
        rule(true, c, Some(1), Some(3), Some("rw")),
        rule(true, c, Some(1), Some(5), Some("r")),
    ]
}

/// What the child saw for one open: 0 opened, 1 EPERM, 2 another error. Two bits
/// per probe in the exit code; 255 (never a valid set of slots) means the child
/// could not join the cgroup.
pub(super) const OPENED: i32 = 0;
pub(super) const EPERM: i32 = 1;
const OTHER_ERROR: i32 = 2;
const JOIN_FAILED: i32 = 255;

/// One open the child makes: path, flags, description, expected outcome.
pub(super) type Probe<'a> = (&'a CStr, libc::c_int, &'a str, i32);

/// The cgroup2 mount: `unified` in the hybrid layout, else the root on pure v2.
fn cgroup2_root() -> &'static str {
    for dir in ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"] {
        if statfs(dir).is_ok_and(|st| st.filesystem_type() == CGROUP2_SUPER_MAGIC) {
            return dir;
        }
    }
    panic!("neither /sys/fs/cgroup/unified nor /sys/fs/cgroup is a cgroup2 mount: this test needs cgroup v2 (hybrid or unified)");
}

/// A fresh cgroup v2 directory for one test. Dropping it (on failure too) kills and
/// reaps a probe child the test left behind, then removes the directory, which
/// also detaches its filters.
pub(super) struct TestCgroup {
    /// The cgroup's directory in the cgroup2 mount.
    pub(super) dir: PathBuf,
    child: Option<libc::pid_t>,
}

impl TestCgroup {
    /// Create `<cgroup2 mount>/podrt-<name>-<our pid>`.
    pub(super) fn create(name: &str) -> TestCgroup {
        let dir = PathBuf::from(format!(
            "{}/podrt-{name}-{}",
            cgroup2_root(),
            std::process::id()
        ));
        std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        TestCgroup { dir, child: None }
    }

    /// Fork a child into the cgroup that makes each open of `probes`; the probes
    /// whose outcome was not the expected one, described.
    pub(super) fn probe(&mut self, probes: &[Probe]) -> Vec<String> {
        assert!(probes.len() <= 4, "the exit code has room for 4 probes");
        let procs = CString::new(format!("{}/cgroup.procs", self.dir.display())).unwrap();
        // SAFETY: the child runs only probe_in_child, which makes async-signal-safe
        // calls on data prepared above and ends in _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork: {}", io::Error::last_os_error());
        if pid == 0 {
            probe_in_child(&procs, probes);
        }
        self.child = Some(pid);
        let status = waitpid(Pid::from_raw(pid), None).unwrap();
        self.child = None;

        let code = match status {
            WaitStatus::Exited(_, code) => code,
            other => panic!("probe child did not exit normally: {other:?}"),
        };
        assert_ne!(
            code, JOIN_FAILED,
            "the child could not write its pid to {procs:?}"
        );
        let names = ["opened", "EPERM", "another error"];
        let mut failures = Vec::new();
        for (i, (_, _, what, expected)) in probes.iter().enumerate() {
            let got = (code >> (2 * i)) & 3;
            if got != *expected {
                failures.push(format!(
                    "{what}: expected {}, got {}",
                    names[*expected as usize], names[got as usize]
                ));
            }
        }
        failures
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        if let Some(pid) = self.child.take() {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), nix::sys::signal::SIGKILL);
            let _ = waitpid(Pid::from_raw(pid), None);
        }
        for _ in 0..100 {
            match std::fs::remove_dir(&self.dir) {
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                    std::thread::sleep(std::time::Duration::from_millis(10))
                }
                _ => return,
            }
        }
    }
}

/// Runs in the forked child: only async-signal-safe calls on prepared data.
fn probe_in_child(procs: &CStr, probes: &[Probe]) -> ! {
    let mut digits = [0u8; 12];
    // SAFETY: getpid has no preconditions.
    let mut pid = unsafe { libc::getpid() } as u32;
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (pid % 10) as u8;
        pid /= 10;
        if pid == 0 {
            break;
        }
    }
    let pid_text = &digits[start..];
    // SAFETY: `procs` is a NUL-terminated path.
    let fd = unsafe { libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
    let written = if fd < 0 {
        -1
    } else {
        // SAFETY: `pid_text` is a live buffer of the given length; fd is ours.
        unsafe { libc::write(fd, pid_text.as_ptr().cast(), pid_text.len()) }
    };
    if written != pid_text.len() as isize {
        // SAFETY: _exit ends the child without running the parent's destructors.
        unsafe { libc::_exit(JOIN_FAILED) };
    }
    // SAFETY: fd is ours and open.
    unsafe { libc::close(fd) };
    let mut code = 0;
    for (i, (path, flags, _, _)) in probes.iter().enumerate() {
        // SAFETY: `path` is a NUL-terminated path.
        let fd = unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC) };
        let outcome = if fd >= 0 {
            // SAFETY: fd was just opened by us.
            unsafe { libc::close(fd) };
            OPENED
        } else if io::Error::last_os_error().raw_os_error() == Some(libc::EPERM) {
            EPERM
        } else {
            OTHER_ERROR
        };
        code |= outcome << (2 * i);
    }
    // SAFETY: as above.
    unsafe { libc::_exit(code) }
}
