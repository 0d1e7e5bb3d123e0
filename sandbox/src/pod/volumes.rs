//! The pod's volumes (`spec.volumes`) and how they appear in each container
//! (`volumeMounts`). An `emptyDir` is a directory in the pod's state (a tmpfs with
//! `medium: Memory`) living as long as the pod; a `hostPath` is the host's own path,
//! checked or created per its `type` as kubelet does. Each mount is a bind mount in
//! the container's spec, read-only when asked, narrowed by `subPath`.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

use k8s_openapi::api::core::v1::{Container, PodSpec, Volume};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use oci_spec::runtime::{Mount, MountBuilder};

use super::pinned_path;
use crate::error::{Error, Result};
use crate::state::paths::PodPaths;
use crate::state::record::PreparedVolume;

/// Make every volume of the pod ready: emptyDirs created (tmpfs mounted), hostPaths
/// checked or created. On failure, what was made is undone.
pub(crate) fn prepare(spec: &PodSpec, paths: &PodPaths) -> Result<Vec<PreparedVolume>> {
    let mut done = Vec::new();
    let fs_group = spec
        .security_context
        .as_ref()
        .and_then(|s| s.fs_group)
        .and_then(|g| u32::try_from(g).ok());
    for (i, v) in spec.volumes.iter().flatten().enumerate() {
        match prepare_one(v, i, paths, fs_group) {
            Ok(p) => done.push(p),
            Err(e) => {
                release(&done);
                return Err(e);
            }
        }
    }
    Ok(done)
}

/// Unmount podrt's tmpfs volumes (emptyDir contents go with the pod directory;
/// hostPaths are the host's and stay).
pub(crate) fn release(volumes: &[PreparedVolume]) {
    for v in volumes.iter().filter(|v| v.tmpfs) {
        let _ = umount2(&v.host_path, MntFlags::MNT_DETACH);
    }
    for pin in volumes.iter().filter_map(|v| v.pinned.as_ref()) {
        let _ = umount2(pin, MntFlags::MNT_DETACH);
    }
}

fn prepare_one(
    v: &Volume,
    i: usize,
    paths: &PodPaths,
    fs_group: Option<u32>,
) -> Result<PreparedVolume> {
    let field = format!("spec.volumes[{i}]");
    if let Some(empty) = &v.empty_dir {
        let dir = paths.volume(&v.name);
        podrt_runtime::private_fs::create_dir_all(&dir)
            .map_err(|e| Error::io("creating emptyDir", &dir, e))?;
        let memory = empty.medium.as_deref() == Some("Memory");
        if memory {
            let size = match &empty.size_limit {
                Some(q) => Some(crate::manifest::quantity::parse_memory(&q.0).map_err(|m| {
                    Error::Unsupported {
                        field: format!("{field}.emptyDir.sizeLimit"),
                        message: m,
                    }
                })?),
                None => None,
            };
            mount_tmpfs(&dir, size)?;
        }
        if let Err(e) = share_with_pod(&dir, fs_group) {
            if memory {
                let _ = umount2(&dir, MntFlags::MNT_DETACH);
            }
            return Err(e);
        }
        return Ok(PreparedVolume {
            name: v.name.clone(),
            host_path: dir,
            tmpfs: memory,
            pinned: None,
        });
    }
    if let Some(hp) = &v.host_path {
        let path = PathBuf::from(&hp.path);
        let fd = ensure_host_path(&path, hp.type_.as_deref().unwrap_or(""), &field)?;
        let pin = paths.volume(&v.name);
        pinned_path::pin(&fd, &pin)?;
        return Ok(PreparedVolume {
            name: v.name.clone(),
            host_path: path,
            tmpfs: false,
            pinned: Some(pin),
        });
    }
    Err(Error::Unsupported {
        field,
        message: format!(
            "volume {:?} has no source podrt supports (emptyDir, hostPath)",
            v.name
        ),
    })
}

/// An emptyDir is writable by every user of the pod, as kubelet makes it (0777);
/// with `fsGroup` it belongs to that group and new files inherit it (setgid).
fn share_with_pod(dir: &Path, fs_group: Option<u32>) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut mode = 0o777;
    if let Some(gid) = fs_group {
        std::os::unix::fs::chown(dir, None, Some(gid))
            .map_err(|e| Error::io("giving the fsGroup to emptyDir", dir, e))?;
        mode |= 0o2000;
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))
        .map_err(|e| Error::io("setting the mode of emptyDir", dir, e))
}

fn mount_tmpfs(dir: &Path, size: Option<u64>) -> Result<()> {
    let data = match size {
        Some(bytes) => format!("mode=0777,size={bytes}"),
        None => "mode=0777".to_string(),
    };
    mount(
        Some("tmpfs"),
        dir,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some(data.as_str()),
    )
    .map_err(|e| Error::io("mounting tmpfs on", dir, e.into()))
}

