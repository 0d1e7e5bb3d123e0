//! 50 create/delete cycles of a two-container pod with a network, an emptyDir
//! and a memory limit, beside a pod whose container crashes and is restarted
//! all the while: every kernel object and file a pod makes is counted before
//! and after, and the counts must be equal; the restarting pod's supervisor
//! must not grow, and its pod cgroup (with the pod's memory limit) must outlive
//! every restart. scripts/bench-soak.sh is the 1000-cycle version.

use std::collections::BTreeMap;
use std::path::Path;

use podrt_tests::pods::PodEnv;
use podrt_tests::wait_until;

const CYCLES: usize = 50;

/// What a pod leaves if something leaks, counted for this test's root, cgroup
/// parent and test host only (other tests run beside this one), and without the
/// pod `skip` (the crasher, whose container comes and goes all the time).
fn census(env: &PodEnv, skip: &str) -> BTreeMap<&'static str, usize> {
    let mut c = BTreeMap::new();
    let mounts = env.mounts_under_root();
    c.insert(
        "mounts",
        mounts.iter().filter(|m| !m.contains(skip)).count(),
    );
    c.insert("pod dirs", env.pod_dirs().len());
    c.insert("veths", env.host.veths().len());
    let leases = std::fs::read_dir(env.root.join("cni/networks/podrt"))
        .map(|rd| {
            rd.flatten()
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .parse::<std::net::IpAddr>()
                        .is_ok()
                })
                .count()
        })
        .unwrap_or(0);
    c.insert("ip leases", leases);
    let rel = env.cgroup_parent.trim_start_matches('/');
    let mut cgroups = 0;
    for h in std::fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
    {
        cgroups += count_dirs(&h.path().join(rel), skip);
    }
    cgroups += count_dirs(&Path::new("/sys/fs/cgroup").join(rel), skip);
    c.insert("cgroups", cgroups);
    let root = env.root.display().to_string();
    let processes = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter(|e| {
            let cg = std::fs::read_to_string(e.path().join("cgroup")).unwrap_or_default();
            let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            let cmd = String::from_utf8_lossy(&cmd);
            (cg.contains(&env.cgroup_parent) || cmd.contains(&root))
                && !cg.contains(skip)
                && !cmd.contains(skip)
        })
        .count();
    c.insert("processes", processes);
    let files = walk(&env.root.join("pods"), skip);
    c.insert("files under pods/", files);
    c
}

fn count_dirs(dir: &Path, skip: &str) -> usize {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    1 + rd
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter(|e| !e.file_name().to_string_lossy().contains(skip))
        .map(|e| count_dirs(&e.path(), skip))
        .sum::<usize>()
}

fn walk(dir: &Path, skip: &str) -> usize {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten()
        .filter(|e| !e.file_name().to_string_lossy().contains(skip))
        .map(|e| {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                1 + walk(&e.path(), skip)
            } else {
                1
            }
        })
        .sum()
}

/// Resident set size of `pid` in KiB.
fn rss_kib(pid: i64) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn restarts(env: &PodEnv, pod: &str) -> u64 {
    env.pod_json(pod)["status"]["containerStatuses"][0]["restartCount"]
        .as_u64()
        .unwrap_or(0)
}

#[test]
fn fifty_cycles_leave_nothing_and_a_restarting_supervisor_stays_flat() {
    let mut env = PodEnv::new();
    env.flags.extend([
        "--max-container-restart-period".to_string(),
        "0s".to_string(),
    ]);
    env.apply(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: crasher}\nspec:\n  containers:\n  - {name: c, image: busybox, command: [sh, -c, \"exit 1\"], resources: {limits: {memory: 32Mi}}}\n",
    );
    let record = env.record("crasher");
    let supervisor = record["supervisor"]["pid"]
        .as_i64()
        .expect("supervisor pid");
    let crasher = record["uid"].as_str().expect("uid").to_string();
    assert!(
        wait_until(30, || restarts(&env, "crasher") >= 5),
        "the crasher is not restarted"
    );
    let rss_start = rss_kib(supervisor);
    let restarts_start = restarts(&env, "crasher");

    let pod = |i: usize| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: soak{i}}}\nspec:\n  terminationGracePeriodSeconds: 1\n  volumes: [{{name: scratch, emptyDir: {{}}}}]\n  containers:\n  - name: a\n    image: busybox\n    command: [sleep, \"3600\"]\n    volumeMounts: [{{name: scratch, mountPath: /scratch}}]\n    resources: {{limits: {{memory: 32Mi}}}}\n  - name: b\n    image: busybox\n    command: [sh, -c, \"echo hi > /scratch/hi; exec sleep 3600\"]\n    volumeMounts: [{{name: scratch, mountPath: /scratch}}]\n"
        )
    };
    let before = census(&env, &crasher);
    for i in 0..CYCLES {
        let f = env.manifest(&format!("soak{i}"), &pod(i));
        env.ok(&["apply", "-f", f.to_str().unwrap()]);
        env.ok(&[
            "delete",
            "pod",
            &format!("soak{i}"),
            "--grace-period=0",
            "--force",
        ]);
        std::fs::remove_file(&f).unwrap();
    }
    let after = census(&env, &crasher);
    assert_eq!(
        before, after,
        "counts before and after {CYCLES} cycles differ"
    );

    let restarts_end = restarts(&env, "crasher");
    let rss_end = rss_kib(supervisor);
    println!(
        "supervisor RSS {rss_start} KiB after {restarts_start} restarts, {rss_end} KiB after {restarts_end}"
    );
    assert!(
        restarts_end > restarts_start + 20,
        "restarts {restarts_start} -> {restarts_end}"
    );
    // The pod's cgroup, and its limit, outlive every restart of its only container.
    let pod_cg = format!("{}/pod{crasher}", env.cgroup_parent);
    let limit = podrt_tests::cgroup_file(&pod_cg, "memory", "memory.limit_in_bytes", "memory.max");
    assert_eq!(
        std::fs::read_to_string(&limit)
            .map(|s| s.trim().to_string())
            .ok()
            .as_deref(),
        Some("33554432"),
        "{}",
        limit.display()
    );
    assert!(
        rss_end <= rss_start + 256,
        "the supervisor grew from {rss_start} to {rss_end} KiB over {} restarts",
        restarts_end - restarts_start
    );
}
