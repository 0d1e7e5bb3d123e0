//! User namespaces for pods (`spec.hostUsers: false`, Kubernetes' KEP-127): each such
//! pod gets a range of 65536 host ids of its own; uid 0 in the pod is the range's
//! first id on the host; image layers are shared through idmapped mounts (never
//! chowned); volumes are idmapped, so what the pod's root writes is owned by 0 on
//! the host too; host namespaces and privileged containers are refused with it; a
//! default pod keeps the host's identity map; a config setting makes it the default.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use podrt_tests::pods::PodEnv;

/// The first host id of podrt's default ranges (0x70000000).
const DEFAULT_FIRST: u64 = 1_879_048_192;

fn own_users_pod(name: &str) -> String {
    format!(
        r#"
apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  hostUsers: false
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox
    command: ["sh", "-c", "echo from-root > /data/by-root; echo mem > /mem/by-root; echo up > /in-rootfs; exec sleep 3600"]
    volumeMounts:
    - {{name: data, mountPath: /data}}
    - {{name: mem, mountPath: /mem}}
  - name: side
    image: busybox
    command: ["sleep", "3600"]
    volumeMounts:
    - {{name: data, mountPath: /data}}
  volumes:
  - {{name: data, emptyDir: {{}}}}
  - {{name: mem, emptyDir: {{medium: Memory}}}}
"#
    )
}

fn plain_pod(name: &str, extra: &str) -> String {
    format!(
        r#"
apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  terminationGracePeriodSeconds: 1
{extra}
  containers:
  - name: app
    image: busybox
    command: ["sleep", "3600"]
"#
    )
}

/// The pod's range as its record has it: (index, first host id).
fn range_of(env: &PodEnv, pod: &str) -> (u64, u64) {
    let r = env.record(pod);
    let a = &r["userns"];
    (
        a["index"]
            .as_u64()
            .unwrap_or_else(|| panic!("no userns in {r}")),
        a["range"]["first"].as_u64().expect("range.first"),
    )
}

/// `/proc/self/uid_map` (or gid_map) of a container, its fields.
fn id_map(env: &PodEnv, pod: &str, container: &str, file: &str) -> Vec<String> {
    env.sh(pod, container, &format!("cat /proc/self/{file}"))
        .split_whitespace()
        .map(String::from)
        .collect()
}

fn status_ids(pid: i32, key: &str) -> Vec<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .expect("Uid/Gid line")
        .split_whitespace()
        .map(|v| v.parse().expect("an id"))
        .collect()
}

fn ns_inode(pid: &str, kind: &str) -> u64 {
    std::fs::metadata(format!("/proc/{pid}/ns/{kind}"))
        .expect("stat ns")
        .ino()
}

/// The busybox binary of the image's layer in the store.
fn layer_busybox(root: &Path) -> PathBuf {
    let layers = root.join("images").join("layers");
    std::fs::read_dir(&layers)
        .expect("read the layer store")
        .flatten()
        .map(|e| e.path().join("bin").join("busybox"))
        .find(|p| p.exists())
        .expect("a layer with bin/busybox")
}

