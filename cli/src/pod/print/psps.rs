//! `get psp`: kubectl's columns for PodSecurityPolicies (the printer of the
//! releases that served them), read from the spec as stored.

use std::time::SystemTime;

use podrt_node::objects::PodSecurityPolicyObject;
use serde_json::Value;

use super::table;

/// The `get psp` table, header included.
pub fn psps(items: &[PodSecurityPolicyObject], _now: SystemTime) -> String {
    let mut text = String::from(
        "NAME\tPRIV\tCAPS\tSELINUX\tRUNASUSER\tFSGROUP\tSUPGROUP\tREADONLYROOTFS\tVOLUMES\n",
    );
    for p in items {
        let s = &p.spec;
        let rule = |field: &str| s[field]["rule"].as_str().unwrap_or_default().to_string();
        let list = |field: &str| {
            s[field]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(",")
        };
        let cells = [
            p.name().to_string(),
            s["privileged"].as_bool().unwrap_or(false).to_string(),
            list("allowedCapabilities"),
            rule("seLinux"),
            rule("runAsUser"),
            rule("fsGroup"),
            rule("supplementalGroups"),
            s["readOnlyRootFilesystem"]
                .as_bool()
                .unwrap_or(false)
                .to_string(),
            list("volumes"),
        ];
        text.push_str(&cells.join("\t"));
        text.push('\n');
    }
    table::GET.format(&table::escape_terminal(&text))
}

/// `describe psp`: kubectl's page (its PodSecurityPolicy describer).
pub fn describe_psp(p: &PodSecurityPolicyObject) -> String {
    let s = &p.spec;
    let list = |field: &str| {
        let items: Vec<&str> = s[field]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if items.is_empty() {
            "<none>".to_string()
        } else {
            items.join(",")
        }
    };
    let flag = |field: &str| s[field].as_bool().unwrap_or(false).to_string();
    let ranges = |v: &Value, min: &str, max: &str| {
        let all: Vec<String> = v
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| format!("{}-{}", r[min], r[max]))
            .collect();
        if all.is_empty() {
            "<none>".to_string()
        } else {
            all.join(",")
        }
    };
    let mut out = format!("Name:  {}\n\nSettings:\n", p.name());
    let mut line = |label: &str, value: String| {
        out.push_str(&format!("  {:<40}{value}\n", format!("{label}:")));
    };
    line("Allow Privileged", flag("privileged"));
    line(
        "Allow Privilege Escalation",
        s["allowPrivilegeEscalation"]
            .as_bool()
            .map_or("<unset>".to_string(), |b| b.to_string()),
    );
    line("Default Add Capabilities", list("defaultAddCapabilities"));
    line(
        "Required Drop Capabilities",
        list("requiredDropCapabilities"),
    );
    line("Allowed Capabilities", list("allowedCapabilities"));
    line("Allowed Volume Types", list("volumes"));
    line("Allow Host Network", flag("hostNetwork"));
    line("Allow Host Ports", ranges(&s["hostPorts"], "min", "max"));
    line("Allow Host PID", flag("hostPID"));
    line("Allow Host IPC", flag("hostIPC"));
    line("Read Only Root Filesystem", flag("readOnlyRootFilesystem"));
    let rule = |field: &str| s[field]["rule"].as_str().unwrap_or("<none>").to_string();
    out.push_str(&format!(
        "  SELinux Context Strategy: {}\n",
        rule("seLinux")
    ));
    for (label, key) in [
        ("User", "user"),
        ("Role", "role"),
        ("Type", "type"),
        ("Level", "level"),
    ] {
        let v = s["seLinux"]["seLinuxOptions"][key]
            .as_str()
            .unwrap_or("<none>");
        out.push_str(&format!("    {:<38}{v}\n", format!("{label}:")));
    }
    for (label, field) in [
        ("Run As User Strategy", "runAsUser"),
        ("FSGroup Strategy", "fsGroup"),
        ("Supplemental Groups Strategy", "supplementalGroups"),
    ] {
        out.push_str(&format!("  {label}: {}\n", rule(field)));
        out.push_str(&format!(
            "    {:<38}{}\n",
            "Ranges:",
            ranges(&s[field]["ranges"], "min", "max")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seeds_policy_prints_kubectls_row() {
        let psp = PodSecurityPolicyObject::decode(
            &serde_json::json!({
                "apiVersion": "extensions/v1beta1",
                "kind": "PodSecurityPolicy",
                "metadata": {"name": "permissive"},
                "spec": {
                    "seLinux": {"rule": "RunAsAny"},
                    "supplementalGroups": {"rule": "RunAsAny"},
                    "runAsUser": {"rule": "RunAsAny"},
                    "fsGroup": {"rule": "RunAsAny"},
                    "hostPorts": [{"min": 8000, "max": 8080}],
                    "volumes": ["*"],
                }
            }),
            "psp.yaml",
        )
        .unwrap();
        let text = psps(&[psp], SystemTime::now());
        let lines: Vec<Vec<&str>> = text
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(
            lines[0],
            [
                "NAME",
                "PRIV",
                "CAPS",
                "SELINUX",
                "RUNASUSER",
                "FSGROUP",
                "SUPGROUP",
                "READONLYROOTFS",
                "VOLUMES"
            ]
        );
        assert_eq!(
            lines[1],
            [
                "permissive",
                "false",
                "RunAsAny",
                "RunAsAny",
                "RunAsAny",
                "RunAsAny",
                "false",
                "*"
            ]
        );
    }

    #[test]
    fn describe_shows_the_settings_as_kubectl_does() {
        let psp = PodSecurityPolicyObject::decode(
            &serde_json::json!({
                "apiVersion": "policy/v1beta1",
                "kind": "PodSecurityPolicy",
                "metadata": {"name": "p"},
                "spec": {
                    "seLinux": {"rule": "RunAsAny"},
                    "supplementalGroups": {"rule": "RunAsAny"},
                    "runAsUser": {"rule": "MustRunAs", "ranges": [{"min": 1000, "max": 2000}]},
                    "fsGroup": {"rule": "RunAsAny"},
                    "hostPorts": [{"min": 8000, "max": 8080}],
                    "volumes": ["emptyDir", "secret"],
                }
            }),
            "psp.yaml",
        )
        .unwrap();
        let page = describe_psp(&psp);
        assert!(page.starts_with("Name:  p\n\nSettings:\n"), "{page}");
        for want in [
            "Allow Host Ports:                       8000-8080",
            "Allowed Volume Types:                   emptyDir,secret",
            "Run As User Strategy: MustRunAs\n    Ranges:                               1000-2000",
            "SELinux Context Strategy: RunAsAny\n    User:                                 <none>",
        ] {
            assert!(page.contains(want), "{want:?} in:\n{page}");
        }
    }
}
