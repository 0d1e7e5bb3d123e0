//! Pod-level rules: metadata, restart policy, timeouts, host names, sysctls,
//! and pod fields podrt ignores.

use super::*;
use crate::manifest::RestartPolicy;

const ONE: &str = "containers:\n- name: c\n  image: busybox\n";

fn with_metadata(metadata: &str) -> Result<ValidPod, Invalid> {
    let text = format!(
        "apiVersion: v1\n\
        kind: Pod\n\
        metadata:\n\
        {metadata}spec:\n  containers:\n  - name: c\n    image: busybox\n"
    );
    validate(&one_pod(&text), &any_image)
}

#[test]
fn name_is_required() {
    let err = with_metadata("  labels: {a: b}\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "metadata.name: Required value: name or generateName is required"
    );
}

#[test]
fn name_must_be_a_dns_subdomain() {
    let err = with_metadata("  name: My_Pod\n").unwrap_err();
    assert_eq!(err.errors[0].field, "metadata.name");
    assert!(err.errors[0]
        .message
        .starts_with("Invalid value: \"My_Pod\": a lowercase RFC 1123 subdomain must consist of"));
    let long = format!("  name: {}\n", "a".repeat(254));
    let err = with_metadata(&long).unwrap_err();
    assert!(
        err.errors[0]
            .message
            .ends_with("must be no more than 253 characters"),
        "{err}"
    );
    assert!(with_metadata("  name: web.example-1\n").is_ok());
}

#[test]
fn generate_name_gives_a_name_once() {
    let pod = with_metadata("  generateName: web-\n").expect("valid");
    assert!(pod.generated_name);
    assert!(
        pod.name.starts_with("web-") && pod.name.len() == 9,
        "{}",
        pod.name
    );
    let err = with_metadata("  generateName: Web_\n").unwrap_err();
    assert_eq!(err.errors[0].field, "metadata.generateName");
    // name wins over generateName, as in Kubernetes.
    let pod = with_metadata("  name: fixed\n  generateName: web-\n").expect("valid");
    assert_eq!((pod.name.as_str(), pod.generated_name), ("fixed", false));
}

#[test]
fn namespace_defaults_and_must_be_a_label() {
    assert_eq!(
        with_metadata("  name: p\n").expect("valid").namespace,
        "default"
    );
    assert_eq!(
        with_metadata("  name: p\n  namespace: team-a\n")
            .expect("valid")
            .namespace,
        "team-a"
    );
    let err = with_metadata("  name: p\n  namespace: team.a\n").unwrap_err();
    assert_eq!(err.errors[0].field, "metadata.namespace");
    assert!(err.errors[0]
        .message
        .starts_with("Invalid value: \"team.a\": a lowercase RFC 1123 label"));
}

#[test]
fn labels_must_be_valid() {
    let err = with_metadata("  name: p\n  labels: {\"bad key\": x, ok: \"-bad\"}\n").unwrap_err();
    assert_eq!(err.errors.len(), 2, "{err}");
    assert!(err.errors.iter().all(|e| e.field == "metadata.labels"));
}

#[test]
fn uid_is_ignored_with_a_warning() {
    let pod =
        with_metadata("  name: p\n  uid: 0b6d0c3a-0000-4000-8000-000000000000\n").expect("valid");
    assert_eq!(
        pod.warnings,
        ["metadata.uid: podrt gives every pod a new UID, ignored"]
    );
}

#[test]
fn spec_is_required() {
    let pod = one_pod("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n");
    assert_eq!(
        validate(&pod, &any_image).unwrap_err().to_string(),
        "spec: Required value"
    );
}

#[test]
fn restart_policy() {
    assert_eq!(
        check(ONE).expect("valid").settings.restart_policy,
        RestartPolicy::Always
    );
    let pod = check(&format!("{ONE}restartPolicy: Never\n")).expect("valid");
    assert_eq!(pod.settings.restart_policy, RestartPolicy::Never);
    let pod = check(&format!("{ONE}restartPolicy: OnFailure\n")).expect("valid");
    assert_eq!(pod.settings.restart_policy, RestartPolicy::OnFailure);
    expect_error(
        &format!("{ONE}restartPolicy: Sometimes\n"),
        "spec.restartPolicy",
        "Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"",
    );
}

#[test]
fn termination_grace_period() {
    let pod = check(&format!("{ONE}terminationGracePeriodSeconds: 0\n")).expect("valid");
    assert_eq!(pod.settings.termination_grace_period_seconds, 0);
    expect_error(
        &format!("{ONE}terminationGracePeriodSeconds: -1\n"),
        "spec.terminationGracePeriodSeconds",
        "Invalid value: -1: must be greater than or equal to 0",
    );
}

