//! Device nodes in the container's `/dev`: the defaults every OCI runtime provides
//! (null, zero, full, random, urandom, tty), the spec's `linux.devices`, and the
//! standard symlinks. Inside a user namespace `mknod` is refused, so devices are bind
//! mounts of the host's nodes there.

use std::ffi::CString;
use std::path::Path;

use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};

use crate::error::Result;
use crate::mounts::{cstring, make_target, secure_join, sys_mount, TargetKind};
use crate::sync::{Step, StepError};

/// One device node to create.
#[derive(Debug, Clone)]
pub(crate) struct DeviceOp {
    /// Absolute path inside the rootfs (host side).
    pub(crate) target: CString,
    /// The host's node of the same name, for bind mounting in user namespaces.
    pub(crate) host: CString,
    /// `S_IFCHR`/`S_IFBLK`/`S_IFIFO` plus permission bits.
    pub(crate) mode: libc::mode_t,
    /// `makedev(major, minor)`.
    pub(crate) dev: libc::dev_t,
    /// Owner.
    pub(crate) uid: libc::uid_t,
    /// Group.
    pub(crate) gid: libc::gid_t,
    /// The device's container path, for messages.
    pub(crate) describe: String,
}

/// The devices every container gets: (name, major, minor).
pub(crate) const DEFAULT_DEVICES: [(&str, u32, u32); 6] = [
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

/// The symlinks in `/dev`: (link name, target).
pub(crate) const DEV_SYMLINKS: [(&str, &str); 5] = [
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("ptmx", "pts/ptmx"),
];

/// All device work for one container.
#[derive(Debug, Clone, Default)]
pub(crate) struct DevicePlan {
    /// Nodes to create.
    pub(crate) nodes: Vec<DeviceOp>,
    /// Symlinks: (link path, target).
    pub(crate) symlinks: Vec<(CString, CString)>,
    /// Bind host nodes instead of `mknod` (new user namespace).
    pub(crate) bind: bool,
}

fn device_mode(typ: LinuxDeviceType) -> libc::mode_t {
    match typ {
        LinuxDeviceType::B => libc::S_IFBLK,
        LinuxDeviceType::P => libc::S_IFIFO,
        _ => libc::S_IFCHR,
    }
}

impl DevicePlan {
    /// Plan the default devices plus `linux.devices`.
    pub(crate) fn from_spec(
        rootfs: &Path,
        devices: &[LinuxDevice],
        userns: bool,
    ) -> Result<DevicePlan> {
        let mut plan = DevicePlan {
            bind: userns,
            ..DevicePlan::default()
        };
        let mut push =
            |path: &Path, mode, major: i64, minor: i64, uid, gid, field: &str| -> Result<()> {
                let target = secure_join(rootfs, path);
                // Later entries replace earlier ones, so the spec may override a default.
                let target_c = cstring(&target, field)?;
                plan.nodes.retain(|n| n.target != target_c);
                plan.nodes.push(DeviceOp {
                    target: target_c,
                    host: cstring(path, field)?,
                    mode,
                    dev: libc::makedev(major as u32, minor as u32),
                    uid,
                    gid,
                    describe: format!("{field} ({})", path.display()),
                });
                Ok(())
            };
        for (name, major, minor) in DEFAULT_DEVICES {
            let path = Path::new("/dev").join(name);
            push(
                &path,
                libc::S_IFCHR | 0o666,
                major as i64,
                minor as i64,
                0,
                0,
                "default device",
            )?;
        }
        for (i, d) in devices.iter().enumerate() {
            let field = format!("linux.devices[{i}]");
            let mode = device_mode(d.typ()) | d.file_mode().unwrap_or(0o666);
            push(
                d.path(),
                mode,
                d.major(),
                d.minor(),
                d.uid().unwrap_or(0),
                d.gid().unwrap_or(0),
                &field,
            )?;
        }
        for (name, target) in DEV_SYMLINKS {
            let link = secure_join(rootfs, &Path::new("/dev").join(name));
            plan.symlinks.push((
                cstring(&link, "dev symlink")?,
                cstring(target, "dev symlink")?,
            ));
        }
        if Path::new("/proc/kcore").exists() {
            let link = secure_join(rootfs, Path::new("/dev/core"));
            plan.symlinks.push((
                cstring(&link, "dev symlink")?,
                cstring("/proc/kcore", "dev symlink")?,
            ));
        }
        Ok(plan)
    }

    /// Create nodes and symlinks. Async-signal-safe.
    pub(crate) fn apply(&self) -> std::result::Result<(), StepError> {
        for (i, n) in self.nodes.iter().enumerate() {
            let fail = |errno| StepError {
                step: Step::Device,
                errno,
                index: i as u32,
            };
            // Make sure the parent directory exists (e.g. /dev/net/tun).
            if let Some(pos) = n.target.to_bytes().iter().rposition(|&b| b == b'/') {
                let mut buf = [0u8; libc::PATH_MAX as usize];
                let bytes = &n.target.to_bytes()[..pos];
                if bytes.len() < buf.len() {
                    buf[..bytes.len()].copy_from_slice(bytes);
                    if let Ok(parent) = std::ffi::CStr::from_bytes_until_nul(&buf) {
                        make_target(parent, TargetKind::Dir).map_err(fail)?;
                    }
                }
            }
            // SAFETY: unlink/mknod/chown on a valid C path we prepared.
            unsafe { libc::unlink(n.target.as_ptr()) };
            let made = if self.bind {
                Err(libc::EPERM)
            } else {
                // SAFETY: see above.
                if unsafe { libc::mknod(n.target.as_ptr(), n.mode, n.dev) } == 0 {
                    Ok(())
                } else {
                    Err(nix::errno::Errno::last_raw())
                }
            };
            match made {
                Ok(()) => {
                    // SAFETY: see above. mknod applies the umask, so set the mode explicitly.
                    unsafe {
                        libc::chmod(n.target.as_ptr(), n.mode & 0o7777);
                        if libc::chown(n.target.as_ptr(), n.uid, n.gid) < 0 {
                            return Err(StepError::last(Step::Device, i as u32));
                        }
                    }
                }
                Err(libc::EPERM) => {
                    make_target(&n.target, TargetKind::File).map_err(fail)?;
                    sys_mount(Some(&n.host), &n.target, None, libc::MS_BIND, None).map_err(fail)?;
                }
                Err(e) => return Err(fail(e)),
            }
        }
        for (i, (link, target)) in self.symlinks.iter().enumerate() {
            // SAFETY: symlink on valid C strings we prepared.
            if unsafe { libc::symlink(target.as_ptr(), link.as_ptr()) } < 0
                && nix::errno::Errno::last_raw() != libc::EEXIST
            {
                return Err(StepError::last(Step::DevSymlink, i as u32));
            }
        }
        Ok(())
    }
}
