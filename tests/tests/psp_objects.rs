//! PodSecurityPolicy objects as the seed's kubectl session uses them: the
//! seed's own `psp.yaml` created, listed with kubectl's columns, shown as
//! YAML, edited (a bad edit refused and kept), deleted; and stored policies
//! as the admission policy: tried in name order, a refused pod told every
//! policy's reasons, a Deployment whose new pods a policy refuses showing it
//! as events and a ReplicaFailure condition.

use podrt_tests::pods::{text, PodEnv};
use podrt_tests::workloads::{workload_env, Agent};
use podrt_tests::{repo, wait_until};
use serde_json::Value;

fn seed_psp() -> String {
    repo().join("tests/fixtures/psp.yaml").display().to_string()
}

fn columns(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(|l| l.split_whitespace().map(String::from).collect())
        .collect()
}

#[test]
fn the_seeds_policy_is_created_listed_edited_and_deleted() {
    let env = workload_env();
    let psp = seed_psp();
    assert_eq!(
        env.ok(&["create", "-f", &psp]).trim(),
        "podsecuritypolicy.policy/permissive created"
    );
    let again = env.podrt(&["create", "-f", &psp]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        text(&again.stderr).contains("AlreadyExists"),
        "{}",
        text(&again.stderr)
    );
    assert_eq!(
        columns(&env.ok(&["get", "psp"])),
        [
            vec![
                "NAME",
                "PRIV",
                "CAPS",
                "SELINUX",
                "RUNASUSER",
                "FSGROUP",
                "SUPGROUP",
                "READONLYROOTFS",
                "VOLUMES"
            ],
            vec![
                "permissive",
                "false",
                "RunAsAny",
                "RunAsAny",
                "RunAsAny",
                "RunAsAny",
                "false",
                "*"
            ],
        ]
    );
    // The file's objects, as kubectl's get -f and describe -f show them.
    let listed = env.ok(&["get", "-f", &psp]);
    assert!(
        listed.contains("podsecuritypolicy.policy/permissive") && listed.contains("RunAsAny"),
        "{listed}"
    );
    let page = env.ok(&["describe", "-f", &psp]);
    assert!(page.starts_with("Name:  permissive\n"), "{page}");
    assert!(
        page.contains("Allow Host Ports:                       8000-8080"),
        "{page}"
    );
    assert_eq!(env.ok(&["describe", "psp", "permissive"]), page);
    let yaml = env.ok(&["get", "psp", "permissive", "-o", "yaml"]);
    assert!(
        yaml.starts_with("apiVersion: policy/v1beta1\nkind: PodSecurityPolicy\n"),
        "{yaml}"
    );
    assert!(yaml.contains("- max: 8080\n    min: 8000"), "{yaml}");

    // An edit the checks refuse is not stored, and the user's copy is kept.
    let bad = env
        .cmd()
        .args(["edit", "psp", "permissive"])
        .env("EDITOR", "sed -i -e 's/max: 8080/max: 7000/'")
        .output()
        .expect("run edit");
    assert_eq!(bad.status.code(), Some(1));
    let err = text(&bad.stderr);
    assert!(err.contains("spec.hostPorts[0]"), "{err}");
    let kept = err
        .split('"')
        .find(|s| s.starts_with("/tmp/podrt-edit-"))
        .expect("the kept copy's path");
    assert!(std::fs::read_to_string(kept).is_ok_and(|t| t.contains("max: 7000")));
    let _ = std::fs::remove_file(kept);
    let good = env
        .cmd()
        .args(["edit", "psp", "permissive"])
        .env("EDITOR", "sed -i -e 's/^spec:/spec:\\n  privileged: true/'")
        .output()
        .expect("run edit");
    assert!(good.status.success(), "{}", text(&good.stderr));
    assert_eq!(
        text(&good.stdout).trim(),
        "podsecuritypolicy.policy/permissive edited"
    );
    assert_eq!(columns(&env.ok(&["get", "psp"]))[1][1], "true");

    assert_eq!(
        env.ok(&["delete", "psp", "permissive"]).trim(),
        "podsecuritypolicy.policy \"permissive\" deleted"
    );
    let none = env.podrt(&["get", "psp"]);
    assert!(text(&none.stderr).contains("No resources found"));
    let gone = env.podrt(&["delete", "psp", "permissive"]);
    assert_eq!(gone.status.code(), Some(1));
    assert!(
        text(&gone.stderr).contains("NotFound"),
        "{}",
        text(&gone.stderr)
    );

    // A bad policy: refused naming the field, nothing stored.
    let broken = env.manifest(
        "bad-psp.yaml",
        "apiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata: {name: broken}\nspec:\n  seLinux: {rule: RunAsAny}\n  supplementalGroups: {rule: RunAsAny}\n  runAsUser: {rule: MustRunAs}\n  fsGroup: {rule: RunAsAny}\n",
    );
    let out = env.podrt(&["create", "-f", &broken.display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("spec.runAsUser.ranges"),
        "{}",
        text(&out.stderr)
    );
    assert!(text(&env.podrt(&["get", "psp"]).stderr).contains("No resources found"));
}

/// A policy named `name` that allows host networking or not.
fn policy(name: &str, host_network: bool) -> String {
    format!(
        "apiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata: {{name: {name}}}\nspec:\n  hostNetwork: {host_network}\n  seLinux: {{rule: RunAsAny}}\n  supplementalGroups: {{rule: RunAsAny}}\n  runAsUser: {{rule: RunAsAny}}\n  fsGroup: {{rule: RunAsAny}}\n  volumes: ['*']\n"
    )
}

const HOST_NET_POD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: hostnet}\nspec:\n  hostNetwork: true\n  terminationGracePeriodSeconds: 0\n  containers:\n  - {name: c, image: busybox, command: [sleep, '3600']}\n";

