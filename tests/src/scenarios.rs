//! The pod scenarios of `tests/scenarios/pods.sh`, shared by the host test
//! (tests/tests/pod_scenarios.rs, cgroup v1 here) and the VM test
//! (tests/tests/cgroup_v2_vm.rs, pure cgroup v2): one list, two kernels.

/// Every scenario the script reports; a missing `RESULT` line fails as a FAIL does.
pub const POD_SCENARIOS: &[&str] = &[
    "import_image",
    "shared_namespaces",
    "limits",
    "oom_killed",
    "privileged_vs_default",
    "user_namespaces",
    "nothing_left",
];

/// One `RESULT name verdict detail` line (after an optional `tag`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The scenario or check.
    pub name: String,
    /// `PASS` or `FAIL`.
    pub verdict: String,
    /// What was seen.
    pub detail: String,
}

/// The `{tag}RESULT …` lines of `output`.
pub fn results(output: &str, tag: &str) -> Vec<Outcome> {
    output
        .lines()
        .filter_map(|l| l.strip_prefix(tag)?.strip_prefix("RESULT "))
        .map(|l| {
            let mut parts = l.splitn(3, ' ');
            let mut next = || parts.next().unwrap_or("").to_string();
            Outcome {
                name: next(),
                verdict: next(),
                detail: next(),
            }
        })
        .collect()
}

/// What is wrong with `found` given the checks `expected`: each must PASS,
/// and any other line must too.
pub fn problems(found: &[Outcome], expected: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for name in expected {
        match found.iter().find(|o| o.name == *name) {
            None => out.push(format!("{name}: no RESULT line")),
            Some(o) if o.verdict == "PASS" => {}
            Some(o) => out.push(format!("{name}: {} {}", o.verdict, o.detail)),
        }
    }
    for o in found {
        if !expected.contains(&o.name.as_str()) && o.verdict != "PASS" {
            out.push(format!("{}: {} {}", o.name, o.verdict, o.detail));
        }
    }
    out
}
