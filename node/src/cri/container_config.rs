//! `CreateContainer`'s `ContainerConfig` as a container of the pod's manifest,
//! so it is made by the same code as a `podrt apply` pod's: the image (as the
//! store names it), command and args, working directory, environment, the
//! request's mounts as hostPath volumes of its own, resources as requests and
//! limits, and the security context. kubelet's metadata, labels, annotations,
//! log path and masked and read-only paths are kept as given
//! ([`KubeletContainer`]).

use std::collections::BTreeMap;

use k8s_cri::v1;
use k8s_openapi::api::core::v1::{
    Capabilities, Container, EnvVar, HostPathVolumeSource, ResourceRequirements, SeccompProfile,
    SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use podrt_sandbox::lifecycle::kubelet::NewContainer;
use podrt_sandbox::state::kubelet_meta::KubeletContainer;
use tonic::Status;

/// The container `config` describes, its image named as the store has it
/// (`image`, already resolved by the caller).
pub(crate) fn translate(config: &v1::ContainerConfig, image: &str) -> Result<NewContainer, Status> {
    let meta = config
        .metadata
        .as_ref()
        .filter(|m| !m.name.is_empty())
        .ok_or_else(|| Status::invalid_argument("config.metadata.name: empty"))?;
    if !config.devices.is_empty() {
        return Err(Status::invalid_argument(
            "config.devices: devices are not supported by this podrt release",
        ));
    }
    let (volumes, mounts) = mounts(&config.mounts)?;
    let mut container = Container {
        image: Some(image.to_string()),
        command: Some(config.command.clone()).filter(|c| !c.is_empty()),
        args: Some(config.args.clone()).filter(|a| !a.is_empty()),
        working_dir: Some(config.working_dir.clone()).filter(|w| !w.is_empty()),
        env: Some(
            config
                .envs
                .iter()
                .map(|kv| EnvVar {
                    name: kv.key.clone(),
                    value: Some(kv.value.clone()),
                    value_from: None,
                })
                .collect::<Vec<_>>(),
        )
        .filter(|e| !e.is_empty()),
        volume_mounts: Some(mounts).filter(|m| !m.is_empty()),
        stdin: Some(config.stdin).filter(|s| *s),
        tty: Some(config.tty).filter(|t| *t),
        ..Container::default()
    };
    if let Some(linux) = &config.linux {
        if let Some(r) = &linux.resources {
            container.resources = resources(r);
        }
        if let Some(sc) = &linux.security_context {
            container.security_context = Some(security(sc)?);
        }
    }
    let meta = KubeletContainer {
        name: meta.name.clone(),
        attempt: meta.attempt,
        labels: config.labels.clone().into_iter().collect(),
        annotations: config.annotations.clone().into_iter().collect(),
        log_path: config.log_path.clone(),
        image: config
            .image
            .as_ref()
            .map(|i| i.image.clone())
            .unwrap_or_default(),
        created_at: super::nanos::now(),
        masked_paths: security_context(config)
            .map(|sc| sc.masked_paths.clone())
            .unwrap_or_default(),
        readonly_paths: security_context(config)
            .map(|sc| sc.readonly_paths.clone())
            .unwrap_or_default(),
    };
    Ok(NewContainer {
        container,
        volumes,
        meta,
    })
}

/// The request's Linux security context, if it has one.
fn security_context(config: &v1::ContainerConfig) -> Option<&v1::LinuxContainerSecurityContext> {
    config.linux.as_ref()?.security_context.as_ref()
}

/// Each mount as a hostPath volume of its own and the container's mount of
/// it. The host path must exist: nothing is made on the host for it.
fn mounts(mounts: &[v1::Mount]) -> Result<(Vec<Volume>, Vec<VolumeMount>), Status> {
    let mut volumes = Vec::new();
    let mut volume_mounts = Vec::new();
    for (i, m) in mounts.iter().enumerate() {
        let field = format!("config.mounts[{i}]");
        if !m.container_path.starts_with('/') {
            return Err(Status::invalid_argument(format!(
                "{field}.container_path: {:?} is not an absolute path",
                m.container_path
            )));
        }
        if !m.host_path.starts_with('/') {
            return Err(Status::invalid_argument(format!(
                "{field}.host_path: {:?} is not an absolute path",
                m.host_path
            )));
        }
        if let Err(e) = std::fs::symlink_metadata(&m.host_path) {
            return Err(Status::invalid_argument(format!(
                "{field}.host_path: {}: {e}",
                m.host_path
            )));
        }
        if m.selinux_relabel {
            tracing::warn!("{field}.selinux_relabel: ignored (SELinux is not used by podrt)");
        }
        let propagation = match v1::MountPropagation::try_from(m.propagation) {
            Ok(v1::MountPropagation::PropagationPrivate) => None,
            Ok(v1::MountPropagation::PropagationHostToContainer) => Some("HostToContainer"),
            Ok(v1::MountPropagation::PropagationBidirectional) => Some("Bidirectional"),
            Err(_) => {
                return Err(Status::invalid_argument(format!(
                    "{field}.propagation: unknown mode {}",
                    m.propagation
                )))
            }
        };
        let tail = uuid::Uuid::new_v4().simple().to_string();
        let name = format!("cri-{}", &tail[..12]);
        volumes.push(Volume {
            name: name.clone(),
            host_path: Some(HostPathVolumeSource {
                path: m.host_path.clone(),
                type_: None,
            }),
            ..Volume::default()
        });
        volume_mounts.push(VolumeMount {
            name,
            mount_path: m.container_path.clone(),
            read_only: Some(m.readonly).filter(|r| *r),
            mount_propagation: propagation.map(String::from),
            ..VolumeMount::default()
        });
    }
    Ok((volumes, volume_mounts))
}

/// The CRI's cgroup values as requests and limits: the memory limit, the CPU
/// quota over its period as the CPU limit, the CPU shares as the request.
fn resources(r: &v1::LinuxContainerResources) -> Option<ResourceRequirements> {
    let mut limits = BTreeMap::new();
    let mut requests = BTreeMap::new();
    if r.memory_limit_in_bytes > 0 {
        limits.insert(
            "memory".to_string(),
            Quantity(r.memory_limit_in_bytes.to_string()),
        );
    }
    if r.cpu_quota > 0 && r.cpu_period > 0 {
        let millis = r.cpu_quota * 1000 / r.cpu_period;
        limits.insert("cpu".to_string(), Quantity(format!("{}m", millis.max(1))));
    }
    if r.cpu_shares > 2 {
        let millis = r.cpu_shares * 1000 / 1024;
        requests.insert("cpu".to_string(), Quantity(format!("{}m", millis.max(1))));
    }
    if limits.is_empty() && requests.is_empty() {
        return None;
    }
    Some(ResourceRequirements {
        limits: Some(limits).filter(|l| !l.is_empty()),
        requests: Some(requests).filter(|r| !r.is_empty()),
        ..ResourceRequirements::default()
    })
}

/// The CRI's security context as the container's.
fn security(sc: &v1::LinuxContainerSecurityContext) -> Result<SecurityContext, Status> {
    let base = "config.linux.security_context";
    if !sc.run_as_username.is_empty() && sc.run_as_user.is_none() {
        return Err(Status::invalid_argument(format!(
            "{base}.run_as_username: {:?}: give run_as_user; user names are not looked up by this podrt release",
            sc.run_as_username
        )));
    }
    if sc.run_as_group.is_some() && sc.run_as_user.is_none() && sc.run_as_username.is_empty() {
        return Err(Status::invalid_argument(format!(
            "{base}.run_as_group: set without run_as_user or run_as_username"
        )));
    }
    if sc.selinux_options.is_some() {
        tracing::warn!("{base}.selinux_options: ignored (SELinux is not used by podrt)");
    }
    let apparmor = sc.apparmor.as_ref().map(|p| p.profile_type);
    if apparmor.is_some_and(|t| t != v1::security_profile::ProfileType::Unconfined as i32) {
        tracing::warn!("{base}.apparmor: ignored (AppArmor profiles are not applied by podrt)");
    }
    let caps = sc.capabilities.as_ref().map(|c| Capabilities {
        add: Some(c.add_capabilities.clone()).filter(|a| !a.is_empty()),
        drop: Some(c.drop_capabilities.clone()).filter(|d| !d.is_empty()),
    });
    // The deprecated seccomp_profile_path is what clients before the
    // `seccomp` field (critest 1.26 among them) send.
    #[allow(deprecated)]
    let seccomp_path = sc.seccomp_profile_path.as_str();
    Ok(SecurityContext {
        privileged: Some(sc.privileged).filter(|p| *p),
        capabilities: caps,
        run_as_user: sc.run_as_user.as_ref().map(|v| v.value),
        run_as_group: sc.run_as_group.as_ref().map(|v| v.value),
        read_only_root_filesystem: Some(sc.readonly_rootfs).filter(|r| *r),
        allow_privilege_escalation: Some(!sc.no_new_privs),
        // A privileged container runs without seccomp, whatever is asked (as
        // with containerd and CRI-O).
        seccomp_profile: if sc.privileged {
            Some(SeccompProfile {
                type_: "Unconfined".into(),
                localhost_profile: None,
            })
        } else {
            super::pod_config::container_seccomp(sc.seccomp.as_ref(), seccomp_path, base)?
        },
        ..SecurityContext::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_mount_source_names_the_field() {
        let config = v1::ContainerConfig {
            metadata: Some(v1::ContainerMetadata {
                name: "app".into(),
                attempt: 0,
            }),
            mounts: vec![v1::Mount {
                container_path: "/data".into(),
                host_path: "/nonexistent/podrt-test".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let e = translate(&config, "busybox:latest").expect_err("missing source");
        assert_eq!(e.code(), tonic::Code::InvalidArgument);
        assert!(e.message().starts_with("config.mounts[0].host_path"), "{e}");
    }

    #[test]
    fn quota_and_shares_become_limits_and_requests() {
        let r = resources(&v1::LinuxContainerResources {
            cpu_quota: 50_000,
            cpu_period: 100_000,
            cpu_shares: 512,
            memory_limit_in_bytes: 64 << 20,
            ..Default::default()
        })
        .expect("some");
        let limits = r.limits.expect("limits");
        assert_eq!(limits["cpu"].0, "500m");
        assert_eq!(limits["memory"].0, (64u64 << 20).to_string());
        assert_eq!(r.requests.expect("requests")["cpu"].0, "500m");
    }
}
