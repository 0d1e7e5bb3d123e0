//! `spec.volumes` and each container's `volumeMounts`.
//!
//! podrt supports `emptyDir` and `hostPath` (DESIGN.md P6); any other source
//! is refused rather than ignored, because a container started without the
//! data it expects fails in confusing ways. `hostPath` types that require an
//! existing file are checked on this host now, before anything is created.

use std::collections::HashSet;
use std::os::unix::fs::FileTypeExt;
use std::path::{Component, Path, PathBuf};

use k8s_openapi::api::core::v1::{EmptyDirVolumeSource, HostPathVolumeSource, Volume, VolumeMount};

use super::names;
use super::quantity;
use super::report::{FieldPath, Report};
use super::valid::{HostPathType, PodVolume, PodVolumeSource};

const SUPPORTED: &str = "supported volume types: emptyDir, hostPath";

/// Validates `spec.volumes`; returns the volumes podrt will make (those whose
/// source is valid) and records every problem in `report`.
pub(super) fn validate_volumes(volumes: &[Volume], report: &mut Report) -> Vec<PodVolume> {
    let base = FieldPath::root("spec").key("volumes");
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, volume) in volumes.iter().enumerate() {
        let path = base.index(i);
        let name_path = path.key("name");
        if volume.name.is_empty() {
            report.required(&name_path);
        } else if let Err(e) = names::dns1123_label(&volume.name) {
            report.invalid(&name_path, &volume.name, &e);
        } else if !seen.insert(volume.name.as_str()) {
            report.duplicate(&name_path, &volume.name);
        }
        if let Some(source) = source(volume, &path, report) {
            out.push(PodVolume {
                name: volume.name.clone(),
                source,
            });
        }
    }
    out
}

/// The one source of a volume; none set means `emptyDir`, as Kubernetes
/// defaults it.
fn source(volume: &Volume, path: &FieldPath, report: &mut Report) -> Option<PodVolumeSource> {
    let set = set_sources(volume);
    if let Some(second) = set.get(1) {
        report.forbidden(&path.key(second), "may not specify more than 1 volume type");
        return None;
    }
    if let Some(dir) = &volume.empty_dir {
        return empty_dir(dir, &path.key("emptyDir"), report);
    }
    if let Some(host) = &volume.host_path {
        return host_path(host, &path.key("hostPath"), report);
    }
    if let Some(other) = set.first() {
        report.forbidden(
            &path.key(other),
            &format!("{other} volumes are not supported by podrt; {SUPPORTED}"),
        );
        return None;
    }
    Some(PodVolumeSource::EmptyDir {
        memory: false,
        size_limit: None,
    })
}

/// The names of the sources set on a volume, in Kubernetes' spelling.
pub(crate) fn set_sources(v: &Volume) -> Vec<&'static str> {
    let sources: [(&str, bool); 30] = [
        ("awsElasticBlockStore", v.aws_elastic_block_store.is_some()),
        ("azureDisk", v.azure_disk.is_some()),
        ("azureFile", v.azure_file.is_some()),
        ("cephfs", v.cephfs.is_some()),
        ("cinder", v.cinder.is_some()),
        ("configMap", v.config_map.is_some()),
        ("csi", v.csi.is_some()),
        ("downwardAPI", v.downward_api.is_some()),
        ("emptyDir", v.empty_dir.is_some()),
        ("ephemeral", v.ephemeral.is_some()),
        ("fc", v.fc.is_some()),
        ("flexVolume", v.flex_volume.is_some()),
        ("flocker", v.flocker.is_some()),
        ("gcePersistentDisk", v.gce_persistent_disk.is_some()),
        ("gitRepo", v.git_repo.is_some()),
        ("glusterfs", v.glusterfs.is_some()),
        ("hostPath", v.host_path.is_some()),
        ("image", v.image.is_some()),
        ("iscsi", v.iscsi.is_some()),
        ("nfs", v.nfs.is_some()),
        ("persistentVolumeClaim", v.persistent_volume_claim.is_some()),
        ("photonPersistentDisk", v.photon_persistent_disk.is_some()),
        ("portworxVolume", v.portworx_volume.is_some()),
        ("projected", v.projected.is_some()),
        ("quobyte", v.quobyte.is_some()),
        ("rbd", v.rbd.is_some()),
        ("scaleIO", v.scale_io.is_some()),
        ("secret", v.secret.is_some()),
        ("storageos", v.storageos.is_some()),
        ("vsphereVolume", v.vsphere_volume.is_some()),
    ];
    sources
        .into_iter()
        .filter(|(_, set)| *set)
        .map(|(name, _)| name)
        .collect()
}

fn empty_dir(
    dir: &EmptyDirVolumeSource,
    path: &FieldPath,
    report: &mut Report,
) -> Option<PodVolumeSource> {
    let memory = match dir.medium.as_deref().unwrap_or("") {
        "" => false,
        "Memory" => true,
        other => {
            report.unsupported(&path.key("medium"), other, &["", "Memory"]);
            return None;
        }
    };
    let size_limit = match &dir.size_limit {
        Some(q) => match quantity::parse_bytes(&q.0) {
            Ok(bytes) => Some(bytes),
            Err(e) => {
                report.invalid(&path.key("sizeLimit"), &q.0, &e);
                return None;
            }
        },
        None => None,
    };
    Some(PodVolumeSource::EmptyDir { memory, size_limit })
}

