//! Loading a CNI network configuration: a `.conflist` (a named chain of plugins)
//! or a single-plugin `.conf`/`.json`, which is wrapped as a one-plugin list.
//! From a directory, the lexically first such file is used, as libcni does.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::{Error, Result};

/// File name endings libcni accepts in a config directory.
const EXTENSIONS: [&str; 3] = ["conf", "conflist", "json"];

/// A network: a named chain of plugin configs run in order on ADD. It is
/// serializable so a pod can keep the exact config its ADD used for its DEL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct NetworkList {
    /// The network's name (`name`), given to every plugin.
    pub(crate) name: String,
    /// The spec version of the configuration (`cniVersion`), given to every plugin.
    pub(crate) cni_version: String,
    /// The plugin configs, each an object with at least a `type`.
    pub(crate) plugins: Vec<Value>,
    /// The file this list was loaded from, for error messages.
    pub(crate) source: Option<PathBuf>,
}

impl NetworkList {
    /// Loads the lexically first `.conflist`, `.conf` or `.json` file in `dir`.
    ///
    /// Returns `Ok(None)` if the directory does not exist or holds no such file.
    pub(crate) fn load_dir(dir: &Path) -> Result<Option<NetworkList>> {
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(io_error("reading CNI config dir", dir, source)),
        };
        let mut files = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| io_error("reading CNI config dir", dir, e))?;
            let path = entry.path();
            let wanted = path
                .extension()
                .and_then(|ext| ext.to_str())
                .is_some_and(|ext| EXTENSIONS.contains(&ext));
            if wanted && path.is_file() {
                files.push(path);
            }
        }
        files.sort();
        let Some(first) = files.into_iter().next() else {
            return Ok(None);
        };
        let text =
            fs::read_to_string(&first).map_err(|e| io_error("reading CNI config", &first, e))?;
        NetworkList::parse(&text, Some(&first)).map(Some)
    }

    /// Parses a `.conflist` or a single-plugin `.conf` from `text`; `source`
    /// names the file it came from, for error messages.
    pub(crate) fn parse(text: &str, source: Option<&Path>) -> Result<NetworkList> {
        let invalid = |message: String| Error::Config {
            file: source.map(Path::to_path_buf),
            message,
        };
        let value: Value =
            serde_json::from_str(text).map_err(|e| invalid(format!("invalid JSON: {e}")))?;
        let Value::Object(top) = &value else {
            return Err(invalid("expected a JSON object".to_string()));
        };
        let name = required_string(&value, "name").map_err(invalid)?;
        let cni_version = required_string(&value, "cniVersion").map_err(invalid)?;
        let plugins = match top.get("plugins") {
            Some(Value::Array(plugins)) => plugins.clone(),
            Some(_) => return Err(invalid("\"plugins\" must be an array".to_string())),
            // A single plugin config (.conf): a list of one.
            None => vec![value.clone()],
        };
        if plugins.is_empty() {
            return Err(invalid(format!("network {name:?} has no plugins")));
        }
        for (i, plugin) in plugins.iter().enumerate() {
            check_plugin(plugin).map_err(|m| invalid(format!("plugins[{i}]: {m}")))?;
        }
        Ok(NetworkList {
            name,
            cni_version,
            plugins,
            source: source.map(Path::to_path_buf),
        })
    }
}

/// The plugin's `type`, the name of its executable.
pub(crate) fn plugin_type(plugin: &Value) -> &str {
    plugin.get("type").and_then(Value::as_str).unwrap_or("")
}

fn check_plugin(plugin: &Value) -> std::result::Result<(), String> {
    if !plugin.is_object() {
        return Err("expected a JSON object".to_string());
    }
    let kind = required_string(plugin, "type")?;
    // The type names a file inside the plugin dirs; it must not escape them.
    if kind.contains('/') || kind == "." || kind == ".." {
        return Err(format!("\"type\" {kind:?} must be a plain file name"));
    }
    Ok(())
}

fn required_string(value: &Value, field: &str) -> std::result::Result<String, String> {
    match value.get(field) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Value::String(_)) | None => Err(format!("missing or empty {field:?}")),
        Some(_) => Err(format!("{field:?} must be a string")),
    }
}

fn io_error(what: &str, path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        what: what.to_string(),
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cni::test_support::TempDir;

    const LIST: &str = r#"{"cniVersion":"1.0.0","name":"podrt","plugins":[
        {"type":"bridge","bridge":"podrt0"},{"type":"portmap","capabilities":{"portMappings":true}}]}"#;

    #[test]
    fn parses_a_conflist() {
        let list = NetworkList::parse(LIST, None).unwrap();
        assert_eq!(list.name, "podrt");
        assert_eq!(list.cni_version, "1.0.0");
        assert_eq!(list.plugins.len(), 2);
        assert_eq!(plugin_type(&list.plugins[1]), "portmap");
    }

    #[test]
    fn wraps_a_single_conf() {
        let conf = r#"{"cniVersion":"0.4.0","name":"one","type":"bridge","isGateway":true}"#;
        let list = NetworkList::parse(conf, None).unwrap();
        assert_eq!(list.name, "one");
        assert_eq!(list.cni_version, "0.4.0");
        assert_eq!(list.plugins.len(), 1);
        assert_eq!(list.plugins[0]["isGateway"], true);
    }

    #[test]
    fn loads_the_lexically_first_file() {
        let dir = TempDir::new("cni-config");
        dir.write("20-second.conflist", &LIST.replace("podrt", "second"));
        dir.write(
            "10-first.conf",
            r#"{"cniVersion":"1.0.0","name":"first","type":"ptp"}"#,
        );
        dir.write("05-ignored.txt", "not a config");
        dir.write("99-last.json", &LIST.replace("podrt", "last"));
        let list = NetworkList::load_dir(dir.path()).unwrap().unwrap();
        assert_eq!(list.name, "first");
        assert_eq!(
            list.source.as_deref(),
            Some(dir.path().join("10-first.conf").as_path())
        );
        assert_eq!(plugin_type(&list.plugins[0]), "ptp");
    }

    #[test]
    fn empty_or_missing_dir_is_none() {
        let dir = TempDir::new("cni-empty");
        assert!(NetworkList::load_dir(dir.path()).unwrap().is_none());
        assert!(NetworkList::load_dir(&dir.path().join("nope"))
            .unwrap()
            .is_none());
    }

    #[test]
    fn invalid_json_names_the_file() {
        let dir = TempDir::new("cni-bad");
        dir.write("10-bad.conflist", "{ not json");
        let err = NetworkList::load_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("10-bad.conflist"), "{err}");
        assert!(err.contains("invalid JSON"), "{err}");
    }

    #[test]
    fn refuses_missing_fields_and_escaping_types() {
        let no_name = r#"{"cniVersion":"1.0.0","plugins":[{"type":"bridge"}]}"#;
        assert!(NetworkList::parse(no_name, None)
            .unwrap_err()
            .to_string()
            .contains("name"));
        let no_plugins = r#"{"cniVersion":"1.0.0","name":"n","plugins":[]}"#;
        assert!(NetworkList::parse(no_plugins, None).is_err());
        let escape = r#"{"cniVersion":"1.0.0","name":"n","plugins":[{"type":"../bin/sh"}]}"#;
        let err = NetworkList::parse(escape, None).unwrap_err().to_string();
        assert!(err.contains("plugins[0]"), "{err}");
    }
}
