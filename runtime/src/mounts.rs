//! Mounts: turning `spec.mounts` into prepared mount operations and carrying them out
//! inside the container's mount namespace before `pivot_root`.
//!
//! Options are parsed in the parent into `MS_*` flags, propagation flags and a data
//! string; targets are resolved inside the rootfs (symlinks never lead out of it). The
//! child only creates targets and calls `mount(2)`: bind mounts need a second
//! "remount" call for flags such as `ro`, and that remount keeps the flags the kernel
//! locks on the source (nodev/nosuid/noexec) so it works inside user namespaces too.

use std::ffi::{CStr, CString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use libc::c_ulong;
use oci_spec::runtime::Mount;

use crate::error::{Error, Result};
use crate::in_root::{identity, open_in_root, Fd, ProcFdPath};
use crate::sync::{Step, StepError};

/// What a mount target should be created as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// A directory (most mounts).
    Dir,
    /// An empty regular file (bind mounts of files and devices).
    File,
}

/// One prepared mount.
#[derive(Debug, Clone)]
pub(crate) struct MountOp {
    /// Source (device, directory or fs name).
    pub(crate) source: Option<CString>,
    /// Absolute target on the host side, inside the rootfs.
    pub(crate) target: CString,
    /// Filesystem type, `None` for binds.
    pub(crate) fstype: Option<CString>,
    /// Flags for the first `mount` call.
    pub(crate) flags: c_ulong,
    /// Filesystem-specific data (`mode=755,size=65536k`).
    pub(crate) data: Option<CString>,
    /// Flags for the bind remount, if any flags beyond `MS_BIND` were asked for.
    pub(crate) remount_flags: Option<c_ulong>,
    /// Propagation flags (`MS_SHARED`, `MS_SLAVE|MS_REC`...) applied afterwards.
    pub(crate) propagation: Vec<c_ulong>,
    /// How to create the target.
    pub(crate) kind: TargetKind,
    /// For sysfs/mqueue: bind this host path if the kernel refuses a fresh mount.
    pub(crate) fallback_bind: Option<CString>,
    /// Skip quietly if the source does not exist (cgroup hierarchies the manager
    /// did not populate).
    pub(crate) optional: bool,
    /// Spec field and meaning, for error messages (parent side only).
    pub(crate) describe: String,
    /// `tmpcopyup`: entries to recreate in the new tmpfs.
    pub(crate) copy_up: Option<std::sync::Arc<crate::copy_up::CopyUpPlan>>,
    /// `idmap`/`ridmap`: the bind is idmapped with the container's user namespace.
    pub(crate) idmap: bool,
}

/// Flags parsed from an OCI option list.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct ParsedOptions {
    /// `MS_*` flags to set.
    pub(crate) flags: c_ulong,
    /// Propagation changes in order.
    pub(crate) propagation: Vec<c_ulong>,
    /// Options passed through to the filesystem.
    pub(crate) data: Vec<String>,
    /// `bind` or `rbind` was given.
    pub(crate) bind: bool,
    /// `rbind`.
    pub(crate) recursive: bool,
    /// `tmpcopyup`: fill a new tmpfs with what the image had at its mount point.
    pub(crate) copy_up: bool,
    /// `idmap` or `ridmap`: idmap the bind with the container's user namespace.
    pub(crate) idmap: bool,
}

