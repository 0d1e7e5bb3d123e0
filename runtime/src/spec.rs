//! Reading a bundle's `config.json` into an `oci_spec::runtime::Spec`.
//!
//! Parsing goes through `serde_path_to_error` so a bad field is reported by its JSON
//! path (`process.capabilities.bounding[1]`), not just a line and column.

use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;

use crate::error::{Error, Result};

/// A parsed bundle: its directory, its spec and its absolute root filesystem path.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// The bundle directory, absolute.
    pub(crate) dir: PathBuf,
    /// The parsed `config.json`.
    pub(crate) spec: Spec,
    /// `root.path` resolved against the bundle, canonical.
    pub(crate) rootfs: PathBuf,
}

/// Parse a spec from JSON text; `path` only names the source in errors.
pub(crate) fn parse_spec(text: &[u8], path: &Path) -> Result<Spec> {
    let mut de = serde_json::Deserializer::from_slice(text);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            // Broken JSON has no meaningful field path; the position is what helps.
            return Error::ConfigSyntax {
                path: path.to_path_buf(),
                message: inner.to_string(),
            };
        }
        Error::ConfigParse {
            path: path.to_path_buf(),
            field: if field == "." {
                "(document)".into()
            } else {
                field
            },
            message: inner.to_string(),
        }
    })
}

/// Load `config.json` from a bundle directory and resolve its root filesystem.
pub(crate) fn load_bundle(dir: &Path) -> Result<Bundle> {
    let dir = std::path::absolute(dir)
        .map_err(|e| Error::io(format!("resolving bundle path {}", dir.display()), e))?;
    let config = dir.join("config.json");
    let text = std::fs::read(&config).map_err(|source| Error::ConfigRead {
        path: config.clone(),
        source,
    })?;
    let spec = parse_spec(&text, &config)?;
    Bundle::from_spec(&dir, spec)
}

impl Bundle {
    /// A bundle from a spec built in memory (the pod layer does this); `root.path` is
    /// resolved against `dir`, which also becomes the bundle shown by `state`.
    pub fn from_spec(dir: &Path, spec: Spec) -> Result<Bundle> {
        let dir = std::path::absolute(dir)
            .map_err(|e| Error::io(format!("resolving bundle path {}", dir.display()), e))?;
        let root = spec
            .root()
            .as_ref()
            .ok_or_else(|| Error::spec("root", "missing: the spec must name a root filesystem"))?;
        let rootfs = dir.join(root.path());
        let rootfs = std::fs::canonicalize(&rootfs).map_err(|e| {
            Error::spec(
                "root.path",
                format!("root filesystem {} is not usable: {e}", rootfs.display()),
            )
        })?;
        if !rootfs.is_dir() {
            return Err(Error::spec(
                "root.path",
                format!("{} is not a directory", rootfs.display()),
            ));
        }
        if spec.process().is_none() {
            return Err(Error::spec("process", "missing: nothing to run"));
        }
        Ok(Bundle { dir, spec, rootfs })
    }
}

/// Check a container id the way runc does.
pub(crate) fn validate_id(id: &str) -> Result<()> {
    let ok_chars = id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '+'));
    if id.is_empty() || !ok_chars || id.chars().all(|c| c == '.') || id.len() > 1024 {
        return Err(Error::InvalidId(id.to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(validate_id("abc-1_2.3").is_ok());
        assert!(validate_id("").is_err());
        assert!(validate_id("..").is_err());
        assert!(validate_id("a/b").is_err());
    }

    #[test]
    fn bad_capability_names_its_field() {
        let text = br#"{"ociVersion":"1.0.2","process":{"cwd":"/","user":{"uid":0,"gid":0},
            "capabilities":{"bounding":["CAP_CHOWN","CAP_NOPE"]}},"root":{"path":"rootfs"}}"#;
        let err = parse_spec(text, Path::new("config.json")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("process.capabilities.bounding"), "{msg}");
    }

    #[test]
    fn broken_json_names_its_position() {
        let err = parse_spec(
            b"{\"ociVersion\": \"1.0\", \"process\": {",
            Path::new("c.json"),
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("c.json: not valid JSON") && msg.contains("line 1"),
            "{msg}"
        );
    }

    #[test]
    fn bad_namespace_type_names_its_field() {
        let text = br#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},
            "linux":{"namespaces":[{"type":"pid"},{"type":"bogus"}]}}"#;
        let err = parse_spec(text, Path::new("config.json")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("linux.namespaces[1]"), "{msg}");
    }
}
