//! An image is its author's content, not the host's: image layouts built here as
//! an attacker would (layer entries with `..` and absolute paths, symlinks that
//! later entries or layers write through, hard links out of the layer, whiteouts
//! through symlinks, device nodes, setuid files, layout files that are FIFOs or
//! symlinks out of the layout) are imported with `podrt image import` into a
//! private root. Nothing outside the store is written or deleted (the targets are
//! in the test's own directory), a refusal names the entry, and what is stored is
//! harmless: a pod cannot open a device node that came in an image, a setuid file
//! follows `allowPrivilegeEscalation`, and no other host user reaches the store's
//! copies of either.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use podrt_tests::build_static;
use podrt_tests::pods::{busybox_layout, text, PodEnv};

/// An unprivileged host user (nobody) for the checks from outside podrt.
const NOBODY: u32 = 65534;

/// A layer tar written header by header, so that names a careful tar tool would
/// refuse (`..`, absolute paths) can be written too.
#[derive(Default)]
struct Layer(Vec<u8>);

impl Layer {
    #[allow(clippy::too_many_arguments)]
    fn entry(
        mut self,
        name: &str,
        kind: u8,
        mode: u32,
        uid: u32,
        data: &[u8],
        link: &str,
        dev: (u32, u32),
    ) -> Layer {
        assert!(
            name.len() <= 100 && link.len() <= 100,
            "ustar names are at most 100 bytes: {name} -> {link}"
        );
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        octal(&mut h[100..108], mode.into());
        octal(&mut h[108..116], uid.into());
        octal(&mut h[116..124], uid.into());
        octal(&mut h[124..136], data.len() as u64);
        octal(&mut h[136..148], 1_000_000);
        h[156] = kind;
        h[157..157 + link.len()].copy_from_slice(link.as_bytes());
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        octal(&mut h[329..337], dev.0.into());
        octal(&mut h[337..345], dev.1.into());
        h[148..156].fill(b' ');
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        self.0.extend_from_slice(&h);
        self.0.extend_from_slice(data);
        self.0.resize(self.0.len().next_multiple_of(512), 0);
        self
    }

    fn file(self, name: &str, data: &[u8]) -> Layer {
        self.entry(name, b'0', 0o644, 0, data, "", (0, 0))
    }

    fn exe(self, name: &str, data: &[u8], mode: u32) -> Layer {
        self.entry(name, b'0', mode, 0, data, "", (0, 0))
    }

    fn dir(self, name: &str, mode: u32) -> Layer {
        self.entry(name, b'5', mode, 0, b"", "", (0, 0))
    }

    fn symlink(self, name: &str, target: &str) -> Layer {
        self.entry(name, b'2', 0o777, 0, b"", target, (0, 0))
    }

    fn hardlink(self, name: &str, target: &str) -> Layer {
        self.entry(name, b'1', 0o644, 0, b"", target, (0, 0))
    }

    fn char_dev(self, name: &str, major: u32, minor: u32) -> Layer {
        self.entry(name, b'3', 0o666, 0, b"", "", (major, minor))
    }

    fn block_dev(self, name: &str, major: u32, minor: u32) -> Layer {
        self.entry(name, b'4', 0o666, 0, b"", "", (major, minor))
    }

    fn tar(mut self) -> Vec<u8> {
        self.0.extend_from_slice(&[0; 1024]);
        self.0
    }
}

fn octal(field: &mut [u8], v: u64) {
    let s = format!("{v:0w$o}\0", w = field.len() - 1);
    field.copy_from_slice(s.as_bytes());
}

fn sha256(bytes: &[u8]) -> String {
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run sha256sum");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(bytes)
        .expect("feed sha256sum");
    let out = child.wait_with_output().expect("sha256sum");
    format!("sha256:{}", &text(&out.stdout)[..64])
}

fn json_file(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&fs::read(path).expect("read JSON")).expect("JSON")
}

