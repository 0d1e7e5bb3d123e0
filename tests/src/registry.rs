//! A real registry for pull tests: Debian's `docker-registry` (the reference
//! registry, distribution 2.8) on 127.0.0.1:5000 inside the test's own network
//! namespace, plain HTTP or TLS with a CA the test makes (openssl) and htpasswd
//! users; images are pushed into it with `skopeo`. Stopped (by its PID) and its
//! files removed when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::pods::{busybox_layout, text, PodEnv};

/// The registry's address inside the test host.
pub const ADDR: &str = "127.0.0.1:5000";

/// How the registry is set up.
#[derive(Debug, Clone, Default)]
pub struct Setup {
    /// Serve TLS with a certificate from a CA made for the test.
    pub tls: bool,
    /// Require this user and password (htpasswd, Basic auth).
    pub user: Option<(String, String)>,
}

/// A running registry.
pub struct Registry {
    /// Its directory: config, storage, certificates, log.
    pub dir: PathBuf,
    /// The CA certificate clients must trust (TLS only).
    pub ca: Option<PathBuf>,
    setup: Setup,
    child: Option<Child>,
    netns: std::fs::File,
}

impl Registry {
    /// Start one for `env`'s test host, and wait until it listens.
    pub fn start(env: &PodEnv, setup: Setup) -> Registry {
        for tool in ["docker-registry", "skopeo", "openssl", "htpasswd"] {
            assert!(
                Command::new("sh")
                    .args(["-c", &format!("command -v {tool}")])
                    .stdout(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success()),
                "{tool} is not installed: the registry tests need docker-registry, skopeo, \
                 openssl and apache2-utils (scripts/apt-packages-test.txt)"
            );
        }
        let dir = env.dir.join("registry");
        std::fs::create_dir_all(dir.join("data")).expect("create registry dir");
        let mut config = format!(
            "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\n\
             storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
             http:\n  addr: {ADDR}\n",
            dir.join("data").display()
        );
        let mut ca = None;
        if setup.tls {
            make_certificates(&dir);
            config.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                dir.join("server.crt").display(),
                dir.join("server.key").display()
            ));
            ca = Some(dir.join("ca.crt"));
        }
        if let Some((user, pass)) = &setup.user {
            let out = Command::new("htpasswd")
                .args(["-Bbn", user, pass])
                .output()
                .expect("run htpasswd");
            assert!(out.status.success(), "htpasswd: {}", text(&out.stderr));
            std::fs::write(dir.join("htpasswd"), &out.stdout).expect("write htpasswd");
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: podrt-test\n    path: {}\n",
                dir.join("htpasswd").display()
            ));
        }
        std::fs::write(dir.join("config.yml"), config).expect("write registry config");
        let mut reg = Registry {
            dir,
            ca,
            setup,
            child: None,
            netns: std::fs::File::open(&env.host.pin).expect("open the test host's netns"),
        };
        reg.run();
        reg
    }

    /// Start (again) the registry process and wait for it to listen.
    pub fn run(&mut self) {
        let before = self.log().matches("listening on").count();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("open registry log");
        let mut cmd = Command::new("docker-registry");
        cmd.arg("serve")
            .arg(self.dir.join("config.yml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log);
        self.enter(&mut cmd);
        self.child = Some(cmd.spawn().expect("start docker-registry"));
        let deadline = Instant::now() + Duration::from_secs(20);
        // The registry logs "listening on" once its socket is bound.
        while self.log().matches("listening on").count() <= before {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!("docker-registry exited ({status}): {}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "docker-registry did not start: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stop the registry process (its storage stays).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Put `cmd` in the test host's network namespace.
    fn enter(&self, cmd: &mut Command) {
        crate::test_host::enter_netns(&self.netns, cmd);
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("registry.log")
    }

    /// Everything the registry logged, access log included.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// How many requests the access log shows for paths containing `part`.
    pub fn requests(&self, method: &str, part: &str) -> usize {
        self.log()
            .lines()
            .filter(|l| l.contains(&format!("\"{method} ")) && l.contains(part))
            .count()
    }

    /// Push the vendored busybox as `repo:tag` with skopeo; extra skopeo flags
    /// (e.g. `--dest-compress-format zstd`) go before the arguments.
    pub fn push_busybox(&self, repo_tag: &str, extra: &[&str]) {
        self.push(
            &format!("oci:{}", busybox_layout().display()),
            repo_tag,
            extra,
        );
    }

    /// Push the vendored busybox as `repo:tag` with zstd layers: skopeo keeps a
    /// gzip layer as it is, so it is decompressed into a layout, recompressed
    /// into another, and that one pushed.
    pub fn push_busybox_zstd(&self, repo_tag: &str) {
        let plain = self.dir.join("plain-layout");
        let zstd = self.dir.join("zstd-layout");
        for (args, what) in [
            (
                vec![
                    "--dest-decompress".to_string(),
                    format!("oci:{}", busybox_layout().display()),
                    format!("oci:{}:p", plain.display()),
                ],
                "decompress",
            ),
            (
                vec![
                    "--dest-compress".to_string(),
                    "--dest-compress-format".into(),
                    "zstd".into(),
                    format!("oci:{}:p", plain.display()),
                    format!("oci:{}:z", zstd.display()),
                ],
                "recompress with zstd",
            ),
        ] {
            let out = Command::new("skopeo")
                .arg("copy")
                .args(&args)
                .output()
                .expect("run skopeo copy");
            assert!(out.status.success(), "skopeo {what}: {}", text(&out.stderr));
        }
        self.push(&format!("oci:{}:z", zstd.display()), repo_tag, &[]);
    }

    /// Push, as `repo:tag`, an image index with one manifest per architecture of
    /// `arches` (Linux): each the vendored busybox with its config's
    /// `architecture` set (so each has its own config digest); returns
    /// architecture → config digest (the image id a pull should get).
    pub fn push_index(&self, repo_tag: &str, arches: &[&str]) -> Vec<(String, String)> {
        let src = busybox_layout();
        let dir = self.dir.join(format!("index-{}", arches.join("-")));
        let blobs = dir.join("blobs/sha256");
        std::fs::create_dir_all(&blobs).expect("create layout");
        for e in std::fs::read_dir(src.join("blobs/sha256"))
            .expect("list blobs")
            .flatten()
        {
            std::fs::copy(e.path(), blobs.join(e.file_name())).expect("copy blob");
        }
        let read = |digest: &str| -> serde_json::Value {
            let path = blobs.join(digest.trim_start_matches("sha256:"));
            serde_json::from_slice(&std::fs::read(path).expect("read blob")).expect("json blob")
        };
        let top: serde_json::Value =
            serde_json::from_slice(&std::fs::read(src.join("index.json")).expect("read index"))
                .expect("json index");
        let manifest = read(top["manifests"][0]["digest"].as_str().expect("a manifest"));
        let config = read(manifest["config"]["digest"].as_str().expect("a config"));
        let write = |v: &serde_json::Value| -> (String, usize) {
            let bytes = serde_json::to_vec(v).expect("serialise");
            let hex = hex_sha256(&bytes);
            std::fs::write(blobs.join(&hex), &bytes).expect("write blob");
            (format!("sha256:{hex}"), bytes.len())
        };
        let mut entries = Vec::new();
        let mut ids = Vec::new();
        for arch in arches {
            let mut c = config.clone();
            c["architecture"] = (*arch).into();
            let (config_digest, config_size) = write(&c);
            let mut m = manifest.clone();
            m["config"]["digest"] = config_digest.clone().into();
            m["config"]["size"] = config_size.into();
            let (digest, size) = write(&m);
            entries.push(serde_json::json!({
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": digest, "size": size,
                "platform": {"architecture": arch, "os": "linux"}
            }));
            ids.push((arch.to_string(), config_digest));
        }
        let (index_digest, index_size) = write(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": entries
        }));
        let layout_index = serde_json::json!({
            "schemaVersion": 2,
            "manifests": [{
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "digest": index_digest, "size": index_size,
                "annotations": {"org.opencontainers.image.ref.name": "multi"}
            }]
        });
        std::fs::write(dir.join("index.json"), layout_index.to_string()).expect("write index");
        std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#)
            .expect("write oci-layout");
        self.push(
            &format!("oci:{}:multi", dir.display()),
            repo_tag,
            &["--all"],
        );
        ids
    }

    /// Push `source` (a skopeo transport:path) as `repo:tag`.
    pub fn push(&self, source: &str, repo_tag: &str, extra: &[&str]) {
        let mut cmd = Command::new("skopeo");
        cmd.arg("copy").args(self.dest_flags("dest")).args(extra);
        cmd.arg(source).arg(format!("docker://{ADDR}/{repo_tag}"));
        self.enter(&mut cmd);
        let out = cmd.output().expect("run skopeo copy");
        assert!(
            out.status.success(),
            "skopeo copy to the test registry failed: {}",
            text(&out.stderr)
        );
    }

    /// The manifest digest of `repo:tag`, as skopeo reads it.
    pub fn digest(&self, repo_tag: &str) -> String {
        let mut cmd = Command::new("skopeo");
        cmd.arg("inspect").args(self.dest_flags("src"));
        cmd.args(["--format", "{{.Digest}}"])
            .arg(format!("docker://{ADDR}/{repo_tag}"));
        self.enter(&mut cmd);
        let out = cmd.output().expect("run skopeo inspect");
        assert!(
            out.status.success(),
            "skopeo inspect: {}",
            text(&out.stderr)
        );
        text(&out.stdout).trim().to_string()
    }

    /// skopeo's TLS and credential flags for `side` (`src`/`dest`; `inspect`
    /// takes them without a prefix).
    fn dest_flags(&self, side: &str) -> Vec<String> {
        let p = if side == "src" {
            String::new()
        } else {
            format!("{side}-")
        };
        let mut f = Vec::new();
        match &self.ca {
            Some(ca) => f.push(format!(
                "--{p}cert-dir={}",
                ca.parent()
                    .unwrap_or(Path::new("/"))
                    .join("client")
                    .display()
            )),
            None => f.push(format!("--{p}tls-verify=false")),
        }
        if let Some((u, pw)) = &self.setup.user {
            f.push(format!("--{p}creds={u}:{pw}"));
        }
        f
    }

    /// The registry's stored blob file for `digest` (`sha256:…`).
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.dir
            .join("data/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A CA and a server certificate for 127.0.0.1 signed by it, in `dir`; the CA
/// also goes into `dir/client/ca.crt` for skopeo's `--cert-dir`.
fn make_certificates(dir: &Path) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("run openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            text(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=podrt test CA",
    ]);
    run(&ca);
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend([
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    run(&csr);
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").expect("write san.ext");
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "san.ext",
    ]);
    std::fs::create_dir_all(dir.join("client")).expect("create client cert dir");
    std::fs::copy(dir.join("ca.crt"), dir.join("client/ca.crt")).expect("copy CA");
}

/// A TCP proxy in the test host from `127.0.0.1:listen` to the registry that
/// closes each connection once `cut_after` bytes of the registry's answers have
/// passed: a registry that hangs up half-way through a blob. Stops when dropped.
pub struct CuttingProxy {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl CuttingProxy {
    /// Start it in `env`'s test host.
    pub fn start(env: &PodEnv, listen: u16, cut_after: usize) -> CuttingProxy {
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let netns = std::fs::File::open(&env.host.pin).expect("open the test host's netns");
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            nix::sched::setns(&netns, nix::sched::CloneFlags::CLONE_NEWNET)
                .expect("enter the test host's netns");
            let listener =
                std::net::TcpListener::bind(("127.0.0.1", listen)).expect("bind the proxy");
            listener
                .set_nonblocking(true)
                .expect("nonblocking listener");
            let _ = ready_tx.send(());
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        // Threads spawned here are in this thread's netns too.
                        std::thread::spawn(move || relay(client, cut_after));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the proxy did not start");
        CuttingProxy {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for CuttingProxy {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Copy one connection both ways; the answers only up to `cut_after` bytes.
fn relay(client: std::net::TcpStream, cut_after: usize) {
    use std::io::{Read, Write};
    let _ = client.set_nonblocking(false);
    let Ok(upstream) = std::net::TcpStream::connect(ADDR) else {
        return;
    };
    let (Ok(mut c_read), Ok(mut u_write)) = (client.try_clone(), upstream.try_clone()) else {
        return;
    };
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut c_read, &mut u_write);
    });
    let (mut u_read, mut c_write) = (upstream, client);
    let mut passed = 0;
    let mut buf = [0u8; 16 * 1024];
    while passed < cut_after {
        let n = match u_read.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n.min(cut_after - passed),
        };
        if c_write.write_all(&buf[..n]).is_err() {
            break;
        }
        passed += n;
    }
    let _ = c_write.shutdown(std::net::Shutdown::Both);
    let _ = u_read.shutdown(std::net::Shutdown::Both);
}

/// Lower-case hex sha256 of `bytes`.
fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A Docker `config.json` giving `user:pass` for the registry.
pub fn auth_json(user: &str, pass: &str) -> String {
    let auth = base64(format!("{user}:{pass}").as_bytes());
    format!("{{\"auths\":{{\"{ADDR}\":{{\"auth\":\"{auth}\"}}}}}}")
}

/// Standard base64 with padding (by hand: it keeps the tests' dependencies small).
fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(super::base64(b"alice:pw"), "YWxpY2U6cHc=");
        assert_eq!(super::base64(b"ab"), "YWI=");
        assert_eq!(super::base64(b"abc"), "YWJj");
    }
}
