//! Overlay root filesystems: a container's rootfs is its image's unpacked layers
//! (read-only, shared by every container of the image) under a private upper
//! directory that takes its writes. Only the mount and unmount live here; where the
//! directories are and when they are removed is the caller's business.
//! A pod in its own user namespace gets its layers idmapped first ([`idmap`]).

pub(crate) mod idmap;

use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};
use nix::unistd::SysconfVar;

/// Characters overlayfs treats as separators inside its mount options.
const SEPARATORS: [char; 3] = [':', ',', '\\'];

/// Why an overlay could not be mounted or unmounted.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No lower layer: overlayfs needs at least one.
    #[error("overlay on {target}: no lower layers; the image has no layers")]
    NoLayers {
        /// The mount point.
        target: PathBuf,
    },
    /// A path overlayfs' option syntax cannot carry.
    #[error("overlay: path {path} contains ':', ',' or '\\', which overlayfs mount options cannot carry; use a podrt root without them")]
    BadPath {
        /// The offending path.
        path: PathBuf,
    },
    /// The option string does not fit the one page the kernel reads.
    #[error(
        "overlay on {target}: the mount options for {layers} layers are {len} bytes, more than the \
         kernel's {page_size}-byte page; use an image with fewer layers or a shorter podrt root"
    )]
    OptionsTooLong {
        /// The mount point.
        target: PathBuf,
        /// How many lower layers.
        layers: usize,
        /// Length of the option string.
        len: usize,
        /// The page size.
        page_size: usize,
    },
    /// Creating the upper, work or target directory failed.
    #[error("overlay: cannot create directory {path}: {source}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// mount(2) failed.
    #[error("cannot mount overlay on {target} ({layers} layers): {errno}; the kernel log (`dmesg`) says why")]
    Mount {
        /// The mount point.
        target: PathBuf,
        /// How many lower layers.
        layers: usize,
        /// mount(2)'s error.
        errno: Errno,
    },
    /// A layer could not be idmapped for a pod in its own user namespace.
    #[error("cannot idmap image layer {layer} for the pod's user namespace (hostUsers: false): {source}; `podrt check` says whether this filesystem has idmapped mounts")]
    Idmap {
        /// The layer directory.
        layer: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// umount2(2) failed for another reason than "not mounted".
    #[error("cannot unmount overlay at {target}: {errno}")]
    Unmount {
        /// The mount point.
        target: PathBuf,
        /// umount2(2)'s error.
        errno: Errno,
    },
}

