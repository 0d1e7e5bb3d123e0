use k8s_openapi::api::core::v1::Pod;

use super::*;

/// The seed's "permissive" policy, with `extra` lines added to its spec.
fn policy(extra: &str) -> PodSecurityPolicy {
    let text = format!(
        "apiVersion: extensions/v1beta1\nkind: PodSecurityPolicy\nmetadata:\n  name: permissive\nspec:\n  seLinux:\n    rule: RunAsAny\n  supplementalGroups:\n    rule: RunAsAny\n  runAsUser:\n    rule: RunAsAny\n  fsGroup:\n    rule: RunAsAny\n  hostPorts:\n  - min: 8000\n    max: 8080\n  volumes:\n  - '*'\n{extra}"
    );
    load::parse(&text, "psp.yaml").unwrap()
}

fn pod(spec: serde_json::Value) -> Pod {
    serde_json::from_value(serde_json::json!({"metadata": {"name": "p"}, "spec": spec})).unwrap()
}

fn plain() -> Pod {
    pod(serde_json::json!({"containers": [{"name": "a", "image": "busybox"}]}))
}

fn refused(p: &PodSecurityPolicy, pod: &Pod) -> Vec<String> {
    match admit(p, pod) {
        Ok(_) => Vec::new(),
        Err(v) => v.into_iter().map(|v| v.field).collect(),
    }
}

#[test]
fn the_seeds_policy_admits_a_plain_pod_and_names_itself() {
    let admitted = admit(&policy(""), &plain()).unwrap();
    let ann = admitted.metadata.annotations.unwrap();
    assert_eq!(ann[ANNOTATION], "permissive");
    assert_eq!(admitted.spec, plain().spec);
}

#[test]
fn host_ports_outside_the_ranges_are_refused() {
    let p = policy("");
    let ok = pod(
        serde_json::json!({"containers": [{"name": "a", "ports": [{"containerPort": 80, "hostPort": 8080}]}]}),
    );
    assert!(refused(&p, &ok).is_empty());
    let bad = pod(
        serde_json::json!({"containers": [{"name": "a", "ports": [{"containerPort": 80, "hostPort": 80}]}]}),
    );
    assert_eq!(refused(&p, &bad), ["spec.containers[0].ports[0].hostPort"]);
    // With hostNetwork the container port is the host port.
    let p = policy("  hostNetwork: true\n");
    let hn = pod(
        serde_json::json!({"hostNetwork": true, "containers": [{"name": "a", "ports": [{"containerPort": 9000}]}]}),
    );
    assert_eq!(
        refused(&p, &hn),
        ["spec.containers[0].ports[0].containerPort"]
    );
}

#[test]
fn host_namespaces_and_privileged_need_the_policy() {
    let p = policy("");
    let bad = pod(
        serde_json::json!({"hostNetwork": true, "hostPID": true, "hostIPC": true,
        "containers": [{"name": "a", "securityContext": {"privileged": true}}]}),
    );
    assert_eq!(
        refused(&p, &bad),
        [
            "spec.hostNetwork",
            "spec.hostPID",
            "spec.hostIPC",
            "spec.containers[0].securityContext.privileged"
        ]
    );
    let p = policy("  hostNetwork: true\n  hostPID: true\n  hostIPC: true\n  privileged: true\n");
    assert!(refused(&p, &bad).is_empty());
}

#[test]
fn capabilities_are_defaulted_and_checked() {
    let p = policy("  defaultAddCapabilities: [NET_ADMIN]\n  requiredDropCapabilities: [NET_RAW]\n  allowedCapabilities: [SYS_TIME]\n");
    let admitted = admit(&p, &plain()).unwrap();
    let c = &admitted.spec.unwrap().containers[0];
    let caps = c
        .security_context
        .as_ref()
        .unwrap()
        .capabilities
        .as_ref()
        .unwrap();
    assert_eq!(caps.add.as_deref(), Some(&["NET_ADMIN".to_string()][..]));
    assert_eq!(caps.drop.as_deref(), Some(&["NET_RAW".to_string()][..]));
    let ok = pod(
        serde_json::json!({"containers": [{"name": "a", "securityContext": {"capabilities": {"add": ["cap_sys_time"]}}}]}),
    );
    assert!(refused(&p, &ok).is_empty());
    let bad = pod(
        serde_json::json!({"containers": [{"name": "a", "securityContext": {"capabilities": {"add": ["SYS_ADMIN"]}}}]}),
    );
    assert_eq!(
        refused(&p, &bad),
        ["spec.containers[0].securityContext.capabilities.add[0]"]
    );
}

