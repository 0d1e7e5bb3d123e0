//! `podrt image pull` against a real registry (Debian's docker-registry, started by
//! each test on loopback in its own network namespace): plain HTTP only where the
//! config names the registry insecure, TLS with the test's own CA in `certs.d`,
//! htpasswd logins from a credentials file, tags, digests, zstd layers, layers
//! shared with the store, and a corrupt blob that leaves nothing behind.

use std::process::Output;

use podrt_tests::pods::{text, PodEnv};
use podrt_tests::registry::{auth_json, CuttingProxy, Registry, Setup, ADDR};

/// A TLS registry with the test's own CA and one htpasswd user, alice, whose
/// `team/busybox:1.36` is the vendored busybox.
fn alices_tls_registry(env: &PodEnv) -> Registry {
    let reg = Registry::start(
        env,
        Setup {
            tls: true,
            user: Some(("alice".into(), "s3cret".into())),
        },
    );
    reg.push_busybox("team/busybox:1.36", &[]);
    reg
}

/// A `certs.d` in the test directory trusting `reg`'s CA; its path.
fn trust(env: &PodEnv, reg: &Registry) -> std::path::PathBuf {
    let certs = env.dir.join("certs.d");
    std::fs::create_dir_all(certs.join(ADDR)).unwrap();
    std::fs::copy(reg.ca.as_ref().unwrap(), certs.join(ADDR).join("ca.crt")).unwrap();
    certs
}

fn pull(env: &PodEnv, image: &str) -> Output {
    env.podrt(&["image", "pull", image])
}

fn pulled(env: &PodEnv, image: &str) -> (String, String) {
    let out = pull(env, image);
    assert!(
        out.status.success(),
        "pull {image} failed: {}",
        text(&out.stderr)
    );
    (text(&out.stdout).trim().to_string(), text(&out.stderr))
}

fn refused(env: &PodEnv, image: &str) -> String {
    let out = pull(env, image);
    let err = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "pull {image} should fail: {err}"
    );
    assert!(
        err.contains(&format!("error: pulling image {image}: ")),
        "the error names the image: {err}"
    );
    err
}

/// The layer digests of `repo:tag` in the registry (its manifest, raw).
fn layers(reg: &Registry, env: &PodEnv, repo_tag: &str) -> Vec<String> {
    let digest = reg.digest(repo_tag);
    let path = reg.blob_path(&digest);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("read manifest blob")).unwrap();
    let _ = env;
    manifest["layers"]
        .as_array()
        .expect("a manifest with layers")
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_string())
        .collect()
}

/// Whether `podrt images` has a row for `repository` with `tag`.
fn listed(env: &PodEnv, repository: &str, tag: &str) -> bool {
    let list = env.ok(&["images"]);
    let hit = list.lines().any(|l| {
        let mut cols = l.split_whitespace();
        cols.next() == Some(repository) && cols.next() == Some(tag)
    });
    if !hit {
        eprintln!("no {repository} {tag} in:\n{list}");
    }
    hit
}

fn store_is_empty(env: &PodEnv) {
    let images = env.root.join("images");
    for sub in ["layers", "configs", "tmp"] {
        let left: Vec<_> = std::fs::read_dir(images.join(sub))
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "left in the store's {sub}/: {left:?}");
    }
    let list = env.ok(&["images"]);
    assert_eq!(list.lines().count(), 1, "no image listed: {list}");
}

