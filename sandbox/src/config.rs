//! podrt's config file (`/etc/podrt/config.yaml`, or `--config`): the settings
//! an installation wants for every pod without repeating flags, namely the
//! admission policy, the default capability set, the seccomp profile
//! directory, the user-namespace id ranges and the node's own labels. A flag given on the command line wins over the file. The file
//! is YAML (or JSON); an unknown key is an error naming it, so a typo never
//! silently weakens the policy.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::image::registry::{check_host, RegistryOptions};
use crate::manifest::pull_policy::PullPolicy;
use crate::userns::UsernsOptions;

/// Where podrt looks when no `--config` is given (a missing file there is fine).
pub const DEFAULT_PATH: &str = "/etc/podrt/config.yaml";

/// The file's settings; each is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// The policy new pods are admitted under: `privileged`, `baseline`,
    /// `restricted`, or a PodSecurityPolicy file (relative to the config's directory).
    pub policy: Option<String>,
    /// The capabilities a container that is not privileged starts from
    /// (before its `add`/`drop`); the 14 of containerd and CRI-O when unset.
    pub default_capabilities: Option<Vec<String>>,
    /// Where `seccompProfile: Localhost` profiles are.
    pub seccomp_profile_root: Option<PathBuf>,
    /// Where pods in their own user namespace get their host ids, and whether
    /// pods without `hostUsers` get one.
    pub(crate) user_namespaces: Option<UserNamespacesConfig>,
    /// Labels this node has besides kubelet's `kubernetes.io/{hostname,os,arch}`
    /// (a DaemonSet's `nodeSelector` is matched against them), as kubelet's
    /// `--node-labels`.
    pub node_labels: Option<std::collections::BTreeMap<String, String>>,
    /// How registries are reached: plain-HTTP ones, mirrors, CA certificates and
    /// the credentials file.
    pub(crate) registries: Option<RegistriesConfig>,
    /// The imagePullPolicy of containers that state none, instead of Kubernetes'
    /// rule (`Always` for `:latest`, else `IfNotPresent`): for hosts that run
    /// `:latest` images without a registry.
    pub default_image_pull_policy: Option<String>,
    /// The directory of the file, for relative paths.
    #[serde(skip)]
    pub dir: PathBuf,
}

/// The `userNamespaces` section; a setting left out keeps podrt's default (see
/// [`UsernsOptions`]).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct UserNamespacesConfig {
    /// What a pod without `spec.hostUsers` gets (`true`, the host's users, by default).
    pub(crate) default_host_users: Option<bool>,
    /// The host id of the first range's uid and gid 0 (`0x70000000` by default).
    pub(crate) first_id: Option<u32>,
    /// How many ranges of 65536 ids there are (4096 by default).
    pub(crate) ranges: Option<u32>,
}

/// The `registries` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct RegistriesConfig {
    /// Registries (`host[:port]`) spoken to over plain HTTP.
    pub(crate) insecure: Option<Vec<String>>,
    /// Registry → mirrors tried before it (`docker.io: [mirror.local:5000]`).
    pub(crate) mirrors: Option<std::collections::BTreeMap<String, Vec<String>>>,
    /// Directory of `<host>/*.crt` CA certificates (`/etc/podrt/certs.d`).
    pub(crate) certs_dir: Option<PathBuf>,
    /// The credentials file (a Docker `config.json`), instead of
    /// `/etc/podrt/auth.json` then `~/.docker/config.json`.
    pub(crate) auth_file: Option<PathBuf>,
}

/// Why the config file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// It could not be read.
    #[error("cannot read config {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A setting is wrong.
    #[error("config {}: {field}{sep}{message}", path.display(), sep = if field.is_empty() { "" } else { ": " })]
    Field {
        /// The file.
        path: PathBuf,
        /// The setting (empty for the whole file).
        field: String,
        /// What is wrong.
        message: String,
    },
}

impl Config {
    /// The user-namespace settings: the file's, each missing one podrt's default.
    pub fn userns(&self) -> UsernsOptions {
        let defaults = UsernsOptions::default();
        let Some(section) = &self.user_namespaces else {
            return defaults;
        };
        UsernsOptions {
            default_host_users: section
                .default_host_users
                .unwrap_or(defaults.default_host_users),
            first_id: section.first_id.unwrap_or(defaults.first_id),
            ranges: section.ranges.unwrap_or(defaults.ranges),
        }
    }