fn blob(layout: &Path, digest: &str) -> PathBuf {
    layout.join("blobs/sha256").join(&digest["sha256:".len()..])
}

/// Write `bytes` as a blob of `layout`; its descriptor.
fn add_blob(layout: &Path, media_type: &str, bytes: &[u8]) -> serde_json::Value {
    let digest = sha256(bytes);
    fs::write(blob(layout, &digest), bytes).expect("write blob");
    serde_json::json!({"mediaType": media_type, "digest": digest, "size": bytes.len()})
}

/// An OCI image layout at `dir`: busybox's layer (when `busybox`), then `layers`
/// as plain tars. Returns the descriptors of the attack layers' blobs.
fn oci_layout(dir: &Path, busybox: bool, layers: &[Vec<u8>]) -> Vec<serde_json::Value> {
    fs::create_dir_all(dir.join("blobs/sha256")).expect("create layout");
    let bb = busybox_layout();
    let bb_manifest = json_file(&blob(
        &bb,
        json_file(&bb.join("index.json"))["manifests"][0]["digest"]
            .as_str()
            .expect("digest"),
    ));
    let bb_config = json_file(&blob(
        &bb,
        bb_manifest["config"]["digest"].as_str().expect("digest"),
    ));
    let (mut descs, mut diff_ids) = (Vec::new(), Vec::new());
    if busybox {
        let d = &bb_manifest["layers"][0];
        let digest = d["digest"].as_str().expect("digest");
        fs::copy(blob(&bb, digest), blob(dir, digest)).expect("copy busybox's layer");
        descs.push(d.clone());
        diff_ids.push(bb_config["rootfs"]["diff_ids"][0].clone());
    }
    let mut ours = Vec::new();
    for l in layers {
        let d = add_blob(dir, "application/vnd.oci.image.layer.v1.tar", l);
        diff_ids.push(d["digest"].clone());
        descs.push(d.clone());
        ours.push(d);
    }
    let config = serde_json::json!({
        "architecture": bb_config["architecture"],
        "os": "linux",
        "config": {"Cmd": ["sh"], "Env": ["PATH=/bin:/x"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    });
    let config = add_blob(
        dir,
        "application/vnd.oci.image.config.v1+json",
        config.to_string().as_bytes(),
    );
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config,
        "layers": descs,
    });
    let manifest = add_blob(
        dir,
        "application/vnd.oci.image.manifest.v1+json",
        manifest.to_string().as_bytes(),
    );
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [manifest]});
    fs::write(dir.join("index.json"), index.to_string()).expect("write index.json");
    fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).expect("oci-layout");
    ours
}

/// A directory of the test's own that the layers aim at: `victim` and `keep` in it.
struct Target {
    dir: PathBuf,
}

