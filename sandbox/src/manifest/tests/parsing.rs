//! Parsing: documents, kinds, JSON, unknown fields and type errors.

use super::*;
use crate::manifest::{decode, parse_file, parse_with, Error, RestartPolicy};

#[test]
fn seed_pod_parses_and_validates() {
    let manifest = parse(SEED, "pod.yaml").expect("seed parses");
    assert!(manifest.warnings.is_empty(), "{:?}", manifest.warnings);
    assert_eq!(manifest.pods.len(), 1);
    let pod = &manifest.pods[0];
    assert_eq!(pod.metadata.name.as_deref(), Some("myapp-pod"));
    let valid = validate(pod, &|image| image == "busybox").expect("seed validates");
    assert_eq!(valid.name, "myapp-pod");
    assert_eq!(valid.namespace, "default");
    assert!(!valid.generated_name);
    assert_eq!(valid.settings.restart_policy, RestartPolicy::Always);
    assert_eq!(valid.settings.termination_grace_period_seconds, 30);
    assert_eq!(valid.settings.active_deadline_seconds, None);
    let names: Vec<&str> = valid.containers.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["init-myservice", "init-mydb", "myapp-container"]);
    assert!(valid.warnings.is_empty(), "{:?}", valid.warnings);
}

#[test]
fn seed_pod_without_its_image_is_refused() {
    let pod = one_pod(SEED);
    let invalid = validate(&pod, &|_| false).expect_err("no image in the store");
    assert_eq!(invalid.errors.len(), 3);
    assert_eq!(
        invalid.errors[0].to_string(),
        "spec.initContainers[0].image: Not found: \"busybox\": pull it with podrt image pull, or import it with podrt image import"
    );
    assert!(invalid.has("spec.containers[0].image"));
    assert_eq!(invalid.to_string().lines().count(), 3);
}

#[test]
fn other_kinds_are_skipped_with_a_warning() {
    let text = format!(
        "apiVersion: v1\n\
            kind: Service\n\
            metadata:\n  name: s\n\
            ---\n\
            {SEED}---\n\
            apiVersion: apps/v1\n\
            kind: Deployment\n"
    );
    let manifest = parse(&text, "pod.yaml").expect("parses");
    assert_eq!(manifest.pods.len(), 1);
    assert_eq!(
        manifest.warnings,
        [
            "pod.yaml: document 1: kind Service skipped: podrt runs Pods",
            "pod.yaml: document 3: kind Deployment skipped: podrt runs Pods",
        ]
    );
}

#[test]
fn empty_documents_are_skipped() {
    let text = format!("---\n# nothing\n---\n{SEED}---\n");
    assert_eq!(parse(&text, "pod.yaml").expect("parses").pods.len(), 1);
}

#[test]
fn kinds_a_caller_accepts_are_kept_undecoded_with_their_place() {
    let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: many}\nstatus: {replicas: 1}\n---\napiVersion: v1\nkind: Service\n";
    let accept = |v: &str, k: &str| v == "apps/v1" && k == "Deployment";
    let m = parse_with(text, "d.yaml", &accept).expect("a Deployment is enough");
    assert!(m.pods.is_empty());
    assert_eq!(m.objects.len(), 1);
    assert_eq!(m.objects[0].kind, "Deployment");
    assert!(
        m.objects[0].value.get("status").is_none(),
        "status is dropped"
    );
    assert!(
        m.warnings
            .iter()
            .any(|w| w.contains("kind Service skipped")),
        "{:?}",
        m.warnings
    );
    assert!(
        m.warnings
            .iter()
            .any(|w| w.contains("status is set by podrt")),
        "{:?}",
        m.warnings
    );
    // Decoding names the document and the field.
    let err = decode::<serde_json::Value>(&m.objects[0], &mut Vec::new());
    assert!(err.is_ok(), "any object decodes as a Value");
    #[derive(Debug, serde::Deserialize)]
    struct Spec {
        #[allow(dead_code)]
        replicas: i32,
    }
    #[derive(Debug, serde::Deserialize)]
    struct Obj {
        #[allow(dead_code)]
        spec: Spec,
    }
    let err = decode::<Obj>(&m.objects[0], &mut Vec::new())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("d.yaml") && err.contains("document 1") && err.contains("spec.replicas"),
        "{err}"
    );
    // Without the caller's accepting it, the same file has no Pod.
    assert!(matches!(parse(text, "d.yaml"), Err(Error::NoPod { .. })));
}

