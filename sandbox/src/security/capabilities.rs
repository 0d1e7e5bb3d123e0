//! A container's capability set: containerd's and CRI-O's default 14, or every
//! capability when privileged, then `capabilities.drop` and `capabilities.add`
//! (`ALL` allowed in both; case and the `CAP_` prefix forgiven). An unknown name
//! is an error naming its field.

use std::collections::HashSet;

use k8s_openapi::api::core::v1::SecurityContext;
use oci_spec::runtime::Capability;

use super::error::{Result, Unsupported};

/// The capabilities containerd and CRI-O give a container that is not privileged.
pub(crate) const DEFAULT_CAPABILITIES: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// `defaults` (the installation's default set), or every capability podrt
/// holds when `privileged`, with `add`/`drop` applied (`add: [ALL]` is every
/// capability podrt holds too); `field` is the container's place in the manifest.
pub(crate) fn capability_set(
    sc: Option<&SecurityContext>,
    privileged: bool,
    defaults: &[String],
    field: &str,
) -> Result<HashSet<Capability>> {
    let mut set: HashSet<Capability> = if privileged {
        all_capabilities()
    } else {
        let named = defaults.iter().enumerate();
        named
            .map(|(i, n)| parse(n, format!("defaultCapabilities[{i}]")))
            .collect::<Result<_>>()?
    };
    let caps = sc.and_then(|s| s.capabilities.as_ref());
    let drop = caps.and_then(|c| c.drop.as_ref()).into_iter().flatten();
    for (i, name) in drop.enumerate() {
        if name.eq_ignore_ascii_case("ALL") {
            set.clear();
        } else {
            let at = format!("{field}.securityContext.capabilities.drop[{i}]");
            set.remove(&parse(name, at)?);
        }
    }
    let add = caps.and_then(|c| c.add.as_ref()).into_iter().flatten();
    for (i, name) in add.enumerate() {
        if name.eq_ignore_ascii_case("ALL") {
            set.extend(all_capabilities());
        } else {
            let at = format!("{field}.securityContext.capabilities.add[{i}]");
            set.insert(parse(name, at)?);
        }
    }
    Ok(set)
}

/// `name` as the spec's capability, forgiving case and the `CAP_` prefix.
pub(crate) fn parse(name: &str, field: String) -> Result<Capability> {
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    cap_named(&full).ok_or_else(|| Unsupported {
        field,
        message: format!("unknown capability {name:?}"),
    })
}

/// Every capability podrt itself holds, which is what "all" can mean for its
/// containers (containerd's rule too): on a host where even root lacks one
/// (these VMs have no CAP_SYS_RESOURCE), asking for it could only fail.
pub(crate) fn all_capabilities() -> HashSet<Capability> {
    let held = caps::read(None, caps::CapSet::Permitted).unwrap_or_else(|_| caps::all());
    held.into_iter()
        .filter_map(|c| cap_named(&c.to_string()))
        .collect()
}

/// The spec's capability called `name` (`CAP_CHOWN`), by its JSON name.
fn cap_named(name: &str) -> Option<Capability> {
    serde_json::from_value(serde_json::Value::String(name.to_string())).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Vec<String> {
        DEFAULT_CAPABILITIES.iter().map(|c| c.to_string()).collect()
    }

    fn sc(json: serde_json::Value) -> SecurityContext {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn add_and_drop_forgive_case_and_prefix() {
        let c = sc(
            serde_json::json!({"capabilities": {"add": ["net_admin", "CAP_SYS_TIME"], "drop": ["chown", "KILL"]}}),
        );
        let set = capability_set(Some(&c), false, &defaults(), "spec.containers[0]").unwrap();
        assert!(set.contains(&Capability::NetAdmin));
        assert!(set.contains(&Capability::SysTime));
        assert!(!set.contains(&Capability::Chown));
        assert!(!set.contains(&Capability::Kill));
        assert_eq!(set.len(), 14);
    }

    #[test]
    fn unknown_names_the_field() {
        let c = sc(serde_json::json!({"capabilities": {"add": ["FLY"]}}));
        let err = capability_set(Some(&c), false, &defaults(), "spec.containers[0]")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("spec.containers[0].securityContext.capabilities.add[0]"),
            "{err}"
        );
    }

    #[test]
    #[ignore = "needs root: scripts/test.sh runs it"]
    fn drop_all_and_privileged() {
        let c =
            sc(serde_json::json!({"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}));
        let set = capability_set(Some(&c), false, &defaults(), "f").unwrap();
        assert_eq!(
            set.into_iter().collect::<Vec<_>>(),
            [Capability::NetBindService]
        );
        assert_eq!(
            capability_set(None, true, &defaults(), "f").unwrap(),
            all_capabilities()
        );
        assert!(all_capabilities().contains(&Capability::SysAdmin));
    }
}
