//! Admission policies, tried with real pods: each Pod Security Standards level
//! and each PodSecurityPolicy field admits a pod that keeps to it (the pod
//! then runs) and refuses one that does not, with exit status 1, the pod
//! field named, and nothing of the pod left. PodSecurityPolicy defaults show
//! inside the container and in `get -o yaml`; the config file sets the policy
//! and the default capability set; `policy check` judges a directory of
//! manifests without creating anything.

use podrt_tests::pods::{text, PodEnv};
use podrt_tests::unique;

/// A pod of one sleeping busybox container; `spec` and `container` are YAML
/// lines added to the pod spec (2 spaces in) and the container (4 spaces in).
fn pod(name: &str, spec: &str, container: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nspec:\n{spec}  terminationGracePeriodSeconds: 1\n  containers:\n  - name: c\n    image: busybox\n    command: [sleep, \"3600\"]\n{container}"
    )
}

/// A PodSecurityPolicy named `name`: RunAsAny everywhere, every volume type,
/// then `fields` (policy spec keys and their YAML flow values) replacing or
/// adding to those.
fn psp(name: &str, fields: &[(&str, &str)]) -> String {
    let mut spec: Vec<(String, String)> = [
        ("seLinux", "{rule: RunAsAny}"),
        ("runAsUser", "{rule: RunAsAny}"),
        ("supplementalGroups", "{rule: RunAsAny}"),
        ("fsGroup", "{rule: RunAsAny}"),
        ("volumes", "['*']"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in fields {
        match spec.iter_mut().find(|(key, _)| key == k) {
            Some(entry) => entry.1 = v.to_string(),
            None => spec.push((k.to_string(), v.to_string())),
        }
    }
    let lines: String = spec.iter().map(|(k, v)| format!("  {k}: {v}\n")).collect();
    format!("apiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata: {{name: {name}}}\nspec:\n{lines}")
}

/// Apply `yaml` under `policy` and require it to run; the pod is deleted after.
fn admitted(env: &PodEnv, policy: &str, name: &str, yaml: &str) {
    let file = env.manifest(&unique("ok"), yaml);
    let out = env.podrt(&["apply", "-f", file.to_str().unwrap(), "--policy", policy]);
    assert!(
        out.status.success(),
        "refused under {policy}:\n{yaml}\nstderr: {}",
        text(&out.stderr)
    );
    let phase = env.pod_json(name)["status"]["phase"].clone();
    assert_eq!(phase, "Running", "{yaml}");
    env.ok(&["delete", "pod", name, "--grace-period=0", "--force"]);
}

/// Apply `yaml` under `policy`, require a refusal naming each of `expect`,
/// and require that nothing of the pod exists.
fn refused(env: &PodEnv, policy: &str, yaml: &str, expect: &[&str]) -> String {
    let mut all = vec!["forbidden by policy"];
    all.extend_from_slice(expect);
    env.apply_refused(yaml, &["--policy", policy], &all)
}

/// The line of `/proc/self/status` starting with `key`, its value.
fn status_field(env: &PodEnv, pod: &str, key: &str) -> String {
    let status = env.sh(pod, "c", "cat /proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .unwrap_or_else(|| panic!("no {key} in {status}"))
        .trim()
        .to_string()
}

#[test]
fn each_pod_security_standards_level_admits_and_refuses() {
    let env = PodEnv::new();
    let hostpid = pod(
        "hostpid",
        "  hostPID: true\n",
        "    securityContext: {privileged: true}\n",
    );
    admitted(&env, "privileged", "hostpid", &hostpid);

    admitted(&env, "baseline", "plain", &pod("plain", "", ""));
    refused(
        &env,
        "baseline",
        &hostpid,
        &[
            "spec.hostPID",
            "baseline: Host Namespaces",
            "spec.containers[0].securityContext.privileged",
        ],
    );

    let hardened = pod(
        "hardened",
        "  securityContext: {runAsNonRoot: true, runAsUser: 1000, seccompProfile: {type: RuntimeDefault}}\n",
        "    securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}\n",
    );
    admitted(&env, "restricted", "hardened", &hardened);
    refused(
        &env,
        "restricted",
        &pod("plain", "", ""),
        &[
            "spec.containers[0].securityContext.allowPrivilegeEscalation",
            "spec.containers[0].securityContext.runAsNonRoot",
            "spec.containers[0].securityContext.seccompProfile.type",
            "spec.containers[0].securityContext.capabilities.drop",
            "restricted: Capabilities",
        ],
    );
}

/// One PodSecurityPolicy field: a policy that permits and a pod it admits, a
/// policy that does not and a pod it refuses, and the field the refusal names.
struct Case {
    rule: &'static str,
    permit: Vec<(&'static str, String)>,
    allowed: (String, String),
    deny: Vec<(&'static str, String)>,
    refused: (String, String),
    field: &'static str,
}

fn case(
    rule: &'static str,
    permit: &[(&'static str, &str)],
    allowed: (&str, &str),
    deny: &[(&'static str, &str)],
    refused: (&str, &str),
    field: &'static str,
) -> Case {
    let own = |v: &[(&'static str, &str)]| v.iter().map(|(k, s)| (*k, s.to_string())).collect();
    Case {
        rule,
        permit: own(permit),
        allowed: (allowed.0.to_string(), allowed.1.to_string()),
        deny: own(deny),
        refused: (refused.0.to_string(), refused.1.to_string()),
        field,
    }
}

#[test]
fn each_pod_security_policy_field_admits_and_refuses() {
    let env = PodEnv::new();
    let data = env.dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let host_path = |ro: bool| {
        (
            format!(
                "  volumes: [{{name: h, hostPath: {{path: {}, type: Directory}}}}]\n",
                data.display()
            ),
            format!("    volumeMounts: [{{name: h, mountPath: /h, readOnly: {ro}}}]\n"),
        )
    };
    let prefix = format!("[{{pathPrefix: {}, readOnly: true}}]", env.dir.display());
    let sc = |s: &str| format!("    securityContext: {s}\n");
    let psc = |s: &str| format!("  securityContext: {s}\n");
    let must = |range: &str| format!("{{rule: MustRunAs, ranges: [{range}]}}");
    let users = must("{min: 1000, max: 2000}");
    let groups = must("{min: 4000, max: 4100}");
    let fs = must("{min: 5000, max: 5000}");
    let gid = must("{min: 3000, max: 3000}");
    let ports = "[{min: 8000, max: 8080}]";
    let selinux = "{rule: MustRunAs, seLinuxOptions: {type: container_t}}";
    let (hp_ro, hp_rw) = (host_path(true), host_path(false));
    let cases = [
        case(
            "privileged",
            &[("privileged", "true")],
            ("", &sc("{privileged: true}")),
            &[],
            ("", &sc("{privileged: true}")),
            "spec.containers[0].securityContext.privileged",
        ),
        case(
            "hostNetwork",
            &[("hostNetwork", "true")],
            ("  hostNetwork: true\n", ""),
            &[],
            ("  hostNetwork: true\n", ""),
            "spec.hostNetwork",
        ),
        case(
            "hostPID",
            &[("hostPID", "true")],
            ("  hostPID: true\n", ""),
            &[],
            ("  hostPID: true\n", ""),
            "spec.hostPID",
        ),
        case(
            "hostIPC",
            &[("hostIPC", "true")],
            ("  hostIPC: true\n", ""),
            &[],
            ("  hostIPC: true\n", ""),
            "spec.hostIPC",
        ),
        case(
            "hostPorts",
            &[("hostPorts", ports)],
            ("", "    ports: [{containerPort: 80, hostPort: 8080}]\n"),
            &[("hostPorts", ports)],
            ("", "    ports: [{containerPort: 80, hostPort: 9090}]\n"),
            "spec.containers[0].ports[0].hostPort",
        ),
        case(
            "volumes",
            &[("volumes", "[emptyDir]")],
            (
                "  volumes: [{name: e, emptyDir: {}}]\n",
                "    volumeMounts: [{name: e, mountPath: /e}]\n",
            ),
            &[("volumes", "[emptyDir]")],
            (&hp_ro.0, &hp_ro.1),
            "spec.volumes[0].hostPath",
        ),
        case(
            "allowedHostPaths",
            &[("allowedHostPaths", &prefix)],
            (&hp_ro.0, &hp_ro.1),
            &[("allowedHostPaths", &prefix)],
            (&hp_rw.0, &hp_rw.1),
            "spec.containers[0].volumeMounts[0].readOnly",
        ),
        case(
            "defaultAddCapabilities",
            &[("defaultAddCapabilities", "[SYS_TIME]")],
            ("", &sc("{capabilities: {add: [SYS_TIME]}}")),
            &[("defaultAddCapabilities", "[SYS_TIME]")],
            ("", &sc("{capabilities: {add: [NET_ADMIN]}}")),
            "spec.containers[0].securityContext.capabilities.add[0]",
        ),
        case(
            "requiredDropCapabilities",
            &[("requiredDropCapabilities", "[NET_RAW]")],
            ("", ""),
            &[("requiredDropCapabilities", "[NET_RAW]")],
            ("", &sc("{capabilities: {add: [NET_RAW]}}")),
            "spec.containers[0].securityContext.capabilities.add[0]",
        ),
        case(
            "allowedCapabilities",
            &[("allowedCapabilities", "[SYS_TIME]")],
            ("", &sc("{capabilities: {add: [sys_time]}}")),
            &[("allowedCapabilities", "[SYS_TIME]")],
            ("", &sc("{capabilities: {add: [SYS_ADMIN]}}")),
            "spec.containers[0].securityContext.capabilities.add[0]",
        ),
        case(
            "seLinux",
            &[("seLinux", selinux)],
            ("", ""),
            &[("seLinux", selinux)],
            ("", &sc("{seLinuxOptions: {type: spc_t}}")),
            "spec.containers[0].securityContext.seLinuxOptions.type",
        ),
        case(
            "runAsUser",
            &[("runAsUser", &users)],
            ("", ""),
            &[("runAsUser", &users)],
            ("", &sc("{runAsUser: 0}")),
            "spec.containers[0].securityContext.runAsUser",
        ),
        case(
            "runAsUser",
            &[("runAsUser", "{rule: MustRunAsNonRoot}")],
            ("", &sc("{runAsUser: 1000}")),
            &[("runAsUser", "{rule: MustRunAsNonRoot}")],
            (&psc("{runAsUser: 0}"), ""),
            "spec.securityContext.runAsUser",
        ),
        case(
            "runAsGroup",
            &[("runAsGroup", &gid)],
            ("", ""),
            &[("runAsGroup", &gid)],
            ("", &sc("{runAsGroup: 0}")),
            "spec.containers[0].securityContext.runAsGroup",
        ),
        case(
            "supplementalGroups",
            &[("supplementalGroups", &groups)],
            ("", ""),
            &[("supplementalGroups", &groups)],
            (&psc("{supplementalGroups: [9]}"), ""),
            "spec.securityContext.supplementalGroups[0]",
        ),
        case(
            "fsGroup",
            &[("fsGroup", &fs)],
            ("", ""),
            &[("fsGroup", &fs)],
            (&psc("{fsGroup: 1}"), ""),
            "spec.securityContext.fsGroup",
        ),
        case(
            "readOnlyRootFilesystem",
            &[("readOnlyRootFilesystem", "true")],
            ("", ""),
            &[("readOnlyRootFilesystem", "true")],
            ("", &sc("{readOnlyRootFilesystem: false}")),
            "spec.containers[0].securityContext.readOnlyRootFilesystem",
        ),
        case(
            "allowPrivilegeEscalation",
            &[("allowPrivilegeEscalation", "false")],
            ("", ""),
            &[("allowPrivilegeEscalation", "false")],
            ("", &sc("{allowPrivilegeEscalation: true}")),
            "spec.containers[0].securityContext.allowPrivilegeEscalation",
        ),
        case(
            "allowedUnsafeSysctls",
            &[("allowedUnsafeSysctls", "[kernel.msgmax]")],
            (
                &psc("{sysctls: [{name: kernel.msgmax, value: '65536'}]}"),
                "",
            ),
            &[],
            (
                &psc("{sysctls: [{name: kernel.msgmax, value: '65536'}]}"),
                "",
            ),
            "spec.securityContext.sysctls[0].name",
        ),
        case(
            "allowedProcMountTypes",
            &[("allowedProcMountTypes", "[Unmasked]")],
            ("", &sc("{procMount: Unmasked}")),
            &[],
            ("", &sc("{procMount: Unmasked}")),
            "spec.containers[0].securityContext.procMount",
        ),
    ];
    for (i, c) in cases.iter().enumerate() {
        let permit: Vec<(&str, &str)> = c.permit.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let deny: Vec<(&str, &str)> = c.deny.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let allow_file = env.manifest(&format!("psp-allow-{i}"), &psp("allow", &permit));
        let deny_file = env.manifest(&format!("psp-deny-{i}"), &psp("deny", &deny));
        let name = format!("case{i}");
        admitted(
            &env,
            allow_file.to_str().unwrap(),
            &name,
            &pod(&name, &c.allowed.0, &c.allowed.1),
        );
        let err = refused(
            &env,
            deny_file.to_str().unwrap(),
            &pod(&name, &c.refused.0, &c.refused.1),
            &[c.field, "PodSecurityPolicy \"deny\""],
        );
        assert!(err.contains(&format!("{}: ", c.field)), "{}: {err}", c.rule);
    }
}

#[test]
fn pod_security_policy_defaults_apply_and_show() {
    let env = PodEnv::new();
    let policy = psp(
        "ids",
        &[
            (
                "runAsUser",
                "{rule: MustRunAs, ranges: [{min: 1000, max: 2000}]}",
            ),
            (
                "supplementalGroups",
                "{rule: MustRunAs, ranges: [{min: 4000, max: 4100}]}",
            ),
            (
                "fsGroup",
                "{rule: MustRunAs, ranges: [{min: 5000, max: 5000}]}",
            ),
            ("defaultAddCapabilities", "[SYS_TIME]"),
            ("requiredDropCapabilities", "[NET_RAW]"),
            ("readOnlyRootFilesystem", "true"),
            ("allowPrivilegeEscalation", "false"),
        ],
    );
    let policy = env.manifest("ids", &policy);
    let yaml = pod(
        "d",
        "  volumes: [{name: e, emptyDir: {}}]\n",
        "    volumeMounts: [{name: e, mountPath: /e}]\n",
    );
    let file = env.manifest("d", &yaml);
    let apply = [
        "apply",
        "-f",
        file.to_str().unwrap(),
        "--policy",
        policy.to_str().unwrap(),
    ];
    assert!(env.ok(&apply).contains("pod/d created"));

    let id = env.sh("d", "c", "id");
    assert!(id.starts_with("uid=1000 gid=0"), "{id}");
    assert!(id.contains("4000") && id.contains("5000"), "{id}");
    // Default set minus NET_RAW (bit 13) plus SYS_TIME (bit 25).
    assert_eq!(status_field(&env, "d", "CapBnd:"), "00000000aa0405fb");
    assert_eq!(status_field(&env, "d", "NoNewPrivs:"), "1");
    let (code, _, err) = env.exec("d", "c", &["touch", "/x"]);
    assert_ne!(code, 0, "the root is writable");
    assert!(err.contains("Read-only file system"), "{err}");
    assert_eq!(env.sh("d", "c", "stat -c %g /e").trim(), "5000");

    let shown = env.ok(&["get", "pod", "d", "-o", "yaml"]);
    for want in [
        "kubernetes.io/psp: ids",
        "runAsUser: 1000",
        "fsGroup: 5000",
        "- 4000",
        "readOnlyRootFilesystem: true",
        "allowPrivilegeEscalation: false",
        "- SYS_TIME",
        "- NET_RAW",
    ] {
        assert!(shown.contains(want), "{want:?} not in:\n{shown}");
    }
    // The same manifest under the same policy is the same pod.
    assert!(env.ok(&apply).contains("pod/d unchanged"));
}

#[test]
fn the_config_file_sets_policy_and_default_capabilities() {
    let env = PodEnv::new();
    env.set_config("policy: baseline\ndefaultCapabilities: [CHOWN, cap_kill]\n")
        .unwrap();
    env.apply(&pod("plain", "", ""));
    // CHOWN is bit 0, KILL bit 5.
    assert_eq!(status_field(&env, "plain", "CapBnd:"), "0000000000000021");
    let hostpid = env.manifest("hostpid", &pod("hostpid", "  hostPID: true\n", ""));
    let out = env.podrt(&["apply", "-f", hostpid.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("spec.hostPID"),
        "{}",
        text(&out.stderr)
    );
    // The flag wins over the file.
    env.ok(&[
        "apply",
        "-f",
        hostpid.to_str().unwrap(),
        "--policy",
        "privileged",
    ]);

    // A policy file named relative to the config file's directory.
    std::fs::write(
        env.dir.join("nr.yaml"),
        psp("nr", &[("runAsUser", "{rule: MustRunAsNonRoot}")]),
    )
    .unwrap();
    env.set_config("policy: nr.yaml\n").unwrap();
    let out = env.podrt(&[
        "apply",
        "-f",
        env.manifest(
            "root",
            &pod("root", "", "    securityContext: {runAsUser: 0}\n"),
        )
        .to_str()
        .unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("PodSecurityPolicy \"nr\"") && err.contains("runAsUser"),
        "{err}"
    );

    // Mistakes in the file name the setting and stop every command.
    env.set_config("polcy: baseline\n").unwrap();
    let out = env.podrt(&["get", "pods"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("polcy") && err.contains(env.config.to_str().unwrap()),
        "{err}"
    );
    env.set_config("defaultCapabilities: [FLY]\n").unwrap();
    let err = text(&env.podrt(&["get", "pods"]).stderr);
    assert!(
        err.contains("defaultCapabilities[0]") && err.contains("FLY"),
        "{err}"
    );
    env.set_config("# podrt test config\n").unwrap();
}

#[test]
fn bad_policies_are_refused_with_the_field() {
    let env = PodEnv::new();
    let file = env.manifest("p", &pod("p", "", ""));
    let f = file.to_str().unwrap();
    let missing = env.dir.join("missing.yaml");
    let out = env.podrt(&["apply", "-f", f, "--policy", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("cannot read policy"),
        "{}",
        text(&out.stderr)
    );
    let bad = [
        ("runAsUser", "{rule: MustRunAs}", "spec.runAsUser.ranges"),
        ("hostPorts", "[{min: 90, max: 80}]", "spec.hostPorts[0]"),
        ("volumes", "[floppy]", "spec.volumes[0]"),
        ("privilegd", "true", "privilegd"),
    ];
    for (key, value, field) in bad {
        let policy = env.manifest(&unique("psp"), &psp("bad", &[(key, value)]));
        let out = env.podrt(&["apply", "-f", f, "--policy", policy.to_str().unwrap()]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains(field) && err.contains(policy.to_str().unwrap()),
            "{field}: {err}"
        );
        env.assert_nothing_left();
    }
}

#[test]
fn policy_check_judges_a_directory_without_creating_anything() {
    let env = PodEnv::new();
    let dir = env.dir.join("manifests");
    std::fs::create_dir_all(dir.join("more")).unwrap();
    std::fs::write(dir.join("a-plain.yaml"), pod("plain", "", "")).unwrap();
    let two = format!(
        "{}---\n{}",
        pod("hostnet", "  hostNetwork: true\n", ""),
        pod("priv", "", "    securityContext: {privileged: true}\n")
    );
    std::fs::write(dir.join("more/b-two.yml"), two).unwrap();
    std::fs::write(dir.join("c-broken.json"), "{\"kind\": ").unwrap();
    std::fs::write(dir.join("notes.txt"), "not a manifest").unwrap();

    let out = env.podrt(&[
        "policy",
        "check",
        "-f",
        dir.to_str().unwrap(),
        "--policy",
        "baseline",
    ]);
    let table = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{table}{}", text(&out.stderr));
    let rows: Vec<&str> = table.lines().collect();
    assert!(
        rows[0].starts_with("FILE") && rows[0].contains("RESULT"),
        "{table}"
    );
    let row = |pod: &str| {
        rows.iter()
            .find(|r| r.split_whitespace().nth(1) == Some(pod))
            .unwrap_or_else(|| panic!("no row for {pod}: {table}"))
            .to_string()
    };
    assert!(row("plain").contains("allowed"), "{table}");
    assert!(
        row("hostnet").contains("refused") && row("hostnet").contains("spec.hostNetwork"),
        "{table}"
    );
    assert!(
        row("priv").contains("spec.containers[0].securityContext.privileged"),
        "{table}"
    );
    assert!(
        table.contains("c-broken.json") && table.contains("error"),
        "{table}"
    );
    assert!(!table.contains("notes.txt"), "{table}");
    assert!(
        table.contains("3 pods checked against baseline: 1 allowed, 2 refused, 1 file unreadable"),
        "{table}"
    );
    assert!(env.pod_dirs().is_empty());
    assert!(env.host.veths().is_empty());

    // Everything allowed: exit status 0.
    let ok = env.podrt(&[
        "policy",
        "check",
        "-f",
        dir.join("a-plain.yaml").to_str().unwrap(),
        "--policy",
        "baseline",
    ]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stdout));
    // Without a policy there is nothing to check against.
    let none = env.podrt(&["policy", "check", "-f", dir.to_str().unwrap()]);
    assert_eq!(none.status.code(), Some(1));
    assert!(
        text(&none.stderr).contains("--policy"),
        "{}",
        text(&none.stderr)
    );
}

#[test]
fn the_example_pod_keeps_to_the_seeds_policy_and_baseline() {
    let env = PodEnv::new();
    let repo = podrt_tests::repo();
    let example = repo.join("examples/pod.yaml");
    let seed_policy = repo.join("examples/policy/permissive.yaml");
    for policy in [seed_policy.to_str().unwrap(), "baseline"] {
        let out = env.podrt(&[
            "policy",
            "check",
            "-f",
            example.to_str().unwrap(),
            "--policy",
            policy,
        ]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        assert!(
            text(&out.stdout).contains("1 allowed, 0 refused"),
            "{}",
            text(&out.stdout)
        );
    }
    // A file holding no Pod is an error on its own, passed over in a directory.
    let psp = seed_policy.to_str().unwrap();
    let out = env.podrt(&["policy", "check", "-f", psp, "--policy", "baseline"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("no Pod found"),
        "{}",
        text(&out.stdout)
    );
    let dir = repo.join("examples/policy");
    let out = env.podrt(&[
        "policy",
        "check",
        "-f",
        dir.to_str().unwrap(),
        "--policy",
        "baseline",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("0 pods checked"),
        "{}",
        text(&out.stdout)
    );
}
