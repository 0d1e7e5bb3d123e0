//! Unit tests for `unpack` on tars built in memory. They chown and mknod, so they
//! run as root, like every podrt test.

use std::os::unix::fs::{FileTypeExt, MetadataExt};

use tar::{EntryType, Header};

use super::*;

/// A tar built entry by entry, with raw names so bad paths can be written too.
struct Tar(tar::Builder<Vec<u8>>);

impl Tar {
    fn new() -> Tar {
        Tar(tar::Builder::new(Vec::new()))
    }

    fn add(&mut self, path: &str, ty: EntryType, mode: u32, data: &[u8], link: &str) -> &mut Tar {
        let mut h = Header::new_ustar();
        h.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
        h.set_entry_type(ty);
        h.set_mode(mode);
        h.set_uid(1000);
        h.set_gid(1001);
        h.set_mtime(1_000_000);
        h.set_size(data.len() as u64);
        h.set_link_name_literal(link).unwrap();
        if matches!(ty, EntryType::Char | EntryType::Block) {
            h.set_device_major(1).unwrap();
            h.set_device_minor(3).unwrap();
        }
        h.set_cksum();
        self.0.append(&h, data).unwrap();
        self
    }

    fn dir(&mut self, path: &str) -> &mut Tar {
        self.add(path, EntryType::Directory, 0o755, b"", "")
    }

    fn file(&mut self, path: &str, data: &[u8]) -> &mut Tar {
        self.add(path, EntryType::Regular, 0o644, data, "")
    }

    /// A PAX header applying `records` to the next entry.
    fn pax(&mut self, records: &[(&str, &[u8])]) -> &mut Tar {
        let mut data = Vec::new();
        for (k, v) in records {
            let body_len = k.len() + v.len() + 3; // ' ', '=', '\n'
            let mut len = body_len + 1;
            while len != body_len + len.to_string().len() {
                len = body_len + len.to_string().len();
            }
            data.extend_from_slice(format!("{len} {k}=").as_bytes());
            data.extend_from_slice(v);
            data.push(b'\n');
        }
        self.add("pax", EntryType::XHeader, 0o644, &data, "")
    }

    fn bytes(&mut self) -> Vec<u8> {
        self.0
            .get_ref()
            .clone()
            .into_iter()
            .chain([0u8; 1024])
            .collect()
    }
}

/// A fresh destination directory, removed on drop.
struct Dest(PathBuf);

impl Dest {
    fn new() -> Dest {
        let d = std::env::temp_dir().join(format!("podrt-unpack-{}", uuid::Uuid::new_v4()));
        fs::create_dir(&d).unwrap();
        Dest(d)
    }
}

