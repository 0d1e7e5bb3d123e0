//! kubectl's verbs across kinds: `create -f` makes only what is new (an object
//! that exists is AlreadyExists, left as it is), `get all` and `get -f` list
//! pods and workloads together, and `edit` stores what the user's editor saved
//! as apply would, refusing an invalid edit with the field named and keeping
//! the user's copy.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Output;

use podrt_tests::pods::{text, PodEnv};
use podrt_tests::wait_until;
use podrt_tests::workloads::{workload_env, Agent};
use serde_json::Value;

const MANIFEST: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: solo
  labels: {app: solo}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: c
    image: busybox
    command: ["sleep", "3600"]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: c
        image: busybox
        command: ["sleep", "3600"]
"#;

/// An editor: a script that runs `sed -i SCRIPT` on the file it is given.
fn editor(env: &PodEnv, name: &str, sed: &str) -> PathBuf {
    let path = env.dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\nsed -i '{sed}' \"$1\"\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn edit(env: &PodEnv, editor: &std::path::Path, target: &str) -> Output {
    env.cmd()
        .env("EDITOR", editor)
        .env_remove("KUBE_EDITOR")
        .args(["edit", target])
        .output()
        .expect("run podrt edit")
}

/// Removes the copy a refused edit keeps (its path is in the message).
fn remove_kept_copy(stderr: &str) {
    let path = stderr
        .split("stored to \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a refused edit names the copy it kept");
    assert!(std::path::Path::new(path).exists(), "{path} is kept");
    std::fs::remove_file(path).unwrap();
}

fn deployment(env: &PodEnv) -> Value {
    serde_json::from_str(&env.ok(&["get", "deploy", "web", "-o", "json"])).unwrap()
}

#[test]
fn create_get_all_get_file_and_edit() {
    let env = workload_env();
    let file = env.manifest("both", MANIFEST);
    let file = file.to_str().unwrap();
    let out = env.ok(&["create", "-f", file]);
    assert_eq!(out, "pod/solo created\ndeployment.apps/web created\n");

    let again = env.podrt(&["create", "-f", file]);
    assert_eq!(again.status.code(), Some(1));
    let err = text(&again.stderr);
    assert!(err.contains("pods \"solo\" already exists"), "{err}");
    assert!(
        err.contains("deployments.apps \"web\" already exists"),
        "{err}"
    );

    let names = env.ok(&["get", "all", "-o", "name"]);
    assert_eq!(names, "pod/solo\ndeployment.apps/web\n");
    let table = env.ok(&["get", "all"]);
    assert!(table.contains("pod/solo"), "{table}");
    assert!(
        table.contains("deployment.apps/web") && table.contains("UP-TO-DATE"),
        "{table}"
    );
    assert_eq!(
        env.ok(&["get", "all", "-l", "app=solo", "-o", "name"]),
        "pod/solo\n"
    );
    assert_eq!(env.ok(&["get", "-f", file, "-o", "name"]), names);
    let other = env.manifest("missing", &MANIFEST.replace("name: solo", "name: nobody"));
    let missing = env.podrt(&["get", "-f", other.to_str().unwrap(), "-o", "name"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        text(&missing.stderr).contains("pods \"nobody\" not found"),
        "{}",
        text(&missing.stderr)
    );

    // edit: saved changes are stored as an apply, with a new generation.
    let more = editor(&env, "more.sh", "s/replicas: 1/replicas: 3/");
    let out = edit(&env, &more, "deploy/web");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "deployment.apps/web edited");
    let d = deployment(&env);
    assert_eq!(d["spec"]["replicas"], 3);
    assert_eq!(d["metadata"]["generation"], 2);
    // No change: cancelled.
    let same = editor(&env, "same.sh", "s/nothing-here//");
    let out = edit(&env, &same, "deploy/web");
    assert_eq!(text(&out.stdout).trim(), "Edit cancelled, no changes made.");
    // Invalid: refused naming the field, nothing stored, the copy kept.
    let bad = editor(&env, "bad.sh", "s/replicas: 3/replicas: -1/");
    let out = edit(&env, &bad, "deploy/web");
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("spec.replicas"), "{err}");
    remove_kept_copy(&err);
    assert_eq!(deployment(&env)["spec"]["replicas"], 3);

    // A pod: its labels change, its spec does not.
    let relabel = editor(&env, "relabel.sh", "s/app: solo/app: solo2/");
    let out = edit(&env, &relabel, "pod/solo");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "pod/solo edited");
    assert_eq!(
        env.ok(&["get", "pods", "-l", "app=solo2", "-o", "name"]),
        "pod/solo\n"
    );
    let respec = editor(&env, "respec.sh", "s/- sleep/- sleepy/");
    let out = edit(&env, &respec, "pod/solo");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(err.contains("spec: Forbidden"), "{err}");
    remove_kept_copy(&err);
    let missing = edit(&env, &more, "deploy/nothing");
    assert_ne!(missing.status.code(), Some(0));
    assert!(text(&missing.stderr).contains("not found"));

    // describe: the pages, with what the controllers did as events.
    let _agent = Agent::start(&env);
    assert!(
        wait_until(60, || deployment(&env)["status"]["readyReplicas"] == 3),
        "3 ready replicas: {}",
        deployment(&env)
    );
    let page = env.ok(&["describe", "deploy", "web"]);
    for want in [
        "Replicas:",
        "3 desired | 3 updated | 3 total | 3 available",
        "NewReplicaSet:",
        "ScalingReplicaSet",
        "deployment-controller",
        "Scaled up replica set web-",
    ] {
        assert!(page.contains(want), "{want:?} in:\n{page}");
    }
    let page = env.ok(&["describe", "rs"]);
    assert!(
        page.contains("Controlled By:") && page.contains("Deployment/web"),
        "{page}"
    );
    assert!(
        page.contains("SuccessfulCreate") && page.contains("Created pod: web-"),
        "{page}"
    );
    assert!(page.contains("3 Running"), "{page}");
    let page = env.ok(&["describe", "-f", file]);
    assert!(page.contains("Name:") && page.contains("solo"), "{page}");
    assert!(page.contains("StrategyType:"), "{page}");
    let missing = env.podrt(&["describe", "job", "nothing"]);
    assert_ne!(missing.status.code(), Some(0));
}