/// Check or create a hostPath per its `type`, with kubelet's meaning of each, and
/// return the descriptor the check was made on: the object containers will get,
/// whatever happens to the path afterwards.
fn ensure_host_path(path: &Path, typ: &str, field: &str) -> Result<OwnedFd> {
    let missing = |kind: &str| Error::Unsupported {
        field: format!("{field}.hostPath.path"),
        message: format!("{} is not {kind} on this host", path.display()),
    };
    let want: Option<(u32, &str)> = match typ {
        "" => None,
        "DirectoryOrCreate" | "Directory" => Some((libc::S_IFDIR, "a directory")),
        "FileOrCreate" | "File" => Some((libc::S_IFREG, "a file")),
        "Socket" => Some((libc::S_IFSOCK, "a socket")),
        "CharDevice" => Some((libc::S_IFCHR, "a character device")),
        "BlockDevice" => Some((libc::S_IFBLK, "a block device")),
        other => {
            return Err(Error::Unsupported {
                field: format!("{field}.hostPath.type"),
                message: format!("unknown type {other:?}"),
            })
        }
    };
    let fd = match pinned_path::open_host(path) {
        Ok(fd) => fd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            match typ {
                "DirectoryOrCreate" => {
                    std::fs::DirBuilder::new()
                        .recursive(true)
                        .create(path)
                        .map_err(|e| Error::io("creating hostPath directory", path, e))?;
                    std::fs::set_permissions(
                        path,
                        std::os::unix::fs::PermissionsExt::from_mode(0o755),
                    )
                    .map_err(|e| Error::io("setting mode 0755 on", path, e))?;
                }
                "FileOrCreate" => {
                    std::fs::OpenOptions::new()
                        .create(true)
                        .truncate(false)
                        .write(true)
                        .mode(0o644)
                        .open(path)
                        .map(drop)
                        .map_err(|e| Error::io("creating hostPath file", path, e))?;
                }
                "" => {
                    return Err(Error::Unsupported {
                        field: format!("{field}.hostPath.path"),
                        message: format!("{} does not exist on this host", path.display()),
                    })
                }
                _ => return Err(missing(want.map_or("there", |w| w.1))),
            }
            pinned_path::open_host(path).map_err(|e| Error::io("opening hostPath", path, e))?
        }
        Err(e) => return Err(Error::io("opening hostPath", path, e)),
    };
    if let Some((mode, kind)) = want {
        let (actual, _) = pinned_path::stat(fd.as_raw_fd())
            .map_err(|e| Error::io("inspecting hostPath", path, e))?;
        if actual & libc::S_IFMT != mode {
            return Err(missing(kind));
        }
    }
    Ok(fd)
}

/// The bind mounts of `container`'s `volumeMounts` (the container is at `field`,
/// e.g. `spec.containers[0]`).
///
/// A `subPath` is opened inside its volume once, and that very object is pinned
/// at `subpaths/<index>` under `pins` (the container's directory); the container
/// mounts the pin. With `idmap` (a pod in its own user namespace) every bind is
/// idmapped with that namespace, so the pod's root owns what the host's root owns
/// and what it writes is the host root's: nothing is ever chowned.
pub(crate) fn mounts_for(
    container: &Container,
    field: &str,
    volumes: &[PreparedVolume],
    pins: &Path,
    idmap: bool,
) -> Result<Vec<Mount>> {
    let mut out = Vec::new();
    for (i, vm) in container.volume_mounts.iter().flatten().enumerate() {
        let at = format!("{field}.volumeMounts[{i}]");
        let vol = volumes
            .iter()
            .find(|v| v.name == vm.name)
            .ok_or_else(|| Error::Unsupported {
                field: format!("{at}.name"),
                message: format!("no volume {:?} in spec.volumes", vm.name),
            })?;
        let source = match vm.sub_path.as_deref().filter(|s| !s.is_empty()) {
            Some(sub) => {
                let fd = sub_path(vol.source(), sub, &format!("{at}.subPath"))?;
                let pin = pins.join("subpaths").join(i.to_string());
                pinned_path::pin(&fd, &pin)?;
                pin
            }
            None => vol.source().to_path_buf(),
        };
        let mut options = vec!["rbind".to_string()];
        if idmap {
            options.push("idmap".into());
        }
        if vm.read_only == Some(true) {
            options.push("ro".into());
        }
        let m = MountBuilder::default()
            .destination(&vm.mount_path)
            .typ("bind")
            .source(source)
            .options(options)
            .build()
            .map_err(|e| Error::Unsupported {
                field: format!("{at}.mountPath"),
                message: e.to_string(),
            })?;
        out.push(m);
    }
    Ok(out)
}

/// Open `sub` inside `base`, creating it as a directory if missing (as kubelet
/// does) and refusing anything that leaves the volume, through `..` or a symlink.
fn sub_path(base: &Path, sub: &str, field: &str) -> Result<OwnedFd> {
    let rel = Path::new(sub);
    if rel.is_absolute() || rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return Err(Error::Unsupported {
            field: field.into(),
            message: format!("{sub:?} must be a relative path without '..'"),
        });
    }
    let base_fd = pinned_path::open_host(base).map_err(|e| Error::io("opening volume", base, e))?;
    pinned_path::open_beneath(&base_fd, base, sub, field)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_path_stays_inside_its_volume() {
        let dir = std::env::temp_dir().join(format!("podrt-subpath-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::os::unix::fs::symlink("/etc", dir.join("escape")).unwrap();
        let fd = sub_path(&dir, "a/b", "f").unwrap();
        let at = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap();
        assert_eq!(at, dir.join("a/b"));
        assert!(sub_path(&dir, "../x", "f").is_err());
        assert!(sub_path(&dir, "/abs", "f").is_err());
        let err = sub_path(&dir, "escape", "f").unwrap_err().to_string();
        assert!(err.contains("outside"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
