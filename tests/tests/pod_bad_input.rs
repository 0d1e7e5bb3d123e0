//! Bad manifests are refused before anything exists: exit status 1, one message
//! naming the field, and no pod directory, mount, cgroup or process left.

use podrt_tests::pods::PodEnv;

fn refused(env: &PodEnv, yaml: &str, expect: &[&str]) {
    env.apply_refused(yaml, &[], expect);
}

const HEAD: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n";

#[test]
fn malformed_yaml_is_refused() {
    let env = PodEnv::new();
    refused(
        &env,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p\nspec: [",
        &["line"],
    );
    refused(
        &env,
        &format!("{HEAD}  - name: c\n    image: busybox\n    ports:\n    - containerPort: http\n"),
        &["spec.containers[0].ports[0].containerPort"],
    );
}

#[test]
fn unknown_image_is_refused() {
    let env = PodEnv::new();
    refused(
        &env,
        &format!("{HEAD}  - {{name: c, image: 'nginx:1.25', imagePullPolicy: Never}}\n"),
        &[
            "spec.containers[0].image",
            "nginx:1.25",
            "pull policy of Never",
        ],
    );
}

#[test]
fn duplicate_container_names_are_refused() {
    let env = PodEnv::new();
    let yaml = format!("{HEAD}  - {{name: c, image: busybox}}\n  initContainers:\n  - {{name: c, image: busybox}}\n");
    refused(&env, &yaml, &["name", "Duplicate value", "\"c\""]);
}

#[test]
fn clashing_ports_are_refused() {
    let env = PodEnv::new();
    let yaml = format!(
        "{HEAD}  - {{name: a, image: busybox, ports: [{{containerPort: 80}}]}}\n  - {{name: b, image: busybox, ports: [{{containerPort: 80, protocol: TCP}}]}}\n"
    );
    refused(&env, &yaml, &["spec.containers[1].ports[0]", "80"]);
}

#[test]
fn missing_host_path_is_refused() {
    let env = PodEnv::new();
    let yaml = format!(
        "{HEAD}  - {{name: a, image: busybox, volumeMounts: [{{name: h, mountPath: /h}}]}}\n  volumes:\n  - {{name: h, hostPath: {{path: /nonexistent/podrt-test, type: Directory}}}}\n"
    );
    refused(
        &env,
        &yaml,
        &["spec.volumes[0].hostPath.path", "/nonexistent/podrt-test"],
    );
}

#[test]
fn invalid_names_are_refused() {
    let env = PodEnv::new();
    refused(&env, "apiVersion: v1\nkind: Pod\nmetadata: {name: Bad_Name}\nspec:\n  containers:\n  - {name: c, image: busybox}\n", &["metadata.name", "Bad_Name"]);
    refused(
        &env,
        &format!("{HEAD}  - {{name: C!, image: busybox}}\n"),
        &["spec.containers[0].name"],
    );
    refused(&env, &format!("{HEAD}  - {{name: c, image: busybox, volumeMounts: [{{name: nope, mountPath: /x}}]}}\n"), &["spec.containers[0].volumeMounts[0].name"]);
    refused(&env, &format!("{HEAD}  - {{name: c, image: busybox, volumeMounts: [{{name: v, mountPath: rel}}]}}\n  volumes: [{{name: v, emptyDir: {{}}}}]\n"), &["spec.containers[0].volumeMounts[0].mountPath"]);
}

#[test]
fn a_spec_the_kernel_refuses_leaves_nothing() {
    // Valid to the validator, refused when the container is made: an unknown
    // capability gets past YAML but not the spec builder.
    let env = PodEnv::new();
    let yaml = format!("{HEAD}  - name: c\n    image: busybox\n    command: [sleep, '10']\n    securityContext: {{capabilities: {{add: [FLY]}}}}\n");
    refused(&env, &yaml, &["capabilities.add[0]", "FLY"]);
}
