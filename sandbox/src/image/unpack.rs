//! One layer tar → one directory that overlayfs can use as a lower layer.
//!
//! Ownership, modes, mtimes, symlinks, hard links, device nodes, fifos and xattrs are
//! kept. Nothing is ever written outside the directory: absolute paths, `..` and any
//! entry whose parent is a symlink are refused, and symlinks are never followed. OCI
//! whiteouts become overlayfs ones: `.wh.NAME` a 0:0 character device `NAME`,
//! `.wh..wh..opq` the xattr `trusted.overlay.opaque=y` on its directory.
//! The caller unpacks into a fresh private directory, so checks are not racy.

use std::ffi::{CString, OsStr, OsString};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, DirBuilderExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use nix::fcntl::AT_FDCWD;
use nix::sys::stat::{self, Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{Gid, Uid};
use tar::EntryType;

const WHITEOUT: &str = ".wh.";
const OPAQUE: &str = ".wh..wh..opq";
/// Whiteout-prefixed names that are aufs bookkeeping, not whiteouts.
const WHITEOUT_META: &str = ".wh..wh.";
const OPAQUE_XATTR: &str = "trusted.overlay.opaque";
const PAX_XATTR: &str = "SCHILY.xattr.";

/// Why one entry could not be unpacked.
#[derive(Debug)]
pub(super) struct EntryError {
    /// The entry's path as written in the tar.
    pub(crate) entry: String,
    /// What is wrong.
    pub(crate) reason: String,
}

/// Unpack the tar stream `tar` into the existing empty directory `dest`; returns the
/// bytes of regular-file content written. Leaves the rest of the stream unread.
/// `dest` gets mode 0755 unless the tar has an entry for its root (`./`).
pub(super) fn unpack<R: Read>(tar: R, dest: &Path) -> Result<u64, EntryError> {
    fs::set_permissions(dest, PermissionsExt::from_mode(0o755)).map_err(|e| EntryError {
        entry: String::new(),
        reason: format!("cannot chmod {}: {e}", dest.display()),
    })?;
    let mut archive = tar::Archive::new(tar);
    let mut dir_mtimes = Vec::new();
    // One buffer for every file of the layer: io::copy's 8 KiB would cost a
    // write (and a decompressor call) per 8 KiB of a layer's hundreds of MB.
    let mut buf = vec![0u8; COPY_BUFFER];
    let mut size = 0;
    let entries = archive.entries().map_err(|e| EntryError {
        entry: String::new(),
        reason: format!("not a tar archive: {e}"),
    })?;
    for entry in entries {
        let mut entry = entry.map_err(|e| EntryError {
            entry: String::new(),
            reason: format!("unreadable tar entry: {e}"),
        })?;
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        size +=
            apply(&mut entry, dest, &mut dir_mtimes, &mut buf).map_err(|reason| EntryError {
                entry: name,
                reason,
            })?;
    }
    // Directory mtimes last: creating their children changed them.
    for (dir, mtime) in dir_mtimes {
        set_mtime(&dir, mtime).map_err(|reason| EntryError {
            entry: dir.display().to_string(),
            reason,
        })?;
    }
    Ok(size)
}

type Step = Result<u64, String>;

/// How much of a file is read and written at a time.
const COPY_BUFFER: usize = 1024 * 1024;

fn apply<R: Read>(
    entry: &mut tar::Entry<R>,
    dest: &Path,
    dir_mtimes: &mut Vec<(PathBuf, i64)>,
    buf: &mut [u8],
) -> Step {
    let kind = entry.header().entry_type();
    if matches!(
        kind,
        EntryType::XGlobalHeader
            | EntryType::XHeader
            | EntryType::GNULongName
            | EntryType::GNULongLink
    ) {
        return Ok(0);
    }
    let parts = relative(&entry.path_bytes())?;
    let Some((name, parents)) = parts.split_last() else {
        // The layer root itself (`./`): only its metadata applies.
        if !kind.is_dir() {
            return Err("the layer root must be a directory".into());
        }
        metadata(entry, dest, dir_mtimes)?;
        return Ok(0);
    };
    let parent = make_parents(dest, parents)?;
    let name_str = name.to_string_lossy();
    if name_str == OPAQUE {
        return set_xattr(&parent, OPAQUE_XATTR, b"y").map(|_| 0);
    }
    if name_str.starts_with(WHITEOUT_META) {
        return Ok(0);
    }
    if let Some(hidden) = name_str.strip_prefix(WHITEOUT) {
        if matches!(hidden, "" | "." | "..") {
            // `.wh..` and `.wh...` would delete the directory itself or its parent.
            return Err(format!(
                "the whiteout {name_str:?} must name a file in its directory; refusing to \
                 delete outside it"
            ));
        }
        let path = parent.join(hidden);
        remove_existing(&path)?;
        return stat::mknod(&path, SFlag::S_IFCHR, Mode::empty(), stat::makedev(0, 0))
            .map(|_| 0)
            .map_err(|e| format!("cannot create the overlay whiteout {}: {e}", path.display()));
    }
    let path = parent.join(name);
    let header = entry.header();
    let mode = Mode::from_bits_truncate(header.mode().map_err(|e| e.to_string())? & 0o7777);
    let mut written = 0;
    match kind {
        EntryType::Directory => {
            if !fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
                remove_existing(&path)?;
                fs::DirBuilder::new()
                    .mode(0o700)
                    .create(&path)
                    .map_err(|e| create_err(&path, e))?;
            }
        }
        EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
            remove_existing(&path)?;
            // create_new: O_EXCL never follows a symlink planted at `path`.
            let mut f = File::options()
                .write(true)
                .create_new(true)
                .open(&path)
                .map_err(|e| create_err(&path, e))?;
            written = copy(entry, &mut f, buf)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
        EntryType::Symlink => {
            let target = link_name(entry)?;
            remove_existing(&path)?;
            symlink(OsStr::from_bytes(&target), &path).map_err(|e| create_err(&path, e))?;
        }
        EntryType::Link => {
            let target = dest.join(existing_path(dest, &relative(&link_name(entry)?)?)?);
            if target != path {
                remove_existing(&path)?;
                fs::hard_link(&target, &path).map_err(|e| {
                    format!(
                        "cannot hard-link {} to {}: {e}",
                        path.display(),
                        target.display()
                    )
                })?;
            }
            // A hard link shares its target's inode and metadata.
            return Ok(0);
        }
        EntryType::Char | EntryType::Block | EntryType::Fifo => {
            let (flag, dev) = match kind {
                EntryType::Char => (SFlag::S_IFCHR, device(header)?),
                EntryType::Block => (SFlag::S_IFBLK, device(header)?),
                _ => (SFlag::S_IFIFO, 0),
            };
            remove_existing(&path)?;
            stat::mknod(&path, flag, mode, dev).map_err(|e| create_err(&path, e.into()))?;
        }
        other => return Err(format!("unsupported tar entry type {other:?}")),
    }
    metadata(entry, &path, dir_mtimes)?;
    Ok(written)
}