#[test]
fn a_file_without_pods_is_an_error() {
    let err = parse("apiVersion: v1\nkind: Service\n", "svc.yaml").unwrap_err();
    assert_eq!(
        err.to_string(),
        "svc.yaml: no Pod found (skipped: Service): podrt runs Pods"
    );
    assert!(matches!(parse("", "e.yaml"), Err(Error::NoPod { .. })));
    assert!(matches!(
        parse("# only a comment\n", "e.yaml"),
        Err(Error::NoPod { .. })
    ));
}

#[test]
fn json_input() {
    let json = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"j"},
        "spec":{"containers":[{"name":"c","image":"busybox","ports":[{"containerPort":80}]}]}}"#;
    let manifest = parse(json, "pod.json").expect("JSON parses");
    assert_eq!(manifest.pods[0].metadata.name.as_deref(), Some("j"));
    // A stream of JSON objects, as `kubectl get -o json` pipelines produce.
    let stream = format!("{json}\n{}", json.replace("\"j\"", "\"k\""));
    assert_eq!(
        parse(&stream, "pods.json")
            .expect("stream parses")
            .pods
            .len(),
        2
    );
    // YAML flow syntax starting with `{` is still YAML.
    let flow = "{apiVersion: v1, kind: Pod, metadata: {name: f}, spec: {containers: [{name: c, image: busybox}]}}";
    assert_eq!(
        parse(flow, "f.yaml").expect("flow YAML parses").pods.len(),
        1
    );
}

#[test]
fn malformed_json_names_line_and_column() {
    let err = parse("{\"apiVersion\": \"v1\",\n \"kind\": \"Pod\"", "bad.json").unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with("bad.json: invalid JSON: "), "{msg}");
    assert!(msg.contains("line 2"), "{msg}");
}

#[test]
fn malformed_yaml_names_line_and_column() {
    let err = parse("apiVersion: v1\nkind: Pod\n  metadata: x\n", "bad.yaml").unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Yaml { .. }), "{msg}");
    assert!(msg.starts_with("bad.yaml: invalid YAML: "), "{msg}");
    assert!(msg.contains("line 3"), "{msg}");
    assert_eq!(msg.lines().count(), 1, "one line for the CLI: {msg}");
}

#[test]
fn duplicate_keys_are_an_error() {
    let err = parse("apiVersion: v1\nkind: Pod\nkind: Pod\n", "dup.yaml").unwrap_err();
    assert_eq!(
        err.to_string(),
        "dup.yaml: invalid YAML: duplicate key \"kind\" at line 3, column 1"
    );
}

#[test]
fn unknown_fields_are_warnings() {
    let text =
        pod_yaml("containers:\n- name: c\n  image: busybox\n  imagePullPolice: Always\nfoo: 1\n");
    let manifest = parse(&text, "pod.yaml").expect("parses");
    assert_eq!(
        manifest.warnings,
        [
            "pod.yaml: document 1: unknown field spec.containers[0].imagePullPolice, ignored",
            "pod.yaml: document 1: unknown field spec.foo, ignored",
        ]
    );
}

