//! Which seccomp filter a container gets, from `seccompProfile` (the
//! container's, else the pod's): `RuntimeDefault` (podrt's own profile, also
//! what a non-privileged container gets when nothing is said: stricter than
//! kubelet, whose default is Unconfined), `Unconfined` (none), or `Localhost`
//! (a JSON file below the profile root, in the OCI `linux.seccomp` format or
//! Docker's, whose `includes`/`excludes` conditions are resolved here against
//! the container's capabilities and the machine). A privileged container gets
//! none unless it asks.

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};

use k8s_openapi::api::core::v1::SeccompProfile;
use oci_spec::runtime::{Capability, LinuxSeccomp};
use serde_json::Value;

use super::error::{Result, Unsupported};
use super::runtime_default;

/// kubelet's `--seccomp-profile-root`.
pub(crate) const DEFAULT_PROFILE_ROOT: &str = "/var/lib/kubelet/seccomp";

/// The filter for a container: `profile` is the effective `seccompProfile` and
/// `field` its path in the manifest.
pub(crate) fn filter(
    profile: Option<&SeccompProfile>,
    field: &str,
    privileged: bool,
    caps: &HashSet<Capability>,
    root: &Path,
) -> Result<Option<LinuxSeccomp>> {
    let Some(p) = profile else {
        return Ok((!privileged).then(runtime_default::profile));
    };
    match p.type_.as_str() {
        "RuntimeDefault" => Ok(Some(runtime_default::profile())),
        "Unconfined" => Ok(None),
        "Localhost" => {
            let rel = p
                .localhost_profile
                .as_deref()
                .filter(|s| !s.is_empty())
                .ok_or_else(|| Unsupported {
                    field: format!("{field}.localhostProfile"),
                    message: "Required value: must be set when seccomp type is Localhost".into(),
                })?;
            load(root, rel, &format!("{field}.localhostProfile"), caps).map(Some)
        }
        other => Err(Unsupported {
            field: format!("{field}.type"),
            message: format!(
                "Unsupported value: {other:?}: supported values: \"Localhost\", \"RuntimeDefault\", \"Unconfined\""
            ),
        }),
    }
}

/// Reads the profile `rel` below `root`; `rel` may not leave it.
pub(crate) fn load(
    root: &Path,
    rel: &str,
    field: &str,
    caps: &HashSet<Capability>,
) -> Result<LinuxSeccomp> {
    let bad = |message: String| Unsupported {
        field: field.to_string(),
        message,
    };
    let relative = Path::new(rel);
    if relative.is_absolute()
        || relative
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(bad(format!(
            "{rel:?} must be a relative path below the profile root {} without '..'",
            root.display()
        )));
    }
    let path: PathBuf = root.join(relative);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        bad(format!(
            "cannot read seccomp profile {}: {e}",
            path.display()
        ))
    })?;
    let value: Value = serde_json::from_str(&text).map_err(|e| {
        bad(format!(
            "seccomp profile {} is not JSON: {e}",
            path.display()
        ))
    })?;
    from_json(value, caps).map_err(|e| bad(format!("seccomp profile {}: {e}", path.display())))
}

/// An OCI or Docker profile as the OCI section: Docker's rules whose
/// `includes`/`excludes` do not hold here are dropped, its single `name` becomes
/// `names`, and the keys OCI lacks (`archMap`, `comment`, ...) go.
pub(crate) fn from_json(
    mut value: Value,
    caps: &HashSet<Capability>,
) -> std::result::Result<LinuxSeccomp, String> {
    let Some(top) = value.as_object_mut() else {
        return Err("expected a JSON object".into());
    };
    if !top.contains_key("defaultAction") {
        return Err("missing \"defaultAction\"".into());
    }
    for key in ["archMap", "comment", "defaultErrno"] {
        top.remove(key);
    }
    if let Some(Value::Array(rules)) = top.get_mut("syscalls") {
        rules.retain(|r| applies(r, caps));
        for r in rules.iter_mut() {
            if let Some(obj) = r.as_object_mut() {
                if let Some(name) = obj.remove("name") {
                    obj.entry("names").or_insert(Value::Array(vec![name]));
                }
                for key in ["includes", "excludes", "comment"] {
                    obj.remove(key);
                }
            }
        }
    }
    serde_json::from_value(value).map_err(|e| e.to_string())
}

