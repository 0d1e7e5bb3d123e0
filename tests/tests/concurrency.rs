//! Many `podrt` commands at once, as a CRI client or a script would issue them:
//! parallel applies and deletes of distinct pods all succeed; racing applies of
//! one name make exactly one pod, and the losers get a clear answer; racing
//! deletes of one pod remove it once. Afterwards every state file parses, no
//! name is taken twice, and nothing is left.

use std::process::Output;
use std::thread;

use podrt_tests::pods::{text, PodEnv};

fn pod(name: &str, sleep: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nspec:\n  terminationGracePeriodSeconds: 1\n  containers:\n  - name: c\n    image: busybox\n    command: [sleep, \"{sleep}\"]\n"
    )
}

/// Run each argument list as one podrt command, all at once; their outputs in order.
fn all_at_once(env: &PodEnv, commands: Vec<Vec<String>>) -> Vec<Output> {
    thread::scope(|s| {
        let handles: Vec<_> = commands
            .iter()
            .map(|args| {
                s.spawn(move || {
                    let args: Vec<&str> = args.iter().map(String::as_str).collect();
                    env.podrt(&args)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a podrt thread panicked"))
            .collect()
    })
}

/// Names and phases of `get pods -o json`, which reads every state file.
fn pods(env: &PodEnv) -> Vec<(String, String)> {
    let v: serde_json::Value = serde_json::from_str(&env.ok(&["get", "pods", "-o", "json"]))
        .expect("get pods -o json is JSON");
    v["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|p| {
            (
                p["metadata"]["name"].as_str().unwrap_or("").to_string(),
                p["status"]["phase"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// Require exactly `names` in `get pods`, each Running, with one pod dir and veth each.
fn only_running(env: &PodEnv, names: &[String]) {
    let mut listed = pods(env);
    listed.sort();
    let mut want: Vec<(String, String)> = names
        .iter()
        .map(|n| (n.clone(), "Running".to_string()))
        .collect();
    want.sort();
    assert_eq!(listed, want);
    assert_eq!(env.pod_dirs().len(), names.len(), "one directory per pod");
    assert_eq!(env.host.veths().len(), names.len(), "one veth per pod");
}

/// `delete pod NAME --grace-period=0 --force` as an argument list.
fn delete(name: &str) -> Vec<String> {
    ["delete", "pod", name, "--grace-period=0", "--force"]
        .map(String::from)
        .to_vec()
}

fn no_panic(outs: &[Output]) {
    for o in outs {
        let err = text(&o.stderr);
        assert!(
            !err.contains("panicked") && !err.contains("internal error"),
            "{err}"
        );
    }
}

#[test]
fn twenty_applies_and_twenty_deletes_in_parallel() {
    let env = PodEnv::new();
    let names: Vec<String> = (0..20).map(|i| format!("par{i}")).collect();
    let applies = names
        .iter()
        .map(|n| {
            let f = env.manifest(n, &pod(n, "3600"));
            vec!["apply".into(), "-f".into(), f.display().to_string()]
        })
        .collect();
    let outs = all_at_once(&env, applies);
    no_panic(&outs);
    for (n, o) in names.iter().zip(&outs) {
        assert!(
            o.status.success() && text(&o.stdout).contains(&format!("pod/{n} created")),
            "{n}: {}{}",
            text(&o.stdout),
            text(&o.stderr)
        );
    }
    only_running(&env, &names);

    // Twenty deletes of those and twenty applies of new pods, all at once.
    let fresh: Vec<String> = (0..20).map(|i| format!("new{i}")).collect();
    let mut mixed: Vec<Vec<String>> = names.iter().map(|n| delete(n)).collect();
    for n in &fresh {
        let f = env.manifest(n, &pod(n, "3600"));
        mixed.push(vec!["apply".into(), "-f".into(), f.display().to_string()]);
    }
    let outs = all_at_once(&env, mixed);
    no_panic(&outs);
    for o in &outs {
        assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
    }
    only_running(&env, &fresh);

    let deletes = fresh.iter().map(|n| delete(n)).collect();
    let outs = all_at_once(&env, deletes);
    no_panic(&outs);
    for (n, o) in fresh.iter().zip(&outs) {
        assert!(o.status.success(), "delete {n}: {}", text(&o.stderr));
    }
    assert!(pods(&env).is_empty());
    env.assert_nothing_left();
}

#[test]
fn ten_applies_of_one_name_make_one_pod() {
    let env = PodEnv::new();
    // The same manifest ten times: one is created, the rest find it.
    let same = env.manifest("same", &pod("one", "3600"));
    let applies = (0..10)
        .map(|_| vec!["apply".into(), "-f".into(), same.display().to_string()])
        .collect();
    let outs = all_at_once(&env, applies);
    no_panic(&outs);
    let created = outs
        .iter()
        .filter(|o| o.status.success() && text(&o.stdout).contains("pod/one created"))
        .count();
    assert_eq!(created, 1, "{:?}", outs);
    for o in &outs {
        let (out, err) = (text(&o.stdout), text(&o.stderr));
        let ok = out.contains("pod/one created")
            || out.contains("pod/one unchanged")
            || (o.status.code() == Some(1) && err.contains("\"one\" already exists"));
        assert!(ok, "a loser's answer is unclear: {out}{err}");
    }
    assert_eq!(pods(&env), [("one".to_string(), "Running".to_string())]);
    assert_eq!(env.pod_dirs().len(), 1);
    assert_eq!(env.host.veths().len(), 1);

    // Ten different manifests of another name: one wins, nine are refused.
    let applies = (0..10)
        .map(|i| {
            let f = env.manifest(&format!("two{i}"), &pod("two", &format!("{}", 3600 + i)));
            vec!["apply".into(), "-f".into(), f.display().to_string()]
        })
        .collect();
    let outs = all_at_once(&env, applies);
    no_panic(&outs);
    let winners = outs.iter().filter(|o| o.status.success()).count();
    assert_eq!(winners, 1, "{outs:?}");
    for o in outs.iter().filter(|o| !o.status.success()) {
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(
            err.contains("\"two\" already exists") || err.contains("exists with another spec"),
            "{err}"
        );
    }
    assert_eq!(env.pod_dirs().len(), 2);

    // Ten deletes of one pod: it goes once; the others see it going or gone.
    let deletes = (0..10).map(|_| delete("two")).collect();
    let outs = all_at_once(&env, deletes);
    no_panic(&outs);
    for o in &outs {
        let err = text(&o.stderr);
        assert!(
            o.status.success() || (o.status.code() == Some(1) && err.contains("not found")),
            "{err}"
        );
    }
    assert!(outs.iter().any(|o| o.status.success()));
    assert_eq!(pods(&env), [("one".to_string(), "Running".to_string())]);
    env.ok(&["delete", "pod", "one", "--grace-period=0", "--force"]);
    env.assert_nothing_left();
}