/// Mount an overlay of `lowers` (bottom layer first, as
/// [`crate::image::Image::layers`] lists them) with writes going to `upper`, on
/// `target`. `upper`, `work` and `target` are created if missing; `work` must be
/// empty and on the same filesystem as `upper`.
pub fn mount(lowers: &[PathBuf], upper: &Path, work: &Path, target: &Path) -> Result<(), Error> {
    let page_size = nix::unistd::sysconf(SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .and_then(|p| usize::try_from(p).ok())
        .unwrap_or(4096);
    let options = options(lowers, upper, work, target, page_size)?;
    if !upper.exists() {
        // The upper dir's root is the container's `/`: give it the image's.
        let top = lowers.last().map(PathBuf::as_path).unwrap_or(upper);
        create_like(upper, top).map_err(|source| Error::CreateDir {
            path: upper.to_path_buf(),
            source,
        })?;
    }
    // Root's alone: the mount hides the target's mode, and only overlayfs uses `work`.
    for dir in [work, target] {
        podrt_runtime::private_fs::create_dir_all(dir).map_err(|source| Error::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    nix::mount::mount(
        Some("overlay"),
        target,
        Some("overlay"),
        MsFlags::empty(),
        Some(options.as_str()),
    )
    .map_err(|errno| Error::Mount {
        target: target.to_path_buf(),
        layers: lowers.len(),
        errno,
    })
}

/// [`mount`] for a pod in its own user namespace: each distinct layer is first bound,
/// idmapped with `userns`, under `scratch/<i>`; the overlay is stacked on those
/// binds, which are detached again at once (overlayfs keeps private copies). A new
/// upper directory takes the owner of the top layer *as the pod sees it*, so the
/// container's `/` belongs to the pod's root. See [`idmap`].
pub(crate) fn mount_idmapped(
    lowers: &[PathBuf],
    upper: &Path,
    work: &Path,
    target: &Path,
    userns: std::os::fd::BorrowedFd,
    scratch: &Path,
) -> Result<(), Error> {
    // A layer listed twice is kept at its top-most place, as `options` does.
    let mut unique: Vec<&PathBuf> = Vec::with_capacity(lowers.len());
    for p in lowers.iter().rev() {
        if !unique.contains(&p) {
            unique.push(p);
        }
    }
    unique.reverse();
    let mut made: Vec<PathBuf> = Vec::with_capacity(unique.len());
    let mut attached: Vec<PathBuf> = Vec::with_capacity(unique.len());
    let result = (|| {
        for (i, layer) in unique.iter().enumerate() {
            let at = scratch.join(i.to_string());
            podrt_runtime::private_fs::create_dir_all(&at).map_err(|source| Error::CreateDir {
                path: at.clone(),
                source,
            })?;
            made.push(at.clone());
            let idmap_err = |source| Error::Idmap {
                layer: layer.to_path_buf(),
                source,
            };
            let tree = idmap::idmapped_tree(layer, userns).map_err(idmap_err)?;
            idmap::attach(&tree, &at).map_err(idmap_err)?;
            attached.push(at);
        }
        mount(&attached, upper, work, target)
    })();
    // Never a recursive removal: a bind that failed to detach shows a shared layer.
    for at in &attached {
        let _ = nix::mount::umount2(at, MntFlags::MNT_DETACH);
    }
    for at in &made {
        let _ = std::fs::remove_dir(at);
    }
    let _ = std::fs::remove_dir(scratch);
    result
}

/// Create `dir` (and its parents) with the owner and mode of `like`'s root.
fn create_like(dir: &Path, like: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let m = std::fs::metadata(like)?;
    std::fs::create_dir_all(dir)?;
    std::os::unix::fs::chown(dir, Some(m.uid()), Some(m.gid()))?;
    std::fs::set_permissions(dir, PermissionsExt::from_mode(m.mode() & 0o7777))
}

/// Unmount the overlay at `target`, detaching it if it is still busy. Not being
/// mounted (or not existing) is fine, so teardown can be repeated.
pub fn unmount(target: &Path) -> Result<(), Error> {
    match nix::mount::umount2(target, MntFlags::MNT_DETACH) {
        Ok(()) | Err(Errno::EINVAL) | Err(Errno::ENOENT) => Ok(()),
        Err(errno) => Err(Error::Unmount {
            target: target.to_path_buf(),
            errno,
        }),
    }
}

/// `lowerdir=TOP:…:BOTTOM,upperdir=U,workdir=W`: overlayfs lists the top layer
/// first, the image the bottom one first. The kernel reads at most one page of
/// options (and silently cuts the rest), so a longer string is refused here.
fn options(
    lowers: &[PathBuf],
    upper: &Path,
    work: &Path,
    target: &Path,
    page_size: usize,
) -> Result<String, Error> {
    if lowers.is_empty() {
        return Err(Error::NoLayers {
            target: target.to_path_buf(),
        });
    }
    let text = |p: &Path| -> Result<String, Error> {
        match p.to_str() {
            Some(s) if !s.contains(SEPARATORS) => Ok(s.to_string()),
            _ => Err(Error::BadPath {
                path: p.to_path_buf(),
            }),
        }
    };
    // A layer an image lists twice (the empty layer, typically) is kept only at its
    // top-most place: overlayfs refuses the same directory twice, and the lower
    // copy could not show anything the upper one does not.
    let mut top_first: Vec<String> = Vec::with_capacity(lowers.len());
    for p in lowers.iter().rev() {
        let p = text(p)?;
        if !top_first.contains(&p) {
            top_first.push(p);
        }
    }
    let lower = top_first.join(":");
    let options = format!(
        "lowerdir={lower},upperdir={},workdir={}",
        text(upper)?,
        text(work)?
    );
    // The page also holds the terminating NUL.
    if options.len() >= page_size {
        return Err(Error::OptionsTooLong {
            target: target.to_path_buf(),
            layers: lowers.len(),
            len: options.len(),
            page_size,
        });
    }
    Ok(options)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(p: &[&str]) -> Vec<PathBuf> {
        p.iter().map(PathBuf::from).collect()
    }

    #[test]
    fn lowerdir_lists_the_top_layer_first() {
        let o = options(
            &paths(&["/l/bottom", "/l/mid", "/l/top"]),
            Path::new("/u"),
            Path::new("/w"),
            Path::new("/t"),
            4096,
        )
        .unwrap();
        assert_eq!(o, "lowerdir=/l/top:/l/mid:/l/bottom,upperdir=/u,workdir=/w");
        let twice = options(
            &paths(&["/l/empty", "/l/a", "/l/empty"]),
            Path::new("/u"),
            Path::new("/w"),
            Path::new("/t"),
            4096,
        )
        .unwrap();
        assert_eq!(twice, "lowerdir=/l/empty:/l/a,upperdir=/u,workdir=/w");
        let one = options(
            &paths(&["/l/only"]),
            Path::new("/u"),
            Path::new("/w"),
            Path::new("/t"),
            4096,
        )
        .unwrap();
        assert_eq!(one, "lowerdir=/l/only,upperdir=/u,workdir=/w");
    }

    #[test]
    fn options_longer_than_a_page_are_refused() {
        let lowers: Vec<PathBuf> = (0..50)
            .map(|i| PathBuf::from(format!("/{i:03}{}", "x".repeat(96))))
            .collect();
        let e = options(
            &lowers,
            Path::new("/u"),
            Path::new("/w"),
            Path::new("/t"),
            4096,
        )
        .unwrap_err();
        assert!(
            matches!(
                e,
                Error::OptionsTooLong {
                    layers: 50,
                    page_size: 4096,
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("/t"), "{e}");
        // Exactly one byte short of a page (room for the NUL) still fits.
        let fixed = "lowerdir=,upperdir=/u,workdir=/w".len();
        let fits = format!("/{}", "y".repeat(4095 - fixed - 1));
        assert!(options(
            &[PathBuf::from(&fits)],
            Path::new("/u"),
            Path::new("/w"),
            Path::new("/t"),
            4096
        )
        .is_ok());
        let over = format!("/{}", "y".repeat(4096 - fixed - 1));
        assert!(options(
            &[PathBuf::from(&over)],
            Path::new("/u"),
            Path::new("/w"),
            Path::new("/t"),
            4096
        )
        .is_err());
    }

    #[test]
    fn separators_in_paths_and_empty_lowers_are_refused() {
        for bad in ["/a:b", "/a,b", "/a\\b"] {
            let e = options(
                &paths(&[bad]),
                Path::new("/u"),
                Path::new("/w"),
                Path::new("/t"),
                4096,
            )
            .unwrap_err();
            assert!(matches!(e, Error::BadPath { .. }), "{bad}: {e}");
            assert!(e.to_string().contains(bad), "{e}");
        }
        let e = options(
            &paths(&["/l"]),
            Path::new("/u:x"),
            Path::new("/w"),
            Path::new("/t"),
            4096,
        )
        .unwrap_err();
        assert!(matches!(e, Error::BadPath { .. }));
        assert!(matches!(
            options(&[], Path::new("/u"), Path::new("/w"), Path::new("/t"), 4096),
            Err(Error::NoLayers { .. })
        ));
    }
}
