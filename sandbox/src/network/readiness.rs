//! Whether pods can be networked now, as the CRI's `NetworkReady` condition
//! reports it to kubelet: a node whose network cannot be set up should say so
//! before a pod fails on it.

use std::path::Path;

use super::{resolve, NetworkOptions};

/// Whether pods can be networked now (the CRI's `NetworkReady`): the network
/// new pods join loads, and every plugin its chain runs (IPAM included) is an
/// executable in the plugin dirs. The error says which is missing, and where
/// podrt looked.
pub fn readiness(opts: &NetworkOptions, root: &Path) -> std::result::Result<(), String> {
    let list = resolve(opts, root).map_err(|e| e.to_string())?;
    let dirs = || {
        opts.bin_dirs
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(":")
    };
    let origin = || match &list.source {
        Some(path) => format!("network {:?} ({})", list.name, path.display()),
        None => format!("the built-in network {:?}", list.name),
    };
    for plugin in &list.plugins {
        let kinds = [
            plugin.get("type"),
            plugin.get("ipam").and_then(|i| i.get("type")),
        ];
        for kind in kinds.into_iter().flatten().filter_map(|t| t.as_str()) {
            if crate::cni::exec::plugin_path(kind, &opts.bin_dirs).is_none() {
                return Err(format!(
                    "CNI plugin {kind:?} of {} is not in {}",
                    origin(),
                    dirs()
                ));
            }
        }
    }
    Ok(())
}
