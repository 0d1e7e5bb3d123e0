//! StatefulSets as a user runs them: `podrt apply` stores one, `podrt serve`
//! brings up `web-0`, `web-1`, `web-2` in order, each its own hostname and its
//! own claim directory, which outlives the pod; a changed template rolls out
//! highest first; scaling down removes the highest ordinal first; `delete`
//! takes the set away with its pods and leaves its data. An invalid set is
//! refused naming the field, and nothing is stored.

use podrt_tests::pods::{text, PodEnv};
use podrt_tests::wait_until;
use podrt_tests::workloads::{workload_env, Agent};
use serde_json::Value;

fn env() -> PodEnv {
    workload_env()
}

/// A set of `replicas` busybox pods whose init container takes a second (so
/// each pod is visibly not Ready for a while), each mounting its claim `data`.
fn stateful_set(replicas: u32, policy: &str, greeting: &str) -> String {
    format!(
        r#"
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  serviceName: web
  replicas: {replicas}
  podManagementPolicy: {policy}
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      terminationGracePeriodSeconds: 0
      initContainers:
      - name: warm-up
        image: busybox
        command: ["sleep", "1"]
      containers:
      - name: c
        image: busybox
        env: [{{name: GREETING, value: "{greeting}"}}]
        command: ["sleep", "3600"]
        volumeMounts:
        - {{name: data, mountPath: /data}}
  volumeClaimTemplates:
  - metadata: {{name: data}}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {{requests: {{storage: 1Gi}}}}
"#
    )
}

/// The pods as `get pods -o json` lists them, by name, those being deleted
/// left out.
fn pods(env: &PodEnv) -> std::collections::BTreeMap<String, Value> {
    let out = env.ok(&["get", "pods", "-o", "json"]);
    let list: Value = serde_json::from_str(&out).expect("get -o json is JSON");
    list["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .map(|p| {
            (
                p["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                p,
            )
        })
        .collect()
}