#[test]
fn type_errors_name_the_field_and_document() {
    let bad =
        pod_yaml("containers:\n- name: c\n  image: busybox\n  ports:\n  - containerPort: http\n");
    let text = format!("{SEED}---\n{bad}");
    let err = parse(&text, "pod.yaml").unwrap_err();
    assert_eq!(
        err.to_string(),
        "pod.yaml: document 2: spec.containers[0].ports[0].containerPort: invalid type: string \"http\", expected i32"
    );
    let labels = "apiVersion: v1\n\
        kind: Pod\n\
        metadata:\n  name: p\n  labels:\n    app.kubernetes.io/version: 1\n";
    match parse(labels, "pod.yaml").unwrap_err() {
        Error::Field { field, .. } => {
            assert_eq!(field, "metadata.labels[app.kubernetes.io/version]")
        }
        other => panic!("{other}"),
    }
}

#[test]
fn missing_kind_and_wrong_api_version_are_errors() {
    let err = parse("apiVersion: v1\nmetadata: {name: p}\n", "pod.yaml").unwrap_err();
    assert_eq!(
        err.to_string(),
        "pod.yaml: document 1: kind: Required value: every object needs apiVersion and kind"
    );
    let err = parse(
        &SEED.replace("apiVersion: v1", "apiVersion: apps/v1"),
        "pod.yaml",
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "pod.yaml: document 1: apiVersion: Unsupported value: \"apps/v1\": a Pod has apiVersion v1"
    );
    let err = parse(&SEED.replace("apiVersion: v1\n", ""), "pod.yaml").unwrap_err();
    assert!(
        err.to_string().contains("apiVersion: Required value"),
        "{err}"
    );
    let err = parse("- a\n- b\n", "pod.yaml").unwrap_err();
    assert!(err.to_string().contains("found a sequence"), "{err}");
}

#[test]
fn lists_are_expanded() {
    let text = "\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata: {name: a}
  spec: {containers: [{name: c, image: busybox}]}
- apiVersion: v1
  kind: Service
  metadata: {name: s}
- apiVersion: v1
  kind: Pod
  metadata: {name: b}
  spec: {containers: [{name: c, image: busybox, bogus: 1}]}
";
    let manifest = parse(text, "list.yaml").expect("parses");
    let names: Vec<_> = manifest
        .pods
        .iter()
        .map(|p| p.metadata.name.clone().unwrap_or_default())
        .collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(
        manifest.warnings,
        [
            "list.yaml: document 1: items[1]: kind Service skipped: podrt runs Pods",
            "list.yaml: document 1: items[2]: unknown field items[2].spec.containers[0].bogus, ignored",
        ]
    );
    let bad = text.replace("name: c, image: busybox, bogus: 1", "name: c, image: [x]");
    match parse(&bad, "list.yaml").unwrap_err() {
        Error::Field { field, .. } => assert_eq!(field, "items[2].spec.containers[0].image"),
        other => panic!("{other}"),
    }
}

#[test]
fn status_is_ignored_with_a_warning() {
    let text = format!("{SEED}status:\n  phase: Running\n");
    let manifest = parse(&text, "pod.yaml").expect("parses");
    assert_eq!(
        manifest.warnings,
        ["pod.yaml: document 1: status is set by podrt, ignored"]
    );
}

#[test]
fn numbers_are_accepted_as_quantities() {
    let text = pod_yaml(
        "containers:\n\
        - name: c\n  image: busybox\n  resources:\n    limits: {cpu: 0.5, memory: 134217728}\n",
    );
    let pod = validate(&one_pod(&text), &any_image).expect("valid");
    assert_eq!(pod.containers[0].cpu_limit_millis, Some(500));
    assert_eq!(pod.containers[0].memory_limit, Some(134_217_728));
}

#[test]
fn yaml_1_1_octal_numbers() {
    // sigs.k8s.io/yaml reads 0644 as octal, like kubectl.
    let text = pod_yaml(
        "containers:\n\
        - name: c\n  image: busybox\n\
        volumes:\n\
        - name: v\n  emptyDir: {}\n\
        securityContext: {fsGroup: 0755}\n",
    );
    let pod = one_pod(&text);
    let group = pod
        .spec
        .and_then(|s| s.security_context)
        .and_then(|s| s.fs_group);
    assert_eq!(group, Some(0o755));
}