/// Owner, then mode (chown clears set-id bits), then xattrs (chown clears
/// `security.capability`), then mtime.
fn metadata<R: Read>(
    entry: &mut tar::Entry<R>,
    path: &Path,
    dir_mtimes: &mut Vec<(PathBuf, i64)>,
) -> Result<(), String> {
    let header = entry.header();
    let kind = header.entry_type();
    let id = |v: io::Result<u64>| -> Result<u32, String> {
        v.map_err(|e| e.to_string())?
            .try_into()
            .map_err(|_| "uid/gid out of range".to_string())
    };
    let (uid, gid) = (id(header.uid())?, id(header.gid())?);
    let mode = header.mode().map_err(|e| e.to_string())? & 0o7777;
    let mtime = header.mtime().map_err(|e| e.to_string())?;
    nix::unistd::fchownat(
        AT_FDCWD,
        path,
        Some(Uid::from_raw(uid)),
        Some(Gid::from_raw(gid)),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .map_err(|e| format!("cannot chown {} to {uid}:{gid}: {e}", path.display()))?;
    if !kind.is_symlink() {
        fs::set_permissions(path, PermissionsExt::from_mode(mode))
            .map_err(|e| format!("cannot chmod {}: {e}", path.display()))?;
    }
    for (key, value) in xattrs(entry)? {
        set_xattr(path, &key, &value)?;
    }
    let mtime = i64::try_from(mtime).map_err(|_| "mtime out of range".to_string())?;
    if kind.is_dir() {
        dir_mtimes.push((path.to_path_buf(), mtime));
        Ok(())
    } else {
        set_mtime(path, mtime)
    }
}

/// The entry's `SCHILY.xattr.*` PAX records, minus `trusted.overlay.*`: a layer
/// must not forge overlayfs metadata (redirects, metacopy) for itself.
fn xattrs<R: Read>(entry: &mut tar::Entry<R>) -> Result<Vec<(String, Vec<u8>)>, String> {
    let Some(exts) = entry
        .pax_extensions()
        .map_err(|e| format!("bad PAX header: {e}"))?
    else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for ext in exts {
        let ext = ext.map_err(|e| format!("bad PAX record: {e}"))?;
        let Ok(key) = ext.key() else { continue };
        if let Some(name) = key.strip_prefix(PAX_XATTR) {
            if !name.starts_with("trusted.overlay.") {
                out.push((name.to_string(), ext.value_bytes().to_vec()));
            }
        }
    }
    Ok(out)
}

fn set_xattr(path: &Path, key: &str, value: &[u8]) -> Result<(), String> {
    let err = |e: io::Error| format!("cannot set xattr {key} on {}: {e}", path.display());
    let c_path = CString::new(path.as_os_str().as_bytes()).map_err(|e| err(io::Error::other(e)))?;
    let c_key = CString::new(key).map_err(|e| err(io::Error::other(e)))?;
    // SAFETY: both strings are NUL-terminated CStrings that outlive the call, and
    // `value` is a valid slice whose pointer and length are passed together.
    let rc = unsafe {
        libc::lsetxattr(
            c_path.as_ptr(),
            c_key.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(err(io::Error::last_os_error()))
    }
}

fn set_mtime(path: &Path, secs: i64) -> Result<(), String> {
    let t = TimeSpec::new(secs, 0);
    stat::utimensat(AT_FDCWD, path, &t, &t, UtimensatFlags::NoFollowSymlink)
        .map_err(|e| format!("cannot set the mtime of {}: {e}", path.display()))
}

/// A tar path as components below the layer root; absolute paths and `..` refused.
fn relative(raw: &[u8]) -> Result<Vec<OsString>, String> {
    let mut parts = Vec::new();
    for c in Path::new(OsStr::from_bytes(raw)).components() {
        match c {
            Component::Normal(p) => parts.push(p.to_os_string()),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => {
                return Err("absolute path; refusing to write outside the layer".into())
            }
            Component::ParentDir => {
                return Err("path contains `..`; refusing to write outside the layer".into())
            }
        }
    }
    Ok(parts)
}

/// Create the missing parents of an entry (root-owned, 0755 as Docker does) and
/// refuse any existing one that is a symlink or not a directory.
fn make_parents(dest: &Path, parents: &[OsString]) -> Result<PathBuf, String> {
    let mut dir = dest.to_path_buf();
    for p in parents {
        dir.push(p);
        match fs::symlink_metadata(&dir) {
            Ok(m) if m.is_dir() => {}
            Ok(m) if m.file_type().is_symlink() => return Err(through_symlink(dest, &dir)),
            Ok(_) => return Err(format!("{} is not a directory", rel(dest, &dir))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir(&dir).map_err(|e| create_err(&dir, e))?;
                // Explicitly, not through the umask.
                fs::set_permissions(&dir, PermissionsExt::from_mode(0o755))
                    .map_err(|e| format!("cannot chmod {}: {e}", dir.display()))?;
            }
            Err(e) => return Err(format!("cannot inspect {}: {e}", dir.display())),
        }
    }
    Ok(dir)
}

/// The path of an existing hard-link target below `dest`, reached without symlinks.
fn existing_path(dest: &Path, parts: &[OsString]) -> Result<PathBuf, String> {
    let mut path = PathBuf::new();
    for (i, p) in parts.iter().enumerate() {
        path.push(p);
        let full = dest.join(&path);
        let m = fs::symlink_metadata(&full).map_err(|_| {
            format!(
                "hard link target {} does not exist in the layer",
                path.display()
            )
        })?;
        let last = i + 1 == parts.len();
        if !last && m.file_type().is_symlink() {
            return Err(through_symlink(dest, &full));
        }
        if last && m.is_dir() {
            return Err(format!(
                "hard link target {} is a directory",
                path.display()
            ));
        }
    }
    if path.as_os_str().is_empty() {
        return Err("hard link without a target".into());
    }
    Ok(path)
}

fn through_symlink(dest: &Path, link: &Path) -> String {
    format!(
        "goes through the symlink {}; refusing to write outside the layer",
        rel(dest, link)
    )
}

fn rel(dest: &Path, p: &Path) -> String {
    p.strip_prefix(dest).unwrap_or(p).display().to_string()
}

/// Make room for a new entry: later entries replace earlier ones, as with `tar -x`.
fn remove_existing(path: &Path) -> Result<(), String> {
    let r = match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    };
    r.map_err(|e| format!("cannot replace {}: {e}", path.display()))
}

fn link_name<R: Read>(entry: &tar::Entry<R>) -> Result<Vec<u8>, String> {
    match entry.link_name_bytes() {
        Some(l) if !l.is_empty() => Ok(l.into_owned()),
        _ => Err("link without a target".into()),
    }
}

fn device(header: &tar::Header) -> Result<u64, String> {
    let major = header
        .device_major()
        .map_err(|e| e.to_string())?
        .unwrap_or(0);
    let minor = header
        .device_minor()
        .map_err(|e| e.to_string())?
        .unwrap_or(0);
    Ok(stat::makedev(major.into(), minor.into()))
}

/// `io::copy` through `buf`; the bytes copied.
fn copy(from: &mut impl Read, to: &mut File, buf: &mut [u8]) -> io::Result<u64> {
    let mut total = 0;
    loop {
        let n = match from.read(buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        to.write_all(&buf[..n])?;
        total += n as u64;
    }
}

fn create_err(path: &Path, e: io::Error) -> String {
    format!("cannot create {}: {e}", path.display())
}

#[cfg(test)]
#[path = "unpack_tests.rs"]
mod tests;
