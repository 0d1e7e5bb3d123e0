//! `spec.hostUsers: false` beside what shares the host: a pod in its own user
//! namespace cannot join the host's network, PID or IPC namespace (they belong
//! to the host's user namespace, where the pod's root is nobody), nor have a
//! privileged container (every capability and device of the host). Kubernetes
//! refuses the host namespaces the same way; podrt refuses privileged too
//! rather than run it unprivileged in disguise.

use k8s_openapi::api::core::v1::{PodSpec, SecurityContext};

use super::report::{FieldPath, Report};

/// Refuses `spec.hostUsers: false` beside anything [`sharing`] finds.
pub(super) fn validate(spec: &PodSpec, report: &mut Report) {
    if spec.host_users != Some(false) {
        return;
    }
    for (field, why) in sharing(spec) {
        report.forbidden(
            &field,
            &format!("cannot be combined with spec.hostUsers: false ({why})"),
        );
    }
}

/// Whether the pod shares a namespace of the host or has a privileged container
/// (init and ephemeral ones too), so it cannot have a user namespace of its own.
pub(crate) fn shares_host(spec: &PodSpec) -> bool {
    !sharing(spec).is_empty()
}

/// Each field sharing something of the host, and why a pod in its own user
/// namespace cannot have it.
fn sharing(spec: &PodSpec) -> Vec<(FieldPath, &'static str)> {
    let spec_path = FieldPath::root("spec");
    let mut out = Vec::new();
    for (name, set, why) in [
        (
            "hostNetwork",
            spec.host_network,
            "a pod in its own user namespace cannot share the host's network namespace",
        ),
        (
            "hostPID",
            spec.host_pid,
            "a pod in its own user namespace cannot share the host's PID namespace",
        ),
        (
            "hostIPC",
            spec.host_ipc,
            "a pod in its own user namespace cannot share the host's IPC namespace",
        ),
    ] {
        if set == Some(true) {
            out.push((spec_path.key(name), why));
        }
    }
    let privileged =
        |sc: &Option<SecurityContext>| sc.as_ref().and_then(|sc| sc.privileged) == Some(true);
    let lists = [
        (
            "initContainers",
            spec.init_containers
                .iter()
                .flatten()
                .map(|c| privileged(&c.security_context))
                .collect::<Vec<_>>(),
        ),
        (
            "containers",
            spec.containers
                .iter()
                .map(|c| privileged(&c.security_context))
                .collect(),
        ),
        (
            "ephemeralContainers",
            spec.ephemeral_containers
                .iter()
                .flatten()
                .map(|c| privileged(&c.security_context))
                .collect(),
        ),
    ];
    for (list, flags) in lists {
        for (i, _) in flags.iter().enumerate().filter(|(_, p)| **p) {
            out.push((
                spec_path
                    .key(list)
                    .index(i)
                    .key("securityContext")
                    .key("privileged"),
                "a privileged container has every capability and device of the host, \
                 which a container in its own user namespace cannot have",
            ));
        }
    }
    out
}