#[test]
fn an_insecure_registry_serves_tags_digests_and_zstd_layers_and_a_pod_runs_the_pulled_image() {
    let env = PodEnv::empty();
    let reg = Registry::start(&env, Setup::default());
    reg.push_busybox("library/busybox:1.36", &[]);
    reg.push_busybox_zstd("tools/busybox:zstd");
    let image = format!("{ADDR}/library/busybox:1.36");

    // Not named insecure: podrt speaks HTTPS to it, which fails.
    let err = refused(&env, &image);
    assert!(err.contains("https://127.0.0.1:5000/v2/"), "{err}");
    store_is_empty(&env);

    env.set_config(format!("registries:\n  insecure: [\"{ADDR}\"]\n"))
        .unwrap();
    // zstd layers first, so they are really downloaded and unpacked.
    let (zstd_id, log) = pulled(&env, &format!("{ADDR}/tools/busybox:zstd"));
    assert!(log.contains("done"), "{log}");
    assert_eq!(zstd_id.len(), 64, "the image id is printed: {zstd_id}");

    // The same layers gzip-compressed: other blobs, the same diff ids, so nothing
    // is downloaded again.
    let zstd_layers = layers(&reg, &env, "tools/busybox:zstd");
    let gzip_layers = layers(&reg, &env, "library/busybox:1.36");
    assert!(
        zstd_layers.iter().all(|l| !gzip_layers.contains(l)),
        "other blobs"
    );
    for l in &zstd_layers {
        assert_eq!(reg.requests("GET", l), 1, "layer {l} downloaded once");
    }
    let (id, log) = pulled(&env, &image);
    assert_eq!(id, zstd_id, "one config, one image id");
    assert!(log.contains("already exists"), "{log}");
    for l in &gzip_layers {
        assert_eq!(
            reg.requests("GET", l),
            0,
            "layer {l} was downloaded: {}",
            reg.log()
        );
    }

    // By digest.
    let digest = reg.digest("library/busybox:1.36");
    let by_digest = format!("{ADDR}/library/busybox@{digest}");
    let (id2, _) = pulled(&env, &by_digest);
    assert_eq!(id2, id);
    assert!(listed(&env, &format!("{ADDR}/library/busybox"), "1.36"));
    assert!(listed(&env, &format!("{ADDR}/library/busybox"), "<none>"));

    // A tag the registry does not have.
    let err = refused(&env, &format!("{ADDR}/library/busybox:9.99"));
    assert!(err.contains("manifest unknown"), "{err}");

    // A pod runs on the pulled image.
    env.apply(&format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: pulled}}\nspec:\n  restartPolicy: Never\n  \
         containers:\n  - name: c\n    image: {image}\n    command: [sh, -c, 'echo from-the-registry']\n"
    ));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let logs = env.podrt(&["logs", "pulled"]);
        if text(&logs.stdout).contains("from-the-registry") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no output from the pod: {}",
            text(&logs.stderr)
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }

    // inspect: the names of the id and the digest they came by.
    let details: serde_json::Value =
        serde_json::from_str(&env.ok(&["image", "inspect", &image])).unwrap();
    assert_eq!(details[0]["Id"], format!("sha256:{id}"));
    let digests = details[0]["RepoDigests"].to_string();
    assert!(digests.contains(&digest), "{digests}");
    // Names that share the id with another are only untagged.
    env.ok(&[
        "image",
        "rm",
        &by_digest,
        &format!("{ADDR}/tools/busybox:zstd"),
    ]);
    // The last name is refused while the pod uses it, naming the pod; prune -a
    // keeps it too.
    let out = env.podrt(&["image", "rm", &image]);
    let err = text(&out.stderr);
    assert!(
        !out.status.success() && err.contains("default/pulled"),
        "{err}"
    );
    let out = env.ok(&["image", "prune", "-a"]);
    assert!(!out.contains("Untagged"), "{out}");
    assert!(listed(&env, &format!("{ADDR}/library/busybox"), "1.36"));
    // --force deletes the pod first, as podman rmi --force does its containers.
    let out = env.ok(&["image", "rm", "--force", &image]);
    assert!(out.contains("pod \"pulled\" deleted"), "{out}");
    assert!(out.contains(&format!("Deleted: {id}")), "{out}");
    let out = env.podrt(&["get", "pod", "pulled"]);
    assert!(!out.status.success(), "the pod is still there");
    store_is_empty(&env);
}

