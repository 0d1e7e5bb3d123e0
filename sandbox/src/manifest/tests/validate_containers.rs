//! Container rules: names, images, ports, resources, environment, and
//! container fields podrt ignores or refuses.

use super::*;
use crate::manifest::ContainerResources;

fn containers(list: &str) -> String {
    format!("containers:\n{list}")
}

#[test]
fn at_least_one_container() {
    expect_error("containers: []\n", "spec.containers", "Required value");
}

#[test]
fn container_names_are_labels() {
    expect_error_start(
        &containers(&container("Web_1", "")),
        "spec.containers[0].name",
        "Invalid value: \"Web_1\": a lowercase RFC 1123 label must consist of",
    );
    let long = "a".repeat(64);
    let err = check(&containers(&container(&long, ""))).unwrap_err();
    assert!(
        err.errors[0]
            .message
            .contains("must be no more than 63 characters"),
        "{err}"
    );
}

#[test]
fn container_names_are_unique_across_init_app_and_ephemeral() {
    let spec = format!(
        "initContainers:\n\
            {}containers:\n\
            {}{}ephemeralContainers:\n\
            - {{name: web, image: busybox}}\n",
        container("web", ""),
        container("app", ""),
        container("web", ""),
    );
    expect_error(&spec, "spec.containers[1].name", "Duplicate value: \"web\"");
    expect_error(
        &spec,
        "spec.ephemeralContainers[0].name",
        "Duplicate value: \"web\"",
    );
}

#[test]
fn image_is_required_and_must_be_in_the_store() {
    expect_error(
        "containers:\n- name: c\n",
        "spec.containers[0].image",
        "Required value",
    );
    expect_error(
        "containers:\n- {name: c, image: \" busybox\"}\n",
        "spec.containers[0].image",
        "Invalid value: \" busybox\": must not have leading or trailing whitespace",
    );
    let pod = one_pod(&pod_yaml(
        "containers:\n- {name: a, image: busybox}\n- {name: b, image: \"foo:1\"}\n",
    ));
    let err = validate(&pod, &|image| image == "busybox").unwrap_err();
    assert_eq!(
        err.to_string(),
        "spec.containers[1].image: Not found: \"foo:1\": pull it with podrt image pull, or import it with podrt image import"
    );
}

#[test]
fn container_ports() {
    let bad = containers(&container(
        "c",
        "ports:\n\
            - containerPort: 0\n\
            - containerPort: 70000\n\
            - {containerPort: 80, protocol: tcp}\n\
            - {containerPort: 81, hostPort: -1}\n\
            - {containerPort: 82, hostIP: nope}\n",
    ));
    expect_error(
        &bad,
        "spec.containers[0].ports[0].containerPort",
        "Required value",
    );
    expect_error(
        &bad,
        "spec.containers[0].ports[1].containerPort",
        "Invalid value: 70000: must be between 1 and 65535, inclusive",
    );
    expect_error(
        &bad,
        "spec.containers[0].ports[2].protocol",
        "Unsupported value: \"tcp\": supported values: \"TCP\", \"UDP\", \"SCTP\"",
    );
    expect_error(
        &bad,
        "spec.containers[0].ports[3].hostPort",
        "Invalid value: -1: must be between 1 and 65535, inclusive",
    );
    expect_error(
        &bad,
        "spec.containers[0].ports[4].hostIP",
        "Invalid value: \"nope\": must be a valid IP address",
    );
}

#[test]
fn container_ports_are_unique_across_the_pod() {
    let spec = format!(
        "initContainers:\n{}containers:\n{}{}",
        container("init", "ports: [{containerPort: 80}]"),
        container(
            "a",
            "ports: [{containerPort: 80}, {containerPort: 80, protocol: UDP}]"
        ),
        container("b", "ports: [{containerPort: 80, protocol: TCP}]"),
    );
    let err = check(&spec).unwrap_err();
    assert_eq!(
        err.to_string(),
        "spec.containers[1].ports[0].containerPort: Duplicate value: \"80/TCP\"",
        "init containers do not count, UDP is another port"
    );
}

