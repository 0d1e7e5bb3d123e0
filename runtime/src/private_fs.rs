//! podrt's state on disk is root's alone: its directories are made 0700, its records,
//! locks and logs 0600 and its sockets 0600, whatever the umask of the process that
//! makes them (the umask only ever narrows a mode, so each is set again explicitly).
//! Every directory and file podrt and podrt-runc keep under their roots is made
//! here; what belongs to an image or a pod (layer contents, volumes) is not.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::path::Path;

/// Mode of every directory podrt makes for itself.
pub(crate) const DIR_MODE: u32 = 0o700;
/// Mode of every record, lock, log and socket podrt makes.
pub const FILE_MODE: u32 = 0o600;

/// Make `path` and its missing parents, each 0700 (as runc makes its root). An
/// existing directory is left as it is: a parent may be anybody's.
pub fn create_dir_all(path: &Path) -> io::Result<()> {
    if path.is_dir() {
        return Ok(());
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_dir_all(parent)?;
    }
    match create_dir(path) {
        // Somebody else made it meanwhile.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && path.is_dir() => Ok(()),
        other => other,
    }
}

/// Make the directory `path` 0700; fails if it exists or its parent does not.
pub fn create_dir(path: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new().mode(DIR_MODE).create(path)?;
    std::fs::set_permissions(path, PermissionsExt::from_mode(DIR_MODE))
}

/// Make `path` (a directory whose name is podrt's, under podrt's root) and its
/// missing parents, and take group and other access away from it if an older
/// podrt left it open.
pub fn own_dir(path: &Path) -> io::Result<()> {
    create_dir_all(path)?;
    let mode = std::fs::symlink_metadata(path)?.permissions().mode();
    if mode & 0o077 != 0 {
        std::fs::set_permissions(path, PermissionsExt::from_mode(mode & 0o7700))?;
    }
    Ok(())
}

/// Open `path` for appending, made 0600 if missing (and made 0600 if it was not):
/// logs.
pub fn open_append(path: &Path) -> io::Result<File> {
    let f = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(FILE_MODE)
        .open(path)?;
    f.set_permissions(PermissionsExt::from_mode(FILE_MODE))?;
    Ok(f)
}

/// Open `path` for writing without truncating it, made 0600 if missing (and made
/// 0600 if it was not): lock files.
pub fn open_lock(path: &Path) -> io::Result<File> {
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(FILE_MODE)
        .open(path)?;
    f.set_permissions(PermissionsExt::from_mode(FILE_MODE))?;
    Ok(f)
}

/// Create `path` empty with `mode` (replacing what was there), for the temporary
/// file of an atomic write.
pub fn create_file(path: &Path, mode: u32) -> io::Result<File> {
    let f = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(mode)
        .open(path)?;
    f.set_permissions(PermissionsExt::from_mode(mode))?;
    Ok(f)
}

/// Write `data` to `path` (created 0600, truncated if present): markers and small
/// records that need no atomic replacement.
pub fn write(path: &Path, data: &[u8]) -> io::Result<()> {
    create_file(path, FILE_MODE)?.write_all(data)
}

/// Listen on a Unix socket at `path`, which only root may connect to: 0600 after the
/// bind, which made it with the umask's mode (the caller keeps it in a 0700
/// directory, so nobody else could reach it even then).
pub fn bind_unix(path: &Path) -> io::Result<UnixListener> {
    let listener = UnixListener::bind(path)?;
    if let Err(e) = std::fs::set_permissions(path, PermissionsExt::from_mode(FILE_MODE)) {
        let _ = std::fs::remove_file(path);
        return Err(e);
    }
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("podrt-private-fs-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn mode(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).unwrap().mode() & 0o7777
    }

    /// The umask is process-wide and other tests run beside this one, so it is
    /// left alone here; the pod tests run podrt under a umask of 0.
    #[test]
    fn each_kind_gets_its_mode() {
        let base = scratch("kinds");
        create_dir_all(&base.join("a/b")).unwrap();
        open_append(&base.join("a/log")).unwrap();
        open_lock(&base.join("a/lock")).unwrap();
        write(&base.join("a/marker"), b"x").unwrap();
        create_file(&base.join("a/hosts"), 0o644).unwrap();
        let _l = bind_unix(&base.join("a/sock")).unwrap();
        for d in ["", "a", "a/b"] {
            assert_eq!(mode(&base.join(d)), 0o700, "{d}");
        }
        for f in ["a/log", "a/lock", "a/marker", "a/sock"] {
            assert_eq!(mode(&base.join(f)), 0o600, "{f}");
        }
        assert_eq!(mode(&base.join("a/hosts")), 0o644);
        let _ = std::fs::remove_dir_all(&base);
    }

    #[test]
    fn an_existing_parent_is_left_alone_and_an_own_dir_is_tightened() {
        let dir = scratch("existing");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, PermissionsExt::from_mode(0o755)).unwrap();
        create_dir_all(&dir.join("x")).unwrap();
        assert_eq!(mode(&dir), 0o755);
        std::fs::set_permissions(dir.join("x"), PermissionsExt::from_mode(0o755)).unwrap();
        own_dir(&dir.join("x")).unwrap();
        assert_eq!(mode(&dir.join("x")), 0o700);
        // An old log of 0644 is made 0600 when it is opened again.
        std::fs::write(dir.join("log"), b"").unwrap();
        std::fs::set_permissions(dir.join("log"), PermissionsExt::from_mode(0o644)).unwrap();
        open_append(&dir.join("log")).unwrap();
        assert_eq!(mode(&dir.join("log")), 0o600);
        assert_eq!(
            std::fs::metadata(dir.join("x")).unwrap().uid(),
            // SAFETY: geteuid has no preconditions.
            unsafe { libc::geteuid() }
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