/// Parse `options` the way `mount(8)` and runc do.
pub(crate) fn parse_options(options: &[String], field: &str) -> Result<ParsedOptions> {
    let mut p = ParsedOptions::default();
    for (i, opt) in options.iter().enumerate() {
        let set = |p: &mut ParsedOptions, f: c_ulong| p.flags |= f;
        let clear = |p: &mut ParsedOptions, f: c_ulong| p.flags &= !f;
        match opt.as_str() {
            "defaults" | "rw" => clear(&mut p, libc::MS_RDONLY),
            "ro" => set(&mut p, libc::MS_RDONLY),
            "suid" => clear(&mut p, libc::MS_NOSUID),
            "nosuid" => set(&mut p, libc::MS_NOSUID),
            "dev" => clear(&mut p, libc::MS_NODEV),
            "nodev" => set(&mut p, libc::MS_NODEV),
            "exec" => clear(&mut p, libc::MS_NOEXEC),
            "noexec" => set(&mut p, libc::MS_NOEXEC),
            "async" => clear(&mut p, libc::MS_SYNCHRONOUS),
            "sync" => set(&mut p, libc::MS_SYNCHRONOUS),
            "dirsync" => set(&mut p, libc::MS_DIRSYNC),
            "mand" => set(&mut p, libc::MS_MANDLOCK),
            "nomand" => clear(&mut p, libc::MS_MANDLOCK),
            "atime" => clear(&mut p, libc::MS_NOATIME),
            "noatime" => set(&mut p, libc::MS_NOATIME),
            "diratime" => clear(&mut p, libc::MS_NODIRATIME),
            "nodiratime" => set(&mut p, libc::MS_NODIRATIME),
            "relatime" => set(&mut p, libc::MS_RELATIME),
            "norelatime" => clear(&mut p, libc::MS_RELATIME),
            "strictatime" => set(&mut p, libc::MS_STRICTATIME),
            "nostrictatime" => clear(&mut p, libc::MS_STRICTATIME),
            "lazytime" => set(&mut p, libc::MS_LAZYTIME),
            "nolazytime" => clear(&mut p, libc::MS_LAZYTIME),
            "silent" => set(&mut p, libc::MS_SILENT),
            "loud" => clear(&mut p, libc::MS_SILENT),
            "nosymfollow" => set(&mut p, 256), // MS_NOSYMFOLLOW
            "symfollow" => clear(&mut p, 256),
            "bind" => p.bind = true,
            "rbind" => {
                p.bind = true;
                p.recursive = true;
            }
            "private" => p.propagation.push(libc::MS_PRIVATE),
            "rprivate" => p.propagation.push(libc::MS_PRIVATE | libc::MS_REC),
            "shared" => p.propagation.push(libc::MS_SHARED),
            "rshared" => p.propagation.push(libc::MS_SHARED | libc::MS_REC),
            "slave" => p.propagation.push(libc::MS_SLAVE),
            "rslave" => p.propagation.push(libc::MS_SLAVE | libc::MS_REC),
            "unbindable" => p.propagation.push(libc::MS_UNBINDABLE),
            "runbindable" => p.propagation.push(libc::MS_UNBINDABLE | libc::MS_REC),
            "tmpcopyup" => p.copy_up = true,
            // The tree is idmapped as deep as it is bound: `rbind` idmaps every mount.
            "idmap" | "ridmap" => p.idmap = true,
            "rro" | "rrw" | "rnosuid" | "rnodev" | "rnoexec" | "copy-symlink" => {
                return Err(Error::spec(
                    format!("{field}.options[{i}]"),
                    format!("mount option {opt:?} is not supported"),
                ))
            }
            "remount" => {
                return Err(Error::spec(
                    format!("{field}.options[{i}]"),
                    "\"remount\" makes no sense in a container's mount list",
                ))
            }
            other => p.data.push(other.to_string()),
        }
    }
    Ok(p)
}

/// Resolve `dest` inside `root`, following symlinks that exist on disk as if `root`
/// were `/`, so a link in the image can never point a mount outside the rootfs.
pub(crate) fn secure_join(root: &Path, dest: &Path) -> PathBuf {
    let mut resolved = PathBuf::new(); // relative to root
    let mut pending: Vec<PathBuf> = dest
        .components()
        .rev()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(PathBuf::from(n)),
            Component::ParentDir => Some(PathBuf::from("..")),
            _ => None,
        })
        .collect();
    let mut links = 0;
    while let Some(part) = pending.pop() {
        if part.as_os_str() == ".." {
            resolved.pop();
            continue;
        }
        let candidate = resolved.join(&part);
        let full = root.join(&candidate);
        match std::fs::symlink_metadata(&full) {
            Ok(md) if md.file_type().is_symlink() && links < 255 => {
                links += 1;
                if let Ok(target) = std::fs::read_link(&full) {
                    if target.is_absolute() {
                        resolved = PathBuf::new();
                    }
                    for c in target.components().rev() {
                        match c {
                            Component::Normal(n) => pending.push(PathBuf::from(n)),
                            Component::ParentDir => pending.push(PathBuf::from("..")),
                            _ => {}
                        }
                    }
                } else {
                    resolved = candidate;
                }
            }
            _ => resolved = candidate,
        }
    }
    root.join(resolved)
}