fn json(env: &PodEnv, args: &[&str]) -> Value {
    serde_json::from_str(&env.ok(args)).expect("podrt's JSON")
}

#[test]
fn stored_policies_admit_pods_in_name_order_and_refusals_show_on_workloads() {
    let env = workload_env();
    let _agent = Agent::start(&env);
    env.apply(&policy("a-strict", false));
    // Refused: the one policy's reason, naming it.
    let refused = env.apply_refused(HOST_NET_POD, &[], &["spec.hostNetwork", "a-strict"]);
    assert!(
        refused.contains("PodSecurityPolicy \"a-strict\""),
        "{refused}"
    );
    // A second policy allows it: admitted by that one, which the pod names.
    env.apply(&policy("b-hostnet", true));
    env.apply(HOST_NET_POD);
    assert_eq!(
        env.pod_json("hostnet")["metadata"]["annotations"]["kubernetes.io/psp"],
        "b-hostnet"
    );
    env.ok(&["delete", "pod", "hostnet", "--grace-period=0", "--force"]);

    // A Deployment admitted now, whose pods a policy refuses later: its
    // ReplicaSet records FailedCreate and both show ReplicaFailure.
    env.apply("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 1\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      hostNetwork: true\n      terminationGracePeriodSeconds: 0\n      containers:\n      - {name: c, image: busybox, command: [sleep, '3600']}\n");
    assert!(wait_until(30, || json(
        &env,
        &["get", "deploy", "web", "-o", "json"]
    )["status"]["readyReplicas"]
        == 1));
    env.ok(&["delete", "psp", "b-hostnet"]);
    env.ok(&["scale", "deploy/web", "--replicas=2"]);
    let failure = |kind: &str| {
        let list = json(&env, &["get", kind, "-o", "json"]);
        list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|o| {
                o["status"]["conditions"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .find(|c| c["type"] == "ReplicaFailure")
    };
    assert!(
        wait_until(20, || failure("rs").is_some()
            && failure("deploy").is_some()),
        "{}",
        env.ok(&["get", "rs", "-o", "yaml"])
    );
    let condition = failure("rs").unwrap_or_default();
    assert_eq!(condition["reason"], "FailedCreate");
    assert!(
        condition["message"]
            .as_str()
            .is_some_and(|m| m.contains("hostNetwork") && m.contains("a-strict")),
        "{condition}"
    );
    let page = env.ok(&["describe", "rs"]);
    assert!(
        page.contains("FailedCreate") && page.contains("is forbidden"),
        "{page}"
    );
    // Allowed again: the second pod is made and the condition goes.
    env.apply(&policy("b-hostnet", true));
    assert!(
        wait_until(20, || failure("rs").is_none()),
        "{}",
        env.ok(&["get", "rs", "-o", "yaml"])
    );
    assert!(wait_until(30, || json(
        &env,
        &["get", "deploy", "web", "-o", "json"]
    )["status"]["readyReplicas"]
        == 2));
}