#[test]
fn a_tls_registry_with_htpasswd_needs_its_ca_and_the_right_password() {
    let env = PodEnv::empty();
    let reg = alices_tls_registry(&env);
    let image = format!("{ADDR}/team/busybox:1.36");

    // The test's CA is not trusted yet.
    let err = refused(&env, &image);
    assert!(err.contains("certificate"), "{err}");

    let certs = trust(&env, &reg);
    env.set_config(format!("registries:\n  certsDir: {}\n", certs.display()))
        .unwrap();
    let auth = env.dir.join("auth.json");
    let with_auth = |file: &std::path::Path| {
        env.podrt(&[
            "--registry-config",
            file.to_str().unwrap(),
            "image",
            "pull",
            &image,
        ])
    };

    // Trusted now, but anonymous.
    std::fs::write(&auth, "{\"auths\":{}}").unwrap();
    let out = with_auth(&auth);
    let err = text(&out.stderr);
    assert!(
        !out.status.success() && err.contains("401") && err.contains("log in"),
        "{err}"
    );

    // A wrong password.
    std::fs::write(&auth, auth_json("alice", "wrong")).unwrap();
    let out = with_auth(&auth);
    let err = text(&out.stderr);
    assert!(
        !out.status.success() && err.contains("refused the login"),
        "{err}"
    );
    store_is_empty(&env);

    // A credentials file that is not there.
    let out = with_auth(&env.dir.join("missing.json"));
    let err = text(&out.stderr);
    assert!(
        !out.status.success() && err.contains("missing.json"),
        "{err}"
    );

    // The right one.
    std::fs::write(&auth, auth_json("alice", "s3cret")).unwrap();
    let out = with_auth(&auth);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(listed(&env, &format!("{ADDR}/team/busybox"), "1.36"));
}

#[test]
fn a_corrupt_blob_fails_the_pull_naming_the_layer_and_leaves_nothing_in_the_store() {
    let env = PodEnv::empty();
    let reg = Registry::start(&env, Setup::default());
    reg.push_busybox("library/busybox:1.36", &[]);
    env.set_config(format!("registries:\n  insecure: [\"{ADDR}\"]\n"))
        .unwrap();
    let image = format!("{ADDR}/library/busybox:1.36");
    let layer = layers(&reg, &env, "library/busybox:1.36").remove(0);
    let blob = reg.blob_path(&layer);
    let good = std::fs::read(&blob).expect("read the layer blob");
    let mut bad = good.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0xff;
    std::fs::write(&blob, &bad).unwrap();

    let err = refused(&env, &image);
    assert!(
        err.contains(&format!("layer {layer}")) && err.contains("digest"),
        "{err}"
    );
    store_is_empty(&env);

    // Repaired on the registry: the retry succeeds.
    std::fs::write(&blob, &good).unwrap();
    let (id, _) = pulled(&env, &image);
    assert_eq!(id.len(), 64);
}

#[test]
fn an_index_resolves_to_this_hosts_platform_and_one_without_it_is_refused_naming_what_it_has() {
    let env = PodEnv::empty();
    let reg = Registry::start(&env, Setup::default());
    env.set_config(format!("registries:\n  insecure: [\"{ADDR}\"]\n"))
        .unwrap();
    let host = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => panic!("no test platform pair for {other}"),
    };
    let other = if host == "amd64" { "arm64" } else { "amd64" };
    let ids = reg.push_index("multi/busybox:1", &[other, host]);
    let want = &ids.iter().find(|(a, _)| a == host).unwrap().1;
    let (id, _) = pulled(&env, &format!("{ADDR}/multi/busybox:1"));
    assert_eq!(
        format!("sha256:{id}"),
        *want,
        "the {host} manifest was chosen"
    );
    // Only the other platform: refused, nothing stored.
    reg.push_index("single/busybox:1", &[other]);
    let err = refused(&env, &format!("{ADDR}/single/busybox:1"));
    assert!(
        err.contains(&format!("no manifest for linux/{host}"))
            && err.contains(&format!("linux/{other}")),
        "{err}"
    );
    let list = env.ok(&["images"]);
    assert!(!list.contains("single/busybox"), "{list}");
}

