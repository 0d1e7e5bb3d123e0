//! Reading a PodSecurityPolicy file and checking the policy itself, as the API
//! server's validation would before storing it: a policy that cannot mean
//! anything (a range upside down, a capability both required-dropped and
//! allowed, `MustRunAs` without ranges) is refused with the policy field.

use std::path::Path;

use crate::manifest;

use super::super::pod_view::{capability_key, VOLUME_TYPES};
use super::super::PolicyError;
use super::document::{GroupRule, GroupStrategy, PodSecurityPolicy, SeLinuxRule, UserRule};

/// Reads the one PodSecurityPolicy document of `path`.
pub(crate) fn load(path: &Path) -> Result<PodSecurityPolicy, PolicyError> {
    let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, &path.display().to_string())
}

/// Parses and checks a PodSecurityPolicy from `text`; `file` names it in messages.
pub(crate) fn parse(text: &str, file: &str) -> Result<PodSecurityPolicy, PolicyError> {
    let bad = |field: &str, message: String| PolicyError::Field {
        file: file.to_string(),
        field: field.to_string(),
        message,
    };
    let docs = manifest::documents(text, file).map_err(|e| PolicyError::Text(e.to_string()))?;
    let [doc] = docs.as_slice() else {
        return Err(bad(
            "",
            format!(
                "expected one PodSecurityPolicy document, found {}",
                docs.len()
            ),
        ));
    };
    from_document(doc.clone(), file)
}

/// Decodes and checks one PodSecurityPolicy document; `file` names it in
/// messages.
pub(crate) fn from_document(
    doc: serde_json::Value,
    file: &str,
) -> Result<PodSecurityPolicy, PolicyError> {
    let bad = |field: &str, message: String| PolicyError::Field {
        file: file.to_string(),
        field: field.to_string(),
        message,
    };
    let policy: PodSecurityPolicy = serde_path_to_error::deserialize(doc).map_err(|e| {
        let field = e.path().to_string();
        bad(
            if field == "." { "" } else { &field },
            e.inner().to_string(),
        )
    })?;
    if policy.kind != "PodSecurityPolicy" {
        return Err(bad(
            "kind",
            format!("{:?}: expected PodSecurityPolicy", policy.kind),
        ));
    }
    if !["policy/v1beta1", "extensions/v1beta1"].contains(&policy.api_version.as_str()) {
        return Err(bad(
            "apiVersion",
            format!(
                "{:?}: expected policy/v1beta1 (or extensions/v1beta1)",
                policy.api_version
            ),
        ));
    }
    let errors = check(&policy);
    if let Some((field, message)) = errors.into_iter().next() {
        return Err(bad(&field, message));
    }
    Ok(policy)
}

/// What is wrong with the policy itself, field by field.
fn check(p: &PodSecurityPolicy) -> Vec<(String, String)> {
    let s = &p.spec;
    let mut out = Vec::new();
    if p.metadata.name.is_empty() {
        out.push(("metadata.name".into(), "Required value".into()));
    }
    for (i, r) in s.host_ports.iter().enumerate() {
        if r.min < 0 || r.max > 65535 || r.min > r.max {
            out.push((
                format!("spec.hostPorts[{i}]"),
                format!(
                    "{}-{}: min and max must be ports (0-65535), min <= max",
                    r.min, r.max
                ),
            ));
        }
    }
    let mut id_ranges = |field: &str, ranges: &[super::document::IdRange], must: bool| {
        if must && ranges.is_empty() {
            out.push((
                format!("spec.{field}.ranges"),
                "Required value: MustRunAs needs a range".into(),
            ));
        }
        for (i, r) in ranges.iter().enumerate() {
            if r.min < 0 || r.min > r.max {
                out.push((
                    format!("spec.{field}.ranges[{i}]"),
                    format!("{}-{}: min must be >= 0 and <= max", r.min, r.max),
                ));
            }
        }
    };
    id_ranges(
        "runAsUser",
        &s.run_as_user.ranges,
        s.run_as_user.rule == UserRule::MustRunAs,
    );
    let groups: [(&str, Option<&GroupStrategy>); 3] = [
        ("runAsGroup", s.run_as_group.as_ref()),
        ("supplementalGroups", Some(&s.supplemental_groups)),
        ("fsGroup", Some(&s.fs_group)),
    ];
    for (field, g) in groups {
        if let Some(g) = g {
            id_ranges(field, &g.ranges, g.rule != GroupRule::RunAsAny);
        }
    }
    if s.se_linux.rule == SeLinuxRule::MustRunAs && s.se_linux.options.is_none() {
        out.push((
            "spec.seLinux.seLinuxOptions".into(),
            "Required value: MustRunAs needs seLinuxOptions".into(),
        ));
    }
    for (field, list) in [
        ("defaultAddCapabilities", &s.default_add_capabilities),
        ("requiredDropCapabilities", &s.required_drop_capabilities),
        ("allowedCapabilities", &s.allowed_capabilities),
    ] {
        for (i, name) in list.iter().enumerate() {
            let known = (field == "allowedCapabilities" && name == "*")
                || crate::security::capabilities::parse(name, String::new()).is_ok();
            if !known {
                out.push((
                    format!("spec.{field}[{i}]"),
                    format!("unknown capability {name:?}"),
                ));
            }
        }
    }
    for (i, name) in s.required_drop_capabilities.iter().enumerate() {
        let key = capability_key(name);
        for (other, list) in [
            ("allowedCapabilities", &s.allowed_capabilities),
            ("defaultAddCapabilities", &s.default_add_capabilities),
        ] {
            if list.iter().any(|n| capability_key(n) == key) {
                out.push((
                    format!("spec.requiredDropCapabilities[{i}]"),
                    format!("{name:?} is also in {other}"),
                ));
            }
        }
    }
    for (i, v) in s.volumes.iter().enumerate() {
        if v != "*" && v != "none" && !VOLUME_TYPES.contains(&v.as_str()) {
            out.push((
                format!("spec.volumes[{i}]"),
                format!("Unsupported value: {v:?}: not a volume type (e.g. emptyDir, hostPath, configMap, or *)"),
            ));
        }
    }
    for (i, h) in s.allowed_host_paths.iter().enumerate() {
        if !h.path_prefix.starts_with('/') || h.path_prefix.split('/').any(|c| c == "..") {
            out.push((
                format!("spec.allowedHostPaths[{i}].pathPrefix"),
                format!("{:?}: must be an absolute path without ..", h.path_prefix),
            ));
        }
    }
    if s.allow_privilege_escalation == Some(false)
        && s.default_allow_privilege_escalation == Some(true)
    {
        out.push((
            "spec.defaultAllowPrivilegeEscalation".into(),
            "Invalid value: true: cannot be true when allowPrivilegeEscalation is false".into(),
        ));
    }
    for (i, t) in s.allowed_proc_mount_types.iter().enumerate() {
        if t != "Default" && t != "Unmasked" {
            out.push((
                format!("spec.allowedProcMountTypes[{i}]"),
                format!("Unsupported value: {t:?}: supported values: \"Default\", \"Unmasked\""),
            ));
        }
    }
    out
}
