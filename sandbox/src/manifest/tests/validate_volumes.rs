//! Volume and volumeMount rules, including the host checks of `hostPath`.

use std::path::{Path, PathBuf};

use super::*;
use crate::manifest::valid::{HostPathType, PodVolume, PodVolumeSource};

/// A pod with one container mounting nothing and these volumes.
fn volumes(list: &str) -> String {
    format!("containers:\n{}volumes:\n{list}", container("c", ""))
}

/// A pod whose container has these mounts, with volumes `data` and `cache`.
fn mounts(list: &str) -> String {
    format!(
        "containers:\n\
            {}volumes:\n\
            - {{name: data, emptyDir: {{}}}}\n\
            - {{name: cache, emptyDir: {{}}}}\n",
        container("c", &format!("volumeMounts:\n{list}"))
    )
}

/// A temporary directory removed when dropped, even if the test fails.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("podrt-manifest-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn host_path(path: &Path, kind: &str) -> String {
    volumes(&format!(
        "- name: h\n  hostPath: {{path: \"{}\", type: \"{kind}\"}}\n",
        path.display()
    ))
}

#[test]
fn supported_volumes_are_returned() {
    let tmp = TempDir::new();
    let spec = volumes(&format!(
        "- {{name: a, emptyDir: {{}}}}\n\
            - {{name: b, emptyDir: {{medium: Memory, sizeLimit: 64Mi}}}}\n\
            - {{name: c, hostPath: {{path: \"{}\", type: Directory}}}}\n\
            - {{name: d}}\n",
        tmp.0.display()
    ));
    let pod = check(&spec).expect("valid");
    assert_eq!(
        pod.volumes,
        [
            PodVolume {
                name: "a".into(),
                source: PodVolumeSource::EmptyDir {
                    memory: false,
                    size_limit: None
                }
            },
            PodVolume {
                name: "b".into(),
                source: PodVolumeSource::EmptyDir {
                    memory: true,
                    size_limit: Some(64 << 20)
                }
            },
            PodVolume {
                name: "c".into(),
                source: PodVolumeSource::HostPath {
                    path: tmp.0.clone(),
                    kind: HostPathType::Directory
                }
            },
            // No source: an emptyDir, as Kubernetes defaults it.
            PodVolume {
                name: "d".into(),
                source: PodVolumeSource::EmptyDir {
                    memory: false,
                    size_limit: None
                }
            },
        ]
    );
}

#[test]
fn volume_names_are_unique_labels() {
    let spec = volumes(
        "- {name: data, emptyDir: {}}\n\
        - {name: data, emptyDir: {}}\n\
        - {name: Data, emptyDir: {}}\n\
        - {emptyDir: {}}\n",
    );
    expect_error(&spec, "spec.volumes[1].name", "Duplicate value: \"data\"");
    expect_error_start(
        &spec,
        "spec.volumes[2].name",
        "Invalid value: \"Data\": a lowercase RFC 1123 label",
    );
    expect_error(&spec, "spec.volumes[3].name", "Required value");
}

#[test]
fn one_source_per_volume() {
    expect_error(
        &volumes("- {name: v, emptyDir: {}, hostPath: {path: /tmp}}\n"),
        "spec.volumes[0].hostPath",
        "Forbidden: may not specify more than 1 volume type",
    );
}

#[test]
fn unsupported_sources_are_refused() {
    let spec = volumes(
        "- {name: cfg, configMap: {name: c}}\n\
        - {name: s, secret: {secretName: s}}\n\
        - {name: p, persistentVolumeClaim: {claimName: x}}\n",
    );
    expect_error(
        &spec,
        "spec.volumes[0].configMap",
        "Forbidden: configMap volumes are not supported by podrt; supported volume types: emptyDir, hostPath",
    );
    expect_error_start(
        &spec,
        "spec.volumes[1].secret",
        "Forbidden: secret volumes are not supported",
    );
    expect_error_start(
        &spec,
        "spec.volumes[2].persistentVolumeClaim",
        "Forbidden: ",
    );
}

#[test]
fn empty_dir_fields() {
    let spec =
        volumes("- {name: a, emptyDir: {sizeLimit: 1Gb}}\n- {name: b, emptyDir: {medium: Disk}}\n");
    expect_error_start(
        &spec,
        "spec.volumes[0].emptyDir.sizeLimit",
        "Invalid value: \"1Gb\": quantities must match",
    );
    expect_error(
        &spec,
        "spec.volumes[1].emptyDir.medium",
        "Unsupported value: \"Disk\": supported values: \"\", \"Memory\"",
    );
}

#[test]
fn host_path_must_be_absolute_and_typed() {
    let spec = volumes(
        "- {name: a, hostPath: {path: data}}\n\
        - {name: b, hostPath: {path: /x/../etc}}\n\
        - {name: c, hostPath: {path: /tmp, type: Folder}}\n\
        - {name: d, hostPath: {path: \"\"}}\n",
    );
    expect_error(
        &spec,
        "spec.volumes[0].hostPath.path",
        "Invalid value: \"data\": must be an absolute path",
    );
    expect_error(
        &spec,
        "spec.volumes[1].hostPath.path",
        "Invalid value: \"/x/../etc\": must not contain '..'",
    );
    expect_error_start(
        &spec,
        "spec.volumes[2].hostPath.type",
        "Unsupported value: \"Folder\": supported values: \"\", \"DirectoryOrCreate\"",
    );
    expect_error(&spec, "spec.volumes[3].hostPath.path", "Required value");
}