pub(crate) fn cstring(p: impl AsRef<std::ffi::OsStr>, field: &str) -> Result<CString> {
    CString::new(p.as_ref().as_bytes()).map_err(|_| Error::spec(field, "contains a NUL byte"))
}

/// What a mount plan needs to know about the container's user namespace.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct UserNsView<'a> {
    /// The container joins a user namespace by path, so `idmap` can use it.
    pub(crate) can_idmap: bool,
    /// The container enters that namespace only after its mounts: ownership options
    /// are translated through this mapping.
    pub(crate) late_maps: Option<&'a crate::id_map::IdMaps>,
}

/// Prepare one spec mount (not `cgroup`, which [`crate::cgroups`] expands).
pub(crate) fn plan_mount(
    rootfs: &Path,
    m: &Mount,
    index: usize,
    userns: UserNsView,
) -> Result<MountOp> {
    let field = format!("mounts[{index}]");
    let dest = m.destination();
    if !dest.is_absolute() {
        return Err(Error::spec(
            format!("{field}.destination"),
            format!("{} is not an absolute path", dest.display()),
        ));
    }
    let mut opts = parse_options(m.options().as_deref().unwrap_or(&[]), &field)?;
    let typ = m.typ().clone().unwrap_or_default();
    let bind = opts.bind || typ == "bind";
    if m.uid_mappings().is_some() || m.gid_mappings().is_some() {
        return Err(Error::spec(
            format!("{field}.uidMappings"),
            "per-mount id mappings are not supported: give the \"idmap\" option, which maps with the container's user namespace",
        ));
    }
    if opts.idmap && !bind {
        return Err(Error::spec(
            format!("{field}.options"),
            "\"idmap\" applies to bind mounts only",
        ));
    }
    if opts.idmap && !userns.can_idmap {
        return Err(Error::spec(
            format!("{field}.options"),
            "\"idmap\" needs the container to join a user namespace by path (linux.namespaces)",
        ));
    }
    if let Some(maps) = userns.late_maps {
        if !bind {
            maps.translate_owner(&typ, &mut opts.data, &field)?;
        }
    }
    let target = secure_join(rootfs, dest);
    let describe = format!(
        "{field} ({} on {})",
        if bind { "bind" } else { typ.as_str() },
        dest.display()
    );
    let data = if opts.data.is_empty() {
        None
    } else {
        Some(cstring(opts.data.join(","), &format!("{field}.options"))?)
    };
    let mut op = MountOp {
        source: None,
        target: cstring(&target, &format!("{field}.destination"))?,
        fstype: None,
        flags: opts.flags,
        data,
        remount_flags: None,
        propagation: opts.propagation.clone(),
        kind: TargetKind::Dir,
        fallback_bind: None,
        optional: false,
        describe,
        copy_up: None,
        idmap: opts.idmap,
    };
    if bind {
        let src = m
            .source()
            .clone()
            .ok_or_else(|| Error::spec(format!("{field}.source"), "a bind mount needs a source"))?;
        let md = std::fs::metadata(&src).map_err(|e| {
            Error::spec(
                format!("{field}.source"),
                format!("bind source {} is not usable: {e}", src.display()),
            )
        })?;
        if !md.is_dir() {
            op.kind = TargetKind::File;
        }
        op.source = Some(cstring(&src, &format!("{field}.source"))?);
        op.flags = libc::MS_BIND | if opts.recursive { libc::MS_REC } else { 0 };
        let extra = opts.flags & !libc::MS_BIND;
        if extra != 0 {
            op.remount_flags = Some(libc::MS_BIND | libc::MS_REMOUNT | extra);
        }
        op.data = None;
    } else {
        if typ.is_empty() {
            return Err(Error::spec(format!("{field}.type"), "missing mount type"));
        }
        let src = m
            .source()
            .as_ref()
            .map(|s| s.as_os_str().to_owned())
            .unwrap_or_else(|| typ.clone().into());
        op.source = Some(cstring(&src, &format!("{field}.source"))?);
        op.fstype = Some(cstring(&typ, &format!("{field}.type"))?);
        if typ == "sysfs" || typ == "mqueue" {
            op.fallback_bind = Some(cstring(dest, &field)?);
        }
        // As runc, `tmpcopyup` means something only for tmpfs.
        if opts.copy_up && typ == "tmpfs" {
            op.copy_up = Some(std::sync::Arc::new(crate::copy_up::CopyUpPlan::prepare(
                &target, &field,
            )?));
        }
    }
    Ok(op)
}

