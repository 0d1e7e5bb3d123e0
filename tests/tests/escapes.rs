//! Host escapes tried as an attacker would: one container of a pod keeps swapping
//! a directory of a shared emptyDir with a symlink out of it (tests/fixtures/racer,
//! renameat2 RENAME_EXCHANGE in a loop), while its sibling restarts as fast as
//! podrt lets it, so every restart is another try at making podrt follow the
//! symlink between checking a path and mounting it. Each test runs long enough
//! for the unfixed code to lose (it did within seconds), and counts the tries.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use podrt_tests::build_static;
use podrt_tests::pods::PodEnv;

/// How long the attacker gets.
const RACE: Duration = Duration::from_secs(12);
/// Fewest restarts of the victim that make the run count.
const MIN_TRIES: usize = 10;

/// Build tests/fixtures/racer statically into the test's directory; the dir to mount.
fn racer_dir(env: &PodEnv) -> PathBuf {
    build_static(
        "tests/fixtures/racer/racer.c",
        &env.dir.join("racer"),
        "racer",
    )
}

/// A pod env whose restarts have no back-off, so the victim retries at once.
fn env() -> PodEnv {
    let mut env = PodEnv::new();
    env.flags.extend([
        "--max-container-restart-period".to_string(),
        "0s".to_string(),
    ]);
    env
}

/// [`env`] with a test-only fault switch on for every podrt command.
fn env_with_fault(name: &str) -> PodEnv {
    podrt_tests::require_fault_injection();
    let mut env = env();
    env.vars.push(("PODRT_TEST_FAULT".into(), name.into()));
    env
}

/// A pod: `racer` swaps `shared/<name>` with a symlink to `target`; `victim`
/// (with `victim_mounts`, YAML list items) runs `victim_script` and exits 1.
fn race_pod(racer: &Path, name: &str, target: &str, victim_mounts: &str, script: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Pod
metadata: {{name: race}}
spec:
  restartPolicy: Always
  volumes:
  - {{name: shared, emptyDir: {{}}}}
  - {{name: other, emptyDir: {{}}}}
  - {{name: tools, hostPath: {{path: {racer}, type: Directory}}}}
  containers:
  - name: victim
    image: busybox
    command: [sh, -c, '{script}']
    volumeMounts: [{victim_mounts}]
  - name: racer
    image: busybox
    command: [sh, -c, 'sleep 1; exec /tools/racer /shared {name} {target}']
    volumeMounts: [{{name: shared, mountPath: /shared}}, {{name: tools, mountPath: /tools, readOnly: true}}]
"#,
        racer = racer.display()
    )
}

/// Lines the victim appended to `shared/runs`, read on the host.
fn tries(env: &PodEnv) -> usize {
    std::fs::read_to_string(env.pod_dir("race").join("volumes/shared/runs"))
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

/// Let the race run until `escaped` says so or time is up; the victim's tries.
fn race(env: &PodEnv, escaped: impl Fn() -> bool) -> usize {
    let end = Instant::now() + RACE;
    while Instant::now() < end && !escaped() {
        std::thread::sleep(Duration::from_millis(200));
    }
    tries(env)
}

#[test]
fn a_subpath_swapped_for_a_symlink_never_mounts_the_host() {
    subpath_race(&env());
}

/// The same race where paths are walked component by component, as on kernels
/// without `openat2` (a test-only fault switch).
#[test]
fn a_subpath_swapped_for_a_symlink_never_mounts_the_host_without_openat2() {
    let env = env_with_fault("no-openat2");
    subpath_race(&env);
}

fn subpath_race(env: &PodEnv) {
    let racer = racer_dir(env);
    // A file only the host's / has; the victim looks for it under its subPath.
    let marker = env.dir.join("host-marker");
    std::fs::write(&marker, "host\n").unwrap();
    let script = format!(
        "echo run >> /shared/runs; if [ -e /victim{m} ]; then ls /victim > /shared/escaped; fi; exit 1",
        m = marker.display()
    );
    env.apply(&race_pod(
        &racer,
        "d",
        "/",
        "{name: shared, mountPath: /shared}, {name: shared, mountPath: /victim, subPath: d}",
        &script,
    ));
    let escaped = env.pod_dir("race").join("volumes/shared/escaped");
    let n = race(env, || escaped.exists());
    eprintln!("subPath race: {n} tries");
    assert!(
        !escaped.exists(),
        "the victim's subPath showed the host's / after {n} tries; it listed: {}",
        std::fs::read_to_string(&escaped).unwrap_or_default()
    );
    assert!(
        n >= MIN_TRIES,
        "the victim ran only {n} times in {RACE:?}: the race was not really tried"
    );
}

#[test]
fn a_mount_point_swapped_for_a_symlink_stays_inside_the_root() {
    mount_point_race(&env());
}

/// The same race where binds go through `mount(2)` and a checked remount, as on
/// kernels without `open_tree`/`mount_setattr` (a test-only fault switch).
#[test]
fn a_mount_point_swapped_for_a_symlink_stays_inside_the_root_without_the_new_mount_api() {
    let env = env_with_fault("legacy-binds");
    mount_point_race(&env);
    // A read-only volume is still read-only that way.
    env.apply(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: ro}\nspec:\n  volumes: [{name: v, emptyDir: {}}]\n  containers:\n  - {name: c, image: busybox, command: [sleep, '3600'], volumeMounts: [{name: v, mountPath: /ro, readOnly: true}, {name: v, mountPath: /sub, subPath: a/b, readOnly: true}]}\n",
    );
    for dir in ["/ro", "/sub"] {
        let (code, _, err) = env.exec("ro", "c", &["touch", &format!("{dir}/x")]);
        assert_ne!(code, 0, "touch {dir}/x worked on a read-only volume");
        assert!(err.contains("Read-only"), "{dir}: {err}");
    }
}

/// The mount-point race with paths walked component by component, as on kernels
/// without `openat2`.
#[test]
fn a_mount_point_swapped_for_a_symlink_stays_inside_the_root_without_openat2() {
    let env = env_with_fault("no-openat2");
    mount_point_race(&env);
}

fn mount_point_race(env: &PodEnv) {
    let racer = racer_dir(env);
    // The symlink points at this host directory; a runtime that follows it would
    // create the victim's mount point `x` there, on the host.
    let outside = env.dir.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let made = outside.join("x");
    env.apply(&race_pod(
        &racer,
        "sub",
        outside.to_str().unwrap(),
        "{name: shared, mountPath: /shared}, {name: other, mountPath: /shared/sub/x}",
        "echo run >> /shared/runs; exit 1",
    ));
    let n = race(env, || made.exists());
    eprintln!("mount point race: {n} tries");
    assert!(
        !made.exists(),
        "podrt created the victim's mount point on the host ({}) after {n} tries",
        made.display()
    );
    assert!(
        n >= MIN_TRIES,
        "the victim ran only {n} times in {RACE:?}: the race was not really tried"
    );
}
