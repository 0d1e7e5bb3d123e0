//! What the workload tests share: a [`PodEnv`] whose commands keep workloads in
//! the test's own state dir, the node agent run for it (and stopped by its PID),
//! and the pods as `get pods -o json` shows them.

use std::process::{Child, Stdio};

use serde_json::Value;

use crate::pods::PodEnv;

/// A PodEnv whose commands keep workloads in `<test dir>/state`.
pub fn workload_env() -> PodEnv {
    let mut env = PodEnv::new();
    let state = env.dir.join("state");
    env.flags.push("--state-dir".into());
    env.flags.push(state.display().to_string());
    env
}

/// `podrt serve` for an env, killed (by its PID) when dropped: declare it after
/// the env, so it stops before the env deletes the pods it would remake.
pub struct Agent(pub Child);

impl Agent {
    /// Starts the agent of `env`'s root and state dir.
    pub fn start(env: &PodEnv) -> Agent {
        Agent::start_with(env, &[])
    }

    /// Starts the agent with `args` after `serve`.
    pub fn start_with(env: &PodEnv, args: &[&str]) -> Agent {
        let child = env
            .cmd()
            .arg("serve")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start podrt serve");
        Agent(child)
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The pods as `get pods -o json` lists them.
pub fn pods(env: &PodEnv) -> Vec<Value> {
    let out = env.ok(&["get", "pods", "-o", "json"]);
    let list: Value = serde_json::from_str(&out).expect("get -o json is JSON");
    list["items"].as_array().cloned().unwrap_or_default()
}

/// Whether a pod object is Ready and not being deleted.
pub fn ready(pod: &Value) -> bool {
    pod["metadata"]["deletionTimestamp"].is_null()
        && pod["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

/// A pod object's name.
pub fn name(pod: &Value) -> String {
    pod["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The names `get KIND -o name` prints, sorted, without their `TYPE/` prefix.
pub fn names(env: &PodEnv, args: &[&str]) -> Vec<String> {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", "name"]);
    let mut out: Vec<String> = env
        .ok(&all)
        .lines()
        .map(|l| l.rsplit('/').next().unwrap_or_default().to_string())
        .collect();
    out.sort();
    out
}
