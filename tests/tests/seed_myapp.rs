//! The seed's `myapp-pod`: two init containers wait, in order, until the
//! Services `myservice` and `mydb` resolve; only then does the app container
//! start. The node agent (`podrt serve`) serves the cluster DNS on the pod
//! network's gateway; the pod, made while it runs, asks it (with kubelet's
//! search path and ndots:5). The pod and the Services are made with `podrt
//! create -f`, as the seed does with kubectl, and `podrt wait` waits for the
//! pod to be Ready. The test's
//! agent forwards other names to 127.0.0.1 of its own network namespace, where
//! nothing listens: no packet leaves the test's namespaces. Both of the seed's
//! forms of the pod run: `initContainers` (1.6+) and the 1.5 annotation.

use podrt_tests::pods::text;
use podrt_tests::workloads::{workload_env, Agent};
use podrt_tests::{repo, wait_until};

#[test]
fn myapp_pod_waits_for_its_services_then_runs() {
    waits_then_runs("myapp-pod.yaml");
}

/// The same pod in the seed's Kubernetes 1.5 form: its init containers in the
/// `pod.beta.kubernetes.io/init-containers` annotation.
#[test]
fn myapp_pod_of_kubernetes_1_5_waits_for_its_services_then_runs() {
    waits_then_runs("myapp-pod-1.5.yaml");
}

fn waits_then_runs(fixture: &str) {
    let env = workload_env();
    let _agent = Agent::start_with(&env, &["--dns-upstream", "127.0.0.1"]);
    assert!(
        wait_until(10, || env.root.join("dns/server.json").is_file()),
        "the agent never served DNS"
    );
    let manifest = repo().join("tests/fixtures").join(fixture);
    let manifest = manifest.to_str().unwrap();
    // As kubectl's, create returns once the pod exists, its init containers
    // waiting.
    let out = env.ok(&["create", "-f", manifest]);
    assert_eq!(out.trim(), "pod/myapp-pod created");
    // Without the Services, the first init container keeps waiting.
    assert!(
        wait_until(30, || env.ok(&["get", "-f", manifest]).contains("Init:0/2")),
        "pod never showed Init:0/2: {}",
        env.ok(&["get", "-f", manifest])
    );
    assert!(wait_until(30, || {
        let out = env.podrt(&["logs", "myapp-pod", "-c", "init-myservice"]);
        text(&out.stdout).contains("waiting for myservice")
    }));
    let resolv = std::fs::read_to_string(env.pod_dir("myapp-pod").join("resolv.conf"))
        .or_else(|_| std::fs::read_to_string(env.pod_dir("myapp-pod").join("etc/resolv.conf")))
        .unwrap_or_default();
    assert!(
        resolv.contains("nameserver 10.88.0.1")
            && resolv.contains("search default.svc.cluster.local svc.cluster.local cluster.local")
            && resolv.contains("ndots:5"),
        "{resolv}"
    );
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert!(env.ok(&["get", "pods"]).contains("Init:0/2"));
    let page = env.ok(&["describe", "-f", manifest]);
    assert!(
        page.contains("Init Containers:")
            && page.contains("init-myservice")
            && page.contains("Running"),
        "{page}"
    );
    let waited = env.podrt(&[
        "wait",
        "--for=condition=Ready",
        "pod/myapp-pod",
        "--timeout=1s",
    ]);
    assert!(
        !waited.status.success()
            && text(&waited.stderr)
                .contains("timed out waiting for the condition on pods/myapp-pod"),
        "{}",
        text(&waited.stderr)
    );

    // The seed's services.yaml, as the user wrote it.
    let services = repo().join("tests/fixtures/services.yaml");
    let out = env.ok(&["create", "-f", services.to_str().unwrap()]);
    assert_eq!(out, "service/myservice created\nservice/mydb created\n");

    let out = env.ok(&[
        "wait",
        "--for=condition=Ready",
        "pod/myapp-pod",
        "--timeout=60s",
    ]);
    assert_eq!(out.trim(), "pod/myapp-pod condition met");
    let table = env.ok(&["get", "-f", manifest]);
    assert!(
        table.contains("1/1") && table.contains("Running"),
        "{table}"
    );
    assert!(wait_until(10, || env
        .ok(&["logs", "myapp-pod"])
        .contains("The app is running!")));
    // The init containers' lookups found the Services' cluster IPs.
    let svc: serde_json::Value =
        serde_json::from_str(&env.ok(&["get", "svc", "mydb", "-o", "json"])).expect("json");
    let ip = svc["spec"]["clusterIP"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let init_log = env.ok(&["logs", "myapp-pod", "-c", "init-mydb"]);
    assert!(init_log.contains(&ip), "{ip} not in:\n{init_log}");
    let v = env.pod_json("myapp-pod");
    for s in v["status"]["initContainerStatuses"]
        .as_array()
        .expect("init statuses")
    {
        assert_eq!(s["state"]["terminated"]["exitCode"], 0, "{s}");
        assert_eq!(s["state"]["terminated"]["reason"], "Completed", "{s}");
    }
    // A name with no Service stays unknown; a deleted Service goes.
    let (code, out, _) = env.exec(
        "myapp-pod",
        "myapp-container",
        &["nslookup", "nothere.default.svc.cluster.local"],
    );
    assert_ne!(code, 0, "{out}");
    env.ok(&["delete", "svc", "mydb"]);
    assert!(
        wait_until(15, || env
            .exec(
                "myapp-pod",
                "myapp-container",
                &["nslookup", "mydb.default.svc.cluster.local"]
            )
            .0
            != 0),
        "mydb still resolves after its deletion"
    );
    env.ok(&["delete", "pod", "myapp-pod", "--grace-period=0", "--force"]);
}
