//! `RunPodSandbox`'s `PodSandboxConfig` as a podrt pod: a Pod manifest with no
//! containers, and kubelet's own description of it ([`KubeletPod`]) kept
//! unchanged for the CRI's answers.
//!
//! The namespace modes map to the pod fields podrt already honours: network
//! NODE is `hostNetwork`, PID POD is `shareProcessNamespace` and NODE
//! `hostPID`, IPC NODE `hostIPC`. A mode a sandbox cannot have (CONTAINER or
//! TARGET for its network or IPC, TARGET for its PIDs) or an unknown one is
//! refused, naming the field. kubelet's DNS settings arrive resolved, so they
//! become `dnsPolicy: None` with that `dnsConfig`. Port mappings with a host
//! port are kept in an annotation of the pod's
//! ([`PORT_MAPPINGS_ANNOTATION`]), from which its network gives them to CNI's
//! portmap plugin, as a `hostPort` of a container's would be.

use std::collections::BTreeMap;

use k8s_cri::v1;
use k8s_openapi::api::core::v1::{
    Pod, PodDNSConfig, PodDNSConfigOption, PodSecurityContext, PodSpec, SeccompProfile, Sysctl,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use podrt_sandbox::lifecycle::kubelet::{dns_name, LABEL_MAX, SUBDOMAIN_MAX};
use podrt_sandbox::network::host_ports::{PortMapping, PORT_MAPPINGS_ANNOTATION};
use podrt_sandbox::state::kubelet_meta::KubeletPod;
use tonic::Status;

/// The pod `config` describes and kubelet's record of it.
pub(crate) fn translate(
    config: &v1::PodSandboxConfig,
    runtime_handler: &str,
) -> Result<(Pod, KubeletPod), Status> {
    let meta = config
        .metadata
        .as_ref()
        .ok_or_else(|| Status::invalid_argument("config.metadata: missing"))?;
    for (field, value) in [
        ("name", &meta.name),
        ("namespace", &meta.namespace),
        ("uid", &meta.uid),
    ] {
        if value.is_empty() {
            return Err(Status::invalid_argument(format!(
                "config.metadata.{field}: empty"
            )));
        }
    }
    if !runtime_handler.is_empty() && runtime_handler != "podrt" {
        return Err(Status::invalid_argument(format!(
            "runtime_handler: {runtime_handler:?}: podrt has one handler, the default (\"\")"
        )));
    }
    // podrt's name for the pod: kubelet's (a DNS name, which the CRI does not
    // require), unique among its attempts.
    let name = if meta.attempt == 0 {
        dns_name(&meta.name, SUBDOMAIN_MAX, true)
    } else {
        let attempt = format!(".{}", meta.attempt);
        let base = dns_name(&meta.name, SUBDOMAIN_MAX - attempt.len(), true);
        format!("{base}{attempt}")
    };
    let namespace = dns_name(&meta.namespace, LABEL_MAX, false);
    let labels: BTreeMap<String, String> = config.labels.clone().into_iter().collect();
    let annotations: BTreeMap<String, String> = config.annotations.clone().into_iter().collect();
    let mut pod_annotations = annotations.clone();
    let mappings = port_mappings(&config.port_mappings)?;
    if !mappings.is_empty() {
        let text = serde_json::to_string(&mappings).map_err(|e| Status::internal(e.to_string()))?;
        pod_annotations.insert(PORT_MAPPINGS_ANNOTATION.to_string(), text);
    }
    let mut spec = PodSpec {
        hostname: Some(config.hostname.clone()).filter(|h| !h.is_empty()),
        ..PodSpec::default()
    };
    if let Some(dns) = &config.dns_config {
        spec.dns_policy = Some("None".into());
        spec.dns_config = Some(PodDNSConfig {
            nameservers: Some(dns.servers.clone()),
            searches: Some(dns.searches.clone()),
            options: Some(dns.options.iter().map(|o| dns_option(o)).collect()),
        });
    }
    let mut cgroup_parent = String::new();
    if let Some(linux) = &config.linux {
        linux_settings(linux, &mut spec)?;
        cgroup_parent = cgroup(&linux.cgroup_parent)?;
    }
    let pod = Pod {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: Some(namespace),
            labels: Some(labels.clone()).filter(|l| !l.is_empty()),
            annotations: Some(pod_annotations).filter(|a| !a.is_empty()),
            ..ObjectMeta::default()
        },
        spec: Some(spec),
        status: None,
    };
    let kubelet = KubeletPod {
        name: meta.name.clone(),
        uid: meta.uid.clone(),
        namespace: meta.namespace.clone(),
        attempt: meta.attempt,
        labels,
        annotations,
        log_directory: config.log_directory.clone(),
        runtime_handler: runtime_handler.to_string(),
        cgroup_parent,
        containers: BTreeMap::new(),
    };
    Ok((pod, kubelet))
}