#[test]
fn volumes_and_host_paths() {
    let p = policy("  allowedHostPaths:\n  - pathPrefix: /data\n    readOnly: true\n");
    let v = |path: &str, ro: bool| {
        pod(
            serde_json::json!({"volumes": [{"name": "h", "hostPath": {"path": path}}],
            "containers": [{"name": "a", "volumeMounts": [{"name": "h", "mountPath": "/h", "readOnly": ro}]}]}),
        )
    };
    assert!(refused(&p, &v("/data/x", true)).is_empty());
    assert_eq!(
        refused(&p, &v("/data/x", false)),
        ["spec.containers[0].volumeMounts[0].readOnly"]
    );
    assert_eq!(
        refused(&p, &v("/database", true)),
        ["spec.volumes[0].hostPath.path"]
    );
    let text = "apiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata: {name: e}\nspec:\n  seLinux: {rule: RunAsAny}\n  supplementalGroups: {rule: RunAsAny}\n  runAsUser: {rule: RunAsAny}\n  fsGroup: {rule: RunAsAny}\n  volumes: [emptyDir]\n";
    let only_empty = load::parse(text, "e.yaml").unwrap();
    assert_eq!(
        refused(&only_empty, &v("/data", true)),
        ["spec.volumes[0].hostPath"]
    );
}

#[test]
fn users_and_groups_must_run_as() {
    let p = policy("");
    let mut text = String::new();
    text.push_str("apiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata: {name: ids}\nspec:\n  seLinux: {rule: RunAsAny}\n");
    text.push_str("  runAsUser: {rule: MustRunAs, ranges: [{min: 1000, max: 2000}]}\n");
    text.push_str("  runAsGroup: {rule: MustRunAs, ranges: [{min: 3000, max: 3000}]}\n");
    text.push_str("  supplementalGroups: {rule: MustRunAs, ranges: [{min: 4000, max: 4100}]}\n");
    text.push_str("  fsGroup: {rule: MustRunAs, ranges: [{min: 5000, max: 5000}]}\n");
    text.push_str("  readOnlyRootFilesystem: true\n  allowPrivilegeEscalation: false\n");
    let ids = load::parse(&text, "ids.yaml").unwrap();
    let admitted = admit(&ids, &plain()).unwrap();
    let spec = admitted.spec.unwrap();
    let psc = spec.security_context.unwrap();
    assert_eq!(psc.fs_group, Some(5000));
    assert_eq!(psc.supplemental_groups, Some(vec![4000]));
    let sc = spec.containers[0].security_context.clone().unwrap();
    assert_eq!(sc.run_as_user, Some(1000));
    assert_eq!(sc.run_as_group, Some(3000));
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    let bad = pod(
        serde_json::json!({"securityContext": {"fsGroup": 1, "supplementalGroups": [4000, 9]},
        "containers": [{"name": "a", "securityContext": {"runAsUser": 0, "runAsGroup": 0,
            "readOnlyRootFilesystem": false, "allowPrivilegeEscalation": true}}]}),
    );
    assert_eq!(
        refused(&ids, &bad),
        [
            "spec.securityContext.fsGroup",
            "spec.securityContext.supplementalGroups[1]",
            "spec.containers[0].securityContext.runAsUser",
            "spec.containers[0].securityContext.runAsGroup",
            "spec.containers[0].securityContext.readOnlyRootFilesystem",
            "spec.containers[0].securityContext.allowPrivilegeEscalation",
        ]
    );
    assert!(refused(&p, &bad).is_empty());
}

#[test]
fn must_run_as_non_root() {
    let text = "apiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata: {name: nr}\nspec:\n  seLinux: {rule: RunAsAny}\n  supplementalGroups: {rule: RunAsAny}\n  runAsUser: {rule: MustRunAsNonRoot}\n  fsGroup: {rule: RunAsAny}\n  volumes: ['*']\n";
    let nr = load::parse(text, "nr.yaml").unwrap();
    let admitted = admit(&nr, &plain()).unwrap();
    let sc = admitted.spec.unwrap().containers[0]
        .security_context
        .clone()
        .unwrap();
    assert_eq!(sc.run_as_non_root, Some(true));
    let root = pod(
        serde_json::json!({"containers": [{"name": "a", "securityContext": {"runAsUser": 0}}]}),
    );
    assert_eq!(
        refused(&nr, &root),
        ["spec.containers[0].securityContext.runAsUser"]
    );
    let no = pod(
        serde_json::json!({"containers": [{"name": "a", "securityContext": {"runAsNonRoot": false}}]}),
    );
    assert_eq!(
        refused(&nr, &no),
        ["spec.containers[0].securityContext.runAsNonRoot"]
    );
}

