//! Judging a (defaulted) pod against a PodSecurityPolicy: one check per
//! policy field, each finding named by the pod field at fault and the policy
//! field that refuses it.

use k8s_openapi::api::core::v1::{PodSpec, SELinuxOptions};

use super::super::pod_view::{capability_key, containers, host_ports, volume_type, ContainerView};
use super::super::standards::SAFE_SYSCTLS;
use super::super::Violation;
use super::document::{GroupRule, GroupStrategy, IdRange, PolicySpec, SeLinuxRule, UserRule};

/// Every way `spec` breaks policy `p`.
pub(super) fn check(p: &PolicySpec, spec: &PodSpec) -> Vec<Violation> {
    let mut c = Checks {
        p,
        found: Vec::new(),
    };
    c.pod(spec);
    let host_network = spec.host_network == Some(true);
    for view in containers(spec) {
        c.container(spec, &view, host_network);
    }
    c.found
}

struct Checks<'a> {
    p: &'a PolicySpec,
    found: Vec<Violation>,
}

fn ranges_text(ranges: &[IdRange]) -> String {
    let parts: Vec<String> = ranges
        .iter()
        .map(|r| format!("{}-{}", r.min, r.max))
        .collect();
    format!("[{}]", parts.join(", "))
}

/// Whether `name` matches a sysctl pattern (`name` or `prefix*`).
fn sysctl_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