#[test]
fn host_ports() {
    let spec = containers(&format!(
        "{}{}",
        container("a", "ports: [{containerPort: 80, hostPort: 8080}]"),
        container("b", "ports: [{containerPort: 81, hostPort: 8080}]"),
    ));
    expect_error(
        &spec,
        "spec.containers[1].ports[0].hostPort",
        "Duplicate value: \"8080/TCP\"",
    );
    let host_net = format!(
        "hostNetwork: true\n{}",
        containers(&container(
            "a",
            "ports: [{containerPort: 80, hostPort: 8080}]"
        ))
    );
    expect_error(
        &host_net,
        "spec.containers[0].ports[0].hostPort",
        "Invalid value: 8080: must match containerPort when hostNetwork is true",
    );
}

#[test]
fn port_names() {
    let spec = containers(&container(
        "c",
        "ports:\n\
            - {name: http, containerPort: 80}\n\
            - {name: http, containerPort: 81}\n\
            - {name: HTTP-Alt, containerPort: 82}\n\
            - {name: a-very-long-port-name, containerPort: 83}\n",
    ));
    expect_error(
        &spec,
        "spec.containers[0].ports[1].name",
        "Duplicate value: \"http\"",
    );
    expect_error(
        &spec,
        "spec.containers[0].ports[2].name",
        "Invalid value: \"HTTP-Alt\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
    );
    expect_error(
        &spec,
        "spec.containers[0].ports[3].name",
        "Invalid value: \"a-very-long-port-name\": must be no more than 15 characters",
    );
}

#[test]
fn resources_are_converted_and_requests_default_to_limits() {
    let spec = containers(&format!(
        "{}{}",
        container("a", "resources:\n  limits: {cpu: 500m, memory: 128Mi}\n  requests: {cpu: \"0.25\", memory: 64Mi}"),
        container("b", "resources:\n  limits: {cpu: \"1\", memory: 1G, ephemeral-storage: 1Gi, hugepages-2Mi: 4Mi}"),
    ));
    let pod = check(&spec).expect("valid");
    assert_eq!(
        pod.containers,
        [
            ContainerResources {
                name: "a".into(),
                memory_limit: Some(128 << 20),
                memory_request: Some(64 << 20),
                cpu_limit_millis: Some(500),
                cpu_request_millis: Some(250),
            },
            ContainerResources {
                name: "b".into(),
                memory_limit: Some(1_000_000_000),
                memory_request: Some(1_000_000_000),
                cpu_limit_millis: Some(1000),
                cpu_request_millis: Some(1000),
            },
        ]
    );
    assert!(pod.warnings.is_empty(), "{:?}", pod.warnings);
}

#[test]
fn resource_quantities_must_parse_and_be_positive() {
    let spec = containers(&container(
        "c",
        "resources:\n  limits: {cpu: 2x, memory: -1Mi}\n  requests: {ephemeral-storage: lots}",
    ));
    expect_error_start(
        &spec,
        "spec.containers[0].resources.limits[cpu]",
        "Invalid value: \"2x\": quantities must match the regular expression",
    );
    expect_error(
        &spec,
        "spec.containers[0].resources.limits[memory]",
        "Invalid value: \"-1Mi\": must be greater than or equal to 0",
    );
    expect_error_start(
        &spec,
        "spec.containers[0].resources.requests[ephemeral-storage]",
        "Invalid value: \"lots\"",
    );
}

#[test]
fn resource_names_must_be_standard_or_qualified() {
    let spec = containers(&container(
        "c",
        "resources:\n  limits: {memroy: 1Gi, example.com/gpu: \"1\"}",
    ));
    let err = check(&spec).unwrap_err();
    assert_eq!(
        err.to_string(),
        "spec.containers[0].resources.limits[memroy]: Invalid value: \"memroy\": must be a standard resource type or fully qualified"
    );
    let ok = containers(&container(
        "c",
        "resources:\n  limits: {example.com/gpu: \"1\"}",
    ));
    assert_eq!(
        warnings(&ok),
        ["spec.containers[0].resources.limits[example.com/gpu]: extended resources are not managed by podrt, ignored"]
    );
}