/// Does a Docker rule's `includes` hold and its `excludes` not? `includes`
/// needs every condition it lists (all its caps, one of its arches, the
/// kernel); `excludes` drops the rule if any of its conditions holds.
fn applies(rule: &Value, caps: &HashSet<Capability>) -> bool {
    let held = |c: &str| {
        serde_json::from_value::<Capability>(Value::String(c.to_string()))
            .is_ok_and(|c| caps.contains(&c))
    };
    let strings = |cond: &Value, key: &str| -> Option<Vec<String>> {
        cond[key].as_array().map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
    };
    let native = |a: &String| a == native_arch_name();
    let inc = &rule["includes"];
    let included = strings(inc, "caps").is_none_or(|c| c.iter().all(|c| held(c)))
        && strings(inc, "arches").is_none_or(|a| a.iter().any(native))
        && inc["minKernel"].as_str().is_none_or(kernel_at_least);
    let exc = &rule["excludes"];
    let excluded = strings(exc, "caps").is_some_and(|c| c.iter().any(|c| held(c)))
        || strings(exc, "arches").is_some_and(|a| a.iter().any(native))
        || exc["minKernel"].as_str().is_some_and(kernel_at_least);
    included && !excluded
}

/// Docker's name for the machine's architecture.
fn native_arch_name() -> &'static str {
    if cfg!(target_arch = "aarch64") {
        "arm64"
    } else {
        "amd64"
    }
}

fn kernel_at_least(min: &str) -> bool {
    let release = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    let parse = |s: &str| -> (u32, u32) {
        let mut it = s
            .split(|c: char| !c.is_ascii_digit())
            .filter(|p| !p.is_empty());
        let major = it.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        let minor = it.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        (major, minor)
    };
    parse(&release) >= parse(min)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(names: &[Capability]) -> HashSet<Capability> {
        names.iter().copied().collect()
    }

    #[test]
    fn default_is_runtime_default_unless_privileged() {
        let root = Path::new("/nonexistent");
        assert!(filter(None, "f", false, &caps(&[]), root)
            .unwrap()
            .is_some());
        assert!(filter(None, "f", true, &caps(&[]), root).unwrap().is_none());
        let unconfined = SeccompProfile {
            type_: "Unconfined".into(),
            localhost_profile: None,
        };
        assert!(filter(Some(&unconfined), "f", false, &caps(&[]), root)
            .unwrap()
            .is_none());
        let odd = SeccompProfile {
            type_: "Strict".into(),
            localhost_profile: None,
        };
        let err = filter(
            Some(&odd),
            "spec.securityContext.seccompProfile",
            false,
            &caps(&[]),
            root,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("spec.securityContext.seccompProfile.type:"),
            "{err}"
        );
    }

    #[test]
    fn docker_profile_conditions_are_resolved() {
        let docker = serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": []}],
            "syscalls": [
                {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
                {"name": "mount", "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
                {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "excludes": {"caps": ["CAP_SYS_PTRACE"]}}
            ]
        });
        let names = |held: &[Capability]| -> Vec<String> {
            let profile = from_json(docker.clone(), &caps(held)).unwrap();
            let rules = profile.syscalls().clone().unwrap();
            rules.iter().flat_map(|s| s.names().clone()).collect()
        };
        assert_eq!(names(&[]), ["read", "ptrace"]);
        assert_eq!(names(&[Capability::SysAdmin]), ["read", "mount", "ptrace"]);
        assert_eq!(names(&[Capability::SysPtrace]), ["read"]);
    }

    #[test]
    fn localhost_profiles_stay_below_the_root() {
        let err = load(
            Path::new("/r"),
            "../etc/passwd",
            "f.localhostProfile",
            &caps(&[]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("without '..'"), "{err}");
        assert!(load(Path::new("/r"), "/abs.json", "f", &caps(&[])).is_err());
    }
}