#[test]
fn a_missing_container_name_parses_and_is_refused_by_validation() {
    let text = pod_yaml("containers:\n- image: busybox\n");
    let invalid = validate(&one_pod(&text), &any_image).unwrap_err();
    assert_eq!(
        invalid.to_string(),
        "spec.containers[0].name: Required value"
    );
}

#[test]
fn files_and_read_errors() {
    let dir = std::env::temp_dir().join(format!("podrt-manifest-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("pod.yaml");
    std::fs::write(&file, SEED).expect("write");
    let parsed = parse_file(&file);
    let missing = parse_file(&dir.join("nope.yaml"));
    std::fs::remove_dir_all(&dir).expect("cleanup");
    assert_eq!(parsed.expect("file parses").pods.len(), 1);
    let err = missing.unwrap_err();
    assert!(matches!(err, Error::Read { .. }));
    assert!(err.to_string().starts_with("cannot read "), "{err}");
    // Messages name the file as given.
    let err = parse("kind: Pod\n", "x/pod.yaml").unwrap_err();
    assert!(
        err.to_string().starts_with("x/pod.yaml: document 1: "),
        "{err}"
    );
}

/// The seed's 1.5 form: init containers in an annotation.
const SEED_1_5: &str = include_str!("../../../../tests/fixtures/myapp-pod-1.5.yaml");

#[test]
fn the_init_containers_annotation_of_kubernetes_1_5_becomes_init_containers() {
    let manifest = parse(SEED_1_5, "pod.yaml").expect("the 1.5 form parses");
    assert!(manifest.warnings.is_empty(), "{:?}", manifest.warnings);
    let pod = &manifest.pods[0];
    assert!(
        pod.metadata.annotations.is_none(),
        "{:?}",
        pod.metadata.annotations
    );
    let init = pod.spec.as_ref().unwrap().init_containers.clone().unwrap();
    let names: Vec<&str> = init.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["init-myservice", "init-mydb"]);
    assert_eq!(
        init[1].command.as_ref().unwrap()[2],
        "until nslookup mydb; do echo waiting for mydb; sleep 2; done;"
    );
    let valid = validate(pod, &|image| image == "busybox").expect("validates");
    let names: Vec<&str> = valid.containers.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["init-myservice", "init-mydb", "myapp-container"]);
}

#[test]
fn a_bad_init_containers_annotation_is_refused_naming_it() {
    let with = |annotation: &str, spec_init: bool| {
        let init = if spec_init {
            "  initContainers: [{name: other, image: busybox}]\n"
        } else {
            ""
        };
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n    {annotation}\nspec:\n{init}  containers: [{{name: c, image: busybox}}]\n"
        )
    };
    let key = "metadata.annotations[pod.beta.kubernetes.io/init-containers]";
    for (text, want) in [
        (with("pod.beta.kubernetes.io/init-containers: '[{'", false), "not JSON"),
        (
            with("pod.beta.kubernetes.io/init-containers: '[{\"name\": \"i\", \"image\": \"busybox\", \"comand\": []}]'", false),
            "unknown field",
        ),
        (
            with("pod.beta.kubernetes.io/init-containers: '{\"name\": \"i\"}'", false),
            "invalid type",
        ),
        (
            with("pod.beta.kubernetes.io/init-containers: '[{\"name\": \"i\", \"image\": \"busybox\"}]'", true),
            "spec.initContainers",
        ),
    ] {
        let e = parse(&text, "pod.yaml").expect_err("refused").to_string();
        assert!(e.contains(key) && e.contains(want), "{want} in {e}");
    }
    let both = with(
        "pod.beta.kubernetes.io/init-containers: '[]'\n    pod.alpha.kubernetes.io/init-containers: '[]'",
        false,
    );
    let e = parse(&both, "pod.yaml").expect_err("refused").to_string();
    assert!(e.contains("pod.alpha.kubernetes.io/init-containers"), "{e}");
}
