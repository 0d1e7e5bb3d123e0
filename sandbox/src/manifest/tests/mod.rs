//! Tests of the manifest layer as a user meets it: a YAML file in, pods or
//! one line per problem out. Every validation rule has a failing example
//! asserting the exact field path.

mod parsing;
mod validate_containers;
mod validate_host_users;
mod validate_pod;
mod validate_volumes;

use k8s_openapi::api::core::v1::Pod;

use super::{parse, validate, Invalid, ValidPod};

/// The pod from the user's documents (seeds/).
pub(super) const SEED: &str = "\
apiVersion: v1
kind: Pod
metadata:
  name: myapp-pod
  labels:
    app: myapp
spec:
  containers:
  - name: myapp-container
    image: busybox
    command: ['sh', '-c', 'echo The app is running! && sleep 3600']
  initContainers:
  - name: init-myservice
    image: busybox
    command: ['sh', '-c', 'until nslookup myservice; do echo waiting for myservice; sleep 2; done;']
  - name: init-mydb
    image: busybox
    command: ['sh', '-c', 'until nslookup mydb; do echo waiting for mydb; sleep 2; done;']
";

/// A Pod document named `p` with `spec` (written without indentation) as its spec.
pub(super) fn pod_yaml(spec: &str) -> String {
    let mut out = String::from("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n");
    for line in spec.lines() {
        out.push_str("  ");
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The single pod of a YAML text.
pub(super) fn one_pod(yaml: &str) -> Pod {
    let mut manifest = parse(yaml, "pod.yaml").expect("manifest parses");
    assert_eq!(manifest.pods.len(), 1, "one pod expected");
    manifest.pods.remove(0)
}

/// Every image is in the store.
pub(super) fn any_image(_: &str) -> bool {
    true
}

/// Validates a pod whose spec is `spec`, with every image present.
pub(super) fn check(spec: &str) -> Result<ValidPod, Invalid> {
    validate(&one_pod(&pod_yaml(spec)), &any_image)
}

/// Validates `spec` and asserts that it fails with exactly this error
/// (among possibly others).
#[track_caller]
pub(super) fn expect_error(spec: &str, field: &str, message: &str) {
    let invalid = check(spec).expect_err("pod should be refused");
    assert!(
        invalid
            .errors
            .iter()
            .any(|e| e.field == field && e.message == message),
        "expected `{field}: {message}`, got:\n{invalid}"
    );
}

/// Like [`expect_error`] but only the start of the message is compared.
#[track_caller]
pub(super) fn expect_error_start(spec: &str, field: &str, message_start: &str) {
    let invalid = check(spec).expect_err("pod should be refused");
    assert!(
        invalid
            .errors
            .iter()
            .any(|e| e.field == field && e.message.starts_with(message_start)),
        "expected `{field}: {message_start}…`, got:\n{invalid}"
    );
}

/// Validates `spec`, asserts it passes, and returns its warnings.
#[track_caller]
pub(super) fn warnings(spec: &str) -> Vec<String> {
    match check(spec) {
        Ok(pod) => pod.warnings,
        Err(e) => panic!("pod should be valid, got:\n{e}"),
    }
}

/// A container block with `extra` lines added (written at container level).
pub(super) fn container(name: &str, extra: &str) -> String {
    let mut out = format!("- name: {name}\n  image: busybox\n");
    for line in extra.lines() {
        out.push_str("  ");
        out.push_str(line);
        out.push('\n');
    }
    out
}