/// The mappings with a host port (kubelet lists every container port, with
/// host port 0 for those that have none), checked.
fn port_mappings(mappings: &[v1::PortMapping]) -> Result<Vec<PortMapping>, Status> {
    let mut out = Vec::new();
    for (i, m) in mappings.iter().enumerate() {
        let field = format!("config.port_mappings[{i}]");
        if m.host_port == 0 {
            continue;
        }
        for (name, port) in [
            ("host_port", m.host_port),
            ("container_port", m.container_port),
        ] {
            if !(1..=65535).contains(&port) {
                return Err(Status::invalid_argument(format!(
                    "{field}.{name}: {port} is not a port (1-65535)"
                )));
            }
        }
        let protocol = v1::Protocol::try_from(m.protocol).map_err(|_| {
            Status::invalid_argument(format!("{field}.protocol: unknown protocol {}", m.protocol))
        })?;
        out.push(PortMapping {
            container_port: m.container_port,
            host_port: m.host_port,
            protocol: protocol.as_str_name().to_lowercase(),
            host_ip: m.host_ip.clone(),
        });
    }
    Ok(out)
}

/// kubelet's pod cgroup, as its cgroupfs driver names it (a path); the
/// systemd driver's slice names are refused.
fn cgroup(parent: &str) -> Result<String, Status> {
    let field = "config.linux.cgroup_parent";
    if parent.is_empty() {
        return Ok(String::new());
    }
    if parent.ends_with(".slice") {
        return Err(Status::invalid_argument(format!(
            "{field}: {parent:?} is a systemd slice: podrt drives cgroups itself (the cgroupfs driver); \
             run kubelet with --cgroup-driver=cgroupfs"
        )));
    }
    if !parent.starts_with('/') || parent.split('/').any(|p| p == "..") {
        return Err(Status::invalid_argument(format!(
            "{field}: {parent:?} is not an absolute cgroup path"
        )));
    }
    Ok(parent.to_string())
}

/// resolv.conf's `name:value` option as a pod's `dnsConfig` option.
fn dns_option(option: &str) -> PodDNSConfigOption {
    match option.split_once(':') {
        Some((name, value)) => PodDNSConfigOption {
            name: Some(name.to_string()),
            value: Some(value.to_string()),
        },
        None => PodDNSConfigOption {
            name: Some(option.to_string()),
            value: None,
        },
    }
}