/// Create the last component of `path` as a directory or an empty file; an existing
/// entry is fine (it is mounted over). Async-signal-safe.
fn create_leaf(path: &CStr, kind: TargetKind) -> std::result::Result<(), i32> {
    // SAFETY: mkdir/mknod on a valid C string; mknod(S_IFREG) makes an empty file
    // without opening it.
    let rc = unsafe {
        match kind {
            TargetKind::Dir => libc::mkdir(path.as_ptr(), 0o755),
            TargetKind::File => libc::mknod(path.as_ptr(), libc::S_IFREG | 0o644, 0),
        }
    };
    match rc {
        0 => Ok(()),
        _ => match nix::errno::Errno::last_raw() {
            libc::EEXIST => Ok(()),
            e => Err(e),
        },
    }
}

/// `mkdir -p` of `path`'s parents and the path itself (or an empty file). The common
/// case — parents exist — costs one syscall. No allocation.
pub(crate) fn make_target(path: &CStr, kind: TargetKind) -> std::result::Result<(), i32> {
    match create_leaf(path, kind) {
        Err(libc::ENOENT) => {}
        other => return other,
    }
    let bytes = path.to_bytes();
    let mut buf = [0u8; libc::PATH_MAX as usize];
    if bytes.len() >= buf.len() {
        return Err(libc::ENAMETOOLONG);
    }
    buf[..bytes.len()].copy_from_slice(bytes);
    for i in 1..bytes.len() {
        if buf[i] == b'/' {
            buf[i] = 0;
            // SAFETY: buf is NUL-terminated at i; mkdir only reads it.
            let rc = unsafe { libc::mkdir(buf.as_ptr() as *const libc::c_char, 0o755) };
            if rc < 0 && nix::errno::Errno::last_raw() != libc::EEXIST {
                return Err(nix::errno::Errno::last_raw());
            }
            buf[i] = b'/';
        }
    }
    create_leaf(path, kind)
}

/// `mount(2)` with optional C strings. Returns the errno on failure. Async-signal-safe.
pub(crate) fn sys_mount(
    source: Option<&CStr>,
    target: &CStr,
    fstype: Option<&CStr>,
    flags: c_ulong,
    data: Option<&CStr>,
) -> std::result::Result<(), i32> {
    let ptr = |c: Option<&CStr>| c.map(|c| c.as_ptr()).unwrap_or(std::ptr::null());
    // SAFETY: every pointer is null or a valid NUL-terminated string borrowed for the call.
    let rc = unsafe {
        libc::mount(
            ptr(source),
            target.as_ptr(),
            ptr(fstype),
            flags,
            ptr(data) as *const libc::c_void,
        )
    };
    if rc < 0 {
        Err(nix::errno::Errno::last_raw())
    } else {
        Ok(())
    }
}

/// The `MS_*` flags a mount already carries that a bind remount must keep.
pub(crate) fn locked_flags(target: &CStr) -> c_ulong {
    // SAFETY: statvfs fills a zeroed struct we own; target is a valid C string.
    // glibc takes the flags from statfs(2)'s f_flags (no /proc parsing, no allocation).
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: see above.
    if unsafe { libc::statvfs(target.as_ptr(), &mut st) } < 0 {
        return 0;
    }
    let f = st.f_flag as c_ulong;
    let mut out = 0;
    for (st_flag, ms_flag) in [
        (libc::ST_NOSUID, libc::MS_NOSUID),
        (libc::ST_NODEV, libc::MS_NODEV),
        (libc::ST_NOEXEC, libc::MS_NOEXEC),
        (libc::ST_NOATIME, libc::MS_NOATIME),
        (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
        (libc::ST_RELATIME, libc::MS_RELATIME),
        (libc::ST_RDONLY, libc::MS_RDONLY),
    ] {
        if f & st_flag as c_ulong != 0 {
            out |= ms_flag;
        }
    }
    out
}

/// Remount a bind mount with `flags`, adding the locked flags if the kernel refuses.
pub(crate) fn bind_remount(target: &CStr, flags: c_ulong) -> std::result::Result<(), i32> {
    let flags = flags | libc::MS_BIND | libc::MS_REMOUNT;
    match sys_mount(None, target, None, flags, None) {
        Err(libc::EPERM) => {
            let keep = locked_flags(target) & !libc::MS_RDONLY;
            sys_mount(None, target, None, flags | keep, None)
        }
        r => r,
    }
}

/// The container's root as the child sees it while mounting: a descriptor of it
/// and the length of its host path, so a planned target (`<rootfs>/a/b`) can be
/// looked up again inside it as `/a/b`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Root {
    /// `O_PATH` descriptor of the rootfs, opened after its self-bind.
    pub(crate) fd: std::os::fd::RawFd,
    /// Bytes of the rootfs's host path that prefix every target.
    pub(crate) prefix_len: usize,
    /// Bind with `mount(2)` and a verified remount instead of `open_tree` and
    /// `mount_setattr` (kernels before 5.12, or the test-only fault switch).
    pub(crate) legacy_binds: bool,
    /// The user namespace `idmap` binds are mapped with (-1 when there is none).
    pub(crate) userns_fd: std::os::fd::RawFd,
}

