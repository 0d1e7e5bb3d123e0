//! The PodSecurityPolicy document, in the `policy/v1beta1` form (the seed's
//! `extensions/v1beta1` is the same object under its older group). Kubernetes
//! removed the type in 1.25, so k8s-openapi no longer has it: these are its
//! fields, read with serde, unknown fields refused with their path.

use k8s_openapi::api::core::v1::SELinuxOptions;
use serde::Deserialize;

/// A whole `kind: PodSecurityPolicy` document.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PodSecurityPolicy {
    /// `policy/v1beta1` or `extensions/v1beta1`.
    pub(crate) api_version: String,
    /// `PodSecurityPolicy`.
    pub(crate) kind: String,
    /// Its name (shown in refusals and in the pod's `kubernetes.io/psp` annotation).
    pub(crate) metadata: Metadata,
    /// The rules.
    pub(crate) spec: PolicySpec,
}

/// The part of `metadata` podrt reads; labels and annotations are allowed and unused.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Metadata {
    /// The policy's name.
    pub(crate) name: String,
    /// Accepted and ignored.
    #[serde(default, rename = "labels")]
    _labels: Option<serde::de::IgnoredAny>,
    /// Accepted and ignored.
    #[serde(default, rename = "annotations")]
    _annotations: Option<serde::de::IgnoredAny>,
}

/// `PodSecurityPolicySpec`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct PolicySpec {
    /// Privileged containers allowed.
    #[serde(default)]
    pub(crate) privileged: bool,
    /// Added to every container's `capabilities.add` unless it drops them.
    #[serde(default)]
    pub(crate) default_add_capabilities: Vec<String>,
    /// Added to every container's `capabilities.drop`, and required there.
    #[serde(default)]
    pub(crate) required_drop_capabilities: Vec<String>,
    /// What a container may add beyond the defaults (`*`: anything).
    #[serde(default)]
    pub(crate) allowed_capabilities: Vec<String>,
    /// Volume types allowed (`*`: all; empty: none).
    #[serde(default)]
    pub(crate) volumes: Vec<String>,
    /// `hostNetwork: true` allowed.
    #[serde(default)]
    pub(crate) host_network: bool,
    /// Host ports allowed.
    #[serde(default)]
    pub(crate) host_ports: Vec<HostPortRange>,
    /// `hostPID: true` allowed.
    #[serde(rename = "hostPID", default)]
    pub(crate) host_pid: bool,
    /// `hostIPC: true` allowed.
    #[serde(rename = "hostIPC", default)]
    pub(crate) host_ipc: bool,
    /// The SELinux rule (required).
    #[serde(rename = "seLinux")]
    pub(crate) se_linux: SeLinuxStrategy,
    /// The user rule (required).
    pub(crate) run_as_user: UserStrategy,
    /// The primary group rule (optional: no rule is RunAsAny).
    #[serde(default)]
    pub(crate) run_as_group: Option<GroupStrategy>,
    /// The supplemental groups rule (required).
    pub(crate) supplemental_groups: GroupStrategy,
    /// The fsGroup rule (required).
    pub(crate) fs_group: GroupStrategy,
    /// Containers must have a read-only root (defaulted to true when unset).
    #[serde(default)]
    pub(crate) read_only_root_filesystem: bool,
    /// What an unset `allowPrivilegeEscalation` becomes.
    #[serde(default)]
    pub(crate) default_allow_privilege_escalation: Option<bool>,
    /// Whether a container may allow privilege escalation (default true).
    #[serde(default)]
    pub(crate) allow_privilege_escalation: Option<bool>,
    /// Host path prefixes allowed (empty: any).
    #[serde(default)]
    pub(crate) allowed_host_paths: Vec<AllowedHostPath>,
    /// Flex volume drivers allowed (empty: any).
    #[serde(default)]
    pub(crate) allowed_flex_volumes: Vec<FlexDriver>,
    /// CSI drivers allowed for inline volumes (empty: any).
    #[serde(rename = "allowedCSIDrivers", default)]
    pub(crate) allowed_csi_drivers: Vec<CsiDriver>,
    /// Unsafe sysctls allowed (`name` or `prefix*`).
    #[serde(default)]
    pub(crate) allowed_unsafe_sysctls: Vec<String>,
    /// Sysctls refused, safe ones included (`name` or `prefix*`).
    #[serde(default)]
    pub(crate) forbidden_sysctls: Vec<String>,
    /// `procMount` values allowed besides `Default`.
    #[serde(default)]
    pub(crate) allowed_proc_mount_types: Vec<String>,
    /// Runtime classes allowed, and the default.
    #[serde(default)]
    pub(crate) runtime_class: Option<RuntimeClassStrategy>,
}