/// `get -w` runs until killed; killed by its PID when dropped.
struct Watching(std::process::Child);

impl Drop for Watching {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What a `get -w` printed so far (its stdout goes to a file).
fn watched(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn get_w_prints_pods_and_deployments_as_they_change() {
    let env = workload_env();
    let _agent = Agent::start(&env);
    let pods_out = env.dir.join("watch-pods.out");
    let deploy_out = env.dir.join("watch-deploy.out");
    let spawn = |args: &[&str], out: &PathBuf| {
        let file = std::fs::File::create(out).expect("watch output");
        Watching(
            env.cmd()
                .args(args)
                .stdout(file)
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("spawn get -w"),
        )
    };
    let _pods = spawn(&["get", "pods", "-l", "app=solo", "-w"], &pods_out);
    let _deploy = spawn(&["get", "deploy", "-w"], &deploy_out);
    // Both have listed (nothing yet) before anything is made.
    std::thread::sleep(std::time::Duration::from_millis(500));
    env.ok(&["apply", "-f", env.manifest("m", MANIFEST).to_str().unwrap()]);
    assert!(
        wait_until(30, || watched(&pods_out).contains("Running")),
        "{}",
        watched(&pods_out)
    );
    assert!(
        wait_until(30, || watched(&deploy_out)
            .lines()
            .any(|l| l.starts_with("web ") && l.contains(" 1/1 "))),
        "{}",
        watched(&deploy_out)
    );
    // The first line of a change is a row (the header came with the listing,
    // and there was none: nothing was listed).
    assert!(
        !watched(&deploy_out).contains("NAME"),
        "{}",
        watched(&deploy_out)
    );
    // Its going is one more line (its last state), whatever came before.
    let solo_lines = || {
        watched(&pods_out)
            .lines()
            .filter(|l| l.starts_with("solo "))
            .count()
    };
    std::thread::sleep(std::time::Duration::from_millis(600));
    let before = solo_lines();
    env.ok(&["delete", "pod", "solo", "--grace-period=0", "--force"]);
    assert!(
        wait_until(30, || solo_lines() > before),
        "{}",
        watched(&pods_out)
    );
    env.ok(&["delete", "deploy", "web", "--grace-period=0", "--force"]);
}
