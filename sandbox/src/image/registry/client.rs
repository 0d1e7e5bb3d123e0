//! One `oci-client` client for one registry endpoint: plain HTTP for the
//! registries the config calls insecure, else HTTPS trusting the system's CAs plus
//! the endpoint's `certs.d` directory; credentials from the auth files; an image
//! index resolved to this host's platform. Its errors are turned into one line a
//! user can act on.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;
use oci_client::manifest::ImageIndexEntry;
use oci_client::secrets::RegistryAuth;
use oci_client::Client;

use super::auth;
use super::settings::RegistryOptions;
use crate::image::config::host_platform;

/// How long connecting may take, and how long a response may stall.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// A client for one endpoint, with what it needs to pull from it.
pub(super) struct Endpoint {
    /// `host[:port]` as the config and `certs.d` name it.
    pub(crate) host: String,
    /// The client.
    pub(crate) client: Client,
    /// The credentials to present.
    pub(crate) auth: RegistryAuth,
    /// Where they came from (`Secret "ns/name"`, `credentials file …`).
    auth_source: String,
    /// The platforms an image index offered, when none was this host's.
    pub(crate) offered: Arc<Mutex<Vec<String>>>,
    /// Where its extra CA certificates are read from.
    certs_dir: std::path::PathBuf,
}

impl Endpoint {
    /// A client for `host`, to pull `path` (the repository without the host).
    pub(crate) fn new(host: &str, path: &str, opts: &RegistryOptions) -> Result<Endpoint, String> {
        let offered = Arc::new(Mutex::new(Vec::new()));
        let certs_dir = opts.certs_dir.join(host);
        let seen = Arc::clone(&offered);
        let config = ClientConfig {
            protocol: if opts.is_insecure(host) {
                ClientProtocol::Http
            } else {
                ClientProtocol::Https
            },
            extra_root_certificates: ca_certificates(&certs_dir)?,
            platform_resolver: Some(Box::new(move |entries: &[ImageIndexEntry]| {
                resolve_platform(entries, &seen)
            })),
            connect_timeout: Some(CONNECT_TIMEOUT),
            read_timeout: Some(READ_TIMEOUT),
            user_agent: concat!("podrt/", env!("CARGO_PKG_VERSION")),
            ..ClientConfig::default()
        };
        let client = Client::try_from(config)
            .map_err(|e| format!("cannot set up a client for {host}: {}", chain(&e)))?;
        let found = auth::lookup(
            &opts.pull_secrets,
            &opts.auth_files,
            opts.auth_file_required,
            &format!("{host}/{path}"),
        )?;
        let (auth, auth_source) = match found {
            Some((c, source)) => (RegistryAuth::Basic(c.username, c.password), source),
            None => (RegistryAuth::Anonymous, String::new()),
        };
        Ok(Endpoint {
            host: host.to_string(),
            client,
            auth,
            auth_source,
            offered,
            certs_dir,
        })
    }

    /// One line for an error from this endpoint: what failed and what to check.
    pub(crate) fn explain(&self, e: &OciDistributionError) -> String {
        match e {
            OciDistributionError::UnauthorizedError { .. } => match self.auth {
                RegistryAuth::Anonymous => format!(
                    "{} refused the request (HTTP 401): log in, i.e. add credentials for it to \
                     the credentials file (--registry-config)",
                    self.host
                ),
                _ => format!(
                    "{} refused the login (HTTP 401): check the user name and password for it \
                     in the {}",
                    self.host, self.auth_source
                ),
            },
            OciDistributionError::ImageManifestNotFoundError(_) => {
                let offered = self
                    .offered
                    .lock()
                    .map(|o| o.join(", "))
                    .unwrap_or_default();
                let (os, arch) = host_platform();
                format!("the image has no manifest for {os}/{arch} (it has: {offered})")
            }
            OciDistributionError::RegistryError { envelope, .. } => {
                let codes: Vec<String> = envelope
                    .errors
                    .iter()
                    .map(|e| format!("{} ({:?})", e.message, e.code))
                    .collect();
                format!("{} answered: {}", self.host, codes.join("; "))
            }
            OciDistributionError::ServerError { code, message, .. } => {
                format!("{} answered HTTP {code}: {}", self.host, message.trim())
            }
            other => {
                let text = chain(other);
                let hint = if text.contains("wrong version number") {
                    format!(
                        " ({} may speak plain HTTP: list it under registries.insecure in \
                         podrt's config if it does)",
                        self.host
                    )
                } else if text.contains("certificate") {
                    format!(
                        " (to trust the CA that signed its certificate, put the CA in {}/ca.crt)",
                        self.certs_dir.display()
                    )
                } else {
                    String::new()
                };
                format!("{text}{hint}")
            }
        }
    }
}

/// The first index entry for this host's OS and architecture (any variant);
/// records what was offered otherwise, for the error.
fn resolve_platform(entries: &[ImageIndexEntry], offered: &Mutex<Vec<String>>) -> Option<String> {
    let (os, arch) = host_platform();
    let hit = entries.iter().find(|e| {
        e.platform
            .as_ref()
            .is_some_and(|p| p.os.to_string() == os && p.architecture.to_string() == arch)
    });
    if hit.is_none() {
        if let Ok(mut o) = offered.lock() {
            *o = entries
                .iter()
                .map(|e| match &e.platform {
                    Some(p) => format!("{}/{}", p.os, p.architecture),
                    None => "unknown".into(),
                })
                .collect();
        }
    }
    hit.map(|e| e.digest.clone())
}

/// The PEM certificates `*.crt` in `dir` (none if it does not exist).
fn ca_certificates(dir: &Path) -> Result<Vec<Certificate>, String> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("{}: cannot list: {e}", dir.display())),
    };
    let mut paths: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "crt"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            std::fs::read(&p)
                .map(|data| Certificate {
                    encoding: CertificateEncoding::Pem,
                    data,
                })
                .map_err(|e| format!("{}: cannot read: {e}", p.display()))
        })
        .collect()
}

/// An error and its sources, `a: b: c`, without repeating a source a message
/// already includes.
pub(super) fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let m = s.to_string();
        if !out.contains(&m) {
            out.push_str(": ");
            out.push_str(&m);
        }
        cur = s.source();
    }
    out
}
