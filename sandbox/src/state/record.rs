//! What podrt keeps about a pod in `pod.json`: the manifest as applied, the ids it
//! gave the pod and its containers, and the processes it must be able to find again.
//! Status is not stored here: it is derived on each read from the kernel and the
//! supervisor's container states ([`crate::lifecycle::status`]), so a crash never leaves a stale one.

use std::io::Write;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::Pod;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::cni::{CniResult, NetworkList};
use crate::error::{Error, Result};
use crate::manifest::PodSettings;
use crate::proc::identity::ProcRef;

/// Version of the `pod.json` layout.
pub(crate) const RECORD_VERSION: u32 = 1;

/// Where the pod is in its life, as far as podrt's own steps go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum PodStage {
    /// `apply` is still building it.
    Creating,
    /// Every container was started.
    Created,
    /// `delete` has begun.
    Deleting,
    /// A kubelet pod's `StopPodSandbox` has run: nothing of it runs, and it
    /// waits for `RemovePodSandbox` (nothing else removes it).
    Stopped,
}

/// One container of the pod.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerRecord {
    /// Its name in the manifest.
    pub(crate) name: String,
    /// The runtime's container id (also the CRI container id).
    pub(crate) id: String,
    /// An init container (runs to completion before the app containers).
    pub(crate) init: bool,
    /// The image as the manifest names it.
    pub(crate) image: String,
    /// The image's normalised name in the store.
    pub(crate) image_name: String,
    /// The image's config digest.
    pub(crate) image_id: String,
    /// When its process was started (RFC 3339).
    pub(crate) started_at: Option<String>,
}

/// A volume made ready on the host ([`crate::pod::volumes`]).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct PreparedVolume {
    /// `spec.volumes[].name`.
    pub(crate) name: String,
    /// The host path containers bind-mount.
    pub(crate) host_path: PathBuf,
    /// podrt made a tmpfs there, to unmount at deletion.
    pub(crate) tmpfs: bool,
    /// A hostPath as it was found (and type-checked) at creation, bind-mounted here
    /// in the pod's directory; containers mount this, never the path again.
    #[serde(default)]
    pub(crate) pinned: Option<PathBuf>,
}

impl PreparedVolume {
    /// What containers bind-mount.
    pub(crate) fn source(&self) -> &Path {
        self.pinned.as_deref().unwrap_or(&self.host_path)
    }
}

/// What a pod's record holds of its network (made and undone by
/// [`crate::network::attachment`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PodNetwork {
    /// The network config ADD ran; DEL runs the same.
    pub(crate) list: NetworkList,
    /// Plugin dirs ADD searched.
    pub(crate) bin_dirs: Vec<PathBuf>,
    /// The interface in the pod (`eth0`).
    pub(crate) ifname: String,
    /// Capability arguments given to the plugins (`portMappings`).
    #[serde(default)]
    pub(crate) capability_args: Map<String, Value>,
    /// ADD's result, once it succeeded.
    #[serde(default)]
    pub(crate) result: Option<CniResult>,
}

/// A pod's own user namespace ([`crate::userns`]): host ids `first..first + size`, which are ids `0..size` in the pod's user
/// namespace (the same range for uids and gids).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct IdRange {
    /// The host id of the pod's uid and gid 0.
    pub(crate) first: u32,
    /// How many ids: always 65536 (`userns::RANGE_SIZE`).
    pub(crate) size: u32,
}

impl IdRange {
    /// The line of `uid_map` and `gid_map` mapping the range (`0 FIRST SIZE`).
    pub(crate) fn map_line(&self) -> String {
        format!("0 {} {}\n", self.first, self.size)
    }
}

/// A range a pod took: its index in the table and its ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Allocation {
    /// The range's index (the name of its file in `<root>/userns/`).
    pub(crate) index: u32,
    /// The ids.
    pub(crate) range: IdRange,
}

