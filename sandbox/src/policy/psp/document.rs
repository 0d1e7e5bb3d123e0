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
    pub api_version: String,
    /// `PodSecurityPolicy`.
    pub kind: String,
    /// Its name (shown in refusals and in the pod's `kubernetes.io/psp` annotation).
    pub metadata: Metadata,
    /// The rules.
    pub spec: PolicySpec,
}

/// The part of `metadata` podrt reads; labels and annotations are allowed and unused.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Metadata {
    /// The policy's name.
    pub name: String,
    /// Unused.
    #[serde(default)]
    pub labels: Option<serde_json::Value>,
    /// Unused.
    #[serde(default)]
    pub annotations: Option<serde_json::Value>,
}

/// `PodSecurityPolicySpec`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicySpec {
    /// Privileged containers allowed.
    #[serde(default)]
    pub privileged: bool,
    /// Added to every container's `capabilities.add` unless it drops them.
    #[serde(default)]
    pub default_add_capabilities: Vec<String>,
    /// Added to every container's `capabilities.drop`, and required there.
    #[serde(default)]
    pub required_drop_capabilities: Vec<String>,
    /// What a container may add beyond the defaults (`*`: anything).
    #[serde(default)]
    pub allowed_capabilities: Vec<String>,
    /// Volume types allowed (`*`: all; empty: none).
    #[serde(default)]
    pub volumes: Vec<String>,
    /// `hostNetwork: true` allowed.
    #[serde(default)]
    pub host_network: bool,
    /// Host ports allowed.
    #[serde(default)]
    pub host_ports: Vec<HostPortRange>,
    /// `hostPID: true` allowed.
    #[serde(rename = "hostPID", default)]
    pub host_pid: bool,
    /// `hostIPC: true` allowed.
    #[serde(rename = "hostIPC", default)]
    pub host_ipc: bool,
    /// The SELinux rule (required).
    #[serde(rename = "seLinux")]
    pub se_linux: SeLinuxStrategy,
    /// The user rule (required).
    pub run_as_user: UserStrategy,
    /// The primary group rule (optional: no rule is RunAsAny).
    #[serde(default)]
    pub run_as_group: Option<GroupStrategy>,
    /// The supplemental groups rule (required).
    pub supplemental_groups: GroupStrategy,
    /// The fsGroup rule (required).
    pub fs_group: GroupStrategy,
    /// Containers must have a read-only root (defaulted to true when unset).
    #[serde(default)]
    pub read_only_root_filesystem: bool,
    /// What an unset `allowPrivilegeEscalation` becomes.
    #[serde(default)]
    pub default_allow_privilege_escalation: Option<bool>,
    /// Whether a container may allow privilege escalation (default true).
    #[serde(default)]
    pub allow_privilege_escalation: Option<bool>,
    /// Host path prefixes allowed (empty: any).
    #[serde(default)]
    pub allowed_host_paths: Vec<AllowedHostPath>,
    /// Flex volume drivers allowed (empty: any).
    #[serde(default)]
    pub allowed_flex_volumes: Vec<FlexDriver>,
    /// CSI drivers allowed for inline volumes (empty: any).
    #[serde(rename = "allowedCSIDrivers", default)]
    pub allowed_csi_drivers: Vec<CsiDriver>,
    /// Unsafe sysctls allowed (`name` or `prefix*`).
    #[serde(default)]
    pub allowed_unsafe_sysctls: Vec<String>,
    /// Sysctls refused, safe ones included (`name` or `prefix*`).
    #[serde(default)]
    pub forbidden_sysctls: Vec<String>,
    /// `procMount` values allowed besides `Default`.
    #[serde(default)]
    pub allowed_proc_mount_types: Vec<String>,
    /// Runtime classes allowed, and the default.
    #[serde(default)]
    pub runtime_class: Option<RuntimeClassStrategy>,
}

/// A range of host ports, both ends included.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostPortRange {
    /// Lowest port.
    pub min: i32,
    /// Highest port.
    pub max: i32,
}

/// A range of IDs, both ends included.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdRange {
    /// Lowest ID.
    pub min: i64,
    /// Highest ID.
    pub max: i64,
}

impl IdRange {
    /// Whether `id` is in the range.
    pub fn contains(&self, id: i64) -> bool {
        self.min <= id && id <= self.max
    }
}

/// `seLinux`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeLinuxStrategy {
    /// `MustRunAs` or `RunAsAny`.
    pub rule: SeLinuxRule,
    /// The options required by `MustRunAs`.
    #[serde(rename = "seLinuxOptions", default)]
    pub options: Option<SELinuxOptions>,
}

/// `seLinux.rule`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum SeLinuxRule {
    /// Pods get, and must have, the policy's options.
    MustRunAs,
    /// Anything.
    RunAsAny,
}

/// `runAsUser`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserStrategy {
    /// The rule.
    pub rule: UserRule,
    /// The ranges of `MustRunAs`.
    #[serde(default)]
    pub ranges: Vec<IdRange>,
}

/// `runAsUser.rule`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum UserRule {
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
pub struct GroupStrategy {
    /// The rule.
    pub rule: GroupRule,
    /// The ranges of `MustRunAs` and `MayRunAs`.
    #[serde(default)]
    pub ranges: Vec<IdRange>,
}

/// A group rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum GroupRule {
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
pub struct AllowedHostPath {
    /// A path prefix, matched by whole components (`/foo` allows `/foo/bar`, not `/foobar`).
    pub path_prefix: String,
    /// Mounts of such a volume must all be read-only.
    #[serde(default)]
    pub read_only: bool,
}

/// One `allowedFlexVolumes` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlexDriver {
    /// The driver name.
    pub driver: String,
}

/// One `allowedCSIDrivers` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsiDriver {
    /// The driver name.
    pub name: String,
}

/// `runtimeClass`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RuntimeClassStrategy {
    /// Allowed names (`*`: any).
    pub allowed_runtime_class_names: Vec<String>,
    /// Set on pods that name none.
    #[serde(default)]
    pub default_runtime_class_name: Option<String>,
}
