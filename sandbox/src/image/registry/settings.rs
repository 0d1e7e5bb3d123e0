//! Where podrt finds what it needs to talk to a registry: credentials (a
//! Docker-style `config.json`), extra CA certificates (`certs.d/<host>/*.crt`, the
//! layout Docker, containerd and podman read), the registries reached over plain
//! HTTP, and mirrors. The config file's `registries` section and the CLI fill it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The default credentials file, read before `~/.docker/config.json`.
pub const DEFAULT_AUTH_FILE: &str = "/etc/podrt/auth.json";
/// The default directory of per-registry CA certificates.
pub const DEFAULT_CERTS_DIR: &str = "/etc/podrt/certs.d";

/// How to reach registries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistryOptions {
    /// Credentials files, searched in order for the registry's entry. The user's
    /// `--registry-config` alone when given (it must exist); else
    /// [`DEFAULT_AUTH_FILE`] then `~/.docker/config.json`, each where it exists.
    pub auth_files: Vec<PathBuf>,
    /// Whether the first of `auth_files` was named by the user (then a missing
    /// file is an error, not an empty one).
    pub auth_file_required: bool,
    /// `<certs_dir>/<host[:port]>/*.crt` are trusted as CAs for that registry, on
    /// top of the system's.
    pub certs_dir: PathBuf,
    /// Registries (`host[:port]`) spoken to over plain HTTP.
    pub insecure: Vec<String>,
    /// Registry (`docker.io`, `host[:port]`) → mirrors tried in order before it.
    pub mirrors: BTreeMap<String, Vec<String>>,
    /// The pod's `imagePullSecrets`, read from its Secrets: searched before
    /// `auth_files`, as kubelet does.
    #[serde(default)]
    pub pull_secrets: Vec<PullSecret>,
}

/// One of a pod's `imagePullSecrets`: the Docker `config.json` its Secret holds.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullSecret {
    /// `namespace/name`, for errors.
    pub name: String,
    /// The `{"auths": …}` document.
    pub config: Vec<u8>,
}

impl std::fmt::Debug for PullSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PullSecret({:?}, <{} bytes>)",
            self.name,
            self.config.len()
        )
    }
}

impl Default for RegistryOptions {
    fn default() -> Self {
        let mut auth_files = vec![PathBuf::from(DEFAULT_AUTH_FILE)];
        if let Some(home) = std::env::var_os("HOME") {
            auth_files.push(PathBuf::from(home).join(".docker/config.json"));
        }
        RegistryOptions {
            auth_files,
            auth_file_required: false,
            certs_dir: PathBuf::from(DEFAULT_CERTS_DIR),
            insecure: Vec::new(),
            mirrors: BTreeMap::new(),
            pull_secrets: Vec::new(),
        }
    }
}

impl RegistryOptions {
    /// Whether `host` is reached over plain HTTP.
    pub(crate) fn is_insecure(&self, host: &str) -> bool {
        self.insecure.iter().any(|h| h == host)
    }

    /// The places to pull `host`'s images from: its mirrors, then itself.
    pub(crate) fn endpoints(&self, host: &str) -> Vec<String> {
        let mut out: Vec<String> = self.mirrors.get(host).cloned().unwrap_or_default();
        out.push(host.to_string());
        out
    }
}

/// Whether `host` can name a registry: `name[:port]`, the name letters, digits,
/// dots and dashes (or an IPv6 address in brackets).
pub fn check_host(host: &str) -> Result<(), String> {
    let (name, port) = match host.rsplit_once(':') {
        Some((n, p)) if !n.ends_with(']') || host.starts_with('[') => (n, Some(p)),
        _ => (host, None),
    };
    if let Some(p) = port {
        if p.parse::<u16>().map_or(true, |p| p == 0) {
            return Err(format!(
                "{host:?}: the port must be a number from 1 to 65535"
            ));
        }
    }
    let name_ok = if let Some(inner) = name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
        inner.parse::<std::net::Ipv6Addr>().is_ok()
    } else {
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
            && !name.starts_with(['.', '-'])
    };
    if name_ok {
        Ok(())
    } else {
        Err(format!(
            "{host:?} is not a registry host (expected host[:port], e.g. registry.example.com:5000)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirrors_come_before_the_registry_itself() {
        let mut o = RegistryOptions::default();
        o.mirrors
            .insert("docker.io".into(), vec!["m1:5000".into(), "m2".into()]);
        assert_eq!(o.endpoints("docker.io"), ["m1:5000", "m2", "docker.io"]);
        assert_eq!(o.endpoints("quay.io"), ["quay.io"]);
    }

    #[test]
    fn hosts_are_checked() {
        for good in [
            "docker.io",
            "127.0.0.1:5000",
            "localhost",
            "[::1]:5000",
            "a-b.c",
        ] {
            assert!(check_host(good).is_ok(), "{good}");
        }
        for bad in ["", "a b", "host:0", "host:x", "-a", "http://x", "[zz]"] {
            assert!(check_host(bad).is_err(), "{bad}");
        }
    }
}