/// The contents of `pod.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodRecord {
    /// Layout version ([`RECORD_VERSION`]).
    pub(crate) version: u32,
    /// The pod's UID (new for every pod).
    pub uid: String,
    /// Pod name.
    pub name: String,
    /// Pod namespace (`metadata.namespace`, `default` when unset); names are
    /// unique per namespace.
    pub namespace: String,
    /// Creation time (RFC 3339).
    pub(crate) created: String,
    /// The manifest as applied, name filled in.
    pub manifest: Pod,
    /// The pod-level values checked and defaulted at creation
    /// ([`crate::manifest::PodSettings`]); read them with [`Self::settings`].
    /// `None` only in a record written by a podrt that did not keep them:
    /// [`Self::load`] fills it in from the manifest.
    #[serde(default)]
    pub(crate) settings: Option<PodSettings>,
    /// The pod's hostname (pod name or `spec.hostname`).
    pub(crate) hostname: String,
    /// The pod's cgroup; each container's is below it.
    pub(crate) cgroup_parent: String,
    /// Where podrt is in making or removing the pod.
    pub(crate) stage: PodStage,
    /// When deletion began (RFC 3339).
    #[serde(default)]
    pub(crate) deletion_timestamp: Option<String>,
    /// The PID 1 of a shared PID namespace (`shareProcessNamespace`).
    #[serde(default)]
    pub(crate) pod_init: Option<ProcRef>,
    /// The pod's supervisor, the parent of its containers.
    #[serde(default)]
    pub(crate) supervisor: Option<ProcRef>,
    /// Containers made so far, init containers first.
    #[serde(default)]
    pub(crate) containers: Vec<ContainerRecord>,
    /// The pod's volumes as made on the host.
    #[serde(default)]
    pub(crate) volumes: Vec<PreparedVolume>,
    /// The pod's CNI attachment, recorded before ADD runs so that DEL can undo
    /// even a half-made one; `None` for a `hostNetwork` pod.
    #[serde(default)]
    pub(crate) network: Option<PodNetwork>,
    /// The security settings the pod was made under (its containers are made
    /// later, by processes that have no command line of their own).
    #[serde(default)]
    pub(crate) security: crate::security::SecurityOptions,
    /// The pod's own user namespace range (`hostUsers: false`), recorded as soon as
    /// it is allocated so deletion gives it back; `None` in the host's users.
    #[serde(default)]
    pub(crate) userns: Option<Allocation>,
    /// The image store the pod's layers come from (`--image-root`); `None` in a
    /// record written before the store had a place of its own: `<root>/images`.
    #[serde(default)]
    pub(crate) image_root: Option<PathBuf>,
    /// What kubelet said of the pod, for a pod made over the CRI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubelet: Option<super::kubelet_meta::KubeletPod>,
}

impl PodRecord {
    /// The supervisor recorded for the pod, if it is dead (a pod made through
    /// the library API records none: its caller is its supervisor).
    pub(crate) fn dead_supervisor(&self) -> Option<ProcRef> {
        self.supervisor.filter(|p| !p.alive())
    }

    /// The pod's checked settings (grace period, restart policy, host
    /// namespaces...).
    pub fn settings(&self) -> PodSettings {
        self.settings
            .unwrap_or_else(|| crate::manifest::settings_of(&self.manifest))
    }

