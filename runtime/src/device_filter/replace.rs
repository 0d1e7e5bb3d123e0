//! Replacing a cgroup's device filter, for `update`: as runc does, the new program
//! is attached beside the old ones before they are detached, so the cgroup is never
//! without a filter. Only programs attached to the directory itself are touched;
//! an ancestor's still apply.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use super::load::{
    bpf, open_cgroup, BpfAttr, GetIdAttr, ProgAttachAttr, ProgQueryAttr, BPF_CGROUP_DEVICE,
    BPF_PROG_DETACH, BPF_PROG_GET_FD_BY_ID, BPF_PROG_QUERY,
};
use super::{DeviceFilter, DeviceFilterError};

/// Program ids asked for at first; the kernel allows 64 programs per cgroup and
/// attach type, and says how many there are when they do not fit.
const FIRST_QUERY_CAPACITY: usize = 64;

impl DeviceFilter {
    /// Make this program the only `BPF_CGROUP_DEVICE` program attached directly to
    /// the cgroup v2 directory `cgroup_dir`: load and attach it with
    /// `BPF_F_ALLOW_MULTI`, then detach the programs that were attached there before.
    /// Between the two steps a device must pass both the old and the new filter,
    /// never neither. A failed detach leaves the new filter attached and is reported.
    pub(crate) fn replace(&self, cgroup_dir: &Path) -> Result<(), DeviceFilterError> {
        let cgroup = open_cgroup(cgroup_dir)?;
        let old = attached_programs(&cgroup).map_err(|source| DeviceFilterError::Query {
            path: cgroup_dir.to_path_buf(),
            source,
        })?;
        self.load_and_attach(&cgroup, cgroup_dir)?;
        for id in old {
            detach(&cgroup, id).map_err(|(op, source)| DeviceFilterError::Detach {
                path: cgroup_dir.to_path_buf(),
                id,
                op,
                source,
            })?;
        }
        Ok(())
    }
}

/// Ids of the device programs attached to `cgroup` itself (query flags 0: not the
/// inherited ones, which are not ours to detach).
fn attached_programs(cgroup: &File) -> io::Result<Vec<u32>> {
    let mut ids = vec![0u32; FIRST_QUERY_CAPACITY];
    // More than one retry only if programs keep being attached while we ask.
    for _ in 0..3 {
        let mut attr = BpfAttr::zeroed();
        // Descriptors of open files are never negative; the length came from a u32
        // or from the constant above.
        attr.query = ProgQueryAttr {
            target_fd: cgroup.as_raw_fd() as u32,
            attach_type: BPF_CGROUP_DEVICE,
            query_flags: 0,
            attach_flags: 0,
            prog_ids: ids.as_mut_ptr() as u64,
            prog_cnt: ids.len() as u32,
            _pad: 0,
        };
        let result = bpf(BPF_PROG_QUERY, &mut attr);
        // SAFETY: `query` is the variant written above, and the kernel writes only
        // integers into it, for which every bit pattern is valid.
        let count = unsafe { attr.query.prog_cnt } as usize;
        match result {
            Ok(_) => {
                ids.truncate(count);
                return Ok(ids);
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => {
                ids = vec![0; count.max(ids.len() * 2)];
            }
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::from_raw_os_error(libc::ENOSPC))
}

/// `BPF_PROG_DETACH` of program `id` from `cgroup`; the failing command on error.
/// A program gone since the query (its id freed, or no longer attached here) is
/// already where we want it.
fn detach(cgroup: &File, id: u32) -> Result<(), (&'static str, io::Error)> {
    let gone = |e: &io::Error| e.raw_os_error() == Some(libc::ENOENT);
    let prog = match prog_fd_by_id(id) {
        Ok(fd) => fd,
        Err(e) if gone(&e) => return Ok(()),
        Err(e) => return Err(("BPF_PROG_GET_FD_BY_ID", e)),
    };
    let mut attr = BpfAttr::zeroed();
    // Descriptors of open files are never negative.
    attr.attach = ProgAttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: 0,
        replace_bpf_fd: 0,
    };
    match bpf(BPF_PROG_DETACH, &mut attr) {
        Err(e) if !gone(&e) => Err(("BPF_PROG_DETACH", e)),
        _ => Ok(()),
    }
}

/// A descriptor for the loaded program `id`.
fn prog_fd_by_id(id: u32) -> io::Result<OwnedFd> {
    let mut attr = BpfAttr::zeroed();
    attr.get_id = GetIdAttr {
        prog_id: id,
        next_id: 0,
        open_flags: 0,
    };
    let fd = bpf(BPF_PROG_GET_FD_BY_ID, &mut attr)?;
    // SAFETY: BPF_PROG_GET_FD_BY_ID returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;

    use oci_spec::runtime::LinuxDeviceType;

    use crate::device_filter::testing::{rule, sample_rules, TestCgroup, EPERM, OPENED};

    fn attached_here(dir: &Path) -> Vec<u32> {
        let cgroup = open_cgroup(dir).unwrap_or_else(|e| panic!("{e}"));
        attached_programs(&cgroup).unwrap_or_else(|e| panic!("BPF_PROG_QUERY: {e}"))
    }

    #[test]
    fn replace_to_a_missing_directory_names_it() {
        let f = DeviceFilter::compile(&sample_rules()).unwrap();
        let err = f
            .replace(Path::new("/nonexistent/podrt-cgroup"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/podrt-cgroup"), "{err}");
    }

    #[test]
    #[ignore = "needs root: scripts/test.sh runs it"]
    fn an_update_that_allows_dev_zero_takes_effect_on_the_running_cgroup() {
        let mut cgroup = TestCgroup::create("devfilter-replace");
        let dir = cgroup.dir.clone();
        let read_zero = |expected| [(c"/dev/zero", libc::O_RDONLY, "open /dev/zero", expected)];

        // At create: everything denied but /dev/null.
        let c = Some(LinuxDeviceType::C);
        let no_zero = [
            rule(false, Some(LinuxDeviceType::A), None, None, Some("rwm")),
            rule(true, c, Some(1), Some(3), Some("rw")),
        ];
        let before = DeviceFilter::compile(&no_zero).unwrap();
        before.attach(&dir).unwrap_or_else(|e| panic!("{e}"));
        let failures = cgroup.probe(&read_zero(EPERM));
        assert!(
            failures.is_empty(),
            "before update: {}",
            failures.join("; ")
        );
        let first = attached_here(&dir);
        assert_eq!(first.len(), 1, "after attach: {first:?}");

        // The update: /dev/zero readable too. Stacking would keep it denied.
        let after = DeviceFilter::compile(&sample_rules()).unwrap();
        after.replace(&dir).unwrap_or_else(|e| panic!("{e}"));
        let failures = cgroup.probe(&read_zero(OPENED));
        assert!(failures.is_empty(), "after update: {}", failures.join("; "));
        let now = attached_here(&dir);
        assert_eq!(now.len(), 1, "one program after replace: {now:?}");
        assert_ne!(now, first, "the old program is the one detached");

        drop(cgroup);
        assert!(!dir.exists(), "{} was not removed", dir.display());
    }
}