#[test]
fn a_registry_that_hangs_up_half_way_fails_the_pull_naming_the_layer_and_a_retry_succeeds() {
    let env = PodEnv::empty();
    let reg = Registry::start(&env, Setup::default());
    reg.push_busybox("library/busybox:1.36", &[]);
    let layer = layers(&reg, &env, "library/busybox:1.36").remove(0);
    let proxy_addr = "127.0.0.1:5001";
    env.set_config(format!(
        "registries:\n  insecure: [\"{ADDR}\", \"{proxy_addr}\"]\n"
    ))
    .unwrap();
    // The manifest and config (under 2 kB) pass; the 1 MB layer is cut at 64 kB.
    let proxy = CuttingProxy::start(&env, 5001, 64 * 1024);
    let err = refused(&env, &format!("{proxy_addr}/library/busybox:1.36"));
    assert!(
        err.contains(&format!("layer {layer}: the download ended after "))
            && err.contains("(the registry closed the connection)"),
        "{err}"
    );
    store_is_empty(&env);
    drop(proxy);
    // Straight from the registry: complete.
    let (id, _) = pulled(&env, &format!("{ADDR}/library/busybox:1.36"));
    assert_eq!(id.len(), 64);
}

#[test]
fn apply_pulls_by_image_pull_policy_and_a_failed_pull_creates_nothing() {
    let env = PodEnv::empty();
    let reg = Registry::start(&env, Setup::default());
    reg.push_busybox("library/busybox:1.36", &[]);
    // No defaultImagePullPolicy here: Kubernetes' rule applies.
    std::fs::write(
        &env.config,
        format!("registries:\n  insecure: [\"{ADDR}\"]\n"),
    )
    .unwrap();
    let pod = |name: &str, image: &str, policy: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nspec:\n  containers:\n  - name: c\n    \
             image: {image}\n{policy}    command: [sleep, '3600']\n"
        )
    };
    let image = format!("{ADDR}/library/busybox:1.36");
    let manifests = |name: &str| format!("GET /v2/library/busybox/manifests/{name}");

    // Never, not present: refused with kubelet's reason, nothing pulled.
    let never = env.manifest(
        "never",
        &pod("never", &image, "    imagePullPolicy: Never\n"),
    );
    let out = env.podrt(&["apply", "-f", never.to_str().unwrap()]);
    let err = text(&out.stderr);
    assert!(
        !out.status.success() && err.contains("pull policy of Never"),
        "{err}"
    );
    assert_eq!(reg.requests("GET", "/manifests/"), 0, "nothing pulled");

    // A tag (IfNotPresent by default), not present: pulled, then the pod runs.
    env.apply(&pod("tagged", &image, ""));
    assert_eq!(reg.log().matches(&manifests("1.36")).count(), 1);
    // Present now: the next pod does not ask the registry.
    env.apply(&pod("tagged2", &image, ""));
    assert_eq!(reg.log().matches(&manifests("1.36")).count(), 1);
    // Always asks again.
    env.apply(&pod("always", &image, "    imagePullPolicy: Always\n"));
    assert_eq!(reg.log().matches(&manifests("1.36")).count(), 2);
    // :latest defaults to Always; the registry has no such tag: ErrImagePull
    // naming the pod and container, and nothing is created.
    let latest = format!("{ADDR}/library/busybox");
    let out = env.podrt(&[
        "apply",
        "-f",
        env.manifest("latest", &pod("latest", &latest, ""))
            .to_str()
            .unwrap(),
    ]);
    let err = text(&out.stderr);
    assert!(
        !out.status.success()
            && err.contains("pod \"latest\": container \"c\": ErrImagePull")
            && err.contains("manifest unknown"),
        "{err}"
    );
    let pods = env.ok(&["get", "pods"]);
    assert!(
        !pods.contains("latest") && !pods.contains("never"),
        "{pods}"
    );
    assert!(
        pods.contains("tagged2") && pods.contains("always"),
        "{pods}"
    );
}