    /// Read `pod.json`.
    pub(crate) fn load(path: &Path) -> Result<PodRecord> {
        let text = std::fs::read(path).map_err(|e| Error::io("reading", path, e))?;
        let mut record: PodRecord = serde_json::from_slice(&text).map_err(|e| Error::State {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        if record.version != RECORD_VERSION {
            return Err(Error::State {
                path: path.to_path_buf(),
                message: format!(
                    "layout version {} (this podrt reads {RECORD_VERSION})",
                    record.version
                ),
            });
        }
        record.settings = Some(record.settings());
        Ok(record)
    }

    /// Write `pod.json` atomically.
    pub(crate) fn save(&self, path: &Path) -> Result<()> {
        let data = serde_json::to_vec_pretty(self).map_err(|e| Error::State {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        write_atomic(path, &data)
    }

    /// The record of container `name`.
    pub(crate) fn container(&self, name: &str) -> Option<&ContainerRecord> {
        self.containers.iter().find(|c| c.name == name)
    }
}

/// Write `data` to a temporary file beside `path`, sync it and rename it over `path`,
/// so a reader sees the old or the new contents, never a mix. The file is root's
/// alone (0600).
pub(crate) fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    write_atomic_mode(path, data, podrt_runtime::private_fs::FILE_MODE)
}

/// [`write_atomic`] of a file with `mode`, for the few that others must read.
pub(crate) fn write_atomic_mode(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = podrt_runtime::private_fs::create_file(&tmp, mode)?;
        f.write_all(data)?;
        f.sync_data()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io("writing", path, e)
    })
}

/// Read a small JSON file written with [`write_atomic`]; `None` if it does not exist.
pub(crate) fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::State {
                path: path.to_path_buf(),
                message: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("reading", path, e)),
    }
}

#[cfg(test)]
mod settings_tests {
    use super::*;