#[test]
fn requests_may_not_exceed_limits() {
    let spec = containers(&container(
        "c",
        "resources:\n  limits: {cpu: \"1\", memory: 1Gi}\n  requests: {cpu: \"2\", memory: 2Gi}",
    ));
    expect_error(
        &spec,
        "spec.containers[0].resources.requests[cpu]",
        "Invalid value: \"2\": must be less than or equal to cpu limit of 1",
    );
    expect_error(
        &spec,
        "spec.containers[0].resources.requests[memory]",
        "Invalid value: \"2Gi\": must be less than or equal to memory limit of 1Gi",
    );
}

#[test]
fn fractional_bytes_are_rounded_up_with_a_warning() {
    let spec = containers(&container("c", "resources:\n  limits: {memory: 1500m}"));
    let pod = check(&spec).expect("valid");
    assert_eq!(pod.containers[0].memory_limit, Some(2));
    assert_eq!(pod.warnings.len(), 1);
    assert!(pod.warnings[0]
        .starts_with("spec.containers[0].resources.limits[memory]: fractional byte value"));
}

#[test]
fn env_var_names() {
    let spec = containers(&container(
        "c",
        "env:\n- {name: GOOD_1, value: x}\n- {name: 1BAD, value: x}\n- {value: x}",
    ));
    expect_error_start(
        &spec,
        "spec.containers[0].env[1].name",
        "Invalid value: \"1BAD\": a valid environment variable name must consist of",
    );
    expect_error(&spec, "spec.containers[0].env[2].name", "Required value");
}

#[test]
fn env_sources() {
    let spec = containers(&container(
        "c",
        "env:\n\
            - name: A\n  valueFrom: {secretKeyRef: {name: s, key: k}}\n\
            - name: B\n  value: x\n  valueFrom: {fieldRef: {fieldPath: metadata.name}}\n\
            envFrom:\n\
            - configMapRef: {name: cm}",
    ));
    expect_error(
        &spec,
        "spec.containers[0].env[0].valueFrom",
        "Forbidden: podrt has no ConfigMaps or Secrets; set the variable with value",
    );
    expect_error(
        &spec,
        "spec.containers[0].env[1].valueFrom",
        "Invalid value: \"\": may not be specified when `value` is not empty",
    );
    expect_error_start(
        &spec,
        "spec.containers[0].envFrom[0]",
        "Forbidden: podrt has no ConfigMaps or Secrets",
    );
    let downward = containers(&container(
        "c",
        "env:\n- name: POD\n  valueFrom: {fieldRef: {fieldPath: metadata.name}}",
    ));
    assert_eq!(
        warnings(&downward),
        ["spec.containers[0].env[0].valueFrom: not supported by podrt yet, ignored"]
    );
}

#[test]
fn container_restart_policy() {
    let sidecar = format!(
        "initContainers:\n{}{}",
        container("s", "restartPolicy: Always"),
        containers(&container("c", ""))
    );
    expect_error_start(
        &sidecar,
        "spec.initContainers[0].restartPolicy",
        "Forbidden: sidecar containers",
    );
    let app = containers(&container("c", "restartPolicy: Never"));
    expect_error(
        &app,
        "spec.containers[0].restartPolicy",
        "Forbidden: may not be set for non-init containers",
    );
}

#[test]
fn probes_are_warnings_on_app_containers_and_errors_on_init_containers() {
    let probe = "livenessProbe: {exec: {command: [sh]}}\n\
        lifecycle: {postStart: {exec: {command: [sh]}}, preStop: {exec: {command: [sh]}}}";
    let app = containers(&container(
        "c",
        &format!("{probe}\nimagePullPolicy: Always"),
    ));
    assert_eq!(
        warnings(&app),
        [
            "spec.containers[0].livenessProbe: not supported by podrt yet, ignored",
            "spec.containers[0].lifecycle.postStart: not supported by podrt yet, ignored",
        ]
    );
    let init = format!(
        "initContainers:\n{}{}",
        container("i", probe),
        containers(&container("c", ""))
    );
    expect_error(
        &init,
        "spec.initContainers[0].livenessProbe",
        "Forbidden: may not be set for init containers without restartPolicy=Always",
    );
    expect_error_start(&init, "spec.initContainers[0].lifecycle", "Forbidden: ");
    let pull = containers(&container("c", "imagePullPolicy: Sometimes"));
    expect_error_start(
        &pull,
        "spec.containers[0].imagePullPolicy",
        "Unsupported value: \"Sometimes\"",
    );
}
