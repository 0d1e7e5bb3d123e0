//! The Pod Security Standards (kubernetes.io/docs/concepts/security/pod-security-standards,
//! version "latest"): `privileged` allows everything; `baseline` forbids the
//! known privilege escalations; `restricted` adds the hardening rules. Each
//! check names the control it belongs to, as Pod Security admission does.
//!
//! Two choices differ from the upstream checker on purpose: capability names
//! are compared without case and `CAP_` prefix (podrt forgives both when it
//! runs the pod, so `CAP_CHOWN` is the same request as `CHOWN`), and
//! ephemeral containers are checked though podrt never runs them, so
//! `podrt policy check` judges a manifest as a cluster would.

use k8s_openapi::api::core::v1::{PodSpec, SELinuxOptions};

use super::pod_view::{capability_key, containers, pod_context, volume_type, ContainerView};
use super::Violation;

/// A Pod Security Standards level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// No restrictions.
    Privileged,
    /// Known privilege escalations forbidden.
    Baseline,
    /// Baseline plus the hardening rules.
    Restricted,
}

impl Level {
    /// The level called `name` (`privileged`, `baseline`, `restricted`).
    pub(crate) fn parse(name: &str) -> Option<Level> {
        match name {
            "privileged" => Some(Level::Privileged),
            "baseline" => Some(Level::Baseline),
            "restricted" => Some(Level::Restricted),
            _ => None,
        }
    }

    /// The level's name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Level::Privileged => "privileged",
            Level::Baseline => "baseline",
            Level::Restricted => "restricted",
        }
    }

    /// Every rule of this level that `spec` breaks.
    pub(crate) fn check(self, annotations: &[(String, String)], spec: &PodSpec) -> Vec<Violation> {
        let mut out = Checks {
            level: self,
            found: Vec::new(),
        };
        if self != Level::Privileged {
            out.baseline(annotations, spec);
        }
        if self == Level::Restricted {
            out.restricted(spec);
        }
        out.found
    }
}