#[test]
fn active_deadline() {
    let pod = check(&format!("{ONE}activeDeadlineSeconds: 60\n")).expect("valid");
    assert_eq!(pod.settings.active_deadline_seconds, Some(60));
    expect_error(
        &format!("{ONE}activeDeadlineSeconds: 0\n"),
        "spec.activeDeadlineSeconds",
        "Invalid value: 0: must be between 1 and 2147483647, inclusive",
    );
}

#[test]
fn hostname_and_subdomain_are_labels() {
    assert!(check(&format!("{ONE}hostname: web-1\nsubdomain: svc\n")).is_ok());
    expect_error_start(
        &format!("{ONE}hostname: web.1\n"),
        "spec.hostname",
        "Invalid value: \"web.1\": a lowercase RFC 1123 label",
    );
    expect_error_start(
        &format!("{ONE}subdomain: Svc\n"),
        "spec.subdomain",
        "Invalid value: \"Svc\": a lowercase RFC 1123 label",
    );
}

#[test]
fn sysctl_names() {
    let ok = format!(
        "{ONE}securityContext:\n  \
           sysctls: [{{name: net.ipv4.ip_unprivileged_port_start, value: \"0\"}}]\n"
    );
    assert!(check(&ok).is_ok());
    let bad = format!(
        "{ONE}securityContext:\n  sysctls:\n  \
           - {{name: net.ipv4.ip_forward, value: \"1\"}}\n  \
           - {{name: Net..x, value: \"1\"}}\n  \
           - {{name: net.ipv4.ip_forward, value: \"0\"}}\n"
    );
    expect_error_start(
        &bad,
        "spec.securityContext.sysctls[1].name",
        "Invalid value: \"Net..x\": must have at most 253 characters",
    );
    expect_error(
        &bad,
        "spec.securityContext.sysctls[2].name",
        "Duplicate value: \"net.ipv4.ip_forward\"",
    );
}

#[test]
fn unsupported_pod_fields_are_warnings() {
    let spec = format!(
        "{ONE}nodeSelector: {{disk: ssd}}\n\
            serviceAccountName: robot\n\
            tolerations: [{{key: k, operator: Exists}}]\n\
            imagePullSecrets: [{{name: regcred}}]\n\
            affinity: {{}}\n"
    );
    let w = warnings(&spec);
    assert_eq!(
        w,
        [
            "spec.affinity: not supported by podrt yet, ignored",
            "spec.nodeSelector: not supported by podrt yet, ignored",
            "spec.tolerations: not supported by podrt yet, ignored",
            "spec.serviceAccountName: not supported by podrt yet, ignored",
            "spec.imagePullSecrets: not supported by podrt yet, ignored",
        ]
    );
}

#[test]
fn os_must_be_linux() {
    expect_error(
        &format!("{ONE}os: {{name: windows}}\n"),
        "spec.os.name",
        "Unsupported value: \"windows\": supported values: \"linux\"",
    );
}

#[test]
fn all_errors_are_reported_at_once() {
    let spec = "restartPolicy: Maybe\n\
        terminationGracePeriodSeconds: -5\n\
        containers:\n\
        - name: Bad\n  image: busybox\n\
        - image: busybox\n";
    let err = check(spec).unwrap_err();
    let fields: Vec<&str> = err.errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "spec.restartPolicy",
            "spec.terminationGracePeriodSeconds",
            "spec.containers[0].name",
            "spec.containers[1].name",
        ]
    );
}

#[test]
fn settings_are_defaulted_once_and_read_back_from_the_manifest_alike() {
    let plain = check(ONE).expect("valid").settings;
    assert!(!plain.host_network && !plain.host_pid && !plain.host_ipc);
    assert!(!plain.share_process_namespace);
    assert_eq!(plain.grace_period(), std::time::Duration::from_secs(30));
    let text = format!(
        "{ONE}hostNetwork: true\nhostIPC: true\nrestartPolicy: OnFailure\nterminationGracePeriodSeconds: 7\n"
    );
    let valid = check(&text).expect("valid").settings;
    assert!(valid.host_network && valid.host_ipc && !valid.host_pid);
    assert_eq!(valid.restart_policy, RestartPolicy::OnFailure);
    assert_eq!(valid.termination_grace_period_seconds, 7);
    // A record written before podrt kept the settings gets the same values
    // from its manifest.
    assert_eq!(
        crate::manifest::settings_of(&one_pod(&pod_yaml(&text))),
        valid
    );
    assert_eq!(
        crate::manifest::settings_of(&one_pod(&pod_yaml(ONE))),
        plain
    );
}