impl Root {
    /// `target` as a path inside the root (`/a/b`; empty for the root itself).
    fn inside<'a>(&self, target: &'a CStr) -> &'a CStr {
        let bytes = target.to_bytes_with_nul();
        CStr::from_bytes_with_nul(&bytes[self.prefix_len.min(bytes.len() - 1)..]).unwrap_or(c"")
    }
}

impl MountOp {
    /// Carry out this mount in the child. The target is resolved inside the root
    /// at this moment and mounted through its descriptor, so a path a running
    /// container changed since the plan was made cannot lead the mount out of the
    /// root. Async-signal-safe.
    pub(crate) fn apply(&self, index: u32, root: &Root) -> std::result::Result<(), StepError> {
        let fail = |step, errno| StepError { step, errno, index };
        let inside = root.inside(&self.target);
        let target = open_in_root(root.fd, inside, Some(self.kind))
            .map_err(|e| fail(Step::MountTarget, e))?;
        let at = ProcFdPath::new(target.0);
        let bind = self.flags & libc::MS_BIND != 0 && self.fstype.is_none();
        let r = match (&self.source, bind) {
            (Some(src), true) => {
                let recursive = self.flags & libc::MS_REC != 0;
                bind_into(
                    src,
                    &target,
                    inside,
                    root,
                    BindAttrs {
                        recursive,
                        remount: self.remount_flags,
                        propagation: &self.propagation,
                        idmap: self.idmap,
                    },
                )
            }
            _ => sys_mount(
                self.source.as_deref(),
                at.as_cstr(),
                self.fstype.as_deref(),
                self.flags,
                self.data.as_deref(),
            )
            .map_err(|e| (Step::Mount, e)),
        };
        match (r, &self.fallback_bind) {
            (Ok(()), _) => {}
            (Err((Step::Mount, libc::EPERM | libc::EBUSY)), Some(host)) if !bind => {
                // sysfs or mqueue from a namespace we do not own: bind the host's copy.
                let flags = Some(libc::MS_BIND | libc::MS_REMOUNT | self.flags);
                let attrs = BindAttrs {
                    recursive: true,
                    remount: flags,
                    propagation: &[],
                    idmap: false,
                };
                bind_into(host, &target, inside, root, attrs).map_err(|(s, e)| fail(s, e))?;
            }
            (Err((_, libc::ENOENT)), _) if self.optional => {
                // SAFETY: rmdir of the empty target we just created.
                unsafe { libc::rmdir(self.target.as_ptr()) };
                return Ok(());
            }
            (Err((step, e)), _) => return Err(fail(step, e)),
        }
        if bind {
            return Ok(());
        }
        if let Some(plan) = &self.copy_up {
            plan.apply().map_err(|e| fail(Step::CopyUp, e))?;
        }
        if self.remount_flags.is_some() || !self.propagation.is_empty() {
            // The new mount, found again inside the root (the descriptor above is the
            // directory under it).
            let mounted =
                open_in_root(root.fd, inside, None).map_err(|e| fail(Step::Remount, e))?;
            let at = ProcFdPath::new(mounted.0);
            if let Some(flags) = self.remount_flags {
                bind_remount(at.as_cstr(), flags).map_err(|e| fail(Step::Remount, e))?;
            }
            for &prop in &self.propagation {
                sys_mount(None, at.as_cstr(), None, prop, None)
                    .map_err(|e| fail(Step::Remount, e))?;
            }
        }
        Ok(())
    }
}

