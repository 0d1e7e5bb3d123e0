//! Loading and attaching: `BPF_PROG_LOAD` of a compiled filter (retried with a
//! verifier log for the error when it fails) and `BPF_PROG_ATTACH` to a cgroup v2
//! directory, through the raw `bpf(2)` syscall and its `union bpf_attr` (whose
//! query and detach parts `replace.rs` uses too).

use std::ffi::CStr;
use std::fs::{File, OpenOptions};
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
pub(super) const BPF_PROG_DETACH: libc::c_int = 9;
pub(super) const BPF_PROG_GET_FD_BY_ID: libc::c_int = 13;
pub(super) const BPF_PROG_QUERY: libc::c_int = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
pub(super) const BPF_CGROUP_DEVICE: u32 = 6;
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
    /// pass all of them; [`DeviceFilter::replace`] swaps this directory's instead.
    pub(crate) fn attach(&self, cgroup_dir: &Path) -> Result<(), DeviceFilterError> {
        // Opened first: a wrong path is cheaper to report before a program load.
        let cgroup = open_cgroup(cgroup_dir)?;
        self.load_and_attach(&cgroup, cgroup_dir)
    }

    /// Load the program and attach it, with `BPF_F_ALLOW_MULTI`, to `cgroup`, the
    /// open directory `cgroup_dir` (named in errors).
    pub(super) fn load_and_attach(
        &self,
        cgroup: &File,
        cgroup_dir: &Path,
    ) -> Result<(), DeviceFilterError> {
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

/// The cgroup v2 directory `cgroup_dir`, opened for `bpf(2)`'s `target_fd`.
pub(super) fn open_cgroup(cgroup_dir: &Path) -> Result<File, DeviceFilterError> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(cgroup_dir)
        .map_err(|source| DeviceFilterError::OpenCgroup {
            path: cgroup_dir.to_path_buf(),
            source,
        })
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

/// The `BPF_PROG_ATTACH` and `BPF_PROG_DETACH` part of `union bpf_attr`.
#[repr(C)]
#[derive(Clone, Copy)]
pub(super) struct ProgAttachAttr {
    pub(super) target_fd: u32,
    pub(super) attach_bpf_fd: u32,
    pub(super) attach_type: u32,
    pub(super) attach_flags: u32,
    pub(super) replace_bpf_fd: u32,
}

/// The `BPF_PROG_QUERY` part of `union bpf_attr`, up to `prog_cnt`.
#[repr(C)]
#[derive(Clone, Copy)]
pub(super) struct ProgQueryAttr {
    pub(super) target_fd: u32,
    pub(super) attach_type: u32,
    pub(super) query_flags: u32,
    /// Out: how the programs were attached (`BPF_F_ALLOW_MULTI`, ...).
    pub(super) attach_flags: u32,
    /// Buffer of `prog_cnt` program ids the kernel fills.
    pub(super) prog_ids: u64,
    /// In: capacity of `prog_ids`; out: programs attached, all of them even when
    /// they did not fit (the call then fails with `ENOSPC`).
    pub(super) prog_cnt: u32,
    pub(super) _pad: u32,
}

/// The `BPF_PROG_GET_FD_BY_ID` part of `union bpf_attr`.
#[repr(C)]
#[derive(Clone, Copy)]
pub(super) struct GetIdAttr {
    pub(super) prog_id: u32,
    pub(super) next_id: u32,
    pub(super) open_flags: u32,
}

/// Size of `union bpf_attr` in Linux 6.x headers. Older kernels accept a larger
/// attr as long as the bytes they do not know are zero, which ours are.
const ATTR_SIZE: usize = 144;

/// `union bpf_attr`, restricted to the commands used here.
#[repr(C, align(8))]
pub(super) union BpfAttr {
    load: ProgLoadAttr,
    pub(super) attach: ProgAttachAttr,
    pub(super) query: ProgQueryAttr,
    pub(super) get_id: GetIdAttr,
    bytes: [u8; ATTR_SIZE],
}

// The layouts the kernel expects; a mistake here would be a silent misreading.
const _: () = assert!(size_of::<BpfAttr>() == ATTR_SIZE);
const _: () = assert!(size_of::<ProgLoadAttr>() == 64);
const _: () = assert!(std::mem::offset_of!(ProgLoadAttr, prog_name) == 48);
const _: () = assert!(size_of::<ProgAttachAttr>() == 20);
const _: () = assert!(std::mem::offset_of!(ProgQueryAttr, prog_ids) == 16);
const _: () = assert!(std::mem::offset_of!(ProgQueryAttr, prog_cnt) == 24);
const _: () = assert!(size_of::<GetIdAttr>() == 12);

impl BpfAttr {
    /// All zero: the kernel rejects non-zero bytes in fields a command does not use.
    pub(super) fn zeroed() -> BpfAttr {
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
pub(super) fn bpf(cmd: libc::c_int, attr: &mut BpfAttr) -> io::Result<libc::c_int> {
    // SAFETY: `attr` is a fully initialised union of the size passed. The pointers
    // in it (instructions, license, log buffer, program id buffer) are borrowed by
    // our caller for the whole call, and the kernel writes only within `attr` and
    // the log or id buffer, whose length it was given.
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

    use crate::device_filter::testing::{sample_rules, TestCgroup, EPERM, OPENED};

    #[test]
    #[ignore = "needs root: scripts/test.sh runs it"]
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

    #[test]
    #[ignore = "needs root: scripts/test.sh runs it"]
    fn attached_filter_restricts_a_real_cgroup() {
        let mut cgroup = TestCgroup::create("devfilter-attach");
        let dir = cgroup.dir.clone();

        let filter = DeviceFilter::compile(&sample_rules()).unwrap();
        filter.attach(&dir).unwrap_or_else(|e| panic!("{e}"));

        let (null, zero, full) = (c"/dev/null", c"/dev/zero", c"/dev/full");
        let failures = cgroup.probe(&[
            (null, libc::O_RDWR, "open /dev/null O_RDWR", OPENED),
            (zero, libc::O_RDONLY, "open /dev/zero O_RDONLY", OPENED),
            (zero, libc::O_WRONLY, "open /dev/zero O_WRONLY", EPERM),
            (full, libc::O_RDONLY, "open /dev/full O_RDONLY", EPERM),
        ]);
        assert!(
            failures.is_empty(),
            "inside the filtered cgroup: {}",
            failures.join("; ")
        );

        // The filter binds only the cgroup: this process, outside it, is unaffected.
        std::fs::File::open("/dev/full").expect("/dev/full outside the cgroup");
        drop(cgroup);
        assert!(!dir.exists(), "{} was not removed", dir.display());
    }
}