/// A range of host ports, both ends included.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HostPortRange {
    /// Lowest port.
    pub(crate) min: i32,
    /// Highest port.
    pub(crate) max: i32,
}

/// A range of IDs, both ends included.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IdRange {
    /// Lowest ID.
    pub(crate) min: i64,
    /// Highest ID.
    pub(crate) max: i64,
}

impl IdRange {
    /// Whether `id` is in the range.
    pub(crate) fn contains(&self, id: i64) -> bool {
        self.min <= id && id <= self.max
    }
}

/// `seLinux`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct SeLinuxStrategy {
    /// `MustRunAs` or `RunAsAny`.
    pub(crate) rule: SeLinuxRule,
    /// The options required by `MustRunAs`.
    #[serde(rename = "seLinuxOptions", default)]
    pub(crate) options: Option<SELinuxOptions>,
}

/// `seLinux.rule`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub(crate) enum SeLinuxRule {
    /// Pods get, and must have, the policy's options.
    MustRunAs,
    /// Anything.
    RunAsAny,
}

/// `runAsUser`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct UserStrategy {
    /// The rule.
    pub(crate) rule: UserRule,
    /// The ranges of `MustRunAs`.
    #[serde(default)]
    pub(crate) ranges: Vec<IdRange>,
}

/// `runAsUser.rule`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub(crate) enum UserRule {
    /// A uid in the ranges (defaulted to the first range's min).
    MustRunAs,
    /// Not uid 0 (`runAsNonRoot: true` defaulted when no uid is given).
    MustRunAsNonRoot,
    /// Anything.
    RunAsAny,
}

/// `runAsGroup`, `supplementalGroups`, `fsGroup`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct GroupStrategy {
    /// The rule.
    pub(crate) rule: GroupRule,
    /// The ranges of `MustRunAs` and `MayRunAs`.
    #[serde(default)]
    pub(crate) ranges: Vec<IdRange>,
}

/// A group rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub(crate) enum GroupRule {
    /// Required, in the ranges (defaulted to the first range's min).
    MustRunAs,
    /// If given, in the ranges; not defaulted.
    MayRunAs,
    /// Anything.
    RunAsAny,
}

/// One `allowedHostPaths` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct AllowedHostPath {
    /// A path prefix, matched by whole components (`/foo` allows `/foo/bar`, not `/foobar`).
    pub(crate) path_prefix: String,
    /// Mounts of such a volume must all be read-only.
    #[serde(default)]
    pub(crate) read_only: bool,
}

/// One `allowedFlexVolumes` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FlexDriver {
    /// The driver name.
    pub(crate) driver: String,
}

/// One `allowedCSIDrivers` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CsiDriver {
    /// The driver name.
    pub(crate) name: String,
}

/// `runtimeClass`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct RuntimeClassStrategy {
    /// Allowed names (`*`: any).
    pub(crate) allowed_runtime_class_names: Vec<String>,
    /// Set on pods that name none.
    #[serde(default)]
    pub(crate) default_runtime_class_name: Option<String>,
}