#[test]
fn a_pod_with_host_users_false_runs_as_its_own_range_with_idmapped_layers_and_volumes() {
    let env = PodEnv::new();
    env.apply(&own_users_pod("own"));
    let (_, first) = range_of(&env, "own");
    assert!(first >= DEFAULT_FIRST, "range starts at {first}");

    // Inside: root, and the maps show exactly the pod's range.
    assert_eq!(env.sh("own", "app", "id -u; id -g"), "0\n0");
    for file in ["uid_map", "gid_map"] {
        assert_eq!(
            id_map(&env, "own", "app", file),
            ["0".to_string(), first.to_string(), "65536".to_string()],
            "{file}"
        );
    }

    // On the host: the range's first id, in a user namespace that is not the host's
    // and that both containers share (it is the pod's).
    let app = env.container_pid("own", "app");
    let side = env.container_pid("own", "side");
    assert_eq!(status_ids(app, "Uid:"), [first; 4]);
    assert_eq!(status_ids(app, "Gid:"), [first; 4]);
    let host_userns = ns_inode("self", "user");
    assert_ne!(ns_inode(&app.to_string(), "user"), host_userns);
    assert_eq!(
        ns_inode(&app.to_string(), "user"),
        ns_inode(&side.to_string(), "user")
    );

    // The pod's user namespace owns its network: its root may bind port 80.
    assert_eq!(
        env.sh("own", "side", "httpd -p 80 -h / && echo bound"),
        "bound",
        "the pod's root could not bind a privileged port in its own network"
    );

    // emptyDir (disk and Memory): what the pod's root wrote is 0's inside and on the
    // host, through the idmapped binds; nothing was chowned.
    let pod_dir = env.pod_dir("own");
    assert!(podrt_tests::wait_until(10, || pod_dir
        .join("volumes/data/by-root")
        .exists()));
    for (inside, host) in [
        ("/data/by-root", pod_dir.join("volumes/data/by-root")),
        ("/mem/by-root", pod_dir.join("volumes/mem/by-root")),
    ] {
        assert_eq!(
            env.sh("own", "app", &format!("stat -c '%u %g' {inside}")),
            "0 0",
            "{inside} inside"
        );
        let m = std::fs::metadata(&host).expect("the volume's file on the host");
        assert_eq!((m.uid(), m.gid()), (0, 0), "{} on the host", host.display());
    }
    // The other container sees the same file as its root's.
    assert_eq!(
        env.sh("own", "side", "stat -c '%u %U' /data/by-root"),
        "0 root"
    );

    // The image's layers are shared, still 0's on the host, and 0's inside.
    let layer_file = layer_busybox(&env.root);
    let m = std::fs::metadata(&layer_file).expect("stat the layer's busybox");
    assert_eq!((m.uid(), m.gid()), (0, 0), "{}", layer_file.display());
    assert_eq!(env.sh("own", "app", "stat -c '%u %g' /bin/busybox"), "0 0");
    // What the container writes in its own root filesystem is the pod's range's.
    assert_eq!(env.sh("own", "app", "stat -c '%u' / /in-rootfs"), "0\n0");
    let upper = pod_dir.join("containers/app/upper/in-rootfs");
    assert_eq!(
        std::fs::metadata(&upper)
            .expect("the upper layer's file")
            .uid() as u64,
        first
    );
    // /dev/shm is the pod's root's, as if mounted inside.
    assert_eq!(env.sh("own", "app", "stat -c '%u' /dev/shm"), "0");

    // exec joins the same user namespace.
    let (code, out, err) = env.exec("own", "side", &["cat", "/proc/self/uid_map"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["0", &first.to_string(), "65536"]
    );

    env.ok(&["delete", "pod", "own"]);
    env.assert_nothing_left();
}

#[test]
fn two_pods_never_share_a_range_and_deletion_gives_it_back() {
    let env = PodEnv::new();
    env.apply(&own_users_pod("one"));
    env.apply(&own_users_pod("two"));
    let (i1, f1) = range_of(&env, "one");
    let (i2, f2) = range_of(&env, "two");
    assert_ne!(i1, i2);
    assert!(
        f1 + 65536 <= f2 || f2 + 65536 <= f1,
        "{f1} and {f2} overlap"
    );
    assert_eq!(env.id_ranges().len(), 2);
    let one = env.container_pid("one", "app");
    let two = env.container_pid("two", "app");
    assert_eq!(status_ids(one, "Uid:")[0], f1);
    assert_eq!(status_ids(two, "Uid:")[0], f2);
    assert_ne!(
        ns_inode(&one.to_string(), "user"),
        ns_inode(&two.to_string(), "user")
    );
    env.ok(&["delete", "pod", "one"]);
    assert_eq!(env.id_ranges(), [i2.to_string()]);
    // The freed range is handed out again.
    env.apply(&own_users_pod("three"));
    assert_eq!(range_of(&env, "three"), (i1, f1));
    env.ok(&["delete", "pod", "two", "three"]);
    env.assert_nothing_left();
}

#[test]
fn host_namespaces_and_privileged_are_refused_with_host_users_false() {
    let env = PodEnv::new();
    for (extra, field) in [
        (
            "  hostUsers: false\n  hostNetwork: true",
            "spec.hostNetwork",
        ),
        ("  hostUsers: false\n  hostPID: true", "spec.hostPID"),
        ("  hostUsers: false\n  hostIPC: true", "spec.hostIPC"),
    ] {
        env.apply_refused(
            &plain_pod("bad", extra),
            &[],
            &[field, "spec.hostUsers: false"],
        );
    }
    let privileged = r#"
apiVersion: v1
kind: Pod
metadata: {name: bad}
spec:
  hostUsers: false
  containers:
  - name: app
    image: busybox
    command: ["sleep", "3600"]
    securityContext: {privileged: true}
"#;
    env.apply_refused(
        privileged,
        &[],
        &[
            "spec.containers[0].securityContext.privileged",
            "spec.hostUsers: false",
        ],
    );
}

#[test]
fn a_default_pod_keeps_the_hosts_identity_map() {
    let env = PodEnv::new();
    env.apply(&plain_pod("plain", ""));
    assert_eq!(
        id_map(&env, "plain", "app", "uid_map"),
        ["0", "0", "4294967295"]
    );
    let pid = env.container_pid("plain", "app");
    assert_eq!(status_ids(pid, "Uid:"), [0; 4]);
    assert_eq!(ns_inode(&pid.to_string(), "user"), ns_inode("self", "user"));
    assert!(env.record("plain")["userns"].is_null());
    assert!(env.id_ranges().is_empty());
    env.ok(&["delete", "pod", "plain"]);
    env.assert_nothing_left();
}

#[test]
fn the_config_can_make_own_users_the_default_within_its_ranges() {
    let env = PodEnv::new();
    let first: u64 = 2_000_000_000 - 2_000_000_000 % 65536;
    env.set_config(format!(
        "userNamespaces:\n  defaultHostUsers: false\n  firstId: {first}\n  ranges: 2\n"
    ))
    .expect("write config");
    env.apply(&plain_pod("a", ""));
    assert_eq!(range_of(&env, "a"), (0, first));
    assert_eq!(
        id_map(&env, "a", "app", "uid_map"),
        ["0".to_string(), first.to_string(), "65536".to_string()]
    );
    // A pod that asks for the host's users, or shares a host namespace without
    // asking, keeps them.
    env.apply(&plain_pod("b", "  hostUsers: true"));
    env.apply(&plain_pod("c", "  hostNetwork: true"));
    assert!(env.record("b")["userns"].is_null());
    assert!(env.record("c")["userns"].is_null());
    env.apply(&plain_pod("d", ""));
    assert_eq!(range_of(&env, "d"), (1, first + 65536));
    // Both ranges are taken: the next pod is refused, naming the setting.
    let err = env.podrt(&[
        "apply",
        "-f",
        env.manifest("e", &plain_pod("e", "")).to_str().unwrap(),
    ]);
    assert_eq!(err.status.code(), Some(1));
    let msg = podrt_tests::pods::text(&err.stderr);
    assert!(
        msg.contains("spec.hostUsers") && msg.contains("userNamespaces.ranges"),
        "{msg}"
    );
    assert_eq!(env.id_ranges().len(), 2, "the refused pod kept a range");
    env.ok(&["delete", "pod", "a", "b", "c", "d"]);
    env.assert_nothing_left();
}

#[test]
fn the_pods_root_cannot_undo_a_mask_even_with_cap_sys_admin() {
    // What a user namespace adds: the same container, given CAP_SYS_ADMIN and no
    // seccomp filter, unmounts a /proc mask in the host's users but cannot in its
    // own (the mount namespace is not its namespace's, and a new one locks the masks).
    let env = PodEnv::new();
    let pod = |name: &str, host_users: bool| {
        format!(
            r#"
apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  hostUsers: {host_users}
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox
    command: ["sleep", "3600"]
    securityContext:
      capabilities: {{add: [SYS_ADMIN]}}
      seccompProfile: {{type: Unconfined}}
      allowPrivilegeEscalation: true
"#
        )
    };
    env.apply(&pod("shared", true));
    env.apply(&pod("own", false));
    let attempt = "umount /proc/keys 2>/dev/null && echo unmounted; \
                   mount -t tmpfs t /tmp 2>/dev/null && echo mounted; \
                   unshare -m sh -c 'umount /proc/keys 2>/dev/null && echo unmounted-inside'; \
                   echo done";
    assert_eq!(
        env.sh("shared", "app", attempt),
        "unmounted\nmounted\ndone",
        "CAP_SYS_ADMIN in the host's users should unmount the mask (the contrast)"
    );
    assert_eq!(env.sh("own", "app", attempt), "done");
    env.ok(&["delete", "pod", "shared", "own"]);
    env.assert_nothing_left();
}
