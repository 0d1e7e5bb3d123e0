use k8s_openapi::api::core::v1::PodSpec;

use super::*;

fn spec(json: serde_json::Value) -> PodSpec {
    serde_json::from_value(json).unwrap()
}

fn fields(level: Level, s: &PodSpec) -> Vec<String> {
    level.check(&[], s).into_iter().map(|v| v.field).collect()
}

/// A pod that meets `restricted`.
fn hardened() -> serde_json::Value {
    serde_json::json!({
        "securityContext": {"runAsNonRoot": true, "runAsUser": 1000,
            "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{"name": "a", "image": "busybox", "securityContext": {
            "allowPrivilegeEscalation": false,
            "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}}],
        "volumes": [{"name": "v", "emptyDir": {}}]
    })
}

#[test]
fn a_plain_pod_meets_baseline_not_restricted() {
    let s = spec(serde_json::json!({"containers": [{"name": "a", "image": "busybox"}]}));
    assert!(fields(Level::Baseline, &s).is_empty());
    assert!(fields(Level::Privileged, &s).is_empty());
    assert_eq!(
        fields(Level::Restricted, &s),
        [
            "spec.containers[0].securityContext.allowPrivilegeEscalation",
            "spec.containers[0].securityContext.runAsNonRoot",
            "spec.containers[0].securityContext.seccompProfile.type",
            "spec.containers[0].securityContext.capabilities.drop",
        ]
    );
}

#[test]
fn a_hardened_pod_meets_restricted() {
    let s = spec(hardened());
    assert!(
        fields(Level::Restricted, &s).is_empty(),
        "{:?}",
        fields(Level::Restricted, &s)
    );
}

#[test]
fn baseline_names_every_escalation() {
    let s = spec(serde_json::json!({
        "hostNetwork": true, "hostPID": true, "hostIPC": true,
        "securityContext": {"sysctls": [{"name": "kernel.msgmax", "value": "1"},
            {"name": "net.ipv4.tcp_syncookies", "value": "1"}],
            "seLinuxOptions": {"user": "u", "type": "spc_t"}},
        "initContainers": [{"name": "i", "image": "busybox",
            "securityContext": {"privileged": true}}],
        "containers": [{"name": "a", "image": "busybox",
            "ports": [{"containerPort": 80, "hostPort": 8080}],
            "securityContext": {"capabilities": {"add": ["cap_chown", "SYS_ADMIN"]},
                "procMount": "Unmasked", "seccompProfile": {"type": "Unconfined"},
                "appArmorProfile": {"type": "Unconfined"}}}],
        "volumes": [{"name": "h", "hostPath": {"path": "/etc"}}]
    }));
    let got = fields(Level::Baseline, &s);
    for want in [
        "spec.hostNetwork",
        "spec.hostPID",
        "spec.hostIPC",
        "spec.initContainers[0].securityContext.privileged",
        "spec.containers[0].securityContext.capabilities.add[1]",
        "spec.containers[0].ports[0].hostPort",
        "spec.containers[0].securityContext.appArmorProfile.type",
        "spec.containers[0].securityContext.procMount",
        "spec.containers[0].securityContext.seccompProfile.type",
        "spec.volumes[0].hostPath",
        "spec.securityContext.seLinuxOptions.type",
        "spec.securityContext.seLinuxOptions.user",
        "spec.securityContext.sysctls[0].name",
    ] {
        assert!(
            got.contains(&want.to_string()),
            "{want} missing from {got:?}"
        );
    }
    // CAP_CHOWN is CHOWN; a safe sysctl is fine.
    assert!(
        !got.iter()
            .any(|f| f.ends_with("add[0]") || f.contains("sysctls[1]")),
        "{got:?}"
    );
    assert_eq!(got.len(), 13, "{got:?}");
}

#[test]
fn restricted_rules_each_refuse() {
    let cases: [(&str, serde_json::Value); 6] = [
        (
            "spec.volumes[1].nfs",
            serde_json::json!({"volumes": [{"name": "v", "emptyDir": {}}, {"name": "n", "nfs": {"server": "s", "path": "/"}}]}),
        ),
        (
            "spec.containers[0].securityContext.allowPrivilegeEscalation",
            serde_json::json!({"containers": [{"name": "a", "securityContext": {"allowPrivilegeEscalation": true, "capabilities": {"drop": ["ALL"]}}}]}),
        ),
        (
            "spec.containers[0].securityContext.runAsNonRoot",
            serde_json::json!({"containers": [{"name": "a", "securityContext": {"runAsNonRoot": false, "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}]}),
        ),
        (
            "spec.securityContext.runAsUser",
            serde_json::json!({"securityContext": {"runAsNonRoot": true, "runAsUser": 0, "seccompProfile": {"type": "RuntimeDefault"}}}),
        ),
        (
            "spec.containers[0].securityContext.capabilities.add[0]",
            serde_json::json!({"containers": [{"name": "a", "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"], "add": ["CHOWN"]}}}]}),
        ),
        (
            "spec.containers[0].securityContext.seccompProfile.type",
            serde_json::json!({"securityContext": {"runAsNonRoot": true, "seccompProfile": null}}),
        ),
    ];
    for (want, patch) in cases {
        let mut base = hardened();
        merge(&mut base, patch);
        let got = fields(Level::Restricted, &spec(base));
        assert_eq!(got, [want], "case {want}");
    }
}

/// JSON merge patch (RFC 7386), enough for the cases above.
fn merge(base: &mut serde_json::Value, patch: serde_json::Value) {
    match (base, patch) {
        (serde_json::Value::Object(b), serde_json::Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    b.remove(&k);
                } else {
                    merge(b.entry(k).or_insert(serde_json::Value::Null), v);
                }
            }
        }
        (b, p) => *b = p,
    }
}
