//! podrt's config file (`/etc/podrt/config.yaml`, or `--config`): the settings
//! an installation wants for every pod without repeating flags, namely the
//! admission policy, the default capability set and the seccomp profile
//! directory. A flag given on the command line wins over the file. The file
//! is YAML (or JSON); an unknown key is an error naming it, so a typo never
//! silently weakens the policy.

use std::path::{Path, PathBuf};

use serde::Deserialize;

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
    /// The directory of the file, for relative paths.
    #[serde(skip)]
    pub dir: PathBuf,
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
        Ok(config)
    }
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
    }
}