    /// How to reach registries: the file's `registries` section over podrt's
    /// defaults; `auth_file` (`--registry-config`) wins over the file's `authFile`.
    pub fn registry_options(&self, auth_file: Option<&Path>) -> RegistryOptions {
        let mut o = RegistryOptions::default();
        let section = self.registries.clone().unwrap_or_default();
        if let Some(f) = auth_file
            .map(Path::to_path_buf)
            .or_else(|| section.auth_file.map(|f| self.dir.join(f)))
        {
            o.auth_files = vec![f];
            o.auth_file_required = true;
        }
        if let Some(d) = section.certs_dir {
            o.certs_dir = self.dir.join(d);
        }
        o.insecure = section.insecure.unwrap_or_default();
        o.mirrors = section.mirrors.unwrap_or_default();
        o
    }

    /// The config's `defaultImagePullPolicy` (checked when the file was read).
    pub fn default_pull_policy(&self) -> Option<PullPolicy> {
        self.default_image_pull_policy
            .as_deref()
            .and_then(PullPolicy::parse)
    }

    /// Reads `path`. When the file does not exist and `required` is false (the
    /// default location), the result is the empty config.
    pub fn load(path: &Path, required: bool) -> Result<Config, ConfigError> {
        let dir = path.parent().unwrap_or(Path::new("/")).to_path_buf();
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
                return Ok(Config {
                    dir,
                    ..Config::default()
                })
            }
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        let mut config = Self::parse(&text, path)?;
        config.dir = dir;
        Ok(config)
    }

    /// Parses the text of the file at `path`.
    fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let bad = |field: String, message: String| ConfigError::Field {
            path: path.to_path_buf(),
            field,
            message,
        };
        let docs = crate::manifest::documents(text, &path.display().to_string())
            .map_err(|e| bad(String::new(), e.to_string()))?;
        let config: Config = match docs.as_slice() {
            [] => Config::default(),
            [doc] => serde_path_to_error::deserialize(doc.clone()).map_err(|e| {
                let field = e.path().to_string();
                let field = if field == "." { String::new() } else { field };
                bad(field, e.inner().to_string())
            })?,
            more => {
                return Err(bad(
                    String::new(),
                    format!("expected one document, found {}", more.len()),
                ))
            }
        };
        for (i, name) in config.default_capabilities.iter().flatten().enumerate() {
            let field = format!("defaultCapabilities[{i}]");
            crate::security::capabilities::parse(name, field.clone())
                .map_err(|_| bad(field, format!("unknown capability {name:?}")))?;
        }
        if let Err((field, message)) = config.userns().check() {
            return Err(bad(format!("userNamespaces.{field}"), message));
        }
        for (key, value) in config.node_labels.iter().flatten() {
            check_label(key, value).map_err(|m| bad(format!("nodeLabels.{key}"), m))?;
        }
        if let Some(p) = &config.default_image_pull_policy {
            if PullPolicy::parse(p).is_none() {
                return Err(bad(
                    "defaultImagePullPolicy".into(),
                    format!("{p:?} is not Always, IfNotPresent or Never"),
                ));
            }
        }
        let section = config.registries.clone().unwrap_or_default();
        for (i, host) in section.insecure.iter().flatten().enumerate() {
            check_host(host).map_err(|m| bad(format!("registries.insecure[{i}]"), m))?;
        }
        for (registry, mirrors) in section.mirrors.iter().flatten() {
            check_host(registry).map_err(|m| bad(format!("registries.mirrors.{registry}"), m))?;
            for (i, m) in mirrors.iter().enumerate() {
                check_host(m).map_err(|e| bad(format!("registries.mirrors.{registry}[{i}]"), e))?;
            }
        }
        Ok(config)
    }
}

