//! What `import` reads from: a directory, or a tar of one (oci-archive,
//! docker-archive). A plain tar is not extracted: its entries are indexed once and
//! files are read in place by offset. A compressed tar is first decompressed into
//! the import's scratch directory, which the store removes afterwards.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};

use super::error::{Error, Result};

/// The two formats podrt imports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Format {
    /// `oci-layout` + `index.json` + `blobs/`.
    OciLayout,
    /// `manifest.json` as written by `docker save` / `podman save`.
    DockerArchive,
}

/// How a stream starts; decides how it is decompressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Compression {
    /// Plain bytes.
    None,
    /// gzip (`1f 8b`).
    Gzip,
    /// zstd (`28 b5 2f fd`).
    Zstd,
}

impl Compression {
    /// Recognise the compression from the first bytes of a stream.
    pub(crate) fn sniff(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

/// An image layout or archive opened for reading.
pub(super) struct Source {
    /// The path the user gave, for messages.
    path: PathBuf,
    kind: Kind,
}

enum Kind {
    Dir(PathBuf),
    Tar {
        file: PathBuf,
        entries: HashMap<String, TarEntry>,
    },
}

enum TarEntry {
    File { offset: u64, size: u64 },
    Symlink(String),
    Hardlink(String),
}

impl Source {
    /// Open `path`: a directory, a tar, or a gzip-compressed tar (decompressed into
    /// `scratch`).
    pub(crate) fn open(path: &Path, scratch: &Path) -> Result<Source> {
        let meta = std::fs::metadata(path).map_err(Error::io(path, "open image"))?;
        let kind = if meta.is_dir() {
            Kind::Dir(path.to_path_buf())
        } else {
            let tar = decompressed(path, scratch)?;
            let entries = index_tar(&tar).map_err(|e| Error::Invalid {
                path: path.to_path_buf(),
                reason: format!(
                    "neither a directory nor a readable tar archive ({e}); give an OCI image \
                     layout or a docker-archive"
                ),
            })?;
            Kind::Tar { file: tar, entries }
        };
        Ok(Source {
            path: path.to_path_buf(),
            kind,
        })
    }

    /// The path the user gave.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Which format this is; an OCI layout wins when both are present (Docker 25+
    /// writes both, and the layout carries digests for everything).
    pub(crate) fn format(&self) -> Result<Format> {
        if self.exists("oci-layout") {
            Ok(Format::OciLayout)
        } else if self.exists("manifest.json") {
            Ok(Format::DockerArchive)
        } else {
            Err(Error::UnknownFormat {
                path: self.path.clone(),
            })
        }
    }

    /// Does `name` exist (as a file) in the source?
    pub(crate) fn exists(&self, name: &str) -> bool {
        match &self.kind {
            Kind::Dir(dir) => clean(name).is_some_and(|n| open_in_dir(dir, &n).is_ok()),
            Kind::Tar { entries, .. } => {
                clean(name).is_some_and(|n| resolve(entries, &n).is_some())
            }
        }
    }

    /// Open `name` for reading; `MissingFile` if it is not there.
    pub(crate) fn open_file(&self, name: &str) -> Result<Box<dyn Read + '_>> {
        let missing = || Error::MissingFile {
            path: self.path.clone(),
            file: name.to_string(),
        };
        let rel = clean(name).ok_or_else(missing)?;
        match &self.kind {
            Kind::Dir(dir) => {
                let p = dir.join(&rel);
                match open_in_dir(dir, &rel) {
                    Ok(f) => Ok(Box::new(f)),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Err(missing()),
                    Err(e) => Err(Error::io(p, "open")(e)),
                }
            }
            Kind::Tar { file, entries } => {
                let (offset, size) = resolve(entries, &rel).ok_or_else(missing)?;
                let mut f = File::open(file).map_err(Error::io(file, "open"))?;
                f.seek(SeekFrom::Start(offset))
                    .map_err(Error::io(file, "seek in"))?;
                Ok(Box::new(f.take(size)))
            }
        }
    }

    /// Read a whole (small, JSON) file, refusing more than `limit` bytes.
    pub(crate) fn read_small(&self, name: &str, limit: u64) -> Result<Vec<u8>> {
        let mut buf = Vec::new();
        self.open_file(name)?
            .take(limit + 1)
            .read_to_end(&mut buf)
            .map_err(|e| Error::Invalid {
                path: self.path.clone(),
                reason: format!("cannot read {name}: {e}"),
            })?;
        if buf.len() as u64 > limit {
            return Err(Error::Invalid {
                path: self.path.clone(),
                reason: format!("{name} is larger than {limit} bytes; it is not an image document"),
            });
        }
        Ok(buf)
    }
}

/// Open `rel` in the layout directory `dir` for reading. Its symlinks resolve as
/// if `dir` were `/` (`openat2(RESOLVE_IN_ROOT)`, or a walk where that is missing),
/// so a layout cannot point podrt at a host file; and only a regular file is
/// opened, so a FIFO or device node in the layout can neither hang the import
/// (which holds the store's lock) nor be opened.
fn open_in_dir(dir: &Path, rel: &str) -> io::Result<File> {
    use std::os::fd::{AsRawFd, OwnedFd};
    use std::os::unix::fs::OpenOptionsExt;

    let root = File::options()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
        .open(dir)?;
    let c_rel = std::ffi::CString::new(rel).map_err(io::Error::other)?;
    let handle = podrt_runtime::in_root::open_in_root(root.as_raw_fd(), &c_rel, None)
        .map_err(io::Error::from_raw_os_error)?;
    let handle = File::from(OwnedFd::from(handle));
    if !handle.metadata()?.is_file() {
        return Err(io::Error::other(
            "not a regular file (a FIFO, device or directory); an image layout holds only files",
        ));
    }
    // Reopened through the descriptor: nothing is looked up twice.
    File::open(format!("/proc/self/fd/{}", handle.as_raw_fd()))
}

/// A path inside the source with `.` and `..` resolved; `None` if it would leave
/// the source or names nothing.
pub(super) fn clean(name: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for c in Path::new(name).components() {
        match c {
            Component::Normal(p) => parts.push(p.to_str()?),
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// Follow symlinks and hard links inside the tar (old `docker save` links shared
/// layers) to a regular file's offset and size.
fn resolve(entries: &HashMap<String, TarEntry>, name: &str) -> Option<(u64, u64)> {
    let mut name = name.to_string();
    for _ in 0..16 {
        match entries.get(&name)? {
            TarEntry::File { offset, size } => return Some((*offset, *size)),
            TarEntry::Hardlink(target) => name = clean(target)?,
            TarEntry::Symlink(target) => {
                let base = Path::new(&name)
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_default();
                let joined = if target.starts_with('/') {
                    PathBuf::from(target)
                } else {
                    base.join(target)
                };
                name = clean(joined.to_str()?)?;
            }
        }
    }
    None
}

/// The tar to index: `path` itself, or its decompressed copy in `scratch`.
fn decompressed(path: &Path, scratch: &Path) -> Result<PathBuf> {
    let f = File::open(path).map_err(Error::io(path, "open image"))?;
    let mut r = BufReader::new(f);
    let head = r.fill_buf().map_err(Error::io(path, "read"))?;
    match Compression::sniff(head) {
        Compression::None => Ok(path.to_path_buf()),
        Compression::Zstd => Err(Error::Invalid {
            path: path.to_path_buf(),
            reason: "the archive is zstd-compressed, which podrt does not read as a whole \
                     archive (zstd layers inside one are fine); decompress it first (`zstd -d`)"
                .into(),
        }),
        Compression::Gzip => {
            let out = scratch.join("archive.tar");
            let mut w =
                podrt_runtime::private_fs::create_file(&out, podrt_runtime::private_fs::FILE_MODE)
                    .map_err(Error::io(&out, "create"))?;
            io::copy(&mut flate2::bufread::MultiGzDecoder::new(r), &mut w).map_err(|e| {
                Error::Invalid {
                    path: path.to_path_buf(),
                    reason: format!("cannot decompress the gzip archive: {e}"),
                }
            })?;
            Ok(out)
        }
    }
}

fn index_tar(tar: &Path) -> io::Result<HashMap<String, TarEntry>> {
    let mut archive = tar::Archive::new(File::open(tar)?);
    let mut entries = HashMap::new();
    for entry in archive.entries_with_seek()? {
        let entry = entry?;
        let Some(name) = clean(&String::from_utf8_lossy(&entry.path_bytes())) else {
            continue;
        };
        let ty = entry.header().entry_type();
        let link =
            || String::from_utf8_lossy(&entry.link_name_bytes().unwrap_or_default()).into_owned();
        let value = if ty.is_file() || ty == tar::EntryType::Continuous {
            TarEntry::File {
                offset: entry.raw_file_position(),
                size: entry.size(),
            }
        } else if ty.is_symlink() {
            TarEntry::Symlink(link())
        } else if ty.is_hard_link() {
            TarEntry::Hardlink(link())
        } else {
            continue;
        };
        entries.insert(name, value);
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_resolves_dots_and_refuses_escapes() {
        assert_eq!(
            clean("./blobs/sha256/ab").as_deref(),
            Some("blobs/sha256/ab")
        );
        assert_eq!(clean("a/../b").as_deref(), Some("b"));
        assert_eq!(clean("/manifest.json").as_deref(), Some("manifest.json"));
        assert_eq!(clean("../x"), None);
        assert_eq!(clean("."), None);
    }

    #[test]
    fn links_in_a_tar_are_followed_to_the_file() {
        let mut e = HashMap::new();
        e.insert(
            "a/layer.tar".to_string(),
            TarEntry::File {
                offset: 512,
                size: 7,
            },
        );
        e.insert(
            "b/layer.tar".to_string(),
            TarEntry::Symlink("../a/layer.tar".into()),
        );
        e.insert(
            "c/layer.tar".to_string(),
            TarEntry::Hardlink("b/layer.tar".into()),
        );
        e.insert("loop".to_string(), TarEntry::Symlink("loop".into()));
        assert_eq!(resolve(&e, "c/layer.tar"), Some((512, 7)));
        assert_eq!(resolve(&e, "loop"), None);
        assert_eq!(resolve(&e, "nope"), None);
    }

    #[test]
    fn layout_files_are_regular_files_reached_inside_the_layout() {
        let dir = std::env::temp_dir().join(format!("podrt-source-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(dir.join("blobs")).unwrap();
        std::fs::write(dir.join("blobs/a"), "inside").unwrap();
        std::os::unix::fs::symlink("../blobs/a", dir.join("blobs/rel")).unwrap();
        std::os::unix::fs::symlink(dir.join("blobs/a"), dir.join("blobs/abs")).unwrap();
        nix::unistd::mkfifo(&dir.join("fifo"), nix::sys::stat::Mode::S_IRWXU).unwrap();
        let read = |rel: &str| {
            open_in_dir(&dir, rel).map(|mut f| {
                let mut s = String::new();
                f.read_to_string(&mut s).unwrap();
                s
            })
        };
        assert_eq!(read("blobs/a").unwrap(), "inside");
        assert_eq!(
            read("blobs/rel").unwrap(),
            "inside",
            "a relative link inside"
        );
        // An absolute link resolves below the layout, where that path does not exist.
        assert_eq!(
            read("blobs/abs").unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        let e = read("fifo").unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
        let e = read("blobs").unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn compression_is_sniffed_from_magic_bytes() {
        assert_eq!(Compression::sniff(&[0x1f, 0x8b, 8]), Compression::Gzip);
        assert_eq!(
            Compression::sniff(&[0x28, 0xb5, 0x2f, 0xfd]),
            Compression::Zstd
        );
        assert_eq!(Compression::sniff(b"ustar"), Compression::None);
        assert_eq!(Compression::sniff(b""), Compression::None);
    }
}
