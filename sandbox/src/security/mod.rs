//! What a container may do: its `securityContext` merged with the pod's (the
//! container's field wins), turned into the OCI spec's process and `linux`
//! settings: capabilities, no_new_privs, user and groups, a read-only root,
//! seccomp, masked and read-only `/proc` paths, sysctls, and for a privileged
//! container every capability, the host's devices and a writable `/sys`.
//!
//! podrt is stricter than kubelet by default: a container that is not
//! privileged gets no_new_privs unless `allowPrivilegeEscalation: true` (or
//! CAP_SYS_ADMIN) says otherwise, and the RuntimeDefault seccomp profile unless
//! `seccompProfile` says otherwise.

pub(crate) mod capabilities;
mod error;
pub(crate) mod privileged;
pub(crate) mod runtime_default;
pub(crate) mod seccomp;
pub(crate) mod sysctls;

use std::collections::HashSet;
use std::path::PathBuf;

use k8s_openapi::api::core::v1::{Container, PodSecurityContext, SeccompProfile};
use oci_spec::runtime::{Capability, LinuxSeccomp};

pub(crate) use error::{Result, Unsupported};

pub(crate) use capabilities::DEFAULT_CAPABILITIES;

/// Installation-wide security settings.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SecurityOptions {
    /// Where `Localhost` seccomp profiles are found (`--seccomp-profile-root`).
    pub seccomp_profile_root: PathBuf,
    /// The capabilities of a container that is not privileged, before its
    /// `add`/`drop` (the config file's `defaultCapabilities`; names checked there).
    pub default_capabilities: Vec<String>,
}

impl Default for SecurityOptions {
    fn default() -> Self {
        SecurityOptions {
            seccomp_profile_root: PathBuf::from(seccomp::DEFAULT_PROFILE_ROOT),
            default_capabilities: DEFAULT_CAPABILITIES.iter().map(|c| c.to_string()).collect(),
        }
    }
}

/// One container's effective security settings.
#[derive(Debug, Clone)]
pub(crate) struct ContainerSecurity {
    /// `privileged: true`.
    pub(crate) privileged: bool,
    /// The bounding, effective and permitted set.
    pub(crate) capabilities: HashSet<Capability>,
    /// Set no_new_privs before exec.
    pub(crate) no_new_privileges: bool,
    /// `runAsUser` (container, else pod).
    pub(crate) run_as_user: Option<u32>,
    /// `runAsGroup` (container, else pod).
    pub(crate) run_as_group: Option<u32>,
    /// `runAsNonRoot` (container, else pod), and where it was said.
    pub(crate) run_as_non_root: Option<String>,
    /// `supplementalGroups` and `fsGroup` of the pod.
    pub(crate) additional_gids: Vec<u32>,
    /// `readOnlyRootFilesystem`.
    pub(crate) read_only_root: bool,
    /// `procMount: Unmasked`: no masked or read-only `/proc` paths.
    pub(crate) unmasked_proc: bool,
    /// The seccomp filter, if any.
    pub(crate) seccomp: Option<LinuxSeccomp>,
}

/// The settings of container `c` (at `field`) in a pod whose security context
/// is `pod`.
pub(crate) fn for_container(
    pod: Option<&PodSecurityContext>,
    c: &Container,
    field: &str,
    opts: &SecurityOptions,
) -> Result<ContainerSecurity> {
    let sc = c.security_context.as_ref();
    let privileged = sc.and_then(|s| s.privileged) == Some(true);
    let caps = capabilities::capability_set(sc, privileged, &opts.default_capabilities, field)?;
    let escalation = sc.and_then(|s| s.allow_privilege_escalation);
    if escalation == Some(false) && (privileged || caps.contains(&Capability::SysAdmin)) {
        return Err(Unsupported {
            field: format!("{field}.securityContext.allowPrivilegeEscalation"),
            message: "Invalid value: false: cannot set allowPrivilegeEscalation to false and \
                      privileged to true or add CAP_SYS_ADMIN"
                .into(),
        });
    }
    let no_new_privileges = match escalation {
        Some(allowed) => !allowed,
        None => !privileged && !caps.contains(&Capability::SysAdmin),
    };
    let id = |v: Option<i64>, at: &str| -> Result<Option<u32>> {
        v.map(|n| {
            u32::try_from(n).map_err(|_| Unsupported {
                field: at.to_string(),
                message: format!("Invalid value: {n}: must be between 0 and 2147483647, inclusive"),
            })
        })
        .transpose()
    };
    let (c_user, p_user) = (
        sc.and_then(|s| s.run_as_user),
        pod.and_then(|p| p.run_as_user),
    );
    let run_as_user = match c_user {
        Some(_) => id(c_user, &format!("{field}.securityContext.runAsUser"))?,
        None => id(p_user, "spec.securityContext.runAsUser")?,
    };
    let (c_group, p_group) = (
        sc.and_then(|s| s.run_as_group),
        pod.and_then(|p| p.run_as_group),
    );
    let run_as_group = match c_group {
        Some(_) => id(c_group, &format!("{field}.securityContext.runAsGroup"))?,
        None => id(p_group, "spec.securityContext.runAsGroup")?,
    };
    let run_as_non_root = match (
        sc.and_then(|s| s.run_as_non_root),
        pod.and_then(|p| p.run_as_non_root),
    ) {
        (Some(true), _) => Some(format!("{field}.securityContext.runAsNonRoot")),
        (Some(false), _) => None,
        (None, Some(true)) => Some("spec.securityContext.runAsNonRoot".into()),
        _ => None,
    };
    let mut additional_gids = Vec::new();
    for (i, g) in pod
        .and_then(|p| p.supplemental_groups.as_ref())
        .into_iter()
        .flatten()
        .enumerate()
    {
        if let Some(g) = id(
            Some(*g),
            &format!("spec.securityContext.supplementalGroups[{i}]"),
        )? {
            additional_gids.push(g);
        }
    }
    if let Some(g) = id(pod.and_then(|p| p.fs_group), "spec.securityContext.fsGroup")? {
        if !additional_gids.contains(&g) {
            additional_gids.push(g);
        }
    }
    let unmasked_proc = match sc.and_then(|s| s.proc_mount.as_deref()) {
        None | Some("Default") => false,
        Some("Unmasked") => true,
        Some(other) => {
            return Err(Unsupported {
                field: format!("{field}.securityContext.procMount"),
                message: format!(
                    "Unsupported value: {other:?}: supported values: \"Default\", \"Unmasked\""
                ),
            })
        }
    };
    let (profile, profile_field): (Option<&SeccompProfile>, String) =
        match sc.and_then(|s| s.seccomp_profile.as_ref()) {
            Some(p) => (Some(p), format!("{field}.securityContext.seccompProfile")),
            None => (
                pod.and_then(|p| p.seccomp_profile.as_ref()),
                "spec.securityContext.seccompProfile".into(),
            ),
        };
    let seccomp = seccomp::filter(
        profile,
        &profile_field,
        privileged,
        &caps,
        &opts.seccomp_profile_root,
    )?;
    Ok(ContainerSecurity {
        privileged,
        capabilities: caps,
        no_new_privileges,
        run_as_user,
        run_as_group,
        run_as_non_root,
        additional_gids,
        read_only_root: sc.and_then(|s| s.read_only_root_filesystem) == Some(true),
        unmasked_proc,
        seccomp,
    })
}