/// The Linux part: namespaces, the pod's security context, sysctls.
fn linux_settings(linux: &v1::LinuxPodSandboxConfig, spec: &mut PodSpec) -> Result<(), Status> {
    let mut security = PodSecurityContext::default();
    if let Some(sc) = &linux.security_context {
        let base = "config.linux.security_context";
        if let Some(ns) = &sc.namespace_options {
            namespaces(ns, spec, &format!("{base}.namespace_options"))?;
        }
        security.run_as_user = sc.run_as_user.as_ref().map(|v| v.value);
        security.run_as_group = sc.run_as_group.as_ref().map(|v| v.value);
        if !sc.supplemental_groups.is_empty() {
            security.supplemental_groups = Some(sc.supplemental_groups.clone());
        }
        security.seccomp_profile = seccomp(sc.seccomp.as_ref(), &format!("{base}.seccomp"))?;
    }
    if !linux.sysctls.is_empty() {
        let mut sysctls: Vec<Sysctl> = linux
            .sysctls
            .iter()
            .map(|(name, value)| Sysctl {
                name: name.clone(),
                value: value.clone(),
            })
            .collect();
        sysctls.sort_by(|a, b| a.name.cmp(&b.name));
        security.sysctls = Some(sysctls);
    }
    if security != PodSecurityContext::default() {
        spec.security_context = Some(security);
    }
    Ok(())
}

/// The namespace modes as pod fields; `field` names them in errors.
fn namespaces(ns: &v1::NamespaceOption, spec: &mut PodSpec, field: &str) -> Result<(), Status> {
    use v1::NamespaceMode::{Container, Node, Pod, Target};
    let mode = |value: i32, name: &str| {
        v1::NamespaceMode::try_from(value).map_err(|_| {
            Status::invalid_argument(format!("{field}.{name}: unknown namespace mode {value}"))
        })
    };
    let refuse = |name: &str, m: v1::NamespaceMode| {
        Status::invalid_argument(format!(
            "{field}.{name}: {} is not a mode a pod sandbox can have",
            m.as_str_name()
        ))
    };
    match mode(ns.network, "network")? {
        Pod => {}
        Node => spec.host_network = Some(true),
        m @ (Container | Target) => return Err(refuse("network", m)),
    }
    match mode(ns.pid, "pid")? {
        Pod => spec.share_process_namespace = Some(true),
        Container => {}
        Node => spec.host_pid = Some(true),
        m @ Target => return Err(refuse("pid", m)),
    }
    match mode(ns.ipc, "ipc")? {
        Pod => {}
        Node => spec.host_ipc = Some(true),
        m @ (Container | Target) => return Err(refuse("ipc", m)),
    }
    Ok(())
}

/// A CRI seccomp profile as the pod's `seccompProfile`.
pub(crate) fn seccomp(
    profile: Option<&v1::SecurityProfile>,
    field: &str,
) -> Result<Option<SeccompProfile>, Status> {
    use v1::security_profile::ProfileType;
    let Some(p) = profile else {
        return Ok(None);
    };
    let kind = ProfileType::try_from(p.profile_type).map_err(|_| {
        Status::invalid_argument(format!(
            "{field}.profile_type: unknown profile type {}",
            p.profile_type
        ))
    })?;
    Ok(Some(match kind {
        ProfileType::RuntimeDefault => SeccompProfile {
            type_: "RuntimeDefault".into(),
            localhost_profile: None,
        },
        ProfileType::Unconfined => SeccompProfile {
            type_: "Unconfined".into(),
            localhost_profile: None,
        },
        ProfileType::Localhost => localhost(&p.localhost_ref, &format!("{field}.localhost_ref"))?,
    }))
}

/// A container's seccomp profile: `profile` if given, else the deprecated
/// `seccomp_profile_path` (`unconfined`, `runtime/default`,
/// `docker/default`, `localhost/PATH`); neither is unconfined, as with
/// containerd and CRI-O (kubelet asks for RuntimeDefault when it wants it).
pub(crate) fn container_seccomp(
    profile: Option<&v1::SecurityProfile>,
    path: &str,
    field: &str,
) -> Result<Option<SeccompProfile>, Status> {
    if profile.is_some() {
        return seccomp(profile, &format!("{field}.seccomp"));
    }
    let named = |kind: &str| SeccompProfile {
        type_: kind.into(),
        localhost_profile: None,
    };
    Ok(Some(match path {
        "" | "unconfined" => named("Unconfined"),
        "runtime/default" | "docker/default" => named("RuntimeDefault"),
        p => match p.strip_prefix("localhost/") {
            Some(file) => localhost(file, &format!("{field}.seccomp_profile_path"))?,
            None => {
                return Err(Status::invalid_argument(format!(
                    "{field}.seccomp_profile_path: {p:?}: want unconfined, runtime/default or localhost/PATH"
                )))
            }
        },
    }))
}

