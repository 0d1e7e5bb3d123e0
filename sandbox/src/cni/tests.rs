//! The protocol against fake plugins: shell scripts that record what they were
//! given and print canned results or errors. No root, no network.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use super::test_support::TempDir;
use super::*;

const BRIDGE_RESULT: &str = r#"{"cniVersion":"1.0.0","interfaces":[{"name":"veth0"},{"name":"eth0","sandbox":"/run/netns/p"}],"ips":[{"address":"10.88.0.5/16","gateway":"10.88.0.1","interface":1}]}"#;
const PORTMAP_RESULT: &str = r#"{"cniVersion":"1.0.0","interfaces":[{"name":"veth0"},{"name":"eth0","sandbox":"/run/netns/p"}],"ips":[{"address":"10.88.0.5/16","gateway":"10.88.0.1","interface":1}],"dns":{"nameservers":["10.88.0.1"]}}"#;

fn list(dir: &TempDir) -> NetworkList {
    let text = r#"{"cniVersion":"1.0.0","name":"podrt","plugins":[
        {"type":"bridge","bridge":"podrt0","capabilities":{"ips":true}},
        {"type":"portmap","capabilities":{"portMappings":true,"bandwidth":false}}]}"#;
    let path = dir.write("10-podrt.conflist", text);
    NetworkList::parse(text, Some(&path)).unwrap()
}

fn attachment(netns: &Path) -> Attachment<'_> {
    let mut caps = Map::new();
    caps.insert(
        "portMappings".into(),
        json!([{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]),
    );
    caps.insert("bandwidth".into(), json!({"ingressRate": 1000}));
    Attachment {
        container_id: "pod-1234",
        netns,
        ifname: "eth0",
        capability_args: caps,
    }
}

fn runtime(dir: &TempDir) -> Runtime {
    Runtime {
        bin_dirs: vec![dir.path().join("missing"), dir.path().to_path_buf()],
        timeout: Duration::from_secs(10),
    }
}

fn stdin(dir: &TempDir, name: &str) -> Value {
    serde_json::from_str(&dir.read(name)).unwrap()
}

