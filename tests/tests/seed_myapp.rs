//! The seed's `myapp-pod`: two init containers wait, in order, until the services
//! `myservice` and `mydb` resolve; only then does the app container start. The test
//! plays the cluster DNS: a tiny resolver inside the pod's own network namespace on
//! 127.0.0.1:53 (podrt is told `--cluster-dns 127.0.0.1`), answering first for
//! neither name (Init:0/2), then for myservice (Init:1/2), then for both
//! (Running). No packet leaves the pod's loopback.

use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use podrt_tests::pods::{text, PodEnv};
use podrt_tests::{repo, wait_until};

#[test]
fn myapp_pod_waits_for_its_services_then_runs() {
    let mut env = PodEnv::new();
    env.flags = vec!["--cluster-dns".into(), "127.0.0.1".into()];
    let manifest = repo().join("tests/fixtures/myapp-pod.yaml");
    let apply = env
        .cmd()
        .args(["apply", "-f", manifest.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn podrt apply");

    // Without the services, the first init container keeps waiting.
    assert!(
        wait_until(30, || env.ok(&["get", "pods"]).contains("Init:0/2")),
        "pod never showed Init:0/2: {}",
        env.ok(&["get", "pods"])
    );
    assert!(wait_until(30, || {
        let out = env.podrt(&["logs", "myapp-pod", "-c", "init-myservice"]);
        text(&out.stdout).contains("waiting for myservice")
    }));
    assert!(!env.ok(&["get", "pods"]).contains("Running"));

    // "Create the services", one at a time: the cluster DNS answers in the pod's
    // network namespace, first for myservice only, then for mydb too.
    let netns = env.pod_dir("myapp-pod").join("ns/net");
    let stop = Arc::new(AtomicBool::new(false));
    let known = Arc::new(Mutex::new(vec!["myservice".to_string()]));
    let dns = spawn_dns(netns, stop.clone(), known.clone());
    assert!(
        wait_until(30, || env.ok(&["get", "pods"]).contains("Init:1/2")),
        "pod never showed Init:1/2: {}",
        env.ok(&["get", "pods"])
    );
    assert!(!env.ok(&["get", "pods"]).contains("Running"));
    known.lock().unwrap().push("mydb".into());

    let out = apply.wait_with_output().expect("wait for apply");
    stop.store(true, Ordering::SeqCst);
    let _ = dns.join();
    assert!(out.status.success(), "apply failed: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "pod/myapp-pod created");

    let table = env.ok(&["get", "pods"]);
    assert!(
        table.contains("1/1") && table.contains("Running"),
        "{table}"
    );
    assert!(wait_until(10, || env
        .ok(&["logs", "myapp-pod"])
        .contains("The app is running!")));
    let init_log = env.ok(&["logs", "myapp-pod", "-c", "init-mydb"]);
    assert!(init_log.contains("mydb"), "{init_log}");
    let v = env.pod_json("myapp-pod");
    for s in v["status"]["initContainerStatuses"]
        .as_array()
        .expect("init statuses")
    {
        assert_eq!(s["state"]["terminated"]["exitCode"], 0, "{s}");
        assert_eq!(s["state"]["terminated"]["reason"], "Completed", "{s}");
    }
}

/// Answer A queries for myservice/mydb (any search suffix) with 127.0.0.1, NXDOMAIN
/// for the rest, inside the network namespace pinned at `netns`.
fn spawn_dns(
    netns: PathBuf,
    stop: Arc<AtomicBool>,
    known: Arc<Mutex<Vec<String>>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let ns = std::fs::File::open(&netns).expect("open pod netns pin");
        // SAFETY: setns on a descriptor we own; affects only this thread.
        let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns into {}", netns.display());
        let sock = UdpSocket::bind("127.0.0.1:53").expect("bind 127.0.0.1:53 in the pod");
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let mut buf = [0u8; 512];
        while !stop.load(Ordering::SeqCst) {
            let Ok((n, from)) = sock.recv_from(&mut buf) else {
                continue;
            };
            let names = known.lock().unwrap().clone();
            if let Some(reply) = answer(&buf[..n], &names) {
                let _ = sock.send_to(&reply, from);
            }
        }
    })
}

fn answer(q: &[u8], names: &[String]) -> Option<Vec<u8>> {
    if q.len() < 12 {
        return None;
    }
    // Question name: labels from byte 12.
    let mut i = 12;
    let mut labels = Vec::new();
    while i < q.len() && q[i] != 0 {
        let len = q[i] as usize;
        labels.push(String::from_utf8_lossy(q.get(i + 1..i + 1 + len)?).to_string());
        i += 1 + len;
    }
    let qtype = u16::from_be_bytes([*q.get(i + 1)?, *q.get(i + 2)?]);
    let question_end = i + 5;
    let known = labels.first().is_some_and(|l| names.contains(l));
    let mut r = Vec::new();
    r.extend_from_slice(&q[0..2]);
    r.extend_from_slice(if known { &[0x81, 0x80] } else { &[0x81, 0x83] });
    let answers: u16 = if known && qtype == 1 { 1 } else { 0 };
    r.extend_from_slice(&[0, 1]);
    r.extend_from_slice(&answers.to_be_bytes());
    r.extend_from_slice(&[0, 0, 0, 0]);
    r.extend_from_slice(q.get(12..question_end)?);
    if answers == 1 {
        r.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 127, 0, 0, 1]);
    }
    Some(r)
}
