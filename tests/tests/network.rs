//! Pod networking through CNI, as a user sees it: every pod gets its own IP on
//! podrt's built-in bridge, pods reach each other by IP and port, a hostPort is
//! reached at the host's address, and deleting a pod (or failing to create one)
//! leaves no veth, IP lease or NAT rule. Each test's "host" is a network namespace
//! of its own (see `TestHost`): nothing here touches the machine's network.

use std::path::{Path, PathBuf};

use podrt_tests::pods::{text, PodEnv};
use podrt_tests::vendored_rootfs;

/// The test host's own address, on an interface that is not the pod network's.
const HOST_ADDR: &str = "192.168.231.1";

fn pod_ip(env: &PodEnv, pod: &str) -> String {
    let v = env.pod_json(pod);
    let ip = v["status"]["podIP"]
        .as_str()
        .unwrap_or_else(|| panic!("pod {pod} has no status.podIP: {v}"))
        .to_string();
    assert_eq!(
        v["status"]["podIPs"][0]["ip"],
        ip.as_str(),
        "podIPs[0] is podIP"
    );
    ip
}

/// Leases in the built-in network's host-local store (every file but its lock
/// and its last-reserved marker is one).
fn leases(env: &PodEnv) -> Vec<String> {
    leases_in(&env.root.join("cni/networks/podrt"))
}

/// The leases in one host-local store.
fn leases_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n != "lock" && !n.starts_with("last_reserved_ip"))
                .collect()
        })
        .unwrap_or_default()
}

/// No veth, no lease, no per-pod NAT chain, no pod directory.
fn assert_nothing_left(env: &PodEnv, what: &str) {
    let veths = env.host.veths();
    assert!(
        veths.is_empty(),
        "{what}: veths left on the host: {veths:?}"
    );
    assert!(
        leases(env).is_empty(),
        "{what}: IP leases left: {:?}",
        leases(env)
    );
    let nat = env.host.nat_rules();
    assert!(
        !nat.contains("CNI-DN-") && !nat.contains("10.88."),
        "{what}: per-pod NAT rules left:\n{nat}"
    );
    assert!(
        env.pod_dirs().is_empty(),
        "{what}: pod dirs left: {:?}",
        env.pod_dirs()
    );
    assert!(
        env.mounts_under_root().is_empty(),
        "{what}: mounts left: {:?}",
        env.mounts_under_root()
    );
}

/// Give the test host an interface and address of its own, outside the pod
/// network (a veth pair: this kernel has no dummy interfaces).
fn host_interface(env: &PodEnv) {
    env.host.ok(&[
        "ip", "link", "add", "hostif0", "type", "veth", "peer", "name", "hostif1",
    ]);
    env.host.ok(&[
        "ip",
        "addr",
        "add",
        &format!("{HOST_ADDR}/24"),
        "dev",
        "hostif0",
    ]);
    env.host.ok(&["ip", "link", "set", "hostif0", "up"]);
    env.host.ok(&["ip", "link", "set", "hostif1", "up"]);
}