    /// A record as written before podrt kept the checked settings: `load` gives
    /// it the settings its manifest says, and a save keeps them.
    #[test]
    fn a_record_without_settings_gets_them_from_its_manifest() {
        let manifest: Pod = serde_json::from_value(serde_json::json!({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "old"},
            "spec": {"hostNetwork": true, "restartPolicy": "Never",
                     "terminationGracePeriodSeconds": 3,
                     "containers": [{"name": "c", "image": "busybox"}]}
        }))
        .expect("a pod");
        let old = serde_json::json!({
            "version": RECORD_VERSION, "uid": "u", "name": "old", "namespace": "default",
            "created": "2026-01-01T00:00:00Z", "manifest": manifest, "hostname": "old",
            "cgroupParent": "/podrt/podu", "stage": "created"
        });
        let dir = std::env::temp_dir().join(format!("podrt-record-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("pod.json");
        std::fs::write(&path, old.to_string()).expect("write");
        let loaded = PodRecord::load(&path);
        let _ = std::fs::remove_dir_all(&dir);
        let record = loaded.expect("an old record loads");
        let settings = record.settings.expect("filled in by load");
        assert!(settings.host_network);
        assert_eq!(
            settings.restart_policy,
            crate::manifest::RestartPolicy::Never
        );
        assert_eq!(settings.grace_period(), std::time::Duration::from_secs(3));
        let again: PodRecord =
            serde_json::from_slice(&serde_json::to_vec(&record).expect("serialize"))
                .expect("deserialize");
        assert_eq!(again.settings, Some(settings));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::test_support::{container, record, TempDir};
    use serde_json::json;

    /// A record with every optional field set, as a pod with a network, a user
    /// namespace, volumes, a supervisor and a deletion under way has it.
    fn populated() -> PodRecord {
        let mut r = record(
            "web",
            "0b5a6f0e-8d43-4c1e-9b8e-2a7f5d1c3e4f",
            json!({"containers": [{"name": "app", "image": "busybox"}],
                   "initContainers": [{"name": "setup", "image": "busybox"}],
                   "terminationGracePeriodSeconds": 5}),
        );
        r.stage = PodStage::Deleting;
        r.deletion_timestamp = Some("2026-01-02T03:05:00Z".into());
        r.pod_init = Some(ProcRef {
            pid: 41,
            start_time: 1000,
        });
        r.supervisor = Some(ProcRef {
            pid: 40,
            start_time: 999,
        });
        r.containers = vec![
            container("setup", true, Some("2026-01-02T03:04:06Z")),
            container("app", false, None),
        ];
        r.volumes = vec![
            PreparedVolume {
                name: "cache".into(),
                host_path: "/run/podrt/pods/x/volumes/cache".into(),
                tmpfs: true,
                pinned: None,
            },
            PreparedVolume {
                name: "data".into(),
                host_path: "/srv/data".into(),
                tmpfs: false,
                pinned: Some("/run/podrt/pods/x/pins/data".into()),
            },
        ];
        let mut capability_args = Map::new();
        capability_args.insert(
            "portMappings".into(),
            json!([{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]),
        );
        r.network = Some(PodNetwork {
            list: NetworkList {
                name: "podrt".into(),
                cni_version: "1.0.0".into(),
                plugins: vec![json!({"type": "bridge", "ipam": {"type": "host-local"}})],
                source: Some("/etc/cni/net.d/10-podrt.conflist".into()),
            },
            bin_dirs: vec!["/opt/cni/bin".into()],
            ifname: "eth0".into(),
            capability_args,
            result: Some(
                CniResult::from_json(json!({
                    "cniVersion": "1.0.0",
                    "interfaces": [{"name": "eth0", "sandbox": "/run/podrt/pods/x/ns/net"}],
                    "ips": [{"address": "10.88.0.7/16", "gateway": "10.88.0.1", "interface": 0}]
                }))
                .expect("a valid CNI result"),
            ),
        });
        r.userns = Some(Allocation {
            index: 3,
            range: IdRange {
                first: 3 * 65536 + 65536,
                size: 65536,
            },
        });
        r
    }

    fn as_json(r: &PodRecord) -> Value {
        serde_json::to_value(r).expect("a record serializes")
    }

    #[test]
    fn a_populated_record_survives_save_and_load() {
        let dir = TempDir::new("record-roundtrip");
        let path = dir.path().join("pod.json");
        let r = populated();
        r.save(&path).expect("save");
        let loaded = PodRecord::load(&path).expect("load");
        assert_eq!(as_json(&loaded), as_json(&r));
        // Spot checks that the comparison above compares something.
        assert_eq!(loaded.stage, PodStage::Deleting);
        assert_eq!(loaded.supervisor, r.supervisor);
        assert_eq!(loaded.userns, r.userns);
        assert_eq!(loaded.containers.len(), 2);
        assert_eq!(
            loaded.volumes[1].source(),
            Path::new("/run/podrt/pods/x/pins/data")
        );
        let net = loaded.network.expect("network kept");
        assert_eq!(net.result, r.network.and_then(|n| n.result));
        assert_eq!(net.capability_args["portMappings"][0]["hostPort"], 8080);
    }

    #[test]
    fn the_record_is_written_in_camel_case_with_its_version() {
        let v = as_json(&populated());
        assert_eq!(v["version"], RECORD_VERSION);
        assert_eq!(v["stage"], "deleting");
        assert_eq!(
            v["cgroupParent"],
            "/podrt-unit-tests/pod0b5a6f0e-8d43-4c1e-9b8e-2a7f5d1c3e4f"
        );
        assert_eq!(v["deletionTimestamp"], "2026-01-02T03:05:00Z");
        assert_eq!(v["podInit"]["pid"], 41);
        assert_eq!(v["userns"]["range"]["first"], 262144);
        assert_eq!(v["network"]["bin_dirs"], Value::Null);
        assert_eq!(v["network"]["binDirs"][0], "/opt/cni/bin");
    }

    #[test]
    fn an_older_record_without_the_optional_fields_loads_with_their_defaults() {
        let dir = TempDir::new("record-old");
        let path = dir.path().join("pod.json");
        let old = json!({
            "version": RECORD_VERSION,
            "uid": "u1",
            "name": "old",
            "namespace": "default",
            "created": "2025-06-01T00:00:00Z",
            "manifest": {"metadata": {"name": "old"}, "spec": {"containers": [{"name": "c"}]}},
            "hostname": "old",
            "cgroupParent": "/podrt/podu1",
            "stage": "created",
            "volumes": [{"name": "v", "host_path": "/srv/v", "tmpfs": false}]
        });
        std::fs::write(&path, old.to_string()).expect("write");
        let r = PodRecord::load(&path).expect("an older record loads");
        assert_eq!(r.stage, PodStage::Created);
        assert_eq!(r.deletion_timestamp, None);
        assert_eq!(r.pod_init, None);
        assert_eq!(r.supervisor, None);
        assert!(r.containers.is_empty());
        assert!(r.network.is_none());
        assert_eq!(r.userns, None);
        assert_eq!(r.security, crate::security::SecurityOptions::default());
        // A volume from before hostPath pinning is mounted from its host path.
        assert_eq!(r.volumes[0].pinned, None);
        assert_eq!(r.volumes[0].source(), Path::new("/srv/v"));
        assert_eq!(r.dead_supervisor(), None);
    }

    #[test]
    fn an_unknown_stage_is_refused_naming_the_file() {
        let dir = TempDir::new("record-stage");
        let path = dir.path().join("pod.json");
        let mut v = as_json(&populated());
        v["stage"] = json!("paused");
        std::fs::write(&path, v.to_string()).expect("write");
        let e = PodRecord::load(&path).expect_err("an unknown stage is refused");
        let text = e.to_string();
        assert!(matches!(e, Error::State { .. }), "{text}");
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(text.contains("paused"), "{text}");
    }

    #[test]
    fn another_layout_version_is_refused_saying_both_versions() {
        let dir = TempDir::new("record-version");
        let path = dir.path().join("pod.json");
        let mut v = as_json(&populated());
        v["version"] = json!(RECORD_VERSION + 1);
        std::fs::write(&path, v.to_string()).expect("write");
        let text = PodRecord::load(&path).expect_err("refused").to_string();
        assert!(
            text.contains(&format!(
                "layout version {} (this podrt reads {RECORD_VERSION})",
                RECORD_VERSION + 1
            )),
            "{text}"
        );
        assert!(text.contains(&path.display().to_string()), "{text}");
    }

    #[test]
    fn a_missing_record_is_an_error_naming_its_path() {
        let dir = TempDir::new("record-missing");
        let path = dir.path().join("pod.json");
        let e = PodRecord::load(&path).expect_err("nothing to load");
        assert!(matches!(e, Error::Io { .. }));
        assert!(e.to_string().contains(&path.display().to_string()), "{e}");
    }

    #[test]
    fn containers_are_found_by_name() {
        let r = populated();
        assert_eq!(r.container("app").map(|c| c.init), Some(false));
        assert_eq!(r.container("setup").map(|c| c.init), Some(true));
        assert!(r.container("sidecar").is_none());
    }

    #[test]
    fn an_id_range_maps_root_to_its_first_id() {
        let range = IdRange {
            first: 131072,
            size: 65536,
        };
        assert_eq!(range.map_line(), "0 131072 65536\n");
    }

    #[test]
    fn write_atomic_replaces_the_file_privately_and_leaves_no_temporary() {
        use std::os::unix::fs::PermissionsExt;
        let dir = TempDir::new("record-atomic");
        let path = dir.path().join("state.json");
        write_atomic(&path, b"{\"a\":1}").expect("first write");
        write_atomic(&path, b"{\"a\":2}").expect("second write");
        let v: Option<Value> = read_json(&path).expect("read");
        assert_eq!(v, Some(json!({"a": 2})));
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, podrt_runtime::private_fs::FILE_MODE);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("list")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, ["state.json"]);
    }

    #[test]
    fn read_json_says_none_for_a_missing_file_and_names_a_bad_one() {
        let dir = TempDir::new("record-read-json");
        let missing = dir.path().join("nothing.json");
        assert_eq!(read_json::<Value>(&missing).expect("no error"), None);
        let bad = dir.write("bad.json", "{not json");
        let e = read_json::<Value>(&bad).expect_err("bad JSON");
        assert!(e.to_string().contains(&bad.display().to_string()), "{e}");
    }
}