impl ContainerSecurity {
    /// With `runAsNonRoot`, refuse a container that would run as uid 0, naming
    /// the field that asked and where the uid came from.
    pub(crate) fn check_non_root(&self, uid: u32, from_image: bool) -> Result<()> {
        match &self.run_as_non_root {
            Some(field) if uid == 0 => Err(Unsupported {
                field: field.clone(),
                message: if from_image {
                    "CreateContainerConfigError: container has runAsNonRoot and image will run as \
                     root (uid 0); set runAsUser or use an image with a non-root USER"
                        .into()
                } else {
                    "CreateContainerConfigError: container's runAsUser breaks non-root policy (uid 0)"
                        .into()
                },
            }),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(json: serde_json::Value) -> Container {
        serde_json::from_value(json).unwrap()
    }

    fn pod_sc(json: serde_json::Value) -> PodSecurityContext {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn container_fields_win_over_the_pods() {
        let pod = pod_sc(serde_json::json!({"runAsUser": 1000, "runAsGroup": 3000,
            "supplementalGroups": [4000], "fsGroup": 2000, "runAsNonRoot": true}));
        let c = container(serde_json::json!({"name": "a", "securityContext": {"runAsUser": 1001}}));
        let s = for_container(
            Some(&pod),
            &c,
            "spec.containers[0]",
            &SecurityOptions::default(),
        )
        .unwrap();
        assert_eq!(s.run_as_user, Some(1001));
        assert_eq!(s.run_as_group, Some(3000));
        assert_eq!(s.additional_gids, [4000, 2000]);
        assert_eq!(
            s.run_as_non_root.as_deref(),
            Some("spec.securityContext.runAsNonRoot")
        );
        assert!(s.check_non_root(0, false).is_err());
        assert!(s.check_non_root(1001, false).is_ok());
    }

    #[test]
    fn defaults_are_strict_and_privileged_is_not() {
        let opts = SecurityOptions::default();
        let plain = for_container(
            None,
            &container(serde_json::json!({"name": "a"})),
            "f",
            &opts,
        )
        .unwrap();
        assert!(plain.no_new_privileges);
        assert!(plain.seccomp.is_some());
        assert_eq!(plain.capabilities.len(), 14);
        let p =
            container(serde_json::json!({"name": "a", "securityContext": {"privileged": true}}));
        let privileged = for_container(None, &p, "f", &opts).unwrap();
        assert!(!privileged.no_new_privileges);
        assert!(privileged.seccomp.is_none());
        let escalating = container(serde_json::json!({"name": "a",
            "securityContext": {"allowPrivilegeEscalation": true}}));
        assert!(
            !for_container(None, &escalating, "f", &opts)
                .unwrap()
                .no_new_privileges
        );
    }

    #[test]
    fn contradictions_and_bad_values_name_the_field() {
        let opts = SecurityOptions::default();
        let c = container(serde_json::json!({"name": "a",
            "securityContext": {"privileged": true, "allowPrivilegeEscalation": false}}));
        let err = for_container(None, &c, "spec.containers[0]", &opts)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("spec.containers[0].securityContext.allowPrivilegeEscalation:"),
            "{err}"
        );
        let c =
            container(serde_json::json!({"name": "a", "securityContext": {"procMount": "Weird"}}));
        let err = for_container(None, &c, "spec.containers[0]", &opts)
            .unwrap_err()
            .to_string();
        assert!(err.contains("procMount"), "{err}");
    }
}
