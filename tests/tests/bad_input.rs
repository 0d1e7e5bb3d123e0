//! Bad input gets one clear error naming the file or field, a non-zero exit, and
//! leaves nothing behind: no state directory, no cgroup, no process.

use podrt_tests::*;
use serde_json::{json, Value};

/// Create `bundle` as container `id`; assert it fails mentioning every `needles`
/// and that no trace of it remains.
fn refused(env: &Env, id: &str, bundle: &std::path::Path, needles: &[&str]) {
    let out = env.run(&["create", "--bundle", bundle.to_str().unwrap(), id]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "create {id} should fail; stderr: {err}"
    );
    assert_eq!(out.status.code(), Some(1), "user errors exit 1: {err}");
    assert_eq!(err.trim().lines().count(), 1, "one line of error: {err}");
    for n in needles {
        assert!(
            err.contains(n),
            "error for {id} should mention {n:?}: {err}"
        );
    }
    assert!(
        !env.root.join(id).exists(),
        "no state directory may remain for {id}"
    );
    let cg = format!("/podrt-test/{id}");
    assert!(!cgroup_exists(&cg), "no cgroup may remain for {id}");
    let list = env.run(&["list", "--quiet"]);
    assert!(
        !String::from_utf8_lossy(&list.stdout).contains(id),
        "list must not show {id}"
    );
}

fn bundle_with(env: &Env, id: &str, edit: impl FnOnce(&mut Value)) -> std::path::PathBuf {
    env.bundle(id, |c| {
        args(c, &["true"]);
        edit(c)
    })
}

#[test]
fn missing_config_json() {
    let env = Env::new();
    let id = env.id("noconf");
    let dir = env.dir.join("empty-bundle");
    std::fs::create_dir_all(&dir).unwrap();
    refused(&env, &id, &dir, &["config.json", "No such file"]);
}

#[test]
fn invalid_json() {
    let env = Env::new();
    let id = env.id("badjson");
    let dir = env.bundle(&id, |_| {});
    std::fs::write(
        dir.join("config.json"),
        b"{\"ociVersion\": \"1.0.2\", \"process\": {",
    )
    .unwrap();
    refused(
        &env,
        &id,
        &dir,
        &["config.json", "not valid JSON", "line 1"],
    );
}

#[test]
fn unknown_namespace_type() {
    let env = Env::new();
    let id = env.id("badns");
    let b = bundle_with(&env, &id, |c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "bogus"}));
    });
    refused(&env, &id, &b, &["linux.namespaces[", "bogus"]);
}

#[test]
fn missing_rootfs() {
    let env = Env::new();
    let id = env.id("norootfs");
    let b = bundle_with(&env, &id, |c| {
        c["root"] = json!({"path": "/nonexistent/podrt-rootfs"})
    });
    refused(&env, &id, &b, &["root.path", "/nonexistent/podrt-rootfs"]);
}

#[test]
fn invalid_capability_name() {
    let env = Env::new();
    let id = env.id("badcap");
    let b = bundle_with(&env, &id, |c| {
        c["process"]["capabilities"]["bounding"]
            .as_array_mut()
            .unwrap()
            .push(json!("CAP_NOPE"));
    });
    refused(
        &env,
        &id,
        &b,
        &["process.capabilities.bounding[", "CAP_NOPE"],
    );
}

#[test]
fn cgroup_limit_the_kernel_refuses() {
    let env = Env::new();
    let id = env.id("cgbad");
    // No machine here has CPU 999: the kernel refuses the cpuset.
    let b = bundle_with(&env, &id, |c| {
        c["linux"]["resources"]["cpu"] = json!({"cpus": "999"})
    });
    refused(&env, &id, &b, &["cpuset.cpus", "999"]);
}

#[test]
fn missing_program() {
    let env = Env::new();
    let id = env.id("noexec");
    let b = bundle_with(&env, &id, |c| args(c, &["/bin/podrt-no-such-program"]));
    refused(
        &env,
        &id,
        &b,
        &[
            "process.args[0]",
            "/bin/podrt-no-such-program",
            "No such file",
        ],
    );
}

#[test]
fn missing_bind_mount_source() {
    let env = Env::new();
    let id = env.id("badmount");
    let b = bundle_with(&env, &id, |c| {
        c["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/mnt", "type": "bind", "source": "/nonexistent/podrt-src", "options": ["bind"]
        }));
    });
    refused(
        &env,
        &id,
        &b,
        &["mounts[", ".source", "/nonexistent/podrt-src"],
    );
}

#[test]
fn rlimit_above_what_the_host_allows() {
    let env = Env::new();
    let id = env.id("rlimit");
    let can_raise = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|h| u64::from_str_radix(h.trim(), 16).ok())
        .map(|mask| mask & (1 << 24) != 0) // CAP_SYS_RESOURCE
        .unwrap();
    let b = bundle_with(&env, &id, |c| {
        c["process"]["rlimits"] =
            json!([{"type": "RLIMIT_NOFILE", "hard": 1u64 << 40, "soft": 1024}]);
    });
    // With CAP_SYS_RESOURCE the kernel still refuses above fs.nr_open.
    let needles: &[&str] = if can_raise {
        &["rlimits[0]"]
    } else {
        &["process.rlimits[0]", "CAP_SYS_RESOURCE"]
    };
    refused(&env, &id, &b, needles);
}

#[test]
fn invalid_container_id() {
    let env = Env::new();
    let b = bundle_with(&env, "badid", |_| {});
    let out = env.run(&["create", "--bundle", b.to_str().unwrap(), "../escape"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid container id"));
    assert!(!env.root.join("../escape").exists() && !env.dir.join("escape").exists());
}

#[test]
fn a_hidden_role_with_bad_arguments_is_an_error_never_a_command() {
    // The arguments podrt re-executes itself with; malformed, they must not fall
    // through to the ordinary command line.
    for args in [
        &["__podrt-terminate", "/nonexistent", "soon"][..],
        &["__podrt-supervise", "/nonexistent"],
        &["__podrt-create", "/nonexistent", "web:5:6"],
        &["__podrt-bogus"],
    ] {
        let out = std::process::Command::new(binary("podrt"))
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run podrt");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert_eq!(err.trim().lines().count(), 1, "one line of error: {err}");
        assert!(err.contains("hidden role"), "{args:?}: {err}");
    }
}
