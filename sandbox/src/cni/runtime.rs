//! Running a network list: ADD through the plugins in order, each given the
//! previous one's result; DEL in reverse with the stored ADD result; CHECK in
//! order with it. Builds each plugin's config as libcni does: `name` and
//! `cniVersion` from the list, `prevResult`, and `runtimeConfig` from the
//! capabilities the plugin declares.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value};

use super::config::{plugin_type, NetworkList};
use super::error::{Call, Command, Error, Result};
use super::exec::{self, Invocation};
use super::result::CniResult;

/// How long a plugin may run by default; IPAM plugins can be slow, not this slow.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Where plugins live and how long each may run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Runtime {
    /// Plugin dirs, searched in order (`CNI_PATH`).
    pub(crate) bin_dirs: Vec<PathBuf>,
    /// How long one plugin invocation may take before it is killed.
    pub(crate) timeout: Duration,
}

/// The container end of an attachment: what the plugins are told besides config.
#[derive(Debug, Clone)]
pub(crate) struct Attachment<'a> {
    /// `CNI_CONTAINERID`: the pod's id.
    pub(crate) container_id: &'a str,
    /// `CNI_NETNS`: path of the pod's pinned network namespace.
    pub(crate) netns: &'a Path,
    /// `CNI_IFNAME`: the interface to create in it (`eth0`).
    pub(crate) ifname: &'a str,
    /// Capability arguments (`"portMappings" -> [...]`), given in
    /// `runtimeConfig` to the plugins that declare the capability.
    pub(crate) capability_args: Map<String, Value>,
}

impl Runtime {
    /// A runtime searching `bin_dirs` with the [`DEFAULT_TIMEOUT`].
    pub(crate) fn new(bin_dirs: Vec<PathBuf>) -> Runtime {
        Runtime {
            bin_dirs,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Attaches the container: runs ADD on each plugin in order, chaining
    /// results, and returns the last one. On error nothing is undone; the caller
    /// should run [`Runtime::del`] to release what earlier plugins set up.
    pub(crate) fn add(&self, list: &NetworkList, at: &Attachment<'_>) -> Result<CniResult> {
        let mut prev: Option<CniResult> = None;
        for plugin in &list.plugins {
            let inv = self.invocation(list, plugin, Command::Add, at);
            let config = plugin_config(list, plugin, at, prev.as_ref().map(|r| &r.raw));
            let out = exec::run(&inv, &config)?.ok_or_else(|| Error::BadResult {
                call: Box::new(inv.call.clone()),
                message: "it printed no result".to_string(),
            })?;
            let result = CniResult::from_json(out).map_err(|e| Error::BadResult {
                call: Box::new(inv.call.clone()),
                message: e.to_string(),
            })?;
            prev = Some(result);
        }
        // `NetworkList::parse` refuses empty lists; a hand-built one lands here.
        prev.ok_or_else(|| Error::Config {
            file: list.source.clone(),
            message: format!("network {:?} has no plugins", list.name),
        })
    }

    /// Detaches the container: runs DEL on every plugin in reverse order, with
    /// `prev` (the stored ADD result) as `prevResult` if known. Best effort:
    /// all plugins run; the first error is returned.
    pub(crate) fn del(
        &self,
        list: &NetworkList,
        at: &Attachment<'_>,
        prev: Option<&CniResult>,
    ) -> Result<()> {
        let mut first_error = None;
        for plugin in list.plugins.iter().rev() {
            let inv = self.invocation(list, plugin, Command::Del, at);
            let config = plugin_config(list, plugin, at, prev.map(|r| &r.raw));
            if let Err(e) = exec::run(&inv, &config) {
                tracing::warn!(error = %e, "CNI DEL failed; continuing with the other plugins");
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn invocation<'a>(
        &'a self,
        list: &NetworkList,
        plugin: &Value,
        command: Command,
        at: &Attachment<'a>,
    ) -> Invocation<'a> {
        Invocation {
            call: Call {
                plugin: plugin_type(plugin).to_string(),
                command,
                network: list.name.clone(),
                source: list.source.clone(),
            },
            container_id: at.container_id,
            netns: at.netns,
            ifname: at.ifname,
            bin_dirs: &self.bin_dirs,
            timeout: self.timeout,
        }
    }
}

/// One plugin's stdin: its config with the list's `name` and `cniVersion`,
/// `prevResult`, and a `runtimeConfig` holding the caller's argument for each
/// capability the plugin declares (and only those).
pub(crate) fn plugin_config(
    list: &NetworkList,
    plugin: &Value,
    at: &Attachment<'_>,
    prev: Option<&Value>,
) -> Value {
    let mut config = match plugin {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    config.insert("name".into(), Value::String(list.name.clone()));
    config.insert("cniVersion".into(), Value::String(list.cni_version.clone()));
    if let Some(prev) = prev {
        config.insert("prevResult".into(), prev.clone());
    }
    let mut runtime_config = Map::new();
    if let Some(Value::Object(caps)) = plugin.get("capabilities") {
        for (cap, declared) in caps {
            if declared.as_bool() != Some(true) {
                continue;
            }
            if let Some(arg) = at.capability_args.get(cap) {
                runtime_config.insert(cap.clone(), arg.clone());
            }
        }
    }
    if !runtime_config.is_empty() {
        config.insert("runtimeConfig".into(), Value::Object(runtime_config));
    }
    Value::Object(config)
}