/// A Localhost profile at the absolute `path` (kubelet resolves it), found
/// from `/` (a kubelet pod's profile root).
fn localhost(path: &str, field: &str) -> Result<SeccompProfile, Status> {
    let Some(rel) = path.strip_prefix('/') else {
        return Err(Status::invalid_argument(format!(
            "{field}: {path:?} is not an absolute path"
        )));
    };
    Ok(SeccompProfile {
        type_: "Localhost".into(),
        localhost_profile: Some(rel.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(network: i32, pid: i32) -> v1::PodSandboxConfig {
        v1::PodSandboxConfig {
            metadata: Some(v1::PodSandboxMetadata {
                name: "web".into(),
                uid: "u1".into(),
                namespace: "default".into(),
                attempt: 2,
            }),
            hostname: "web".into(),
            dns_config: Some(v1::DnsConfig {
                servers: vec!["10.0.0.10".into()],
                searches: vec!["svc.cluster.local".into()],
                options: vec!["ndots:5".into()],
            }),
            linux: Some(v1::LinuxPodSandboxConfig {
                security_context: Some(v1::LinuxSandboxSecurityContext {
                    namespace_options: Some(v1::NamespaceOption {
                        network,
                        pid,
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn modes_become_pod_fields() {
        let (pod, meta) = translate(&config(2, 0), "").expect("valid");
        let spec = pod.spec.expect("spec");
        assert_eq!(spec.host_network, Some(true));
        assert_eq!(spec.share_process_namespace, Some(true));
        assert_eq!(spec.dns_policy.as_deref(), Some("None"));
        assert_eq!(pod.metadata.name.as_deref(), Some("web.2"));
        assert_eq!((meta.name.as_str(), meta.attempt), ("web", 2));
    }

    #[test]
    fn host_ports_are_kept_and_checked() {
        let mut c = config(0, 1);
        c.port_mappings = vec![
            v1::PortMapping {
                protocol: v1::Protocol::Udp as i32,
                container_port: 53,
                host_port: 5353,
                host_ip: String::new(),
            },
            v1::PortMapping {
                container_port: 80,
                ..Default::default()
            },
        ];
        let (pod, meta) = translate(&c, "").expect("valid");
        let kept = &pod.metadata.annotations.expect("annotations")[PORT_MAPPINGS_ANNOTATION];
        let kept: Vec<PortMapping> = serde_json::from_str(kept).expect("JSON");
        assert_eq!(kept.len(), 1, "only mappings with a host port");
        assert_eq!(
            (kept[0].host_port, kept[0].protocol.as_str()),
            (5353, "udp")
        );
        assert!(
            meta.annotations.is_empty(),
            "kubelet's annotations stay its own"
        );
        c.port_mappings[0].host_port = 70000;
        let e = translate(&c, "").expect_err("no such port");
        assert!(
            e.message().starts_with("config.port_mappings[0].host_port"),
            "{e}"
        );
    }

    #[test]
    fn impossible_and_unknown_modes_name_the_field() {
        let e = translate(&config(3, 0), "").expect_err("target network");
        assert_eq!(e.code(), tonic::Code::InvalidArgument);
        assert!(e.message().contains("namespace_options.network"), "{e}");
        let e = translate(&config(0, 9), "").expect_err("unknown mode");
        assert!(
            e.message().contains("namespace_options.pid: unknown"),
            "{e}"
        );
    }
}