impl Target {
    fn new(env: &PodEnv) -> Target {
        let dir = env.dir.join("outside");
        fs::create_dir_all(&dir).expect("create target dir");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod");
        fs::write(dir.join("victim"), "original\n").expect("write victim");
        fs::write(dir.join("keep"), "keep me\n").expect("write keep");
        Target { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    /// Fail unless the directory is exactly as made: its two files, their content
    /// and single links, its mode, and no overlay xattr.
    fn assert_untouched(&self, after: &str) {
        let mut names: Vec<String> = fs::read_dir(&self.dir)
            .unwrap_or_else(|e| panic!("{after}: the target dir is gone: {e}"))
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["keep", "victim"], "{after}: the target dir changed");
        for (name, content) in [("victim", "original\n"), ("keep", "keep me\n")] {
            let p = self.dir.join(name);
            let m = fs::symlink_metadata(&p).expect("stat");
            assert!(
                m.is_file() && m.nlink() == 1,
                "{after}: {} is no longer a file of one link: {m:?}",
                p.display()
            );
            assert_eq!(
                fs::read_to_string(&p).expect("read"),
                content,
                "{after}: {} was written",
                p.display()
            );
        }
        let mode = fs::metadata(&self.dir).expect("stat").mode() & 0o7777;
        assert_eq!(mode, 0o755, "{after}: the target dir's mode changed");
        assert_eq!(
            opaque_xattr(&self.dir),
            None,
            "{after}: an opaque whiteout xattr landed on the target dir"
        );
    }
}

fn opaque_xattr(dir: &Path) -> Option<Vec<u8>> {
    let p = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).expect("path");
    let mut buf = [0u8; 16];
    // SAFETY: NUL-terminated path and name, and a buffer whose length is passed with it.
    let n = unsafe {
        libc::lgetxattr(
            p.as_ptr(),
            c"trusted.overlay.opaque".as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    (n >= 0).then(|| buf[..n as usize].to_vec())
}

/// `podrt image import PATH --name NAME`, killed (by its PID) after 30 s: an import
/// that hangs is a failure too.
fn import(env: &PodEnv, path: &Path, name: &str) -> Output {
    let mut child = env
        .cmd()
        .args(["image", "import"])
        .arg(path)
        .args(["--name", name])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run podrt image import");
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let out = child.wait_with_output().expect("wait");
            panic!(
                "podrt image import {} hung for 30 s (killed): {}",
                path.display(),
                text(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("collect output")
}

/// The store holds busybox and nothing else: no other image, layer or staging file.
fn assert_store_clean(env: &PodEnv, after: &str) {
    let images = env.ok(&["image", "ls"]);
    assert!(
        images.lines().count() == 2 && images.contains("busybox"),
        "{after}: images other than busybox: {images}"
    );
    let count = |sub: &str| {
        fs::read_dir(env.root.join("images").join(sub))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    assert_eq!(count("layers"), 1, "{after}: layers other than busybox's");
    assert_eq!(count("tmp"), 0, "{after}: staging files left");
}

/// Import a layout of `layer` and require a refusal naming `entry` and `reason`.
fn refused(env: &PodEnv, target: &Target, label: &str, layer: Vec<u8>, entry: &str, reason: &str) {
    let dir = env.dir.join(format!("layout-{label}"));
    oci_layout(&dir, false, &[layer]);
    let out = import(env, &dir, label);
    let err = text(&out.stderr);
    eprintln!("{label}: {err}");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{label}: the import was not refused: {err}"
    );
    assert!(
        err.contains(&format!("entry {entry:?}")) && err.contains(reason),
        "{label}: the error names entry {entry:?} and says {reason:?}: {err}"
    );
    target.assert_untouched(label);
    assert_store_clean(env, label);
}

#[test]
fn layer_entries_that_would_leave_the_layer_are_refused_naming_them() {
    let env = PodEnv::new();
    let t = Target::new(&env);
    // The staging dir is <root>/images/tmp/<uuid>/layer-<hex>: five `..` reach the
    // test's directory.
    let up = "../../../../../outside";
    let cases: Vec<(&str, Layer, String, &str)> = vec![
        (
            "dotdot",
            Layer::default().file("../../x", b"pwned"),
            "../../x".into(),
            "`..`",
        ),
        (
            "dotdot-to-target",
            Layer::default().file(&format!("{up}/pwned"), b"pwned"),
            format!("{up}/pwned"),
            "`..`",
        ),
        (
            "absolute",
            Layer::default().file(&t.path("pwned"), b"pwned"),
            t.path("pwned"),
            "absolute path",
        ),
        (
            "symlink-parent",
            Layer::default()
                .symlink("evil", &t.path(""))
                .file("evil/victim", b"pwned"),
            "evil/victim".into(),
            "symlink evil",
        ),
        (
            "symlink-parent-deep",
            Layer::default()
                .dir("a/", 0o755)
                .symlink("a/evil", up)
                .file("a/evil/new/pwned", b"pwned"),
            "a/evil/new/pwned".into(),
            "symlink a/evil",
        ),
        (
            "hardlink-absolute",
            Layer::default().hardlink("hl", &t.path("victim")),
            "hl".into(),
            "absolute path",
        ),
        (
            "hardlink-dotdot",
            Layer::default().hardlink("hl", &format!("{up}/victim")),
            "hl".into(),
            "`..`",
        ),
        (
            "hardlink-through-symlink",
            Layer::default()
                .symlink("evil", &t.path(""))
                .hardlink("hl", "evil/victim"),
            "hl".into(),
            "symlink evil",
        ),
        (
            "whiteout-through-symlink",
            Layer::default()
                .symlink("evil", &t.path(""))
                .file("evil/.wh.victim", b""),
            "evil/.wh.victim".into(),
            "symlink evil",
        ),
        (
            "opaque-through-symlink",
            Layer::default()
                .symlink("evil", &t.path(""))
                .file("evil/.wh..wh..opq", b""),
            "evil/.wh..wh..opq".into(),
            "symlink evil",
        ),
        (
            "whiteout-of-dotdot",
            Layer::default().file("keep", b"x").file(".wh...", b""),
            ".wh...".into(),
            "must name a file",
        ),
        (
            "whiteout-of-dot",
            Layer::default()
                .dir("sub/", 0o755)
                .file("sub/keep", b"x")
                .file("sub/.wh..", b""),
            "sub/.wh..".into(),
            "must name a file",
        ),
    ];
    for (label, layer, entry, reason) in cases {
        refused(&env, &t, label, layer.tar(), &entry, reason);
    }
}

/// Layout files are read inside the layout: a blob that is a FIFO (which would hang
/// the import with the store locked) or a symlink out of the layout is refused.
#[test]
fn layout_files_that_are_fifos_or_lead_out_of_the_layout_are_refused() {
    let env = PodEnv::new();
    let t = Target::new(&env);
    let layer = Layer::default().file("hello", b"hi").tar();

    let fifo = env.dir.join("layout-fifo");
    let blobs = oci_layout(&fifo, false, std::slice::from_ref(&layer));
    let blob_path = blob(&fifo, blobs[0]["digest"].as_str().expect("digest"));
    fs::remove_file(&blob_path).expect("remove blob");
    nix::unistd::mkfifo(&blob_path, nix::sys::stat::Mode::from_bits_truncate(0o644))
        .expect("mkfifo");
    let out = import(&env, &fifo, "fifo");
    let err = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a FIFO blob was imported: {err}"
    );
    assert!(
        err.contains("not a regular file"),
        "the error says the blob is no regular file: {err}"
    );
    assert_store_clean(&env, "a FIFO blob");

    // The blob's right bytes, but outside the layout: it is not followed there.
    let out_link = env.dir.join("layout-symlink");
    let blobs = oci_layout(&out_link, false, &[layer]);
    let blob_path = blob(&out_link, blobs[0]["digest"].as_str().expect("digest"));
    let outside_copy = env.dir.join("outside-blob");
    fs::rename(&blob_path, &outside_copy).expect("move blob out");
    std::os::unix::fs::symlink(&outside_copy, &blob_path).expect("symlink blob");
    let out = import(&env, &out_link, "symlink");
    let err = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a blob symlinked out of the layout was read: {err}"
    );
    assert!(err.contains("missing"), "{err}");
    assert_store_clean(&env, "a blob symlinked out of the layout");
    t.assert_untouched("layout files");
}

/// What a layer may legitimately do with a symlink, it does inside the store: a
/// later layer writing below a symlink of an earlier one gets a directory of its
/// own, an entry replacing a symlink replaces it, a hard link to a symlink links
/// the symlink. The pod then sees those, and the host target is untouched.
#[test]
fn symlinks_and_hard_links_are_stored_without_being_followed() {
    let env = PodEnv::new();
    let t = Target::new(&env);
    let first = Layer::default()
        .symlink("evil", &t.path(""))
        .symlink("r", &t.path("victim"))
        .file("r", b"replaced\n")
        .symlink("d", &t.path(""))
        .dir("d/", 0o777)
        .symlink("s", &t.path("victim"))
        .hardlink("h", "s")
        .tar();
    let second = Layer::default()
        .file("evil/pwned", b"in the layer\n")
        .file("evil/.wh.victim", b"")
        .tar();
    let dir = env.dir.join("layout-links");
    oci_layout(&dir, true, &[first, second]);
    let out = import(&env, &dir, "links");
    assert!(out.status.success(), "{}", text(&out.stderr));
    t.assert_untouched("the import");

    env.apply(
        r#"apiVersion: v1
kind: Pod
metadata: {name: links}
spec:
  containers:
  - name: c
    image: links
    command: [sleep, "3600"]
"#,
    );
    let victim = t.path("victim");
    let seen = env.sh(
        "links",
        "c",
        &format!(
            "cat /evil/pwned /r; test -d /evil && ! test -L /evil && echo evil-is-a-dir; \
             test -d /d && ! test -L /d && echo d-is-a-dir; readlink /h; \
             cat /h 2>/dev/null || echo h-leads-nowhere; test -e {victim} || echo no-victim"
        ),
    );
    assert_eq!(
        seen,
        format!(
            "in the layer\nreplaced\nevil-is-a-dir\nd-is-a-dir\n{victim}\nh-leads-nowhere\nno-victim"
        ),
        "what the pod sees"
    );
    env.sh("links", "c", "echo more > /evil/pwned; echo more > /r");
    t.assert_untouched("the pod");
}

/// tests/fixtures/ids built statically into the test's directory; its bytes.
fn build_ids(env: &PodEnv) -> Vec<u8> {
    let dir = build_static("tests/fixtures/ids/ids.c", &env.dir.join("ids"), "ids");
    fs::read(dir.join("ids")).expect("read ids")
}

/// The single directory under `<root>/images/layers` holding `rel`.
fn stored(env: &PodEnv, rel: &str) -> PathBuf {
    fs::read_dir(env.root.join("images/layers"))
        .expect("layers")
        .map(|e| e.expect("entry").path().join(rel))
        .find(|p| fs::symlink_metadata(p).is_ok())
        .unwrap_or_else(|| panic!("no layer holds {rel}"))
}

/// Run `cmd` as the host user nobody; its stdout, or the spawn error.
fn as_nobody(cmd: &mut Command) -> Result<String, std::io::Error> {
    cmd.uid(NOBODY)
        .gid(NOBODY)
        .output()
        .map(|o| text(&o.stdout).trim().to_string())
}

/// Device nodes and setuid files come through an import as they are (as Docker
/// and containerd keep them), and are harmless in a pod: the container's device
/// cgroup refuses the nodes, and a setuid-root file gives nothing under podrt's
/// default no_new_privs and no more than the default capabilities without it.
#[test]
fn device_nodes_and_setuid_files_from_an_image_are_harmless() {
    let env = PodEnv::new();
    let devices = fs::read_to_string("/proc/devices").expect("/proc/devices");
    assert!(
        devices.lines().any(|l| l.trim() == "10 misc"),
        "this host has no misc major 10, so 10:237 probes nothing:\n{devices}"
    );
    let ids = build_ids(&env);
    let layer = Layer::default()
        .dir("x/", 0o755)
        .char_dev("x/loopctl", 10, 237)
        .char_dev("x/null", 1, 3)
        .block_dev("x/blk", 7, 0)
        .exe("x/suid-ids", &ids, 0o4755)
        .exe("x/ids", &ids, 0o755)
        .tar();
    let dir = env.dir.join("layout-devices");
    oci_layout(&dir, true, &[layer]);
    let out = import(&env, &dir, "devices");
    assert!(out.status.success(), "{}", text(&out.stderr));

    // The nodes are real: host root opens the stored 10:237 (the host has no
    // device cgroup), so a refusal in the pod is the pod's doing.
    let loopctl = stored(&env, "x/loopctl");
    let m = fs::symlink_metadata(&loopctl).expect("stat");
    assert!(m.file_type().is_char_device() && m.rdev() == libc::makedev(10, 237));
    fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&loopctl)
        .unwrap_or_else(|e| panic!("host root cannot open {}: {e}", loopctl.display()));
    let suid = stored(&env, "x/suid-ids");
    assert_eq!(
        fs::metadata(&suid).expect("stat").mode() & 0o7777,
        0o4755,
        "the setuid bit is kept"
    );

    env.apply(
        r#"apiVersion: v1
kind: Pod
metadata: {name: devices}
spec:
  containers:
  - name: root
    image: devices
    command: [sleep, "3600"]
  - name: user
    image: devices
    command: [sleep, "3600"]
    securityContext: {runAsUser: 1000}
  - name: escalate
    image: devices
    command: [sleep, "3600"]
    securityContext: {runAsUser: 1000, allowPrivilegeEscalation: true}
"#,
    );
    let root = env.sh(
        "devices",
        "root",
        "/x/ids /x/loopctl; /x/ids /x/blk; /x/ids /x/null; grep ' / / ' /proc/self/mountinfo",
    );
    eprintln!("root container:\n{root}");
    let lines: Vec<&str> = root.lines().collect();
    assert!(
        lines[0].ends_with("open=Operation not permitted"),
        "the image's 10:237 node opened in a default pod: {root}"
    );
    assert!(
        lines[1].ends_with("open=Operation not permitted"),
        "the image's block node opened in a default pod: {root}"
    );
    // 1:3 is on the default allow list and works: the device cgroup, not a nodev
    // rootfs, is what refuses the others.
    assert!(lines[2].ends_with("open=ok"), "{root}");

    // podrt's default (stricter than kubelet's): no_new_privs unless the container
    // allows escalation, so the setuid bit gives nothing.
    let user = env.sh("devices", "user", "/x/suid-ids /x/loopctl");
    assert!(
        user.starts_with("uid=1000 euid=1000 capeff=0000000000000000")
            && user.ends_with("open=Operation not permitted"),
        "a setuid-root file run by uid 1000 in a default container: {user}"
    );
    // allowPrivilegeEscalation: true (Kubernetes' own default): setuid works, within
    // the default capabilities, and the device cgroup still refuses the node.
    let up = env.sh("devices", "escalate", "/x/suid-ids /x/loopctl");
    assert!(
        up.starts_with("uid=1000 euid=0 capeff=00000000a80425fb")
            && up.ends_with("open=Operation not permitted"),
        "a setuid-root file run by uid 1000 allowed to escalate: {up}"
    );
}

/// The store's copies of an image's setuid files and device nodes are out of
/// every other host user's reach: the store is root's alone.
#[test]
fn other_host_users_cannot_use_the_stores_setuid_files_or_device_nodes() {
    let env = PodEnv::new();
    let ids = build_ids(&env);
    let layer = Layer::default()
        .dir("x/", 0o755)
        .char_dev("x/loopctl", 10, 237)
        .exe("x/suid-ids", &ids, 0o4755)
        .tar();
    let dir = env.dir.join("layout-store");
    oci_layout(&dir, true, &[layer]);
    let out = import(&env, &dir, "store");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let loopctl = stored(&env, "x/loopctl");
    let suid = stored(&env, "x/suid-ids");
    let host_ids = env.dir.join("ids/ids");
    match as_nobody(Command::new(&host_ids).arg(&loopctl)) {
        Ok(o) => assert!(
            o.contains("uid=65534") && !o.contains("open=ok"),
            "host user nobody opened the image's 10:237 node in the store: {o}"
        ),
        Err(e) => panic!("cannot run {} as nobody: {e}", host_ids.display()),
    }
    match as_nobody(&mut Command::new(&suid)) {
        Ok(o) => assert!(
            !o.contains("euid=0"),
            "host user nobody became root through the image's setuid file in the store: {o}"
        ),
        Err(e) => assert_eq!(
            e.raw_os_error(),
            Some(libc::EACCES),
            "running {} as nobody: {e}",
            suid.display()
        ),
    }
}