#[test]
fn host_path_types_are_checked_on_the_host() {
    let tmp = TempDir::new();
    let missing = tmp.0.join("nope");
    let file = tmp.0.join("file");
    std::fs::write(&file, "x").expect("write");
    let socket = tmp.0.join("sock");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).expect("bind socket");
    let field = "spec.volumes[0].hostPath.path";

    expect_error(
        &host_path(&missing, "Directory"),
        field,
        &format!("Not found: \"{}\" (type Directory)", missing.display()),
    );
    for kind in ["File", "Socket", "CharDevice", "BlockDevice"] {
        expect_error_start(&host_path(&missing, kind), field, "Not found: ");
    }
    for kind in ["", "DirectoryOrCreate", "FileOrCreate"] {
        assert!(
            check(&host_path(&missing, kind)).is_ok(),
            "{kind} may be missing"
        );
    }
    expect_error(
        &host_path(&file, "Directory"),
        field,
        &format!(
            "Invalid value: \"{}\": exists but is not a directory (type Directory)",
            file.display()
        ),
    );
    expect_error_start(&host_path(&tmp.0, "FileOrCreate"), field, "Invalid value: ");
    expect_error_start(&host_path(&file, "Socket"), field, "Invalid value: ");
    expect_error_start(&host_path(&tmp.0, "BlockDevice"), field, "Invalid value: ");
    assert!(check(&host_path(&file, "File")).is_ok());
    assert!(check(&host_path(&socket, "Socket")).is_ok());
    assert!(check(&host_path(Path::new("/dev/null"), "CharDevice")).is_ok());
    expect_error_start(
        &host_path(Path::new("/dev/null"), "File"),
        field,
        "Invalid value: ",
    );
}

#[test]
fn mounts_reference_volumes() {
    let spec = mounts(
        "- {name: data, mountPath: /data}\n- {name: logs, mountPath: /logs}\n- {mountPath: /x}\n",
    );
    expect_error(
        &spec,
        "spec.containers[0].volumeMounts[1].name",
        "Not found: \"logs\"",
    );
    expect_error(
        &spec,
        "spec.containers[0].volumeMounts[2].name",
        "Required value",
    );
    assert!(check(&mounts(
        "- {name: data, mountPath: /data, readOnly: true}\n"
    ))
    .is_ok());
}

#[test]
fn mount_paths_are_absolute_and_unique() {
    let spec = mounts(
        "- {name: data, mountPath: /data}\n\
        - {name: cache, mountPath: /data/}\n\
        - {name: cache, mountPath: cache}\n\
        - {name: cache}\n",
    );
    expect_error(
        &spec,
        "spec.containers[0].volumeMounts[1].mountPath",
        "Invalid value: \"/data/\": must be unique",
    );
    expect_error(
        &spec,
        "spec.containers[0].volumeMounts[2].mountPath",
        "Invalid value: \"cache\": must be an absolute path",
    );
    expect_error(
        &spec,
        "spec.containers[0].volumeMounts[3].mountPath",
        "Required value",
    );
    // The same path in two containers is fine.
    let two = format!(
        "containers:\n{}{}volumes:\n- {{name: data}}\n",
        container("a", "volumeMounts: [{name: data, mountPath: /data}]"),
        container("b", "volumeMounts: [{name: data, mountPath: /data}]"),
    );
    assert!(check(&two).is_ok());
}

#[test]
fn sub_paths() {
    let spec = mounts(
        "- {name: data, mountPath: /a, subPath: /abs}\n\
            - {name: data, mountPath: /b, subPath: x/../../etc}\n\
            - {name: data, mountPath: /c, subPath: x, subPathExpr: $(POD)}\n\
            - {name: data, mountPath: /d, subPath: logs/app}\n",
    );
    let vm = "spec.containers[0].volumeMounts";
    expect_error(
        &spec,
        &format!("{vm}[0].subPath"),
        "Invalid value: \"/abs\": must be a relative path",
    );
    expect_error(
        &spec,
        &format!("{vm}[1].subPath"),
        "Invalid value: \"x/../../etc\": must not contain '..'",
    );
    expect_error(
        &spec,
        &format!("{vm}[2].subPathExpr"),
        "Invalid value: \"$(POD)\": subPathExpr and subPath are mutually exclusive",
    );
    let err = check(&spec).unwrap_err();
    assert!(!err.has(&format!("{vm}[3].subPath")), "{err}");
}

#[test]
fn mount_propagation_is_a_warning() {
    let spec = mounts("- {name: data, mountPath: /a, mountPropagation: HostToContainer}\n");
    assert_eq!(
        warnings(&spec),
        ["spec.containers[0].volumeMounts[0].mountPropagation: not supported by podrt yet, ignored"]
    );
    expect_error_start(
        &mounts("- {name: data, mountPath: /a, mountPropagation: Sideways}\n"),
        "spec.containers[0].volumeMounts[0].mountPropagation",
        "Unsupported value: \"Sideways\"",
    );
}
