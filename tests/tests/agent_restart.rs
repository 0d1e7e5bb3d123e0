//! The node agent killed and started again loses nothing: after a reboot (every
//! pod gone, the desired state kept under `--state-dir`) a Deployment's pods come
//! back and a finished Job does not run again; an agent SIGKILLed in the middle
//! of a rolling update finishes it once it is back.

use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::Duration;

use podrt_tests::pods::{text, PodEnv};
use podrt_tests::{unique, wait_until};
use serde_json::Value;

fn env() -> PodEnv {
    podrt_tests::workloads::workload_env()
}

/// `podrt serve` for the env, its log in the env's directory, SIGKILLed (by its
/// PID) when dropped: declare it after the env, so it stops before the env
/// deletes the pods it would remake.
struct Agent {
    child: Child,
    log: PathBuf,
}

impl Agent {
    fn start(env: &PodEnv) -> Agent {
        let log = env.dir.join(format!("{}.log", unique("agent")));
        let file = std::fs::File::create(&log).expect("create the agent's log");
        let child = env
            .cmd()
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("start podrt serve");
        Agent { child, log }
    }

    /// SIGKILL, as the OOM killer or a crash would end it, and reap it.
    fn kill(mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).expect("SIGKILL the agent");
        let _ = self.child.wait();
    }

    /// Panics, with what it said, if the agent is no longer running.
    fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            let said = std::fs::read_to_string(&self.log).unwrap_or_default();
            panic!(
                "podrt serve exited ({status}): {said}\nagent.lock held by: {:?}",
                lock_holders()
            );
        }
    }
}

/// The processes with `agent.lock` open, by PID and command line: who kept a
/// dead agent's lock.
fn lock_holders() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for proc in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let fds = std::fs::read_dir(proc.path().join("fd"))
            .into_iter()
            .flatten();
        let holds = fds
            .flatten()
            .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| l.ends_with("agent.lock")));
        if holds {
            let cmd = std::fs::read(proc.path().join("cmdline")).unwrap_or_default();
            out.push((proc.file_name().to_string_lossy().into_owned(), text(&cmd)));
        }
    }
    out
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn deployment(replicas: u32, greeting: &str) -> String {
    format!(
        r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: web}}
  strategy:
    rollingUpdate: {{maxSurge: 1, maxUnavailable: 0}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: c
        image: busybox
        env: [{{name: GREETING, value: "{greeting}"}}]
        command: ["sleep", "3600"]
"#
    )
}

const JOB: &str = r#"
apiVersion: batch/v1
kind: Job
metadata:
  name: once
spec:
  completions: 1
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 0
      containers:
      - name: c
        image: busybox
        command: ["sh", "-c", "exit 0"]
"#;

/// The objects of a kind as `get KIND -o json` lists them.
fn list(env: &PodEnv, kind: &str) -> Vec<Value> {
    let out = env.ok(&["get", kind, "-o", "json"]);
    let list: Value = serde_json::from_str(&out).expect("get -o json is JSON");
    list["items"].as_array().cloned().unwrap_or_default()
}

fn pods(env: &PodEnv) -> Vec<Value> {
    list(env, "pods")
}