/// Whether host path `path` lies under `prefix`, by whole components.
fn under(prefix: &str, path: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    let path = path.trim_end_matches('/');
    prefix.is_empty()
        || path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

impl Checks<'_> {
    fn refuse(&mut self, field: String, rule: &str, message: impl Into<String>) {
        self.found.push(Violation {
            field,
            message: message.into(),
            rule: rule.to_string(),
        });
    }

    fn pod(&mut self, spec: &PodSpec) {
        let p = self.p;
        for (field, asked, allowed) in [
            ("hostNetwork", spec.host_network, p.host_network),
            ("hostPID", spec.host_pid, p.host_pid),
            ("hostIPC", spec.host_ipc, p.host_ipc),
        ] {
            if asked == Some(true) && !allowed {
                let m = format!("Invalid value: true: {field} is not allowed to be used");
                self.refuse(format!("spec.{field}"), field, m);
            }
        }
        let sc = spec.security_context.as_ref();
        self.group(
            "spec.securityContext.fsGroup",
            "fsGroup",
            &p.fs_group,
            sc.and_then(|s| s.fs_group).map(|g| vec![g]),
        );
        self.group(
            "spec.securityContext.supplementalGroups",
            "supplementalGroups",
            &p.supplemental_groups,
            sc.and_then(|s| s.supplemental_groups.clone()),
        );
        if let Some(g) = &p.run_as_group {
            if let Some(gid) = sc.and_then(|s| s.run_as_group) {
                self.id_in(
                    "spec.securityContext.runAsGroup",
                    "runAsGroup",
                    &g.ranges,
                    g.rule,
                    gid,
                );
            }
        }
        match p.run_as_user.rule {
            UserRule::MustRunAs => {
                if let Some(uid) = sc.and_then(|s| s.run_as_user) {
                    self.id_in(
                        "spec.securityContext.runAsUser",
                        "runAsUser",
                        &p.run_as_user.ranges,
                        GroupRule::MustRunAs,
                        uid,
                    );
                }
            }
            UserRule::MustRunAsNonRoot => {
                if sc.and_then(|s| s.run_as_user) == Some(0) {
                    self.refuse(
                        "spec.securityContext.runAsUser".into(),
                        "runAsUser",
                        "Invalid value: 0: running with the root UID is forbidden",
                    );
                }
            }
            UserRule::RunAsAny => {}
        }
        if let Some(o) = sc.and_then(|s| s.se_linux_options.as_ref()) {
            self.selinux("spec.securityContext.seLinuxOptions", o);
        }
        for (i, s) in sc
            .and_then(|s| s.sysctls.as_ref())
            .into_iter()
            .flatten()
            .enumerate()
        {
            let field = format!("spec.securityContext.sysctls[{i}].name");
            if p.forbidden_sysctls
                .iter()
                .any(|f| sysctl_matches(f, &s.name))
            {
                self.refuse(
                    field,
                    "forbiddenSysctls",
                    format!("{:?} is forbidden", s.name),
                );
            } else if !SAFE_SYSCTLS.contains(&s.name.as_str())
                && !p
                    .allowed_unsafe_sysctls
                    .iter()
                    .any(|f| sysctl_matches(f, &s.name))
            {
                self.refuse(
                    field,
                    "allowedUnsafeSysctls",
                    format!("unsafe sysctl {:?} is not allowed", s.name),
                );
            }
        }
        if let Some(rc) = &p.runtime_class {
            if let Some(name) = &spec.runtime_class_name {
                let allowed = &rc.allowed_runtime_class_names;
                if !allowed.iter().any(|a| a == "*" || a == name) {
                    self.refuse(
                        "spec.runtimeClassName".into(),
                        "runtimeClass",
                        format!("{name:?} is not allowed (allowed: {})", allowed.join(", ")),
                    );
                }
            }
        }
        self.volumes(spec);
    }

    fn volumes(&mut self, spec: &PodSpec) {
        let p = self.p;
        let all = p.volumes.iter().any(|v| v == "*");
        for (i, v) in spec.volumes.iter().flatten().enumerate() {
            let t = volume_type(v);
            let field = format!("spec.volumes[{i}]");
            if !all && !p.volumes.iter().any(|a| a == t) {
                let allowed = if p.volumes.is_empty() {
                    "none".to_string()
                } else {
                    p.volumes.join(", ")
                };
                self.refuse(
                    format!("{field}.{t}"),
                    "volumes",
                    format!("{t} volumes are not allowed to be used (allowed: {allowed})"),
                );
            }
            if let Some(hp) = &v.host_path {
                self.host_path(spec, &field, &v.name, &hp.path);
            }
            if let Some(flex) = &v.flex_volume {
                if !p.allowed_flex_volumes.is_empty()
                    && !p
                        .allowed_flex_volumes
                        .iter()
                        .any(|d| d.driver == flex.driver)
                {
                    self.refuse(
                        format!("{field}.flexVolume.driver"),
                        "allowedFlexVolumes",
                        format!(
                            "Flexvolume driver {:?} is not allowed to be used",
                            flex.driver
                        ),
                    );
                }
            }
            if let Some(csi) = &v.csi {
                if !p.allowed_csi_drivers.is_empty()
                    && !p.allowed_csi_drivers.iter().any(|d| d.name == csi.driver)
                {
                    self.refuse(
                        format!("{field}.csi.driver"),
                        "allowedCSIDrivers",
                        format!(
                            "Inline CSI driver {:?} is not allowed to be used",
                            csi.driver
                        ),
                    );
                }
            }
        }
    }

    /// `allowedHostPaths`: the path must lie under a prefix; when every prefix
    /// it lies under is `readOnly`, every mount of the volume must be read-only.
    fn host_path(&mut self, spec: &PodSpec, field: &str, volume: &str, path: &str) {
        let allowed = &self.p.allowed_host_paths;
        if allowed.is_empty() {
            return;
        }
        let matching: Vec<_> = allowed
            .iter()
            .filter(|a| under(&a.path_prefix, path))
            .collect();
        if matching.is_empty() {
            let prefixes: Vec<&str> = allowed.iter().map(|a| a.path_prefix.as_str()).collect();
            self.refuse(
                format!("{field}.hostPath.path"),
                "allowedHostPaths",
                format!(
                    "{path:?} is not allowed to be used (allowed: {})",
                    prefixes.join(", ")
                ),
            );
            return;
        }
        if matching.iter().all(|a| a.read_only) {
            for c in containers(spec) {
                for (j, m) in c.mounts.iter().enumerate() {
                    if m.name == volume && m.read_only != Some(true) {
                        self.refuse(
                            format!("{}.volumeMounts[{j}].readOnly", c.path),
                            "allowedHostPaths",
                            format!("hostPath {path:?} must be mounted read-only"),
                        );
                    }
                }
            }
        }
    }

    fn group(&mut self, field: &str, rule_name: &str, g: &GroupStrategy, ids: Option<Vec<i64>>) {
        let ids = ids.unwrap_or_default();
        if g.rule == GroupRule::MustRunAs && ids.is_empty() {
            self.refuse(
                field.to_string(),
                rule_name,
                format!(
                    "Required value: must be in the ranges {}",
                    ranges_text(&g.ranges)
                ),
            );
        }
        for (i, id) in ids.into_iter().enumerate() {
            let at = if field.ends_with("supplementalGroups") {
                format!("{field}[{i}]")
            } else {
                field.to_string()
            };
            self.id_in(&at, rule_name, &g.ranges, g.rule, id);
        }
    }

    fn id_in(
        &mut self,
        field: &str,
        rule_name: &str,
        ranges: &[IdRange],
        rule: GroupRule,
        id: i64,
    ) {
        if rule != GroupRule::RunAsAny && !ranges.iter().any(|r| r.contains(id)) {
            self.refuse(
                field.to_string(),
                rule_name,
                format!(
                    "Invalid value: {id}: must be in the ranges {}",
                    ranges_text(ranges)
                ),
            );
        }
    }

    fn selinux(&mut self, field: &str, o: &SELinuxOptions) {
        let s = &self.p.se_linux;
        if s.rule != SeLinuxRule::MustRunAs {
            return;
        }
        let want = s.options.clone().unwrap_or_default();
        let pairs = [
            ("user", &o.user, &want.user),
            ("role", &o.role, &want.role),
            ("type", &o.type_, &want.type_),
            ("level", &o.level, &want.level),
        ];
        for (name, got, want) in pairs {
            if want.is_some() && got != want {
                let m = format!(
                    "Invalid value: {:?}: must be {:?}",
                    got.clone().unwrap_or_default(),
                    want.clone().unwrap_or_default()
                );
                self.refuse(format!("{field}.{name}"), "seLinux", m);
            }
        }
    }

    fn container(&mut self, spec: &PodSpec, c: &ContainerView<'_>, host_network: bool) {
        let p = self.p;
        let sc = c.sc;
        let pod_sc = spec.security_context.as_ref();
        if sc.and_then(|s| s.privileged) == Some(true) && !p.privileged {
            self.refuse(
                c.sc_field("privileged"),
                "privileged",
                "Invalid value: true: Privileged containers are not allowed",
            );
        }
        // Capabilities.
        let caps = sc.and_then(|s| s.capabilities.as_ref());
        let any = p.allowed_capabilities.iter().any(|a| a == "*");
        for (i, name) in caps
            .and_then(|k| k.add.as_ref())
            .into_iter()
            .flatten()
            .enumerate()
        {
            let key = capability_key(name);
            let ok = any
                || p.allowed_capabilities
                    .iter()
                    .chain(&p.default_add_capabilities)
                    .any(|a| capability_key(a) == key);
            if !ok {
                self.refuse(
                    c.sc_field(&format!("capabilities.add[{i}]")),
                    "allowedCapabilities",
                    format!("Invalid value: {name:?}: capability may not be added"),
                );
            }
        }
        let drop = caps.and_then(|k| k.drop.as_ref());
        let drops = |key: &str| {
            drop.into_iter()
                .flatten()
                .any(|n| capability_key(n) == key || n.eq_ignore_ascii_case("ALL"))
        };
        for name in &p.required_drop_capabilities {
            if !drops(&capability_key(name)) {
                self.refuse(
                    c.sc_field("capabilities.drop"),
                    "requiredDropCapabilities",
                    format!("{name} is required to be dropped but was not found"),
                );
            }
        }
        // Users and groups.
        let uid = sc
            .and_then(|s| s.run_as_user)
            .or(pod_sc.and_then(|s| s.run_as_user));
        let own_uid = sc.and_then(|s| s.run_as_user);
        match p.run_as_user.rule {
            UserRule::MustRunAs => match (own_uid, uid) {
                (Some(u), _) => self.id_in(
                    &c.sc_field("runAsUser"),
                    "runAsUser",
                    &p.run_as_user.ranges,
                    GroupRule::MustRunAs,
                    u,
                ),
                (None, None) => self.refuse(
                    c.sc_field("runAsUser"),
                    "runAsUser",
                    format!(
                        "Required value: must be in the ranges {}",
                        ranges_text(&p.run_as_user.ranges)
                    ),
                ),
                (None, Some(_)) => {}
            },
            UserRule::MustRunAsNonRoot => {
                let non_root = sc
                    .and_then(|s| s.run_as_non_root)
                    .or(pod_sc.and_then(|s| s.run_as_non_root));
                if own_uid == Some(0) {
                    self.refuse(
                        c.sc_field("runAsUser"),
                        "runAsUser",
                        "Invalid value: 0: running with the root UID is forbidden",
                    );
                } else if uid.is_none() && non_root != Some(true) {
                    self.refuse(
                        c.sc_field("runAsNonRoot"),
                        "runAsUser",
                        "Invalid value: false: must be true (MustRunAsNonRoot)",
                    );
                }
            }
            UserRule::RunAsAny => {}
        }
        if let Some(g) = &p.run_as_group {
            let own = sc.and_then(|s| s.run_as_group);
            let any_gid = own.or(pod_sc.and_then(|s| s.run_as_group));
            if let Some(gid) = own {
                self.id_in(
                    &c.sc_field("runAsGroup"),
                    "runAsGroup",
                    &g.ranges,
                    g.rule,
                    gid,
                );
            } else if any_gid.is_none() && g.rule == GroupRule::MustRunAs {
                self.refuse(
                    c.sc_field("runAsGroup"),
                    "runAsGroup",
                    format!(
                        "Required value: must be in the ranges {}",
                        ranges_text(&g.ranges)
                    ),
                );
            }
        }
        if let Some(o) = sc.and_then(|s| s.se_linux_options.as_ref()) {
            self.selinux(&c.sc_field("seLinuxOptions"), o);
        }
        if p.read_only_root_filesystem && sc.and_then(|s| s.read_only_root_filesystem) != Some(true)
        {
            self.refuse(
                c.sc_field("readOnlyRootFilesystem"),
                "readOnlyRootFilesystem",
                "Invalid value: false: must be true",
            );
        }
        if p.allow_privilege_escalation == Some(false)
            && sc.and_then(|s| s.allow_privilege_escalation) != Some(false)
        {
            self.refuse(
                c.sc_field("allowPrivilegeEscalation"),
                "allowPrivilegeEscalation",
                "Invalid value: true: Allowing privilege escalation for containers is not allowed",
            );
        }
        if let Some(m) = sc.and_then(|s| s.proc_mount.as_deref()) {
            if m != "Default" && !p.allowed_proc_mount_types.iter().any(|a| a == m) {
                self.refuse(
                    c.sc_field("procMount"),
                    "allowedProcMountTypes",
                    format!("Invalid value: {m:?}: ProcMountType is not allowed"),
                );
            }
        }
        for (field, port) in host_ports(c, host_network) {
            if !p.host_ports.iter().any(|r| r.min <= port && port <= r.max) {
                let allowed: Vec<String> = p
                    .host_ports
                    .iter()
                    .map(|r| format!("{}-{}", r.min, r.max))
                    .collect();
                self.refuse(field, "hostPorts", format!("Invalid value: {port}: Host port {port} is not allowed to be used. Allowed ports: [{}]", allowed.join(", ")));
            }
        }
    }
}
