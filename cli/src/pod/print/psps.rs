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
}