/// A pod's `imagePullSecrets` name `kubernetes.io/dockerconfigjson` Secrets
/// stored with the manifest (or before it); their credentials come before the
/// credentials file, which here has none. A missing Secret is kubelet's warning
/// and an anonymous pull; a wrong password in a Secret is named by the Secret.
#[test]
fn image_pull_secrets_log_the_pull_in() {
    let env = podrt_tests::workloads::workload_env();
    let reg = alices_tls_registry(&env);
    let image = format!("{ADDR}/team/busybox:1.36");
    let certs = trust(&env, &reg);
    let auth = env.dir.join("auth.json");
    std::fs::write(&auth, "{\"auths\":{}}").unwrap();
    env.set_config(format!(
        "registries:\n  certsDir: {}\n  authFile: {}\n",
        certs.display(),
        auth.display()
    ))
    .unwrap();
    let secret = |name: &str, pass: &str| {
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}}}\n\
             type: kubernetes.io/dockerconfigjson\nstringData:\n  .dockerconfigjson: '{}'\n",
            auth_json("alice", pass)
        )
    };
    let pod = |name: &str, secret: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nspec:\n  \
             restartPolicy: Never\n  imagePullSecrets: [{{name: {secret}}}]\n  containers:\n  \
             - name: c\n    image: {image}\n    imagePullPolicy: Always\n    \
             command: [sh, -c, 'echo pulled-with-a-secret']\n"
        )
    };

    // A Secret that is not there: kubelet's warning, and the registry's 401.
    let out = env.podrt(&[
        "apply",
        "-f",
        env.manifest("a", &pod("anon", "nosuch")).to_str().unwrap(),
    ]);
    let err = text(&out.stderr);
    assert!(!out.status.success(), "pulled without credentials");
    assert!(
        err.contains("Unable to retrieve some image pull secrets (nosuch)") && err.contains("401"),
        "{err}"
    );

    // A wrong password: the error names the Secret it came from; nothing is
    // stored, the Secret included.
    let bad = format!(
        "{}---\n{}",
        secret("badcred", "wrong"),
        pod("bad", "badcred")
    );
    let out = env.podrt(&["apply", "-f", env.manifest("b", &bad).to_str().unwrap()]);
    let err = text(&out.stderr);
    assert!(
        !out.status.success() && err.contains("Secret \"default/badcred\""),
        "{err}"
    );
    let out = env.podrt(&["get", "secrets"]);
    assert!(
        text(&out.stderr).contains("No resources found"),
        "{}",
        text(&out.stdout)
    );

    // The right one, in the same manifest as the pod.
    let good = format!(
        "{}---\n{}",
        secret("regcred", "s3cret"),
        pod("pulled", "regcred")
    );
    let out = env.apply(&good);
    assert!(out.contains("secret/regcred created"), "{out}");
    assert!(out.contains("pod/pulled created"), "{out}");
    assert!(podrt_tests::wait_until(20, || text(
        &env.podrt(&["logs", "pulled"]).stdout
    )
    .contains("pulled-with-a-secret")));
    let list = env.ok(&["get", "secrets"]);
    let row = list
        .lines()
        .find(|l| l.starts_with("regcred"))
        .unwrap_or_default();
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        cells[..3],
        ["regcred", "kubernetes.io/dockerconfigjson", "1"],
        "{list}"
    );
    // Kept where only root reads it.
    let kept = std::fs::read_dir(env.dir.join("state/objects"))
        .unwrap()
        .flatten()
        .map(|d| d.path().join("default/regcred.json"))
        .find(|p| p.exists())
        .expect("the Secret's file in the store");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&kept).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "{} is {mode:o}", kept.display());
    // Stored, it serves a later pod too.
    env.apply(&pod("again", "regcred"));
    // And the agent's pods, whose supervisors pull (Always) with it.
    let _agent = podrt_tests::workloads::Agent::start(&env);
    env.apply(&format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web}}\nspec:\n  replicas: 1\n  \
         selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: {{app: web}}}}\n    \
         spec:\n      imagePullSecrets: [{{name: regcred}}]\n      containers:\n      - name: c\n        \
         image: {image}\n        imagePullPolicy: Always\n        command: [sleep, '3600']\n"
    ));
    assert!(
        podrt_tests::wait_until(30, || podrt_tests::workloads::pods(&env)
            .iter()
            .any(
                |p| p["metadata"]["labels"]["app"] == "web" && podrt_tests::workloads::ready(p)
            )),
        "the Deployment's pod never ran: {:?}",
        podrt_tests::workloads::pods(&env)
    );

    // An invalid Secret is refused naming the field, and creates nothing.
    let invalid = "apiVersion: v1\nkind: Secret\nmetadata: {name: empty}\n\
                   type: kubernetes.io/dockerconfigjson\n";
    let out = env.podrt(&["apply", "-f", env.manifest("c", invalid).to_str().unwrap()]);
    let err = text(&out.stderr);
    assert!(
        !out.status.success() && err.contains("data[.dockerconfigjson]: Required value"),
        "{err}"
    );
    // A Namespace's Secrets go with it.
    let team = format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: team}}\n---\n{}",
        secret("teamcred", "s3cret")
            .replace("{name: teamcred}", "{name: teamcred, namespace: team}")
    );
    assert!(env.apply(&team).contains("secret/teamcred created"));
    assert!(env
        .ok(&["get", "secrets", "-n", "team"])
        .contains("teamcred"));
    env.ok(&["delete", "ns", "team"]);
    let left = env.dir.join("state/objects");
    let files: Vec<_> = walk(&left)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("teamcred"))
        .collect();
    assert!(files.is_empty(), "{files:?}");
    let out = env.ok(&["delete", "secret", "regcred"]);
    assert!(out.contains("secret \"regcred\" deleted"), "{out}");
    let out = env.podrt(&["get", "secret", "regcred"]);
    assert!(!out.status.success(), "{}", text(&out.stdout));
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// The agent's pods pull when their containers are made, as kubelet does: a
/// Deployment's replacement pod whose image is `Always` pulled waits in
/// `ErrImagePull`, then `ImagePullBackOff`, while the registry is down, naming
/// the image, and runs once the registry is back and the back-off ends.
#[test]
fn an_agents_pod_waits_in_image_pull_back_off_until_the_registry_is_back() {
    use podrt_tests::workloads::{pods, ready, Agent};
    let env = podrt_tests::workloads::workload_env();
    let mut reg = Registry::start(&env, Setup::default());
    reg.push_busybox("library/busybox:1.36", &[]);
    env.set_config(format!("registries:\n  insecure: [\"{ADDR}\"]\n"))
        .unwrap();
    let image = format!("{ADDR}/library/busybox:1.36");
    let _agent = Agent::start(&env);
    env.apply(&format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web}}\nspec:\n  replicas: 1\n  \
         selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: {{app: web}}}}\n    \
         spec:\n      terminationGracePeriodSeconds: 1\n      containers:\n      - name: c\n        \
         image: {image}\n        imagePullPolicy: Always\n        command: [sleep, '3600']\n"
    ));
    let live = |env: &PodEnv| -> Vec<serde_json::Value> {
        pods(env)
            .into_iter()
            .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
            .collect()
    };
    assert!(
        podrt_tests::wait_until(30, || live(&env).iter().any(ready)),
        "the Deployment's pod never ran: {:?}",
        pods(&env)
    );
    let first = podrt_tests::workloads::name(&live(&env)[0]);

    // The registry goes; the replacement of a deleted pod cannot pull.
    reg.stop();
    env.ok(&["delete", "pod", &first, "--grace-period=0", "--force"]);
    let waiting = |env: &PodEnv, reason: &str| {
        live(env).iter().any(|p| {
            podrt_tests::workloads::name(p) != first
                && p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == reason
        })
    };
    assert!(
        podrt_tests::wait_until(30, || waiting(&env, "ErrImagePull")),
        "no ErrImagePull: {:?}\nsupervisor logs: {}",
        live(&env),
        supervisor_logs(&env)
    );
    let pod = live(&env)
        .into_iter()
        .find(|p| podrt_tests::workloads::name(p) != first)
        .unwrap();
    let message = pod["status"]["containerStatuses"][0]["state"]["waiting"]["message"].to_string();
    assert!(message.contains(&image), "{message}");
    let table = env.ok(&["get", "pods"]);
    assert!(
        table.contains("ErrImagePull") || table.contains("ImagePullBackOff"),
        "{table}"
    );
    assert!(
        podrt_tests::wait_until(30, || waiting(&env, "ImagePullBackOff")),
        "no ImagePullBackOff: {:?}",
        live(&env)
    );
    // Tries to pull are not restarts.
    let counts: Vec<serde_json::Value> = live(&env)
        .iter()
        .map(|p| p["status"]["containerStatuses"][0]["restartCount"].clone())
        .collect();
    assert!(counts.iter().all(|c| *c == 0), "{counts:?}");

    // Back: the next try after the back-off pulls and runs it.
    reg.run();
    assert!(
        podrt_tests::wait_until(60, || live(&env).iter().any(ready)),
        "the replacement never ran: {:?}",
        live(&env)
    );

    // describe shows kubelet's events for it: the failed pulls, folded, then
    // the one that worked.
    let pod = live(&env)
        .into_iter()
        .find(|p| podrt_tests::workloads::name(p) != first)
        .unwrap();
    let page = env.ok(&["describe", "pod", &podrt_tests::workloads::name(&pod)]);
    for want in [
        "Warning  Failed",
        "Error: ErrImagePull",
        "Failed to pull image",
        "Normal   Pulling",
        &format!("Successfully pulled image \"{image}\""),
    ] {
        assert!(page.contains(want), "{want:?} missing from:\n{page}");
    }
    assert!(page.contains("(x2 over"), "repeats are folded:\n{page}");

    // `edit` to a tag the store lacks is accepted: the new pods pull it.
    reg.push_busybox("library/busybox:1.37", &[]);
    let editor = env.dir.join("editor.sh");
    std::fs::write(
        &editor,
        "#!/bin/sh\nsed -i 's/busybox:1.36/busybox:1.37/' \"$1\"\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = env
        .cmd()
        .env("EDITOR", &editor)
        .env_remove("KUBE_EDITOR")
        .args(["edit", "deploy/web"])
        .output()
        .unwrap();
    assert!(out.status.success(), "edit refused: {}", text(&out.stderr));
    let new_image = format!("{ADDR}/library/busybox:1.37");
    assert!(
        podrt_tests::wait_until(60, || live(&env)
            .iter()
            .any(|p| ready(p) && p["spec"]["containers"][0]["image"] == new_image.as_str())),
        "no pod of the edited template ran: {:?}",
        live(&env)
    );
}