#[test]
fn add_chains_results_and_injects_runtime_config() {
    let dir = TempDir::new("add");
    dir.recording_plugin("bridge", BRIDGE_RESULT);
    dir.recording_plugin("portmap", PORTMAP_RESULT);
    let netns = Path::new("/run/netns/p");
    let result = runtime(&dir).add(&list(&dir), &attachment(netns)).unwrap();

    assert_eq!(
        result.raw,
        serde_json::from_str::<Value>(PORTMAP_RESULT).unwrap()
    );
    assert_eq!(result.dns.nameservers, vec!["10.88.0.1"]);
    assert_eq!(dir.read("order"), "bridge ADD\nportmap ADD\n");

    let first = stdin(&dir, "stdin-ADD-bridge");
    assert_eq!(first["name"], "podrt");
    assert_eq!(first["cniVersion"], "1.0.0");
    assert_eq!(first["bridge"], "podrt0");
    assert!(first.get("prevResult").is_none());
    // "ips" is declared but the caller gave no such argument.
    assert!(first.get("runtimeConfig").is_none());

    let second = stdin(&dir, "stdin-ADD-portmap");
    assert_eq!(second["name"], "podrt");
    assert_eq!(
        second["prevResult"],
        serde_json::from_str::<Value>(BRIDGE_RESULT).unwrap()
    );
    // Only the declared (true) capability is passed, not "bandwidth".
    assert_eq!(
        second["runtimeConfig"],
        json!({"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]})
    );

    let env = dir.read("env-bridge");
    let want = format!(
        "pod-1234 /run/netns/p eth0 {}:{}\n",
        dir.path().join("missing").display(),
        dir.path().display()
    );
    assert_eq!(env, want);
}

#[test]
fn del_runs_in_reverse_with_prev_result() {
    let dir = TempDir::new("del");
    dir.recording_plugin("bridge", BRIDGE_RESULT);
    dir.recording_plugin("portmap", PORTMAP_RESULT);
    let netns = Path::new("/run/netns/p");
    let prev = CniResult::from_json(serde_json::from_str(PORTMAP_RESULT).unwrap()).unwrap();
    runtime(&dir)
        .del(&list(&dir), &attachment(netns), Some(&prev))
        .unwrap();
    assert_eq!(dir.read("order"), "portmap DEL\nbridge DEL\n");
    for name in ["stdin-DEL-bridge", "stdin-DEL-portmap"] {
        assert_eq!(stdin(&dir, name)["prevResult"], prev.raw, "{name}");
    }

    // Without a stored result, no prevResult is sent.
    runtime(&dir)
        .del(&list(&dir), &attachment(netns), None)
        .unwrap();
    assert!(stdin(&dir, "stdin-DEL-bridge").get("prevResult").is_none());
}

#[test]
fn del_runs_every_plugin_and_returns_the_first_error() {
    let dir = TempDir::new("del-err");
    dir.recording_plugin("bridge", BRIDGE_RESULT);
    dir.plugin(
        "portmap",
        r#"echo "portmap DEL" >> "$DIR/order"
echo '{"cniVersion":"1.0.0","code":11,"msg":"iptables locked"}'; exit 1"#,
    );
    let err = runtime(&dir)
        .del(&list(&dir), &attachment(Path::new("/run/netns/p")), None)
        .unwrap_err();
    assert_eq!(dir.read("order"), "portmap DEL\nbridge DEL\n");
    let msg = err.to_string();
    assert!(msg.contains("\"portmap\" DEL"), "{msg}");
    assert!(msg.contains("iptables locked"), "{msg}");
}

#[test]
fn error_json_names_plugin_file_command_code_and_msg() {
    let dir = TempDir::new("err-json");
    dir.plugin(
        "bridge",
        r#"cat > /dev/null
echo '{"cniVersion":"1.0.0","code":7,"msg":"subnet overlaps","details":"10.88.0.0/16 on cni0"}'
exit 1"#,
    );
    let err = runtime(&dir)
        .add(&list(&dir), &attachment(Path::new("/run/netns/p")))
        .unwrap_err();
    assert!(matches!(err, Error::Plugin { code: 7, .. }), "{err:?}");
    let msg = err.to_string();
    for want in [
        "\"bridge\"",
        "ADD",
        "\"podrt\"",
        "10-podrt.conflist",
        "code 7",
        "invalid network config",
        "subnet overlaps",
        "10.88.0.0/16 on cni0",
    ] {
        assert!(msg.contains(want), "{want:?} not in {msg}");
    }
}

#[test]
fn failure_without_error_json_quotes_stderr() {
    let dir = TempDir::new("err-plain");
    dir.plugin("bridge", "echo 'panic: no bridge' >&2; exit 2");
    let err = runtime(&dir)
        .add(&list(&dir), &attachment(Path::new("/run/netns/p")))
        .unwrap_err()
        .to_string();
    assert!(err.contains("exit status 2"), "{err}");
    assert!(err.contains("panic: no bridge"), "{err}");
}

#[test]
fn missing_plugin_names_the_type_and_the_dirs() {
    let dir = TempDir::new("missing");
    dir.recording_plugin("bridge", BRIDGE_RESULT);
    // Present but not executable does not count.
    dir.write("portmap", "#!/bin/sh\n");
    let err = runtime(&dir)
        .add(&list(&dir), &attachment(Path::new("/run/netns/p")))
        .unwrap_err();
    assert!(matches!(err, Error::PluginNotFound { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("\"portmap\""), "{msg}");
    assert!(
        msg.contains(&dir.path().join("missing").display().to_string()),
        "{msg}"
    );
    assert!(msg.contains(&format!("{}]", dir.path().display())), "{msg}");
}

#[test]
fn timeout_kills_a_hanging_plugin_and_its_children() {
    let dir = TempDir::new("timeout");
    // Not `exec`: the sleep is a grandchild holding stdout open.
    dir.plugin("bridge", "sleep 30\necho '{}'");
    let mut rt = runtime(&dir);
    rt.timeout = Duration::from_millis(300);
    let start = Instant::now();
    let err = rt
        .add(&list(&dir), &attachment(Path::new("/run/netns/p")))
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert!(err.to_string().contains("killed"), "{err}");
}

#[test]
fn add_refuses_a_missing_or_unusable_result() {
    let dir = TempDir::new("no-result");
    dir.plugin("bridge", "cat > /dev/null");
    let err = runtime(&dir)
        .add(&list(&dir), &attachment(Path::new("/run/netns/p")))
        .unwrap_err();
    assert!(err.to_string().contains("no result"), "{err}");

    dir.plugin(
        "bridge",
        r#"echo '{"cniVersion":"0.2.0","ip4":{"ip":"10.0.0.2/24"}}'"#,
    );
    let err = runtime(&dir)
        .add(&list(&dir), &attachment(Path::new("/run/netns/p")))
        .unwrap_err();
    assert!(matches!(err, Error::BadResult { .. }), "{err:?}");
}

#[test]
fn add_accepts_an_older_result_version() {
    let dir = TempDir::new("old-result");
    let old = r#"{"cniVersion":"0.4.0","interfaces":[{"name":"eth0","sandbox":"/run/netns/p"}],"ips":[{"version":"4","address":"10.4.0.7/24","interface":0}]}"#;
    dir.recording_plugin("bridge", old);
    dir.recording_plugin("portmap", old);
    let result = runtime(&dir)
        .add(&list(&dir), &attachment(Path::new("/run/netns/p")))
        .unwrap();
    assert_eq!(result.cni_version, "0.4.0");
    assert_eq!(
        result.pod_ips(),
        vec!["10.4.0.7".parse::<std::net::IpAddr>().unwrap()]
    );
}
