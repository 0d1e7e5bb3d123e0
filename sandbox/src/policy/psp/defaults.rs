//! What a PodSecurityPolicy fills in before it judges a pod, as the PSP
//! admission plugin did: the first ID of each `MustRunAs` range where the pod
//! gives none, `runAsNonRoot: true` under `MustRunAsNonRoot`, the policy's
//! SELinux options, `defaultAddCapabilities` and `requiredDropCapabilities`,
//! a read-only root and the default for `allowPrivilegeEscalation`. Only
//! fields the pod leaves unset are written, so defaulting never overrides
//! what the user said; the checks then judge the result.

use k8s_openapi::api::core::v1::{Capabilities, PodSpec};

use super::super::pod_view::{capability_key, for_each_context_mut};
use super::document::{GroupRule, PolicySpec, SeLinuxRule, UserRule};

/// Fills in `spec` from policy `p`.
pub(super) fn apply(p: &PolicySpec, spec: &mut PodSpec) {
    let pod_sc = spec.security_context.get_or_insert_with(Default::default);
    let first = |ranges: &[super::document::IdRange]| ranges.first().map(|r| r.min);
    if p.supplemental_groups.rule == GroupRule::MustRunAs
        && pod_sc
            .supplemental_groups
            .as_ref()
            .is_none_or(|g| g.is_empty())
    {
        pod_sc.supplemental_groups = first(&p.supplemental_groups.ranges).map(|g| vec![g]);
    }
    if p.fs_group.rule == GroupRule::MustRunAs && pod_sc.fs_group.is_none() {
        pod_sc.fs_group = first(&p.fs_group.ranges);
    }
    if p.se_linux.rule == SeLinuxRule::MustRunAs && pod_sc.se_linux_options.is_none() {
        pod_sc.se_linux_options = p.se_linux.options.clone();
    }
    let pod_user = pod_sc.run_as_user;
    let pod_group = pod_sc.run_as_group;
    let pod_non_root = pod_sc.run_as_non_root;
    if spec.security_context.as_ref() == Some(&Default::default()) {
        spec.security_context = None;
    }
    if let Some(rc) = &p.runtime_class {
        if spec.runtime_class_name.is_none() {
            spec.runtime_class_name = rc.default_runtime_class_name.clone();
        }
    }
    for_each_context_mut(spec, |_, sc| {
        if p.run_as_user.rule == UserRule::MustRunAs && sc.run_as_user.or(pod_user).is_none() {
            sc.run_as_user = first(&p.run_as_user.ranges);
        }
        if let Some(g) = &p.run_as_group {
            if g.rule == GroupRule::MustRunAs && sc.run_as_group.or(pod_group).is_none() {
                sc.run_as_group = first(&g.ranges);
            }
        }
        if p.run_as_user.rule == UserRule::MustRunAsNonRoot
            && sc.run_as_non_root.or(pod_non_root).is_none()
            && sc.run_as_user.or(pod_user).is_none()
        {
            sc.run_as_non_root = Some(true);
        }
        capabilities(p, sc);
        if p.read_only_root_filesystem && sc.read_only_root_filesystem.is_none() {
            sc.read_only_root_filesystem = Some(true);
        }
        if sc.allow_privilege_escalation.is_none() {
            sc.allow_privilege_escalation = match p.default_allow_privilege_escalation {
                Some(v) => Some(v),
                None if p.allow_privilege_escalation == Some(false) => Some(false),
                None => None,
            };
        }
    });
}

/// `defaultAddCapabilities` into `add` unless dropped or there already;
/// `requiredDropCapabilities` into `drop` unless there (or `ALL` is).
fn capabilities(p: &PolicySpec, sc: &mut k8s_openapi::api::core::v1::SecurityContext) {
    if p.default_add_capabilities.is_empty() && p.required_drop_capabilities.is_empty() {
        return;
    }
    let caps = sc.capabilities.get_or_insert_with(Capabilities::default);
    let has = |list: &Option<Vec<String>>, key: &str| {
        list.iter().flatten().any(|n| capability_key(n) == key)
    };
    for name in &p.default_add_capabilities {
        let key = capability_key(name);
        if !has(&caps.add, &key) && !has(&caps.drop, &key) {
            caps.add.get_or_insert_with(Vec::new).push(key);
        }
    }
    for name in &p.required_drop_capabilities {
        let key = capability_key(name);
        if !has(&caps.drop, &key) && !has(&caps.drop, "ALL") {
            caps.drop.get_or_insert_with(Vec::new).push(key);
        }
    }
}
