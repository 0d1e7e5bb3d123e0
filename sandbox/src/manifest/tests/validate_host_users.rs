//! `hostUsers: false`: a pod of its own users validates quietly; beside the
//! host's namespaces or a privileged container it is refused, naming both fields.

use super::*;

const ONE: &str = "containers:\n- name: c\n  image: busybox\n";

fn with_host_users(extra: &str) -> String {
    format!("{ONE}hostUsers: false\n{extra}")
}

#[test]
fn a_pod_of_its_own_users_validates_without_warnings() {
    assert_eq!(warnings(&with_host_users("")), Vec::<String>::new());
    // hostUsers: true and host namespaces are fine together.
    assert!(check(&format!("{ONE}hostUsers: true\nhostNetwork: true\n")).is_ok());
}

#[test]
fn host_namespaces_are_refused() {
    for (field, namespace) in [
        ("hostNetwork", "network"),
        ("hostPID", "PID"),
        ("hostIPC", "IPC"),
    ] {
        expect_error(
            &with_host_users(&format!("{field}: true\n")),
            &format!("spec.{field}"),
            &format!(
                "Forbidden: cannot be combined with spec.hostUsers: false (a pod in its own \
                 user namespace cannot share the host's {namespace} namespace)"
            ),
        );
    }
    // hostNetwork: false is no sharing.
    assert!(check(&with_host_users("hostNetwork: false\n")).is_ok());
}

#[test]
fn privileged_containers_are_refused() {
    let privileged = "securityContext: {privileged: true}\n";
    let spec = format!(
        "hostUsers: false\ncontainers:\n{}{}initContainers:\n{}",
        container("a", ""),
        container("b", privileged),
        container("i", privileged),
    );
    let message = "Forbidden: cannot be combined with spec.hostUsers: false (a privileged \
                   container has every capability and device of the host, which a container \
                   in its own user namespace cannot have)";
    expect_error(
        &spec,
        "spec.containers[1].securityContext.privileged",
        message,
    );
    expect_error(
        &spec,
        "spec.initContainers[0].securityContext.privileged",
        message,
    );
    let invalid = check(&spec).unwrap_err();
    assert_eq!(invalid.errors.len(), 2, "{invalid}");
    let unprivileged = with_host_users("").replace(
        "image: busybox\n",
        "image: busybox\n  securityContext: {privileged: false}\n",
    );
    assert!(check(&unprivileged).is_ok());
}
