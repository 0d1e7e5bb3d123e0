//! Labels as kubectl users use them: `label` sets, changes (only with
//! `--overwrite`) and removes them on pods and workloads; `get -l` and
//! `delete -l` pick objects by selector; a pod relabelled out of its
//! ReplicaSet's selector is let go and replaced; `delete --cascade=orphan`
//! leaves what the object made running, without its owner.

use podrt_tests::pods::text;
use podrt_tests::wait_until;
use podrt_tests::workloads::{name, names, pods, ready, workload_env, Agent};

fn pod(name: &str, labels: &str) -> String {
    format!(
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels: {labels}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: c
    image: busybox
    command: ["sleep", "3600"]
"#
    )
}

#[test]
fn label_selects_and_deletes_pods_by_their_labels() {
    let env = workload_env();
    env.apply(&pod("front", "{app: web, tier: front}"));
    env.apply(&pod("store", "{app: db}"));

    assert_eq!(names(&env, &["pods", "-l", "app=web"]), ["front"]);
    assert_eq!(
        names(&env, &["pods", "-l", "app in (web, db)"]),
        ["front", "store"]
    );
    assert_eq!(names(&env, &["pods", "-l", "!tier"]), ["store"]);

    // Another value needs --overwrite; the refusal changes nothing.
    let refused = env.podrt(&["label", "pod", "front", "tier=back", "new=1"]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused.stdout));
    assert!(
        text(&refused.stderr).contains("already has a value (front)"),
        "{}",
        text(&refused.stderr)
    );
    assert!(names(&env, &["pods", "-l", "new"]).is_empty());
    assert_eq!(
        env.ok(&["label", "pod", "front", "tier=back", "--overwrite"])
            .trim(),
        "pod/front labeled"
    );
    assert_eq!(names(&env, &["pods", "-l", "tier=back"]), ["front"]);
    assert_eq!(
        env.ok(&["label", "pod", "front", "tier=back"]).trim(),
        "pod/front not labeled"
    );
    // By selector, and removal.
    assert_eq!(
        env.ok(&["label", "pods", "-l", "app=db", "env=test"])
            .trim(),
        "pod/store labeled"
    );
    env.ok(&["label", "pod/front", "tier-"]);
    assert_eq!(names(&env, &["pods", "-l", "!tier,env!=test"]), ["front"]);
    let labels = &env.pod_json("store")["metadata"]["labels"];
    assert_eq!(labels["env"], "test", "{labels}");

    // Bad input: the selector and the label are named, nothing changes.
    let bad = env.podrt(&["get", "pods", "-l", "tier in (a"]);
    assert_ne!(bad.status.code(), Some(0));
    assert!(
        text(&bad.stderr).contains("selector"),
        "{}",
        text(&bad.stderr)
    );
    let bad = env.podrt(&["label", "pod", "front", "app=no good"]);
    assert_ne!(bad.status.code(), Some(0));
    assert!(
        text(&bad.stderr).contains("invalid label value"),
        "{}",
        text(&bad.stderr)
    );
    let both = env.podrt(&["delete", "pods", "front", "-l", "app=web"]);
    assert_ne!(both.status.code(), Some(0));

    let out = env.ok(&[
        "delete",
        "pods",
        "-l",
        "app=db",
        "--grace-period=0",
        "--force",
    ]);
    assert_eq!(out.trim(), "pod \"store\" deleted");
    assert_eq!(names(&env, &["pods"]), ["front"]);
}

const REPLICA_SET: &str = r#"
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: c
        image: busybox
        command: ["sleep", "3600"]
"#;

fn owned(pod: &serde_json::Value) -> bool {
    !pod["metadata"]["ownerReferences"].is_null()
}

#[test]
fn a_relabelled_pod_leaves_its_set_and_orphan_delete_keeps_the_pods() {
    let env = workload_env();
    env.apply(REPLICA_SET);
    let _agent = Agent::start(&env);
    assert!(
        wait_until(30, || pods(&env).iter().filter(|p| ready(p)).count() == 2),
        "2 ready pods: {:?}",
        pods(&env)
    );
    assert_eq!(names(&env, &["rs", "-l", "app=web"]), ["web"]);
    assert!(names(&env, &["rs", "-l", "app=db"]).is_empty());
    assert_eq!(
        env.ok(&["label", "rs", "web", "tier=x"]).trim(),
        "replicaset.apps/web labeled"
    );
    assert_eq!(names(&env, &["rs", "-l", "tier=x"]), ["web"]);

    // Out of the selector: released (no owner) and replaced.
    let taken = name(&pods(&env)[0]);
    env.ok(&["label", "pod", &taken, "app=debug", "--overwrite"]);
    assert!(
        wait_until(30, || {
            let all = pods(&env);
            let in_set = all.iter().filter(|p| owned(p) && ready(p)).count();
            let released = all.iter().any(|p| name(p) == taken && !owned(p));
            in_set == 2 && released && all.len() == 3
        }),
        "the set made a replacement and let {taken} go: {:?}",
        pods(&env)
    );

    // --cascade=orphan: the set goes, its pods stay and lose their owner.
    let out = env.ok(&["delete", "rs", "web", "--cascade=orphan"]);
    assert_eq!(out.trim(), "replicaset.apps \"web\" deleted");
    let gone = env.podrt(&["get", "rs", "web"]);
    assert_ne!(gone.status.code(), Some(0));
    std::thread::sleep(std::time::Duration::from_secs(3));
    let left = pods(&env);
    assert_eq!(left.len(), 3, "the pods stay: {left:?}");
    assert!(left.iter().all(|p| ready(p) && !owned(p)), "{left:?}");

    // delete -l on a workload type: nothing matches, nothing happens.
    assert_eq!(
        env.ok(&["delete", "rs", "-l", "app=web"]).trim(),
        "No resources found"
    );
}
