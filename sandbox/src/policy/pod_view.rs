//! A pod seen the way admission checks see it: every container (init,
//! app and ephemeral) with its field path, its security context and the
//! context it inherits from the pod, and each volume with its Kubernetes
//! volume type name. The PSS and PSP checks walk this, so both name the same
//! fields the same way.

use k8s_openapi::api::core::v1::{
    ContainerPort, PodSecurityContext, PodSpec, SecurityContext, Volume, VolumeMount,
};

/// One container of a pod.
pub(crate) struct ContainerView<'a> {
    /// `spec.containers[0]`, `spec.initContainers[1]`, `spec.ephemeralContainers[0]`.
    pub(crate) path: String,
    /// Its own `securityContext`.
    pub(crate) sc: Option<&'a SecurityContext>,
    /// Its `ports`.
    pub(crate) ports: &'a [ContainerPort],
    /// Its `volumeMounts`.
    pub(crate) mounts: &'a [VolumeMount],
}

impl ContainerView<'_> {
    /// `PATH.securityContext.FIELD`.
    pub(crate) fn sc_field(&self, field: &str) -> String {
        format!("{}.securityContext.{field}", self.path)
    }
}

/// Every container of `spec`, init containers first, then app containers,
/// then ephemeral containers.
pub(crate) fn containers(spec: &PodSpec) -> Vec<ContainerView<'_>> {
    let mut out = Vec::new();
    for (key, list) in [
        ("initContainers", spec.init_containers.as_deref()),
        ("containers", Some(spec.containers.as_slice())),
    ] {
        for (i, c) in list.unwrap_or_default().iter().enumerate() {
            out.push(ContainerView {
                path: format!("spec.{key}[{i}]"),
                sc: c.security_context.as_ref(),
                ports: c.ports.as_deref().unwrap_or_default(),
                mounts: c.volume_mounts.as_deref().unwrap_or_default(),
            });
        }
    }
    for (i, c) in spec
        .ephemeral_containers
        .as_deref()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        out.push(ContainerView {
            path: format!("spec.ephemeralContainers[{i}]"),
            sc: c.security_context.as_ref(),
            ports: c.ports.as_deref().unwrap_or_default(),
            mounts: c.volume_mounts.as_deref().unwrap_or_default(),
        });
    }
    out
}

/// Calls `f` with the path and a mutable security context (made empty when
/// absent) of every init and app container; ephemeral containers are never
/// created by podrt, so defaulting does not touch them.
pub(crate) fn for_each_context_mut(
    spec: &mut PodSpec,
    mut f: impl FnMut(&str, &mut SecurityContext),
) {
    let init = spec.init_containers.iter_mut().flatten();
    let init = init
        .enumerate()
        .map(|(i, c)| (format!("spec.initContainers[{i}]"), c));
    let app = spec.containers.iter_mut().enumerate();
    let app = app.map(|(i, c)| (format!("spec.containers[{i}]"), c));
    for (path, c) in init.chain(app) {
        f(
            &path,
            c.security_context.get_or_insert_with(Default::default),
        );
    }
    // An empty context written back would only clutter `get -o yaml`.
    for c in spec
        .init_containers
        .iter_mut()
        .flatten()
        .chain(spec.containers.iter_mut())
    {
        if c.security_context.as_ref() == Some(&SecurityContext::default()) {
            c.security_context = None;
        }
    }
}

/// The pod's own `securityContext`, if any.
pub(crate) fn pod_context(spec: &PodSpec) -> Option<&PodSecurityContext> {
    spec.security_context.as_ref()
}

/// A volume's type, spelled as PodSecurityPolicy's `volumes` list spells it
/// (`emptyDir`, `hostPath`, `configMap`, …: the Pod field's name, but `cephFS`).
/// A volume with no source is an `emptyDir`, as the API server defaults it.
pub(crate) fn volume_type(v: &Volume) -> &'static str {
    match crate::manifest::volume_sources(v).first() {
        Some(&"cephfs") => "cephFS",
        Some(name) => name,
        None => "emptyDir",
    }
}

/// Every volume type name [`volume_type`] can return.
pub(crate) const VOLUME_TYPES: [&str; 30] = [
    "awsElasticBlockStore",
    "azureDisk",
    "azureFile",
    "cephFS",
    "cinder",
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "fc",
    "flexVolume",
    "flocker",
    "gcePersistentDisk",
    "gitRepo",
    "glusterfs",
    "hostPath",
    "image",
    "iscsi",
    "nfs",
    "persistentVolumeClaim",
    "photonPersistentDisk",
    "portworxVolume",
    "projected",
    "quobyte",
    "rbd",
    "scaleIO",
    "secret",
    "storageos",
    "vsphereVolume",
];

/// A capability name as policies compare them: upper case, no `CAP_` prefix.
pub(crate) fn capability_key(name: &str) -> String {
    let upper = name.to_ascii_uppercase();
    upper
        .strip_prefix("CAP_")
        .map_or(upper.clone(), str::to_string)
}

/// The host ports a container asks for, with their fields: every non-zero
/// `hostPort`, and with `hostNetwork` every `containerPort` (the API server
/// defaults `hostPort` to it there).
pub(crate) fn host_ports(c: &ContainerView<'_>, host_network: bool) -> Vec<(String, i32)> {
    let mut out = Vec::new();
    for (i, p) in c.ports.iter().enumerate() {
        let field = format!("{}.ports[{i}]", c.path);
        match p.host_port {
            Some(hp) if hp != 0 => out.push((format!("{field}.hostPort"), hp)),
            _ if host_network => out.push((format!("{field}.containerPort"), p.container_port)),
            _ => {}
        }
    }
    out
}