/// `mount_attr` of `mount_setattr(2)`.
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// The `MOUNT_ATTR_*` set and clear masks for `MS_*` remount flags.
fn mount_attrs(flags: c_ulong) -> (u64, u64) {
    let mut set = 0;
    let mut clr = 0;
    for (ms, attr) in [
        (libc::MS_RDONLY, 0x1),
        (libc::MS_NOSUID, 0x2),
        (libc::MS_NODEV, 0x4),
        (libc::MS_NOEXEC, 0x8),
        (libc::MS_NODIRATIME, 0x80),
        (256, 0x20_0000), // MS_NOSYMFOLLOW
    ] {
        if flags & ms != 0 {
            set |= attr;
        }
    }
    // The atime modes are one field: naming one clears the others.
    for (ms, attr) in [
        (libc::MS_NOATIME, 0x10),
        (libc::MS_STRICTATIME, 0x20),
        (libc::MS_RELATIME, 0x0),
    ] {
        if flags & ms != 0 {
            set |= attr;
            clr |= 0x70; // MOUNT_ATTR__ATIME
        }
    }
    (set, clr)
}

fn mount_setattr(
    fd: std::os::fd::RawFd,
    flags: u32,
    attr: &MountAttr,
) -> std::result::Result<(), i32> {
    // SAFETY: an empty path with AT_EMPTY_PATH on our descriptor, and a mount_attr
    // of the size we pass.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd,
            c"".as_ptr(),
            libc::AT_EMPTY_PATH as u32 | flags,
            attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if rc < 0 {
        Err(nix::errno::Errno::last_raw())
    } else {
        Ok(())
    }
}

/// Bind `source` onto the directory or file `target` (a descriptor resolved inside
/// the root): a detached copy of the source's mount is made (`open_tree`), given its
/// flags while nobody can see it (`mount_setattr`), and attached at exactly that
/// descriptor (`move_mount`), so no path is looked up after the target was
/// resolved. Kernels without that API (before 5.12) bind onto `/proc/self/fd/N` and
/// remount what they find again inside the root, checked to be the source.
fn bind_into(
    source: &CStr,
    target: &Fd,
    inside: &CStr,
    root: &Root,
    attrs: BindAttrs,
) -> std::result::Result<(), (Step, i32)> {
    let BindAttrs {
        recursive,
        remount,
        propagation,
        idmap,
    } = attrs;
    if !root.legacy_binds {
        match bind_new_api(source, target, root.userns_fd, attrs) {
            Err((_, libc::ENOSYS)) if !idmap => {}
            other => return other,
        }
    }
    if idmap {
        // Only a detached mount (open_tree) can be idmapped.
        return Err((Step::Mount, libc::EOPNOTSUPP));
    }
    let at = ProcFdPath::new(target.0);
    let flags = libc::MS_BIND | if recursive { libc::MS_REC } else { 0 };
    sys_mount(Some(source), at.as_cstr(), None, flags, None).map_err(|e| (Step::Mount, e))?;
    if remount.is_none() && propagation.is_empty() {
        return Ok(());
    }
    let mounted = open_in_root(root.fd, inside, None).map_err(|e| (Step::Remount, e))?;
    let src = open_path(source).map_err(|e| (Step::Remount, e))?;
    // What we found must be the source's root, not another mount a container
    // redirected the path to.
    if identity(mounted.0) != identity(src.0) || identity(mounted.0) == identity(target.0) {
        return Err((Step::Remount, libc::EXDEV));
    }
    let at = ProcFdPath::new(mounted.0);
    if let Some(flags) = remount {
        bind_remount(at.as_cstr(), flags).map_err(|e| (Step::Remount, e))?;
    }
    for &prop in propagation {
        sys_mount(None, at.as_cstr(), None, prop, None).map_err(|e| (Step::Remount, e))?;
    }
    Ok(())
}

fn open_path(path: &CStr) -> std::result::Result<Fd, i32> {
    // SAFETY: open of a NUL-terminated path; the descriptor is owned by the Fd.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
    if fd < 0 {
        Err(nix::errno::Errno::last_raw())
    } else {
        Ok(Fd(fd))
    }
}