#[test]
fn selinux_sysctls_and_proc_mount() {
    let p = policy(
        "  forbiddenSysctls: [kernel.shm_rmid_forced]\n  allowedUnsafeSysctls: ['net.core.*']\n",
    );
    let s = |name: &str| {
        pod(
            serde_json::json!({"securityContext": {"sysctls": [{"name": name, "value": "1"}]}, "containers": [{"name": "a"}]}),
        )
    };
    assert!(refused(&p, &s("net.core.somaxconn")).is_empty());
    assert!(refused(&p, &s("net.ipv4.tcp_syncookies")).is_empty());
    assert_eq!(
        refused(&p, &s("kernel.shm_rmid_forced")),
        ["spec.securityContext.sysctls[0].name"]
    );
    assert_eq!(
        refused(&p, &s("kernel.msgmax")),
        ["spec.securityContext.sysctls[0].name"]
    );
    let unmasked = pod(
        serde_json::json!({"containers": [{"name": "a", "securityContext": {"procMount": "Unmasked"}}]}),
    );
    assert_eq!(
        refused(&p, &unmasked),
        ["spec.containers[0].securityContext.procMount"]
    );
    let text = "apiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata: {name: se}\nspec:\n  seLinux: {rule: MustRunAs, seLinuxOptions: {type: container_t, level: 's0:c1'}}\n  supplementalGroups: {rule: RunAsAny}\n  runAsUser: {rule: RunAsAny}\n  fsGroup: {rule: RunAsAny}\n  volumes: ['*']\n";
    let se = load::parse(text, "se.yaml").unwrap();
    let admitted = admit(&se, &plain()).unwrap();
    let o = admitted
        .spec
        .unwrap()
        .security_context
        .unwrap()
        .se_linux_options
        .unwrap();
    assert_eq!(o.type_.as_deref(), Some("container_t"));
    let other = pod(
        serde_json::json!({"containers": [{"name": "a", "securityContext": {"seLinuxOptions": {"type": "spc_t", "level": "s0:c1"}}}]}),
    );
    assert_eq!(
        refused(&se, &other),
        ["spec.containers[0].securityContext.seLinuxOptions.type"]
    );
}

#[test]
fn bad_policies_name_the_field() {
    let base = "apiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata: {name: b}\nspec:\n  seLinux: {rule: RunAsAny}\n  supplementalGroups: {rule: RunAsAny}\n  fsGroup: {rule: RunAsAny}\n";
    let err = |extra: &str| {
        load::parse(&format!("{base}{extra}"), "b.yaml")
            .unwrap_err()
            .to_string()
    };
    assert!(
        err("  runAsUser: {rule: MustRunAs}\n").contains("spec.runAsUser.ranges"),
        "{}",
        err("  runAsUser: {rule: MustRunAs}\n")
    );
    assert!(err("  runAsUser: {rule: Sometimes}\n").contains("spec.runAsUser.rule"));
    let e = err("  runAsUser: {rule: RunAsAny}\n  hostPorts: [{min: 90, max: 80}]\n");
    assert!(e.contains("spec.hostPorts[0]"), "{e}");
    let e = err("  runAsUser: {rule: RunAsAny}\n  volumes: [floppy]\n");
    assert!(e.contains("spec.volumes[0]"), "{e}");
    let e = err("  runAsUser: {rule: RunAsAny}\n  privilegd: true\n");
    assert!(e.contains("privilegd"), "{e}");
    let e = err("  runAsUser: {rule: RunAsAny}\n  allowedCapabilities: [NET_RAW]\n  requiredDropCapabilities: [net_raw]\n");
    assert!(e.contains("spec.requiredDropCapabilities[0]"), "{e}");
    let e = err("");
    assert!(e.contains("runAsUser"), "{e}");
}

fn named(name: &str, extra: &str) -> PodSecurityPolicy {
    let mut p = policy(extra);
    p.metadata.name = name.to_string();
    p
}

#[test]
fn stored_policies_prefer_one_that_admits_the_pod_unchanged_then_name_order() {
    use crate::policy::Policy;
    // "a-defaults" would add a capability; "b-plain" admits the pod as it is.
    let stored = Policy::Stored(vec![
        named("b-plain", ""),
        named(
            "a-defaults",
            "  defaultAddCapabilities: [NET_ADMIN]\n  allowedCapabilities: ['*']\n",
        ),
    ]);
    let admitted = stored.admit(&plain()).unwrap();
    assert_eq!(
        admitted.metadata.annotations.unwrap()[ANNOTATION],
        "b-plain"
    );
    // With only defaulting policies, the first by name wins.
    let stored = Policy::Stored(vec![
        named(
            "z",
            "  defaultAddCapabilities: [SYS_TIME]\n  allowedCapabilities: ['*']\n",
        ),
        named(
            "y",
            "  defaultAddCapabilities: [NET_ADMIN]\n  allowedCapabilities: ['*']\n",
        ),
    ]);
    let admitted = stored.admit(&plain()).unwrap();
    assert_eq!(
        admitted.metadata.annotations.clone().unwrap()[ANNOTATION],
        "y"
    );
    assert_ne!(admitted.spec, plain().spec);
    // None admits: every policy's refusal, each naming its policy.
    let privileged = pod(
        serde_json::json!({"hostNetwork": true, "containers": [{"name": "a", "securityContext": {"privileged": true}}]}),
    );
    let refusal = stored.admit(&privileged).unwrap_err();
    let text = refusal.to_string();
    assert!(text.contains("PodSecurityPolicy \"y\" or \"z\""), "{text}");
    assert!(
        text.contains("[y: hostNetwork]") && text.contains("[z: hostNetwork]"),
        "{text}"
    );
}