/// Capabilities baseline lets a container add.
const BASELINE_CAPABILITIES: [&str; 13] = [
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

/// The sysctls baseline allows (Kubernetes' safe set).
pub(crate) const SAFE_SYSCTLS: [&str; 10] = [
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
];

/// SELinux types baseline allows.
const SELINUX_TYPES: [&str; 4] = [
    "container_t",
    "container_init_t",
    "container_kvm_t",
    "container_engine_t",
];

/// Volume types restricted allows.
const RESTRICTED_VOLUMES: [&str; 8] = [
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

struct Checks {
    level: Level,
    found: Vec<Violation>,
}

impl Checks {
    fn refuse(&mut self, field: String, control: &str, message: impl Into<String>) {
        self.found.push(Violation {
            field,
            message: message.into(),
            rule: format!("{}: {control}", self.level.name()),
        });
    }

    fn baseline(&mut self, annotations: &[(String, String)], spec: &PodSpec) {
        let pod_sc = pod_context(spec);
        let cs = containers(spec);
        // HostProcess
        if pod_sc
            .and_then(|s| s.windows_options.as_ref())
            .and_then(|w| w.host_process)
            == Some(true)
        {
            let f = "spec.securityContext.windowsOptions.hostProcess".to_string();
            self.refuse(f, "HostProcess", "must be unset or false");
        }
        for c in &cs {
            let host_process = c.sc.and_then(|s| s.windows_options.as_ref());
            if host_process.and_then(|w| w.host_process) == Some(true) {
                let f = c.sc_field("windowsOptions.hostProcess");
                self.refuse(f, "HostProcess", "must be unset or false");
            }
        }
        // Host Namespaces
        for (field, set) in [
            ("hostNetwork", spec.host_network),
            ("hostPID", spec.host_pid),
            ("hostIPC", spec.host_ipc),
        ] {
            if set == Some(true) {
                let f = format!("spec.{field}");
                self.refuse(f, "Host Namespaces", "must be unset or false");
            }
        }
        for c in &cs {
            // Privileged Containers
            if c.sc.and_then(|s| s.privileged) == Some(true) {
                let f = c.sc_field("privileged");
                self.refuse(f, "Privileged Containers", "must be unset or false");
            }
            // Capabilities
            let add =
                c.sc.and_then(|s| s.capabilities.as_ref())
                    .and_then(|k| k.add.as_ref());
            for (i, cap) in add.into_iter().flatten().enumerate() {
                if !BASELINE_CAPABILITIES.contains(&capability_key(cap).as_str()) {
                    let f = c.sc_field(&format!("capabilities.add[{i}]"));
                    let m = format!(
                        "{cap:?} may not be added (allowed: {})",
                        BASELINE_CAPABILITIES.join(", ")
                    );
                    self.refuse(f, "Capabilities", m);
                }
            }
            // Host Ports
            for (i, p) in c.ports.iter().enumerate() {
                if p.host_port.is_some_and(|hp| hp != 0) {
                    let f = format!("{}.ports[{i}].hostPort", c.path);
                    self.refuse(f, "Host Ports", "must be unset or 0");
                }
            }
            // AppArmor
            if let Some(p) = c.sc.and_then(|s| s.app_armor_profile.as_ref()) {
                if p.type_ == "Unconfined" {
                    let f = c.sc_field("appArmorProfile.type");
                    self.refuse(f, "AppArmor", "must be RuntimeDefault or Localhost");
                }
            }
            // SELinux
            if let Some(o) = c.sc.and_then(|s| s.se_linux_options.as_ref()) {
                self.selinux(o, &c.sc_field("seLinuxOptions"));
            }
            // /proc Mount Type
            if let Some(m) = c.sc.and_then(|s| s.proc_mount.as_deref()) {
                if m != "Default" {
                    let f = c.sc_field("procMount");
                    self.refuse(f, "/proc Mount Type", "must be unset or Default");
                }
            }
            // Seccomp
            if let Some(p) = c.sc.and_then(|s| s.seccomp_profile.as_ref()) {
                if p.type_ == "Unconfined" {
                    let f = c.sc_field("seccompProfile.type");
                    self.refuse(f, "Seccomp", "must not be Unconfined");
                }
            }
        }
        // HostPath Volumes
        for (i, v) in spec.volumes.iter().flatten().enumerate() {
            if v.host_path.is_some() {
                let f = format!("spec.volumes[{i}].hostPath");
                self.refuse(f, "HostPath Volumes", "hostPath volumes are forbidden");
            }
        }
        // AppArmor, the annotation form
        for (key, value) in annotations {
            if key.starts_with("container.apparmor.security.beta.kubernetes.io/")
                && !value.is_empty()
                && value != "runtime/default"
                && !value.starts_with("localhost/")
            {
                let f = format!("metadata.annotations[{key}]");
                self.refuse(f, "AppArmor", "must be runtime/default or localhost/*");
            }
        }
        if let Some(sc) = pod_sc {
            if sc
                .app_armor_profile
                .as_ref()
                .is_some_and(|p| p.type_ == "Unconfined")
            {
                let f = "spec.securityContext.appArmorProfile.type".to_string();
                self.refuse(f, "AppArmor", "must be RuntimeDefault or Localhost");
            }
            if let Some(o) = &sc.se_linux_options {
                self.selinux(o, "spec.securityContext.seLinuxOptions");
            }
            if sc
                .seccomp_profile
                .as_ref()
                .is_some_and(|p| p.type_ == "Unconfined")
            {
                let f = "spec.securityContext.seccompProfile.type".to_string();
                self.refuse(f, "Seccomp", "must not be Unconfined");
            }
            // Sysctls
            for (i, s) in sc.sysctls.iter().flatten().enumerate() {
                if !SAFE_SYSCTLS.contains(&s.name.as_str()) {
                    let f = format!("spec.securityContext.sysctls[{i}].name");
                    self.refuse(f, "Sysctls", format!("{:?} is not a safe sysctl", s.name));
                }
            }
        }
    }

    fn selinux(&mut self, o: &SELinuxOptions, at: &str) {
        if let Some(t) = o.type_.as_deref().filter(|t| !t.is_empty()) {
            if !SELINUX_TYPES.contains(&t) {
                let m = format!(
                    "type {t:?} is not allowed (allowed: {})",
                    SELINUX_TYPES.join(", ")
                );
                self.refuse(format!("{at}.type"), "SELinux", m);
            }
        }
        for (field, value) in [("user", &o.user), ("role", &o.role)] {
            if value.as_deref().is_some_and(|v| !v.is_empty()) {
                self.refuse(format!("{at}.{field}"), "SELinux", "must be unset");
            }
        }
    }

    fn restricted(&mut self, spec: &PodSpec) {
        let pod_sc = pod_context(spec);
        // Volume Types
        for (i, v) in spec.volumes.iter().flatten().enumerate() {
            let t = volume_type(v);
            if !RESTRICTED_VOLUMES.contains(&t) {
                let f = format!("spec.volumes[{i}].{t}");
                let m = format!(
                    "volume type {t} is not allowed (allowed: {})",
                    RESTRICTED_VOLUMES.join(", ")
                );
                self.refuse(f, "Volume Types", m);
            }
        }
        let pod_non_root = pod_sc.and_then(|s| s.run_as_non_root);
        if pod_non_root == Some(false) {
            let f = "spec.securityContext.runAsNonRoot".to_string();
            self.refuse(f, "Running as Non-root", "must not be false");
        }
        if pod_sc.and_then(|s| s.run_as_user) == Some(0) {
            let f = "spec.securityContext.runAsUser".to_string();
            self.refuse(f, "Running as Non-root user", "must not be 0");
        }
        let pod_seccomp = pod_sc
            .and_then(|s| s.seccomp_profile.as_ref())
            .map(|p| p.type_.as_str());
        for c in containers(spec) {
            self.restricted_container(&c, pod_non_root, pod_seccomp);
        }
    }

    fn restricted_container(
        &mut self,
        c: &ContainerView<'_>,
        pod_non_root: Option<bool>,
        pod_seccomp: Option<&str>,
    ) {
        // Privilege Escalation
        if c.sc.and_then(|s| s.allow_privilege_escalation) != Some(false) {
            let f = c.sc_field("allowPrivilegeEscalation");
            self.refuse(f, "Privilege Escalation", "must be false");
        }
        // Running as Non-root
        match c.sc.and_then(|s| s.run_as_non_root) {
            Some(false) => {
                let f = c.sc_field("runAsNonRoot");
                self.refuse(f, "Running as Non-root", "must not be false");
            }
            None if pod_non_root != Some(true) => {
                let f = c.sc_field("runAsNonRoot");
                self.refuse(
                    f,
                    "Running as Non-root",
                    "must be true (here or in spec.securityContext)",
                );
            }
            _ => {}
        }
        // Running as Non-root user
        if c.sc.and_then(|s| s.run_as_user) == Some(0) {
            let f = c.sc_field("runAsUser");
            self.refuse(f, "Running as Non-root user", "must not be 0");
        }
        // Seccomp
        let own =
            c.sc.and_then(|s| s.seccomp_profile.as_ref())
                .map(|p| p.type_.as_str());
        match own.or(pod_seccomp) {
            Some("RuntimeDefault" | "Localhost") | Some("Unconfined") => {}
            _ => {
                let f = c.sc_field("seccompProfile.type");
                self.refuse(
                    f,
                    "Seccomp",
                    "must be RuntimeDefault or Localhost (here or in spec.securityContext)",
                );
            }
        }
        // Capabilities
        let caps = c.sc.and_then(|s| s.capabilities.as_ref());
        let drops_all = caps
            .and_then(|k| k.drop.as_ref())
            .is_some_and(|d| d.iter().any(|n| n.eq_ignore_ascii_case("ALL")));
        if !drops_all {
            let f = c.sc_field("capabilities.drop");
            self.refuse(f, "Capabilities", "must include ALL");
        }
        for (i, cap) in caps
            .and_then(|k| k.add.as_ref())
            .into_iter()
            .flatten()
            .enumerate()
        {
            if capability_key(cap) != "NET_BIND_SERVICE" {
                let f = c.sc_field(&format!("capabilities.add[{i}]"));
                self.refuse(
                    f,
                    "Capabilities",
                    format!("{cap:?} may not be added (only NET_BIND_SERVICE)"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests;