/// How a bind is made: depth, flags, propagation and idmapping.
#[derive(Debug, Clone, Copy)]
struct BindAttrs<'a> {
    recursive: bool,
    remount: Option<c_ulong>,
    propagation: &'a [c_ulong],
    idmap: bool,
}

fn bind_new_api(
    source: &CStr,
    target: &Fd,
    userns_fd: std::os::fd::RawFd,
    attrs: BindAttrs,
) -> std::result::Result<(), (Step, i32)> {
    let BindAttrs {
        recursive,
        remount,
        propagation,
        idmap,
    } = attrs;
    const OPEN_TREE_CLONE: u32 = 1;
    const AT_RECURSIVE: u32 = 0x8000;
    const MOVE_MOUNT_F_EMPTY_PATH: u32 = 4;
    const MOVE_MOUNT_T_EMPTY_PATH: u32 = 0x40;
    let rec = if recursive { AT_RECURSIVE } else { 0 };
    // SAFETY: open_tree of a NUL-terminated path; the result is owned by the Fd.
    let tree = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            source.as_ptr(),
            OPEN_TREE_CLONE | libc::O_CLOEXEC as u32 | rec,
        )
    };
    if tree < 0 {
        return Err((Step::Mount, nix::errno::Errno::last_raw()));
    }
    let tree = Fd(tree as std::os::fd::RawFd);
    if idmap {
        const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;
        let attr = MountAttr {
            attr_set: MOUNT_ATTR_IDMAP,
            attr_clr: 0,
            propagation: 0,
            userns_fd: userns_fd as u64,
        };
        mount_setattr(tree.0, rec, &attr).map_err(|e| (Step::Remount, e))?;
    }
    if let Some(flags) = remount {
        let (attr_set, attr_clr) = mount_attrs(flags);
        let attr = MountAttr {
            attr_set,
            attr_clr,
            propagation: 0,
            userns_fd: 0,
        };
        // Only the top mount, as a bind remount does (`rro` would be recursive).
        mount_setattr(tree.0, 0, &attr).map_err(|e| (Step::Remount, e))?;
    }
    // SAFETY: move_mount between two descriptors we hold, with empty paths.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.0,
            c"".as_ptr(),
            target.0,
            c"".as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    };
    if rc < 0 {
        return Err((Step::Mount, nix::errno::Errno::last_raw()));
    }
    // The descriptor now names the attached mount.
    for &prop in propagation {
        let attr = MountAttr {
            attr_set: 0,
            attr_clr: 0,
            propagation: prop & !libc::MS_REC,
            userns_fd: 0,
        };
        let rec = if prop & libc::MS_REC != 0 {
            AT_RECURSIVE
        } else {
            0
        };
        mount_setattr(tree.0, rec, &attr).map_err(|e| (Step::Remount, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_split_into_flags_and_data() {
        let opts: Vec<String> = [
            "nosuid",
            "strictatime",
            "mode=755",
            "size=65536k",
            "ro",
            "rslave",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let p = parse_options(&opts, "mounts[0]").unwrap();
        assert_eq!(
            p.flags,
            libc::MS_NOSUID | libc::MS_STRICTATIME | libc::MS_RDONLY
        );
        assert_eq!(p.data, vec!["mode=755", "size=65536k"]);
        assert_eq!(p.propagation, vec![libc::MS_SLAVE | libc::MS_REC]);
    }

    #[test]
    fn unsupported_option_names_field() {
        let err = parse_options(&["rro".to_string()], "mounts[3]").unwrap_err();
        assert!(err.to_string().contains("mounts[3].options[0]"));
    }

    #[test]
    fn secure_join_keeps_links_inside() {
        let dir = std::env::temp_dir().join(format!("podrt-sj-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("real")).unwrap();
        let _ = std::fs::remove_file(dir.join("escape"));
        std::os::unix::fs::symlink("/etc", dir.join("escape")).unwrap();
        let _ = std::fs::remove_file(dir.join("up"));
        std::os::unix::fs::symlink("../../../..", dir.join("up")).unwrap();
        assert_eq!(secure_join(&dir, Path::new("/escape/x")), dir.join("etc/x"));
        assert_eq!(secure_join(&dir, Path::new("/up/real")), dir.join("real"));
        assert_eq!(secure_join(&dir, Path::new("/a/../../b")), dir.join("b"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