fn name(o: &Value) -> String {
    o["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn ready(pod: &Value) -> bool {
    pod["metadata"]["deletionTimestamp"].is_null()
        && pod["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

fn greeting(pod: &Value) -> String {
    pod["spec"]["containers"][0]["env"][0]["value"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Names of the ready pods whose GREETING is `greeting_is`.
fn ready_with(env: &PodEnv, greeting_is: &str) -> Vec<String> {
    pods(env)
        .iter()
        .filter(|p| ready(p) && greeting(p) == greeting_is)
        .map(name)
        .collect()
}

/// Pods of the Job `once`.
fn job_pods(env: &PodEnv) -> Vec<Value> {
    pods(env)
        .into_iter()
        .filter(|p| p["metadata"]["labels"]["job-name"] == "once")
        .collect()
}

/// The Job's last condition type and its succeeded count.
fn job_state(env: &PodEnv) -> (String, i64) {
    let j: Value =
        serde_json::from_str(&env.ok(&["get", "job", "once", "-o", "json"])).expect("JSON");
    let last = j["status"]["conditions"]
        .as_array()
        .and_then(|c| c.last().cloned())
        .unwrap_or_default();
    (
        last["type"].as_str().unwrap_or_default().to_string(),
        j["status"]["succeeded"].as_i64().unwrap_or(0),
    )
}

#[test]
fn after_a_reboot_a_deployment_comes_back_and_a_finished_job_does_not_run_again() {
    let env = env();
    env.apply(&deployment(2, "one"));
    env.apply(JOB);
    let mut agent = Agent::start(&env);
    assert!(
        wait_until(30, || ready_with(&env, "one").len() == 2
            && job_state(&env).0 == "Complete"),
        "2 ready pods and a complete Job: {:?} {:?}",
        pods(&env),
        job_state(&env)
    );
    agent.assert_running();
    let before: Vec<String> = ready_with(&env, "one");

    // The reboot: the agent dies, and every pod with /run.
    agent.kill();
    for p in pods(&env) {
        env.ok(&["delete", "pod", &name(&p), "--grace-period=0", "--force"]);
    }
    assert!(pods(&env).is_empty(), "{:?}", pods(&env));

    let mut agent = Agent::start(&env);
    assert!(
        wait_until(30, || {
            let now = ready_with(&env, "one");
            now.len() == 2 && now.iter().all(|n| !before.contains(n))
        }),
        "the Deployment's pods are back: {:?}",
        pods(&env)
    );
    // Several passes later the Job has still not run again.
    std::thread::sleep(Duration::from_millis(2500));
    agent.assert_running();
    assert!(
        job_pods(&env).is_empty(),
        "the Job ran again: {:?}",
        pods(&env)
    );
    assert_eq!(job_state(&env), ("Complete".to_string(), 1));
    drop(agent);
}

#[test]
fn an_agent_killed_mid_rollout_finishes_it_when_started_again() {
    let env = env();
    env.apply(&deployment(3, "one"));
    let agent = Agent::start(&env);
    assert!(
        wait_until(30, || ready_with(&env, "one").len() == 3),
        "3 ready pods: {:?}",
        pods(&env)
    );
    env.apply(&deployment(3, "two"));
    // Killed as soon as the new set has its first pod.
    assert!(
        wait_until(30, || pods(&env).iter().any(|p| greeting(p) == "two")),
        "a pod of the new template: {:?}",
        pods(&env)
    );
    agent.kill();
    let sets = list(&env, "rs");
    assert_eq!(sets.len(), 2, "two replica sets: {sets:?}");

    let mut agent = Agent::start(&env);
    let status = env.podrt(&["rollout", "status", "deployment", "web", "--timeout", "60s"]);
    agent.assert_running();
    assert!(
        status.status.success() && text(&status.stdout).contains("successfully rolled out"),
        "{}{}\npods: {:?}\nsets: {:?}",
        text(&status.stdout),
        text(&status.stderr),
        pods(&env),
        list(&env, "rs")
    );
    assert!(
        wait_until(20, || {
            let live = pods(&env)
                .iter()
                .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
                .count();
            ready_with(&env, "two").len() == 3 && live == 3
        }),
        "3 new pods and no old one: {:?}",
        pods(&env)
    );
    let mut replicas: Vec<(String, i64)> = list(&env, "rs")
        .iter()
        .map(|rs| {
            let greeting = rs["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            (greeting, rs["spec"]["replicas"].as_i64().unwrap_or(-1))
        })
        .collect();
    replicas.sort();
    assert_eq!(
        replicas,
        [("one".to_string(), 0), ("two".to_string(), 3)],
        "old set scaled to 0, new to 3"
    );
    drop(agent);
}