fn host_path(
    host: &HostPathVolumeSource,
    path: &FieldPath,
    report: &mut Report,
) -> Option<PodVolumeSource> {
    let path_field = path.key("path");
    let type_field = path.key("type");
    let kind = match HostPathType::parse(host.type_.as_deref().unwrap_or("")) {
        Some(kind) => kind,
        None => {
            let value = host.type_.as_deref().unwrap_or("");
            report.unsupported(&type_field, value, &HostPathType::NAMES);
            return None;
        }
    };
    if host.path.is_empty() {
        report.required(&path_field);
        return None;
    }
    if let Err(e) = absolute_without_backsteps(&host.path) {
        report.invalid(&path_field, &host.path, e);
        return None;
    }
    if let Err(problem) = check_host(Path::new(&host.path), kind) {
        match problem {
            HostProblem::Missing => report.not_found(
                &path_field,
                &host.path,
                Some(&format!(" (type {})", kind.as_str())),
            ),
            HostProblem::Other(detail) => report.invalid(
                &path_field,
                &host.path,
                &format!("{detail} (type {})", kind.as_str()),
            ),
        }
        return None;
    }
    Some(PodVolumeSource::HostPath {
        path: PathBuf::from(&host.path),
        kind,
    })
}

/// Why a host path does not fit its `hostPath.type`.
enum HostProblem {
    Missing,
    Other(String),
}

/// Checks what is on the host at `path` against `kind`, as kubelet does just
/// before mounting; podrt does it before creating anything.
fn check_host(path: &Path, kind: HostPathType) -> Result<(), HostProblem> {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return if kind.must_exist() {
                Err(HostProblem::Missing)
            } else {
                Ok(())
            };
        }
        Err(e) => return Err(HostProblem::Other(format!("cannot be inspected: {e}"))),
    };
    let t = meta.file_type();
    let (ok, what) = match kind {
        HostPathType::Unset => (true, ""),
        HostPathType::Directory | HostPathType::DirectoryOrCreate => (t.is_dir(), "a directory"),
        HostPathType::File | HostPathType::FileOrCreate => (t.is_file(), "a regular file"),
        HostPathType::Socket => (t.is_socket(), "a socket"),
        HostPathType::CharDevice => (t.is_char_device(), "a character device"),
        HostPathType::BlockDevice => (t.is_block_device(), "a block device"),
    };
    if ok {
        Ok(())
    } else {
        Err(HostProblem::Other(format!("exists but is not {what}")))
    }
}

/// Validates each `volumeMounts` entry of one container against the pod's
/// volume names.
pub(super) fn validate_mounts(
    mounts: &[VolumeMount],
    container: &FieldPath,
    volume_names: &HashSet<&str>,
    report: &mut Report,
) {
    let mut mount_paths = HashSet::new();
    for (i, mount) in mounts.iter().enumerate() {
        let path = container.key("volumeMounts").index(i);
        let name_field = path.key("name");
        if mount.name.is_empty() {
            report.required(&name_field);
        } else if !volume_names.contains(mount.name.as_str()) {
            report.not_found(&name_field, &mount.name, None);
        }
        let mount_field = path.key("mountPath");
        if mount.mount_path.is_empty() {
            report.required(&mount_field);
        } else if !mount.mount_path.starts_with('/') {
            report.invalid(&mount_field, &mount.mount_path, "must be an absolute path");
        } else if !mount_paths.insert(mount.mount_path.trim_end_matches('/')) {
            report.invalid(&mount_field, &mount.mount_path, "must be unique");
        }
        sub_path(mount, &path, report);
        options(mount, &path, report);
    }
}

fn sub_path(mount: &VolumeMount, path: &FieldPath, report: &mut Report) {
    let sub = mount.sub_path.as_deref().unwrap_or("");
    let expr = mount.sub_path_expr.as_deref().unwrap_or("");
    if !sub.is_empty() {
        if sub.starts_with('/') {
            report.invalid(&path.key("subPath"), sub, "must be a relative path");
        } else if has_backsteps(sub) {
            report.invalid(&path.key("subPath"), sub, "must not contain '..'");
        }
    }
    if !expr.is_empty() {
        if !sub.is_empty() {
            report.invalid(
                &path.key("subPathExpr"),
                expr,
                "subPathExpr and subPath are mutually exclusive",
            );
        } else {
            report.forbidden(
                &path.key("subPathExpr"),
                "not supported by podrt; use subPath",
            );
        }
    }
}

fn options(mount: &VolumeMount, path: &FieldPath, report: &mut Report) {
    match mount.mount_propagation.as_deref() {
        None | Some("None") => {}
        Some("HostToContainer") | Some("Bidirectional") => {
            report.ignored(&path.key("mountPropagation"))
        }
        Some(other) => report.unsupported(
            &path.key("mountPropagation"),
            other,
            &["None", "HostToContainer", "Bidirectional"],
        ),
    }
    match mount.recursive_read_only.as_deref() {
        None | Some("Disabled") => {}
        Some(_) => report.ignored(&path.key("recursiveReadOnly")),
    }
}

fn absolute_without_backsteps(p: &str) -> Result<(), &'static str> {
    if !p.starts_with('/') {
        Err("must be an absolute path")
    } else if has_backsteps(p) {
        Err("must not contain '..'")
    } else {
        Ok(())
    }
}

fn has_backsteps(p: &str) -> bool {
    Path::new(p).components().any(|c| c == Component::ParentDir)
}