/// busybox `wget -qO-` run in the test host (from the vendored static busybox).
fn host_wget(env: &PodEnv, url: &str) -> String {
    let busybox = vendored_rootfs().join("bin/busybox");
    let out = env.host.run(&[
        busybox.to_str().unwrap(),
        "timeout",
        "10",
        "wget",
        "-qO-",
        url,
    ]);
    assert!(
        out.status.success(),
        "wget {url} from the test host failed: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

const WEB: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: httpd
    image: busybox
    command: [sh, -c, "mkdir -p /www && echo hello from web > /www/index.html && exec httpd -f -p 8080 -h /www"]
    ports: [{containerPort: 8080, hostPort: 18080}]
  - name: side
    image: busybox
    command: [sleep, "3600"]
"#;

const CLIENT: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  containers:
  - {name: c, image: busybox, command: [sleep, "3600"]}
"#;

/// Wait until `pod`'s httpd answers on localhost (it starts as the pod does).
fn wait_for_httpd(env: &PodEnv, pod: &str, container: &str) {
    for _ in 0..100 {
        let (code, _, _) = env.exec(
            pod,
            container,
            &[
                "timeout",
                "2",
                "wget",
                "-qO",
                "/dev/null",
                "http://127.0.0.1:8080/",
            ],
        );
        if code == 0 {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("httpd in {pod} never answered on localhost:8080");
}

#[test]
fn pods_get_their_own_ips_and_reach_each_other_by_ip_and_port() {
    let env = PodEnv::new();
    env.apply(WEB);
    env.apply(CLIENT);
    wait_for_httpd(&env, "web", "side");
    let web_ip = pod_ip(&env, "web");
    let client_ip = pod_ip(&env, "client");
    assert_ne!(web_ip, client_ip, "two pods, two addresses");
    for ip in [&web_ip, &client_ip] {
        assert!(
            ip.starts_with("10.88."),
            "{ip} is in the built-in 10.88.0.0/16"
        );
    }

    // Both containers of a pod have the pod's address on eth0 and talk on localhost.
    for c in ["httpd", "side"] {
        let addrs = env.sh("web", c, "ip -o -4 addr show dev eth0");
        assert!(addrs.contains(&format!("inet {web_ip}/16")), "{c}: {addrs}");
    }
    assert_eq!(
        env.sh("web", "side", "wget -qO- http://localhost:8080/"),
        "hello from web"
    );
    // Another pod reaches it at its IP and port.
    assert_eq!(
        env.sh(
            "client",
            "c",
            &format!("timeout 10 wget -qO- http://{web_ip}:8080/")
        ),
        "hello from web"
    );
    // The pod's hostname resolves to its address.
    let hosts = env.sh("web", "side", "cat /etc/hosts");
    assert!(hosts.contains(&format!("{web_ip}\tweb")), "{hosts}");

    // The address shows in get -o wide, describe and network ls.
    let wide = env.ok(&["get", "pods", "-o", "wide"]);
    assert!(
        wide.contains(&web_ip) && wide.contains(&client_ip),
        "{wide}"
    );
    let described = env.ok(&["describe", "pod", "web"]);
    assert!(
        described
            .lines()
            .any(|l| l.starts_with("IP:") && l.trim_end().ends_with(&web_ip)),
        "{described}"
    );
    let ls = env.ok(&["network", "ls"]);
    assert!(ls.contains("podrt *") && ls.contains("built-in"), "{ls}");
    assert!(ls.contains(&web_ip) && ls.contains(&client_ip), "{ls}");

    // The bridge has one port per pod.
    assert_eq!(env.host.bridge_ports("podrt0").len(), 2);
    env.ok(&[
        "delete",
        "pod",
        "web",
        "client",
        "--grace-period=0",
        "--force",
    ]);
    assert_nothing_left(&env, "after delete");
    assert!(env.host.bridge_ports("podrt0").is_empty());
}

#[test]
fn host_port_is_reached_at_the_hosts_address_and_is_not_given_twice() {
    let env = PodEnv::new();
    host_interface(&env);
    env.apply(WEB);
    wait_for_httpd(&env, "web", "side");
    assert_eq!(
        host_wget(&env, &format!("http://{HOST_ADDR}:18080/")),
        "hello from web\n"
    );
    let nat = env.host.nat_rules();
    assert!(nat.contains("--dport 18080"), "portmap's DNAT rule:\n{nat}");

    // A second pod wanting the same host port is refused, and nothing of it made.
    let links_before = env.host.links();
    let second = env.manifest(
        "second",
        r#"
apiVersion: v1
kind: Pod
metadata: {name: second}
spec:
  containers:
  - name: c
    image: busybox
    command: [sleep, "3600"]
    ports: [{containerPort: 80, hostPort: 18080}]
"#,
    );
    let out = env.podrt(&["apply", "-f", second.to_str().unwrap()]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("spec.containers[0].ports[0].hostPort")
            && err.contains("18080/tcp")
            && err.contains("\"web\""),
        "{err}"
    );
    assert_eq!(env.pod_dirs().len(), 1, "only the first pod exists");
    assert_eq!(
        env.host.links(),
        links_before,
        "no veth made for the refused pod"
    );
    assert_eq!(leases(&env).len(), 1, "one lease, the first pod's");

    env.ok(&["delete", "pod", "web", "--grace-period=0", "--force"]);
    assert_nothing_left(&env, "after delete of a pod with a hostPort");
    // The port is free again.
    env.ok(&["apply", "-f", second.to_str().unwrap()]);
}

#[test]
fn host_network_pod_sees_the_hosts_interfaces_and_gets_no_cni() {
    let env = PodEnv::new();
    host_interface(&env);
    env.apply(
        r#"
apiVersion: v1
kind: Pod
metadata: {name: hostnet}
spec:
  hostNetwork: true
  containers:
  - {name: c, image: busybox, command: [sleep, "3600"]}
"#,
    );
    let links = env.sh("hostnet", "c", "ip -o link show");
    assert!(links.contains("hostif0"), "{links}");
    assert!(!links.contains("eth0"), "{links}");
    assert!(env.pod_json("hostnet")["status"]["podIP"].is_null());
    assert!(leases(&env).is_empty(), "no lease for a hostNetwork pod");
    assert!(
        !env.host.links().iter().any(|l| l == "podrt0"),
        "no bridge made"
    );
}

#[test]
fn a_create_that_fails_half_way_releases_its_network() {
    let env = PodEnv::new();
    let bad = env.manifest(
        "bad",
        r#"
apiVersion: v1
kind: Pod
metadata: {name: bad}
spec:
  restartPolicy: Never
  containers:
  - {name: ok, image: busybox, command: [sleep, "3600"], ports: [{containerPort: 80, hostPort: 18081}]}
  - {name: broken, image: busybox, command: [/no/such/program]}
"#,
    );
    let out = env.podrt(&["apply", "-f", bad.to_str().unwrap()]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("/no/such/program"), "{err}");
    assert_nothing_left(&env, "after a failed create");
}

/// A plugin of the test's own that fails the way a broken plugin does: an error
/// object on stdout and exit status 1.
fn failing_plugin(dir: &Path) -> PathBuf {
    let bin = dir.join("cni-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let plugin = bin.join("failer");
    std::fs::write(
        &plugin,
        "#!/bin/sh\ncat >/dev/null\nif [ \"$CNI_COMMAND\" = ADD ]; then\n  echo '{\"cniVersion\":\"1.0.0\",\"code\":11,\"msg\":\"no capacity left\"}'\n  exit 1\nfi\nexit 0\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

#[test]
fn broken_cni_configs_fail_with_the_file_and_plugin_named_and_leave_nothing() {
    let mut env = PodEnv::new();
    let bin = failing_plugin(&env.dir);
    env.flags = vec![
        "--cni-bin-dir".into(),
        format!("{}:/usr/lib/cni", bin.display()),
    ];
    std::fs::create_dir_all(&env.cni_conf_dir).unwrap();
    let conf = env.cni_conf_dir.join("10-test.conflist");
    let bridge = format!(
        r#"{{"type":"bridge","bridge":"tbr0","isGateway":true,"ipam":{{"type":"host-local","ranges":[[{{"subnet":"10.99.0.0/24"}}]],"dataDir":"{}"}}}}"#,
        env.dir.join("ipam").display()
    );
    let cases = [
        ("bad JSON", "{ \"cniVersion\": ".to_string(), "invalid JSON"),
        (
            "a missing plugin",
            format!(
                r#"{{"cniVersion":"1.0.0","name":"t","plugins":[{bridge},{{"type":"nosuch"}}]}}"#
            ),
            "no executable \"nosuch\"",
        ),
        (
            "a plugin that fails",
            format!(
                r#"{{"cniVersion":"1.0.0","name":"t","plugins":[{bridge},{{"type":"failer"}}]}}"#
            ),
            "no capacity left",
        ),
    ];
    for (what, text_of_conf, expected) in cases {
        std::fs::write(&conf, text_of_conf).unwrap();
        let m = env.manifest("c", CLIENT);
        let out = env.podrt(&["apply", "-f", m.to_str().unwrap()]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{what}: {err}");
        assert!(
            err.contains("10-test.conflist"),
            "{what}: names the file: {err}"
        );
        assert!(err.contains(expected), "{what}: {err}");
        if what != "bad JSON" {
            let plugin = if what == "a missing plugin" {
                "nosuch"
            } else {
                "failer"
            };
            assert!(
                err.contains(&format!("CNI plugin \"{plugin}\" ADD")),
                "{what}: {err}"
            );
        }
        assert!(err.lines().count() == 1, "{what}: one line: {err}");
        // The bridge plugin ran before the broken one: its veth and lease are gone.
        let veths = env.host.veths();
        assert!(veths.is_empty(), "{what}: veths left: {veths:?}");
        let left = leases_in(&env.dir.join("ipam/t"));
        assert!(left.is_empty(), "{what}: leases left: {left:?}");
        assert!(env.pod_dirs().is_empty(), "{what}: pod dirs left");
    }
}

#[test]
fn fifty_pods_created_and_deleted_leave_the_ipam_store_and_bridge_empty() {
    let env = PodEnv::new();
    let m = env.manifest("cycle", CLIENT);
    let mut ips = Vec::new();
    for i in 0..50 {
        env.ok(&["apply", "-f", m.to_str().unwrap()]);
        ips.push(pod_ip(&env, "client"));
        env.ok(&["delete", "pod", "client", "--grace-period=0", "--force"]);
        assert!(
            leases(&env).is_empty(),
            "cycle {i}: leases {:?}",
            leases(&env)
        );
    }
    assert_nothing_left(&env, "after 50 cycles");
    assert!(
        env.host.bridge_ports("podrt0").is_empty(),
        "bridge has no ports"
    );
    assert_eq!(ips.len(), 50);
}