/// Every pod's supervisor log, for a failure's message.
fn supervisor_logs(env: &PodEnv) -> String {
    walk(&env.root.join("pods"))
        .into_iter()
        .filter(|p| p.ends_with("supervisor.log"))
        .map(|p| {
            format!(
                "{}:\n{}",
                p.display(),
                std::fs::read_to_string(&p).unwrap_or_default()
            )
        })
        .collect()
}

/// A mirror configured for Docker Hub serves `docker.io` names: the pull goes
/// to the mirror on loopback (its access log shows the manifest and blobs) and
/// the image keeps its Docker Hub name. Nothing is asked of Docker Hub: the
/// mirror has the tag, and the test's netns has no route out anyway.
#[test]
fn a_docker_hub_mirror_serves_docker_io_names() {
    let env = PodEnv::empty();
    let reg = Registry::start(&env, Setup::default());
    reg.push_busybox("library/busybox:1.36", &[]);
    env.set_config(format!(
        "registries:\n  insecure: [\"{ADDR}\"]\n  mirrors:\n    docker.io: [\"{ADDR}\"]\n"
    ))
    .unwrap();
    let manifests_before = reg.requests("GET", "/v2/library/busybox/manifests/");
    let (id, _) = pulled(&env, "busybox:1.36");
    assert_eq!(id.len(), 64, "an image id: {id}");
    assert!(listed(&env, "docker.io/library/busybox", "1.36"));
    assert!(
        reg.requests("GET", "/v2/library/busybox/manifests/") > manifests_before,
        "the mirror was not asked: {}",
        reg.log()
    );
    assert!(
        reg.requests("GET", "/v2/library/busybox/blobs/") > 0,
        "no blob came from the mirror: {}",
        reg.log()
    );
}
