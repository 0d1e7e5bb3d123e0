//! Loading and attaching: `BPF_PROG_LOAD` of a compiled filter (retried with a
//! verifier log for the error when it fails) and `BPF_PROG_ATTACH` to a cgroup v2
//! directory, through the raw `bpf(2)` syscall and its `union bpf_attr`.

use std::ffi::CStr;
use std::fs::OpenOptions;
use std::io;
use std::mem::size_of;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use super::bpf::Insn;
use super::{DeviceFilter, DeviceFilterError};

// bpf(2) commands, program type, attach type and flag (include/uapi/linux/bpf.h).
const BPF_PROG_LOAD: libc::c_int = 5;
const BPF_PROG_ATTACH: libc::c_int = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 1 << 1;

/// The license the kernel records for the program; no GPL-only helper is used.
const LICENSE: &CStr = c"Apache-2.0";
/// Shown by `bpftool prog`; at most 15 bytes of `[A-Za-z0-9_.]` plus the NUL.
const PROG_NAME: [u8; 16] = *b"podrt_devices\0\0\0";
/// Verifier log size on the diagnostic retry; a failing log of this filter is short.
const LOG_SIZE: u32 = 256 * 1024;

impl DeviceFilter {
    /// Load the program and attach it to the cgroup v2 directory `cgroup_dir` as a
    /// `BPF_CGROUP_DEVICE` program with `BPF_F_ALLOW_MULTI`. The attachment outlives
    /// our descriptors and ends with the cgroup. Attaching is additive: a program
    /// attached earlier (here or on an ancestor) still applies, and a request must
    /// pass all of them.
    pub fn attach(&self, cgroup_dir: &Path) -> Result<(), DeviceFilterError> {
        // Opened first: a wrong path is cheaper to report before a program load.
        let cgroup = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY)
            .open(cgroup_dir)
            .map_err(|source| DeviceFilterError::OpenCgroup {
                path: cgroup_dir.to_path_buf(),
                source,
            })?;
        let prog = self.load()?;
        let mut attr = BpfAttr::zeroed();
        // Descriptors of open files are never negative.
        attr.attach = ProgAttachAttr {
            target_fd: cgroup.as_raw_fd() as u32,
            attach_bpf_fd: prog.as_raw_fd() as u32,
            attach_type: BPF_CGROUP_DEVICE,
            attach_flags: BPF_F_ALLOW_MULTI,
            replace_bpf_fd: 0,
        };
        bpf(BPF_PROG_ATTACH, &mut attr).map_err(|source| DeviceFilterError::Attach {
            path: cgroup_dir.to_path_buf(),
            source,
        })?;
        Ok(())
    }

    /// `BPF_PROG_LOAD`; on failure, once more with a verifier log for the error.
    fn load(&self) -> Result<OwnedFd, DeviceFilterError> {
        let first = match prog_load(&self.insns, None) {
            Ok(fd) => return Ok(fd),
            Err(err) => err,
        };
        let mut buf = vec![0u8; LOG_SIZE as usize];
        let retry = prog_load(&self.insns, Some(&mut buf));
        if let Ok(fd) = retry {
            return Ok(fd);
        }
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        let mut log = String::from_utf8_lossy(&buf[..end]).trim_end().to_string();
        if matches!(&retry, Err(e) if e.raw_os_error() == Some(libc::ENOSPC)) {
            log.push_str("\n(log truncated)");
        }
        Err(DeviceFilterError::Load {
            insns: self.insns.len(),
            source: first,
            log,
        })
    }
}

/// The `BPF_PROG_LOAD` part of `union bpf_attr`, up to `prog_name`.
#[repr(C)]
#[derive(Clone, Copy)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
}

/// The `BPF_PROG_ATTACH` part of `union bpf_attr`.
#[repr(C)]
#[derive(Clone, Copy)]
struct ProgAttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

/// Size of `union bpf_attr` in Linux 6.x headers. Older kernels accept a larger
/// attr as long as the bytes they do not know are zero, which ours are.
const ATTR_SIZE: usize = 144;

/// `union bpf_attr`, restricted to the commands used here.
#[repr(C, align(8))]
union BpfAttr {
    load: ProgLoadAttr,
    attach: ProgAttachAttr,
    bytes: [u8; ATTR_SIZE],
}

// The layouts the kernel expects; a mistake here would be a silent misreading.
const _: () = assert!(size_of::<BpfAttr>() == ATTR_SIZE);
const _: () = assert!(size_of::<ProgLoadAttr>() == 64);
const _: () = assert!(std::mem::offset_of!(ProgLoadAttr, prog_name) == 48);
const _: () = assert!(size_of::<ProgAttachAttr>() == 20);

impl BpfAttr {
    /// All zero: the kernel rejects non-zero bytes in fields a command does not use.
    fn zeroed() -> BpfAttr {
        BpfAttr {
            bytes: [0; ATTR_SIZE],
        }
    }
}