fn ready(pod: &Value) -> bool {
    pod["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

fn greeting(pod: &Value) -> &str {
    pod["spec"]["containers"][0]["env"][0]["value"]
        .as_str()
        .unwrap_or_default()
}

/// Waits (up to `secs`) until the pods are exactly `names`, all Ready with
/// GREETING `greeting`; every snapshot on the way must pass `check`.
fn settle(
    env: &PodEnv,
    secs: u64,
    names: &[&str],
    greeting_is: &str,
    check: &mut dyn FnMut(&std::collections::BTreeMap<String, Value>),
) {
    let mut last = Default::default();
    let done = wait_until(secs, || {
        let now = pods(env);
        check(&now);
        let done = now.keys().map(String::as_str).eq(names.iter().copied())
            && now.values().all(|p| ready(p) && greeting(p) == greeting_is);
        last = now;
        done
    });
    assert!(done, "want {names:?} ready with {greeting_is}: {last:#?}");
}

#[test]
fn a_stateful_set_starts_in_order_keeps_names_and_data_rolls_scales_down_and_goes() {
    let env = env();
    let _agent = Agent::start(&env);
    let out = env.apply(&stateful_set(3, "OrderedReady", "one"));
    assert_eq!(out.trim(), "statefulset.apps/web created");
    // In order: a pod exists only once the one below it is Ready.
    let mut saw_web0_alone_unready = false;
    settle(&env, 40, &["web-0", "web-1", "web-2"], "one", &mut |now| {
        for (below, above) in [("web-0", "web-1"), ("web-1", "web-2")] {
            if now.contains_key(above) {
                assert!(
                    now.get(below).is_some_and(ready),
                    "{above} before {below} was Ready: {now:#?}"
                );
            }
        }
        saw_web0_alone_unready |= now.len() == 1 && now.get("web-0").is_some_and(|p| !ready(p));
    });
    assert!(
        saw_web0_alone_unready,
        "web-0 was never seen starting on its own"
    );
    let web1 = &pods(&env)["web-1"];
    assert_eq!(
        web1["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"],
        "web-1"
    );
    assert!(
        web1["metadata"]["labels"]["controller-revision-hash"].is_string(),
        "{web1}"
    );
    assert_eq!(
        web1["metadata"]["ownerReferences"][0]["kind"],
        "StatefulSet"
    );
    assert_eq!(web1["spec"]["subdomain"], "web");
    assert_eq!(env.sh("web-1", "c", "hostname"), "web-1");

    // web-1's claim outlives web-1.
    env.sh("web-1", "c", "echo kept > /data/note");
    let claim = env.dir.join("state/volumes/data-web-1");
    assert!(claim.join("note").is_file(), "{}", claim.display());
    let uid = web1["metadata"]["uid"].clone();
    env.ok(&["delete", "pod", "web-1"]);
    assert!(
        wait_until(30, || pods(&env)
            .get("web-1")
            .is_some_and(|p| ready(p) && p["metadata"]["uid"] != uid)),
        "web-1 not re-created: {:#?}",
        pods(&env)
    );
    assert_eq!(env.sh("web-1", "c", "cat /data/note"), "kept");
    assert_eq!(env.sh("web-1", "c", "hostname"), "web-1");
    let page = env.ok(&["describe", "sts", "web"]);
    for want in [
        "create Pod web-0 in StatefulSet web successful",
        "statefulset-controller",
        "Volume Claims:",
    ] {
        assert!(page.contains(want), "{want:?} in:\n{page}");
    }

    // A new template: replaced highest first, never more than one pod down.
    env.apply(&stateful_set(3, "OrderedReady", "two"));
    settle(&env, 45, &["web-0", "web-1", "web-2"], "two", &mut |now| {
        let down = 3 - now.values().filter(|p| ready(p)).count();
        assert!(down <= 1, "{down} pods down at once: {now:#?}");
        let new: Vec<&str> = ["web-0", "web-1", "web-2"]
            .into_iter()
            .filter(|n| now.get(*n).is_some_and(|p| greeting(p) == "two"))
            .collect();
        let highest_first = [
            vec![],
            vec!["web-2"],
            vec!["web-1", "web-2"],
            vec!["web-0", "web-1", "web-2"],
        ];
        assert!(
            highest_first.contains(&new),
            "updated out of order: {new:?}"
        );
    });
    let out = env.ok(&["rollout", "status", "sts/web", "--timeout", "20s"]);
    assert!(
        out.contains("partitioned roll out complete: 3 new pods have been updated"),
        "{out}"
    );
    assert_eq!(env.sh("web-1", "c", "cat /data/note"), "kept");

    // Scale down: web-2 goes before web-1.
    let out = env.ok(&["scale", "sts", "web", "--replicas=1"]);
    assert_eq!(out.trim(), "statefulset.apps/web scaled");
    settle(&env, 30, &["web-0"], "two", &mut |now| {
        assert!(
            !now.contains_key("web-2") || now.contains_key("web-1"),
            "web-1 went before web-2: {now:#?}"
        );
    });
    assert!(
        wait_until(10, || {
            let t = env.ok(&["get", "sts"]);
            t.lines()
                .next()
                .is_some_and(|h| h.split_whitespace().eq(["NAME", "READY", "AGE"]))
                && t.lines()
                    .nth(1)
                    .is_some_and(|r| r.split_whitespace().take(2).eq(["web", "1/1"]))
        }),
        "{}",
        env.ok(&["get", "sts"])
    );
    let wide = env.ok(&["get", "statefulsets.apps", "web", "-o", "wide"]);
    assert!(
        wide.contains("CONTAINERS") && wide.contains("busybox"),
        "{wide}"
    );

    let out = env.ok(&["delete", "sts", "web"]);
    assert!(out.contains("statefulset.apps \"web\" deleted"), "{out}");
    assert!(pods(&env).is_empty(), "{:#?}", pods(&env));
    let gone = env.podrt(&["get", "sts", "web"]);
    assert!(text(&gone.stderr).contains("statefulsets.apps \"web\" not found"));
    // The claims stay (Retain), the scaled-down ones too.
    for n in 0..3 {
        let dir = env.dir.join(format!("state/volumes/data-web-{n}"));
        assert!(dir.is_dir(), "{}", dir.display());
    }
    assert!(claim.join("note").is_file());
}

#[test]
fn an_invalid_or_forbidden_stateful_set_is_refused_naming_the_field() {
    let env = env();
    env.apply_refused(
        &stateful_set(2, "Sometimes", "one"),
        &[],
        &[
            "statefulset.apps/web",
            "spec.podManagementPolicy",
            "\"Sometimes\"",
        ],
    );
    let none = env.podrt(&["get", "sts"]);
    assert!(
        text(&none.stderr).contains("No resources found"),
        "{}",
        text(&none.stderr)
    );
    assert!(!env
        .dir
        .join("state/objects/statefulsets.apps/default/web.json")
        .exists());
    // Stored (no agent runs: no pods), then a change outside what may change.
    env.apply(&stateful_set(2, "Parallel", "one"));
    env.apply_refused(
        &stateful_set(2, "OrderedReady", "one"),
        &[],
        &["spec: Forbidden: updates to statefulset spec for fields other than"],
    );
    assert_eq!(
        env.apply(&stateful_set(4, "Parallel", "two")).trim(),
        "statefulset.apps/web configured"
    );
    let stored = env.ok(&["get", "sts", "web", "-o", "json"]);
    let stored: Value = serde_json::from_str(&stored).expect("JSON");
    assert_eq!(stored["spec"]["podManagementPolicy"], "Parallel");
    assert_eq!(stored["spec"]["replicas"], 4);
    env.ok(&["delete", "statefulset/web"]);
}

/// The names of the set's ControllerRevisions as the store keeps them.
fn revision_files(env: &PodEnv) -> Vec<String> {
    let dir = env
        .dir
        .join("state/objects/controllerrevisions.apps/default");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// `rollout history`'s revision numbers.
fn history(env: &PodEnv) -> Vec<String> {
    let out = env.ok(&["rollout", "history", "sts/web"]);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("statefulset.apps/web"), "{out}");
    assert!(
        lines
            .next()
            .is_some_and(|h| h.split_whitespace().eq(["REVISION", "CHANGE-CAUSE"])),
        "{out}"
    );
    lines
        .map(|l| l.split_whitespace().next().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn a_stateful_set_keeps_its_revisions_a_partition_keeps_the_current_one_and_undo_goes_back() {
    let env = env();
    let _agent = Agent::start(&env);
    let partitioned = |greeting: &str| {
        stateful_set(2, "Parallel", greeting).replace(
            "  podManagementPolicy:",
            "  updateStrategy: {type: RollingUpdate, rollingUpdate: {partition: 1}}\n  podManagementPolicy:",
        )
    };
    env.apply(&partitioned("one"));
    settle(&env, 40, &["web-0", "web-1"], "one", &mut |_| {});
    assert_eq!(history(&env), ["1"]);
    assert_eq!(revision_files(&env).len(), 1, "{:?}", revision_files(&env));

    // A new template rolls out to web-1 only (the partition); web-0, deleted,
    // comes back from the current revision, not from the new template.
    env.apply(&partitioned("two"));
    let mut last = Default::default();
    let rolled = wait_until(40, || {
        last = pods(&env);
        last.get("web-1")
            .is_some_and(|p| ready(p) && greeting(p) == "two")
            && last.get("web-0").is_some_and(|p| greeting(p) == "one")
    });
    assert!(rolled, "{last:#?}");
    assert_eq!(history(&env), ["1", "2"]);
    let table = env.ok(&["get", "controllerrevisions"]);
    let mut rows = table.lines();
    assert!(
        rows.next().is_some_and(|h| h.split_whitespace().eq([
            "NAME",
            "CONTROLLER",
            "REVISION",
            "AGE"
        ])),
        "{table}"
    );
    let rows: Vec<Vec<&str>> = rows.map(|r| r.split_whitespace().collect()).collect();
    assert_eq!(rows.len(), 2, "{table}");
    let mut numbers: Vec<&str> = rows.iter().map(|r| r[2]).collect();
    numbers.sort();
    assert_eq!(numbers, ["1", "2"], "{table}");
    for row in &rows {
        assert!(row[0].starts_with("web-"), "{table}");
        assert_eq!(row[1], "statefulset.apps/web", "{table}");
    }
    let pod_hash = pods(&env)["web-1"]["metadata"]["labels"]["controller-revision-hash"].clone();
    let named = env.ok(&[
        "get",
        "controllerrevision",
        &format!("web-{}", pod_hash.as_str().unwrap_or_default()),
        "-o",
        "json",
    ]);
    let revision: Value = serde_json::from_str(&named).expect("json");
    assert_eq!(revision["revision"], 2, "{revision}");
    assert_eq!(
        revision["data"]["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"], "two",
        "{revision}"
    );
    let uid = pods(&env)["web-0"]["metadata"]["uid"].clone();
    env.ok(&["delete", "pod", "web-0"]);
    let mut last = Default::default();
    let back = wait_until(30, || {
        last = pods(&env);
        last.get("web-0")
            .is_some_and(|p| ready(p) && p["metadata"]["uid"] != uid)
    });
    assert!(back, "web-0 not re-created: {last:#?}");
    assert_eq!(greeting(&pods(&env)["web-0"]), "one", "{:#?}", pods(&env));
    let s: Value =
        serde_json::from_str(&env.ok(&["get", "sts", "web", "-o", "json"])).expect("json");
    assert_ne!(
        s["status"]["currentRevision"], s["status"]["updateRevision"],
        "{s}"
    );

    // Undo: the template goes back to revision 1, which is renumbered 3, and
    // web-1 is replaced by it.
    let out = env.ok(&["rollout", "undo", "sts/web"]);
    assert_eq!(out.trim(), "statefulset.apps/web rolled back");
    settle(&env, 40, &["web-0", "web-1"], "one", &mut |_| {});
    assert!(
        wait_until(10, || history(&env) == ["2", "3"]),
        "{:?}",
        history(&env)
    );
    let out = env.ok(&["rollout", "undo", "sts/web", "--to-revision=3"]);
    assert_eq!(
        out.trim(),
        "statefulset.apps/web skipped rollback (current template already matches revision 3)"
    );
    let missing = env.podrt(&["rollout", "undo", "sts/web", "--to-revision=9"]);
    assert!(
        !missing.status.success()
            && text(&missing.stderr).contains("unable to find specified revision 9 in history"),
        "{}",
        text(&missing.stderr)
    );

    // Restart: a new template (its restartedAt annotation), a third revision.
    let out = env.ok(&["rollout", "restart", "sts/web"]);
    assert_eq!(out.trim(), "statefulset.apps/web restarted");
    assert!(
        wait_until(20, || history(&env).len() == 3),
        "{:?}",
        history(&env)
    );

    // The set's deletion takes its revisions.
    env.ok(&["delete", "sts", "web"]);
    assert!(
        revision_files(&env).is_empty(),
        "{:?}",
        revision_files(&env)
    );
}

#[test]
fn a_delete_retention_policy_removes_claims_after_scale_down_and_with_the_set() {
    let env = env();
    let _agent = Agent::start(&env);
    let manifest = |replicas: u32, policy: &str| {
        stateful_set(replicas, "Parallel", "one").replace(
            "  podManagementPolicy:",
            &format!("  persistentVolumeClaimRetentionPolicy: {policy}\n  podManagementPolicy:"),
        )
    };
    let delete_both = "{whenDeleted: Delete, whenScaled: Delete}";
    env.apply(&manifest(3, delete_both));
    settle(&env, 40, &["web-0", "web-1", "web-2"], "one", &mut |_| {});
    let claim = |n: usize| env.dir.join(format!("state/volumes/data-web-{n}"));
    for n in 0..3 {
        env.sh(&format!("web-{n}"), "c", "echo mine > /data/note");
        assert!(claim(n).join("note").is_file(), "{}", claim(n).display());
    }
    // web-2's claim goes with web-2, and only once web-2 is gone.
    env.ok(&["scale", "sts/web", "--replicas=2"]);
    let mut pod_gone_first = true;
    let released = wait_until(30, || {
        let gone = !claim(2).exists();
        // Listed at all, terminating or not.
        if gone && env.podrt(&["get", "pod", "web-2"]).status.success() {
            pod_gone_first = false;
        }
        gone
    });
    assert!(released, "claim of web-2 kept: {:#?}", pods(&env));
    assert!(pod_gone_first, "the claim went while web-2 still ran");
    assert!(claim(0).join("note").is_file() && claim(1).join("note").is_file());
    let page = env.ok(&["describe", "sts", "web"]);
    assert!(
        page.contains("delete Claim data-web-2 Pod web-2 in StatefulSet web success"),
        "{page}"
    );
    // A pod deleted (not scaled away) keeps its claim.
    let uid = pods(&env)["web-1"]["metadata"]["uid"].clone();
    env.ok(&["delete", "pod", "web-1"]);
    assert!(
        wait_until(30, || pods(&env)
            .get("web-1")
            .is_some_and(|p| ready(p) && p["metadata"]["uid"] != uid)),
        "{:#?}",
        pods(&env)
    );
    assert_eq!(env.sh("web-1", "c", "cat /data/note"), "mine");
    // The set's deletion removes the rest, after its pods.
    env.ok(&["delete", "sts", "web"]);
    assert!(pods(&env).is_empty(), "{:#?}", pods(&env));
    for n in 0..3 {
        assert!(!claim(n).exists(), "{}", claim(n).display());
    }

    // Retain (the default, and spelled out) keeps them all.
    env.apply(&manifest(1, "{whenDeleted: Retain, whenScaled: Retain}"));
    settle(&env, 40, &["web-0"], "one", &mut |_| {});
    env.ok(&["delete", "sts", "web"]);
    assert!(claim(0).is_dir(), "{}", claim(0).display());
}

#[test]
fn max_unavailable_lets_a_rollout_replace_several_pods_at_once() {
    let env = env();
    let _agent = Agent::start(&env);
    let manifest = |greeting: &str| {
        stateful_set(3, "Parallel", greeting).replace(
            "  podManagementPolicy:",
            "  updateStrategy: {rollingUpdate: {maxUnavailable: 100%}}\n  podManagementPolicy:",
        )
    };
    env.apply(&manifest("one"));
    settle(&env, 40, &["web-0", "web-1", "web-2"], "one", &mut |_| {});
    env.apply(&manifest("two"));
    // One at a time, each replacement waits for the one above it to be Ready
    // (its init container alone takes a second); all at once, none waits.
    let mut most_down = 0;
    settle(&env, 40, &["web-0", "web-1", "web-2"], "two", &mut |now| {
        let up = now.values().filter(|p| ready(p)).count();
        most_down = most_down.max(3 - up);
    });
    let created: Vec<jiff::Timestamp> = pods(&env)
        .values()
        .map(|p| {
            p["metadata"]["creationTimestamp"]
                .as_str()
                .and_then(|t| t.parse().ok())
                .unwrap_or_else(|| panic!("no creationTimestamp: {p}"))
        })
        .collect();
    let span = created
        .iter()
        .max()
        .zip(created.iter().min())
        .map(|(a, b)| a.duration_since(*b));
    assert!(
        span.is_some_and(|s| s <= jiff::SignedDuration::from_secs(1)),
        "replacements made {span:?} apart: {created:?}"
    );
    assert!(most_down >= 2, "never more than {most_down} pod down");
    env.ok(&["delete", "sts", "web"]);
}
