//! `podrt policy check`'s table: one row per pod, and one more per further
//! violation of a refused pod, aligned as `get` aligns its tables.

use podrt_sandbox::policy::report::{Outcome, Verdict};

use super::table;

/// The table and a summary line.
pub fn verdicts(policy: &str, list: &[Verdict]) -> String {
    let mut text = String::from("FILE\tPOD\tRESULT\tFIELD\tRULE\tMESSAGE\n");
    let (mut allowed, mut refused, mut errors) = (0, 0, 0);
    for v in list {
        let file = v.file.display().to_string();
        let pod = if v.pod.is_empty() {
            "-".to_string()
        } else {
            v.pod.clone()
        };
        match &v.outcome {
            Outcome::Allowed => {
                allowed += 1;
                text.push_str(&format!("{file}\t{pod}\tallowed\t\t\t\n"));
            }
            Outcome::Refused(found) => {
                refused += 1;
                for (i, f) in found.iter().enumerate() {
                    let (file, pod, result) = if i == 0 {
                        (file.as_str(), pod.as_str(), "refused")
                    } else {
                        ("", "", "")
                    };
                    text.push_str(&format!(
                        "{file}\t{pod}\t{result}\t{}\t{}\t{}\n",
                        f.field, f.rule, f.message
                    ));
                }
            }
            Outcome::Error(e) => {
                errors += 1;
                let e = e.strip_prefix(&format!("{file}: ")).unwrap_or(e);
                text.push_str(&format!("{file}\t{pod}\terror\t\t\t{e}\n"));
            }
        }
    }
    let aligned = table::GET.format(&table::escape_terminal(&text));
    // Rows of allowed pods end in empty cells: no padding after the last word.
    let mut out: String = aligned
        .lines()
        .map(|l| format!("{}\n", l.trim_end()))
        .collect();
    out.push_str(&format!(
        "\n{} pods checked against {policy}: {allowed} allowed, {refused} refused",
        allowed + refused
    ));
    if errors > 0 {
        let files = if errors == 1 { "file" } else { "files" };
        out.push_str(&format!(", {errors} {files} unreadable"));
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use podrt_sandbox::policy::Violation;

    use super::*;

    #[test]
    fn one_row_per_violation_and_a_summary() {
        let v = |field: &str| Violation {
            field: field.into(),
            message: "must be unset or false".into(),
            rule: "baseline: Host Namespaces".into(),
        };
        let list = [
            Verdict {
                file: PathBuf::from("a.yaml"),
                pod: "web".into(),
                outcome: Outcome::Refused(vec![v("spec.hostNetwork"), v("spec.hostPID")]),
            },
            Verdict {
                file: PathBuf::from("a.yaml"),
                pod: "db".into(),
                outcome: Outcome::Allowed,
            },
            Verdict {
                file: PathBuf::from("b.yaml"),
                pod: String::new(),
                outcome: Outcome::Error("b.yaml: invalid YAML: oops".into()),
            },
        ];
        let text = verdicts("baseline", &list);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("FILE"), "{text}");
        assert!(
            lines[1].starts_with("a.yaml") && lines[1].contains("refused"),
            "{text}"
        );
        assert!(lines[2].trim_start().starts_with("spec.hostPID"), "{text}");
        assert_eq!(
            lines[3].split_whitespace().collect::<Vec<_>>(),
            ["a.yaml", "db", "allowed"]
        );
        assert!(
            lines[4].starts_with("b.yaml") && lines[4].ends_with("   invalid YAML: oops"),
            "{text}"
        );
        assert!(lines.iter().all(|l| !l.ends_with(' ')), "{text}");
        assert_eq!(
            lines[6],
            "2 pods checked against baseline: 1 allowed, 1 refused, 1 file unreadable"
        );
    }
}