/// Whether `key: value` can be a label (key a qualified name, value a label
/// value), as the API server checks a node's labels.
pub fn check_label(key: &str, value: &str) -> Result<(), String> {
    crate::manifest::names::qualified_name(key)
        .map_err(|m| format!("invalid label key {key:?}: {m}"))?;
    crate::manifest::names::label_value(value)
        .map_err(|m| format!("invalid label value {value:?}: {m}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_missing_and_full() {
        let p = Path::new("/etc/podrt/config.yaml");
        assert!(Config::parse("# nothing\n", p).unwrap().policy.is_none());
        let missing = Path::new("/nonexistent/podrt.yaml");
        assert!(Config::load(missing, false).is_ok());
        assert!(Config::load(missing, true).is_err());
        let c = Config::parse(
            "policy: restricted\ndefaultCapabilities: [chown, CAP_KILL]\nseccompProfileRoot: /x\n",
            p,
        )
        .unwrap();
        assert_eq!(c.policy.as_deref(), Some("restricted"));
        assert_eq!(c.default_capabilities.unwrap().len(), 2);
    }

    #[test]
    fn mistakes_name_the_setting() {
        let p = Path::new("/c.yaml");
        let e = Config::parse("polcy: restricted\n", p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("polcy"), "{e}");
        let e = Config::parse("defaultCapabilities: [CHOWN, FLY]\n", p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("defaultCapabilities[1]"), "{e}");
        let e = Config::parse("nodeLabels: {disk: ssd, zone: 'a b'}\n", p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("nodeLabels.zone"), "{e}");
        let c = Config::parse("nodeLabels: {disk: ssd}\n", p).unwrap();
        assert_eq!(c.node_labels.unwrap()["disk"], "ssd");
    }

    #[test]
    fn user_namespaces_fill_in_defaults() {
        let p = Path::new("/c.yaml");
        let c = Config::parse("# nothing\n", p).unwrap();
        assert_eq!(c.userns(), UsernsOptions::default());
        let c = Config::parse("userNamespaces: {defaultHostUsers: false}\n", p).unwrap();
        let u = c.userns();
        assert!(!u.default_host_users);
        assert_eq!((u.first_id, u.ranges), (0x7000_0000, 4096));
        let c = Config::parse(
            "userNamespaces:\n  firstId: 1000000\n  ranges: 16\n  defaultHostUsers: true\n",
            p,
        )
        .unwrap();
        let u = c.userns();
        assert!(u.default_host_users);
        assert_eq!((u.first_id, u.ranges), (1_000_000, 16));
    }

    #[test]
    fn user_namespace_mistakes_name_the_setting() {
        let p = Path::new("/c.yaml");
        let error = |text: &str| Config::parse(text, p).unwrap_err().to_string();
        assert_eq!(
            error("userNamespaces: {ranges: 0}\n"),
            "config /c.yaml: userNamespaces.ranges: must be at least 1 (pods with \
             hostUsers: false each need a range)"
        );
        assert_eq!(
            error("userNamespaces: {firstId: 0}\n"),
            "config /c.yaml: userNamespaces.firstId: must not be 0: the host's uid and \
             gid 0 must stay the host's root"
        );
        assert_eq!(
            error("userNamespaces: {firstId: 4294901760, ranges: 1}\n"),
            "config /c.yaml: userNamespaces.ranges: 1 ranges of 65536 ids from firstId \
             4294901760 end at id 4294967295, past 4294967294 (4294967295 is (uid_t)-1, \
             which no user may have): lower ranges or firstId"
        );
        let e = error("userNamespaces: {firstId: -1}\n");
        assert!(e.contains("userNamespaces.firstId"), "{e}");
        let e = error("userNamespaces: {range: 4}\n");
        assert!(e.contains("userNamespaces") && e.contains("range"), "{e}");
    }

    #[test]
    fn registries_are_checked_and_relative_paths_follow_the_file() {
        let p = Path::new("/etc/podrt/config.yaml");
        let error = |text: &str| Config::parse(text, p).unwrap_err().to_string();
        let e = error("defaultImagePullPolicy: Sometimes\n");
        assert!(e.contains("defaultImagePullPolicy"), "{e}");
        let c = Config::parse("defaultImagePullPolicy: IfNotPresent\n", p).unwrap();
        assert_eq!(c.default_pull_policy(), Some(PullPolicy::IfNotPresent));
        let e = error("registries: {insecure: [\"a b\"]}\n");
        assert!(e.contains("registries.insecure[0]"), "{e}");
        let e = error("registries: {mirrors: {docker.io: [\"m:99999\"]}}\n");
        assert!(e.contains("registries.mirrors.docker.io[0]"), "{e}");
        let mut c = Config::parse(
            "registries: {insecure: [\"reg:5000\"], certsDir: certs.d, authFile: auth.json}\n",
            p,
        )
        .unwrap();
        c.dir = PathBuf::from("/etc/podrt");
        let o = c.registry_options(None);
        assert!(o.is_insecure("reg:5000") && !o.is_insecure("reg"));
        assert_eq!(o.certs_dir, Path::new("/etc/podrt/certs.d"));
        assert_eq!(o.auth_files, [PathBuf::from("/etc/podrt/auth.json")]);
        assert!(o.auth_file_required);
        let flag = c.registry_options(Some(Path::new("/root/my.json")));
        assert_eq!(flag.auth_files, [PathBuf::from("/root/my.json")]);
    }
}