impl Drop for Dest {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn xattr(path: &Path, key: &str) -> Option<Vec<u8>> {
    let p = CString::new(path.as_os_str().as_bytes()).unwrap();
    let k = CString::new(key).unwrap();
    let mut buf = [0u8; 256];
    // SAFETY: valid CStrings and a buffer whose length is passed with it.
    let n = unsafe { libc::lgetxattr(p.as_ptr(), k.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    (n >= 0).then(|| buf[..n as usize].to_vec())
}

#[test]
#[ignore = "needs root: scripts/test.sh runs it"]
fn entries_keep_owner_mode_mtime_and_type() {
    let d = Dest::new();
    let tar = Tar::new()
        .dir("./")
        .dir("./bin/")
        .add("bin/tool", EntryType::Regular, 0o4755, b"#!/bin/sh\n", "")
        .add("bin/alias", EntryType::Symlink, 0o777, b"", "tool")
        .add("bin/hard", EntryType::Link, 0o755, b"", "bin/tool")
        .add("dev/null", EntryType::Char, 0o666, b"", "")
        .add("run/fifo", EntryType::Fifo, 0o600, b"", "")
        .pax(&[
            ("SCHILY.xattr.user.note", b"kept"),
            ("SCHILY.xattr.trusted.overlay.redirect", b"/etc"),
        ])
        .file("etc/motd", b"hi")
        .bytes();
    let size = unpack(&tar[..], &d.0).unwrap();
    assert_eq!(size, 12);

    let tool = fs::symlink_metadata(d.0.join("bin/tool")).unwrap();
    assert_eq!(
        (tool.uid(), tool.gid(), tool.mode() & 0o7777),
        (1000, 1001, 0o4755)
    );
    assert_eq!(tool.mtime(), 1_000_000);
    assert_eq!(tool.nlink(), 2, "bin/hard is a hard link to bin/tool");
    assert_eq!(
        fs::read_link(d.0.join("bin/alias")).unwrap(),
        Path::new("tool")
    );
    assert_eq!(
        fs::symlink_metadata(d.0.join("bin/alias")).unwrap().uid(),
        1000
    );
    let null = fs::symlink_metadata(d.0.join("dev/null")).unwrap();
    assert!(null.file_type().is_char_device());
    assert_eq!(null.rdev(), stat::makedev(1, 3));
    assert!(fs::symlink_metadata(d.0.join("run/fifo"))
        .unwrap()
        .file_type()
        .is_fifo());
    let bin = fs::metadata(d.0.join("bin")).unwrap();
    assert_eq!(
        (bin.uid(), bin.mtime()),
        (1000, 1_000_000),
        "directory mtime set after its children"
    );
    assert_eq!(
        fs::metadata(d.0.join("dev")).unwrap().uid(),
        0,
        "implied parents are root's"
    );
    let motd = d.0.join("etc/motd");
    assert_eq!(xattr(&motd, "user.note").as_deref(), Some(&b"kept"[..]));
    assert_eq!(
        xattr(&motd, "trusted.overlay.redirect"),
        None,
        "overlay xattrs are not taken from a layer"
    );
}

#[test]
#[ignore = "needs root: scripts/test.sh runs it"]
fn oci_whiteouts_become_overlayfs_whiteouts() {
    let d = Dest::new();
    let tar = Tar::new()
        .dir("etc/")
        .file("etc/.wh.passwd", b"")
        .dir("var/cache/")
        .file("var/cache/.wh..wh..opq", b"")
        .file(".wh..wh.plnk", b"")
        .bytes();
    unpack(&tar[..], &d.0).unwrap();
    let wh = fs::symlink_metadata(d.0.join("etc/passwd")).unwrap();
    assert!(wh.file_type().is_char_device());
    assert_eq!(wh.rdev(), 0);
    assert!(!d.0.join("etc/.wh.passwd").exists());
    assert_eq!(
        xattr(&d.0.join("var/cache"), "trusted.overlay.opaque").as_deref(),
        Some(&b"y"[..])
    );
    assert!(!d.0.join("var/cache/.wh..wh..opq").exists());
    assert!(
        !d.0.join(".wh..wh.plnk").exists(),
        "aufs metadata is dropped"
    );
}

#[test]
#[ignore = "needs root: scripts/test.sh runs it"]
fn later_entries_replace_earlier_ones() {
    let d = Dest::new();
    let tar = Tar::new()
        .file("a", b"first")
        .add("a", EntryType::Symlink, 0o777, b"", "b")
        .file("c/x", b"")
        .file("c", b"now a file")
        .bytes();
    unpack(&tar[..], &d.0).unwrap();
    assert_eq!(fs::read_link(d.0.join("a")).unwrap(), Path::new("b"));
    assert_eq!(fs::read(d.0.join("c")).unwrap(), b"now a file");
}

#[test]
#[ignore = "needs root: scripts/test.sh runs it"]
fn entries_that_would_escape_the_layer_are_refused() {
    let outside = Dest::new();
    let target = outside.0.to_str().unwrap();
    let sibling = format!("podrt-escape-{}", uuid::Uuid::new_v4());
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "dotdot",
            Tar::new().file(&format!("../{sibling}"), b"x").bytes(),
            "`..`",
        ),
        (
            "absolute",
            Tar::new().file(&format!("{target}/abs"), b"x").bytes(),
            "absolute",
        ),
        (
            "through a symlink",
            Tar::new()
                .add("link", EntryType::Symlink, 0o777, b"", target)
                .file("link/evil", b"x")
                .bytes(),
            "symlink link",
        ),
        (
            "hard link out",
            Tar::new()
                .add("h", EntryType::Link, 0o644, b"", "../../etc/passwd")
                .bytes(),
            "`..`",
        ),
        (
            "hard link via symlink",
            Tar::new()
                .add("l", EntryType::Symlink, 0o777, b"", "/etc")
                .add("h", EntryType::Link, 0o644, b"", "l/passwd")
                .bytes(),
            "symlink l",
        ),
        (
            "whiteout of `..`",
            Tar::new().file("keep", b"x").file(".wh...", b"").bytes(),
            "must name a file",
        ),
        (
            "whiteout of `.`",
            Tar::new()
                .file("sub/keep", b"x")
                .file("sub/.wh..", b"")
                .bytes(),
            "must name a file",
        ),
    ];
    for (what, tar, needle) in cases {
        let d = Dest::new();
        let e = unpack(&tar[..], &d.0).expect_err(what);
        assert!(e.reason.contains(needle), "{what}: {e:?}");
        assert!(!e.entry.is_empty(), "{what}: the entry is named");
        assert_eq!(
            fs::read_dir(&outside.0).unwrap().count(),
            0,
            "{what} wrote outside"
        );
    }
    assert!(
        !std::env::temp_dir().join(&sibling).exists(),
        "`..` wrote beside the layer"
    );
}