fn prog_load(insns: &[Insn], log: Option<&mut [u8]>) -> io::Result<OwnedFd> {
    let insn_cnt =
        u32::try_from(insns.len()).map_err(|_| io::Error::from_raw_os_error(libc::E2BIG))?;
    let (log_level, log_size, log_buf) = match log {
        // The caller's buffer is LOG_SIZE long.
        Some(buf) => (
            1,
            buf.len().min(LOG_SIZE as usize) as u32,
            buf.as_mut_ptr() as u64,
        ),
        None => (0, 0, 0),
    };
    let mut attr = BpfAttr::zeroed();
    attr.load = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt,
        insns: insns.as_ptr() as u64,
        license: LICENSE.as_ptr() as u64,
        log_level,
        log_size,
        log_buf,
        kern_version: 0,
        prog_flags: 0,
        prog_name: PROG_NAME,
    };
    let fd = bpf(BPF_PROG_LOAD, &mut attr)?;
    // SAFETY: BPF_PROG_LOAD returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `bpf(cmd, attr, sizeof(attr))`, returning the non-negative result.
fn bpf(cmd: libc::c_int, attr: &mut BpfAttr) -> io::Result<libc::c_int> {
    // SAFETY: `attr` is a fully initialised union of the size passed. The pointers
    // in it (instructions, license, log buffer) are borrowed by our caller for the
    // whole call, and the kernel writes only within `attr` and the log buffer, whose
    // length it was given.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut BpfAttr,
            ATTR_SIZE as libc::c_uint,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    libc::c_int::try_from(ret).map_err(|_| io::Error::from_raw_os_error(libc::EOVERFLOW))
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::ffi::CString;
    use std::path::PathBuf;

    use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC};
    use nix::sys::wait::{waitpid, WaitStatus};
    use nix::unistd::Pid;

    use crate::device_filter::testing::sample_rules;

    #[test]
    fn a_rejected_program_reports_the_verifier_log() {
        let mut f = DeviceFilter::compile(&sample_rules()).unwrap();
        f.insns.pop(); // no final exit
        let err = f.load().unwrap_err();
        let DeviceFilterError::Load { log, .. } = &err else {
            panic!("expected a load error, got {err}");
        };
        assert!(!log.is_empty(), "no verifier log in {err}");
        assert!(err.to_string().contains("verifier log:"), "{err}");
    }

    #[test]
    fn attach_to_a_missing_directory_names_it() {
        let f = DeviceFilter::compile(&sample_rules()).unwrap();
        let err = f
            .attach(Path::new("/nonexistent/podrt-cgroup"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/podrt-cgroup"), "{err}");
    }

    /// The cgroup2 mount: `unified` in the hybrid layout, else the root on pure v2.
    fn cgroup2_root() -> &'static str {
        for dir in ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"] {
            if statfs(dir).is_ok_and(|st| st.filesystem_type() == CGROUP2_SUPER_MAGIC) {
                return dir;
            }
        }
        panic!("neither /sys/fs/cgroup/unified nor /sys/fs/cgroup is a cgroup2 mount: this test needs cgroup v2 (hybrid or unified)");
    }

    /// Kills and reaps the child if the test failed before it did, then removes the
    /// cgroup (which also detaches the filter).
    struct CgroupGuard {
        dir: PathBuf,
        child: Option<libc::pid_t>,
    }

    impl Drop for CgroupGuard {
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

    /// What the child saw for one open: 0 opened, 1 EPERM, 2 another error. Two
    /// bits per probe in the exit code; 255 (never a valid set of slots) means the
    /// child could not join the cgroup.
    const OPENED: i32 = 0;
    const EPERM: i32 = 1;
    const JOIN_FAILED: i32 = 255;

    /// Runs in the forked child: only async-signal-safe calls on prepared data.
    fn probe_in_child(procs: &CStr, probes: &[(&CStr, libc::c_int, &str, i32)]) -> ! {
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
                2
            };
            code |= outcome << (2 * i);
        }
        // SAFETY: as above.
        unsafe { libc::_exit(code) }
    }

    #[test]
    fn attached_filter_restricts_a_real_cgroup() {
        let root = cgroup2_root();
        let dir = PathBuf::from(format!(
            "{root}/podrt-devfilter-test-{}",
            std::process::id()
        ));
        std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        let mut guard = CgroupGuard {
            dir: dir.clone(),
            child: None,
        };

        let filter = DeviceFilter::compile(&sample_rules()).unwrap();
        filter.attach(&dir).unwrap_or_else(|e| panic!("{e}"));

        let procs = CString::new(format!("{}/cgroup.procs", dir.display())).unwrap();
        let (null, zero, full) = (c"/dev/null", c"/dev/zero", c"/dev/full");
        let probes = [
            (null, libc::O_RDWR, "open /dev/null O_RDWR", OPENED),
            (zero, libc::O_RDONLY, "open /dev/zero O_RDONLY", OPENED),
            (zero, libc::O_WRONLY, "open /dev/zero O_WRONLY", EPERM),
            (full, libc::O_RDONLY, "open /dev/full O_RDONLY", EPERM),
        ];

        // SAFETY: the child runs only probe_in_child, which makes async-signal-safe
        // calls on data prepared above and ends in _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork: {}", io::Error::last_os_error());
        if pid == 0 {
            probe_in_child(&procs, &probes);
        }
        guard.child = Some(pid);
        let status = waitpid(Pid::from_raw(pid), None).unwrap();
        guard.child = None;

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
        assert!(
            failures.is_empty(),
            "inside the filtered cgroup: {}",
            failures.join("; ")
        );

        // The filter binds only the cgroup: this process, outside it, is unaffected.
        std::fs::File::open("/dev/full").expect("/dev/full outside the cgroup");
        drop(guard);
        assert!(!dir.exists(), "{} was not removed", dir.display());
    }
}
