//! `v1` Secret documents, checked and completed as the API server does: the
//! name, the data keys, the 1 MiB limit, and for the two registry-credential
//! types (`kubernetes.io/dockerconfigjson`, `kubernetes.io/dockercfg`) their one
//! key holding JSON. `stringData` is folded into `data`, and a Secret without a
//! type is `Opaque`. podrt reads Secrets for a pod's `imagePullSecrets`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{PodSpec, Secret};
use k8s_openapi::ByteString;
use podrt_sandbox::image::registry::PullSecret;
use podrt_sandbox::manifest::names;

/// The type of a Secret holding a Docker `config.json` (`{"auths": …}`).
pub const DOCKER_CONFIG_JSON: &str = "kubernetes.io/dockerconfigjson";
/// The legacy type holding a `.dockercfg` (the `auths` map alone).
pub const DOCKER_CFG: &str = "kubernetes.io/dockercfg";

/// The most a Secret's data may hold, as the API server limits it.
const MAX_SIZE: usize = 1024 * 1024;

/// What is wrong with `secret`, one `field: message` per problem (the API
/// server's words); empty when it is valid. Call it after
/// [`complete_secret`], so `stringData` is counted in `data`.
pub fn check_secret(secret: &Secret) -> Vec<String> {
    let mut errors = Vec::new();
    match secret.metadata.name.as_deref() {
        None | Some("") => errors.push("metadata.name: Required value: name is required".into()),
        Some(name) => {
            if let Err(e) = names::dns1123_subdomain(name) {
                errors.push(format!("metadata.name: Invalid value: {name:?}: {e}"));
            }
        }
    }
    let data = secret.data.clone().unwrap_or_default();
    let mut size = 0;
    for (key, value) in &data {
        if let Err(e) = config_key(key) {
            errors.push(format!("data[{key}]: Invalid value: {key:?}: {e}"));
        }
        size += value.0.len();
    }
    if size > MAX_SIZE {
        errors.push(format!(
            "data: Too long: must have at most {MAX_SIZE} bytes (it has {size})"
        ));
    }
    let json_key = match secret.type_.as_deref() {
        Some(DOCKER_CONFIG_JSON) => Some(".dockerconfigjson"),
        Some(DOCKER_CFG) => Some(".dockercfg"),
        _ => None,
    };
    if let Some(key) = json_key {
        match data.get(key) {
            None => errors.push(format!("data[{key}]: Required value")),
            Some(value) => {
                if let Err(e) = serde_json::from_slice::<serde_json::Value>(&value.0) {
                    errors.push(format!(
                        "data[{key}]: Invalid value: \"<secret contents redacted>\": {e}"
                    ));
                }
            }
        }
    }
    errors
}

/// A data key: letters, digits, `-`, `_` and `.`, at most 253, not `.` or `..`.
fn config_key(key: &str) -> Result<(), String> {
    let ok = !key.is_empty()
        && key.len() <= 253
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && key != "."
        && key != "..";
    if ok {
        Ok(())
    } else {
        Err("a valid config key must consist of alphanumeric characters, '-', '_' or '.'".into())
    }
}

/// Fills in what the API server does on write: `stringData` merged into
/// `data` (its values win) and dropped, and the type `Opaque` when unset.
pub fn complete_secret(secret: &mut Secret) {
    if let Some(strings) = secret.string_data.take() {
        let data = secret.data.get_or_insert_with(BTreeMap::new);
        for (k, v) in strings {
            data.insert(k, ByteString(v.into_bytes()));
        }
    }
    if secret.type_.as_deref().is_none_or(str::is_empty) {
        secret.type_ = Some("Opaque".into());
    }
}

/// The Docker `config.json` a registry-credential Secret holds (a `.dockercfg`
/// wrapped as `{"auths": …}`); `None` for other types.
pub fn docker_config(secret: &Secret) -> Option<Vec<u8>> {
    let data = secret.data.as_ref()?;
    match secret.type_.as_deref() {
        Some(DOCKER_CONFIG_JSON) => data.get(".dockerconfigjson").map(|v| v.0.clone()),
        Some(DOCKER_CFG) => {
            let cfg: serde_json::Value = serde_json::from_slice(&data.get(".dockercfg")?.0).ok()?;
            serde_json::to_vec(&serde_json::json!({ "auths": cfg })).ok()
        }
        _ => None,
    }
}

/// The credentials of the Secrets `spec.imagePullSecrets` names in
/// `namespace`, each found by `find` (by name); and the names of those missing
/// or not of a registry type (kubelet warns of them and pulls without them).
pub fn pull_secrets<E>(
    spec: &PodSpec,
    namespace: &str,
    mut find: impl FnMut(&str) -> Result<Option<Secret>, E>,
) -> Result<(Vec<PullSecret>, Vec<String>), E> {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for reference in spec.image_pull_secrets.iter().flatten() {
        let name = reference.name.as_str();
        match find(name)?.as_ref().and_then(docker_config) {
            Some(config) => found.push(PullSecret {
                name: format!("{namespace}/{name}"),
                config,
            }),
            None => missing.push(name.to_string()),
        }
    }
    Ok((found, missing))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn secret(v: serde_json::Value) -> Secret {
        let mut s: Secret = serde_json::from_value(v).unwrap();
        complete_secret(&mut s);
        s
    }

    #[test]
    fn string_data_is_folded_into_data_and_the_type_defaults_to_opaque() {
        let s = secret(json!({
            "metadata": {"name": "a"},
            "data": {"k": "dg==", "both": "b2xk"},
            "stringData": {"both": "new", "s": "t"},
        }));
        assert_eq!(s.type_.as_deref(), Some("Opaque"));
        assert!(s.string_data.is_none());
        let data = s.data.clone().unwrap();
        assert_eq!(data["k"].0, b"v");
        assert_eq!(data["both"].0, b"new");
        assert_eq!(data["s"].0, b"t");
        assert!(check_secret(&s).is_empty());
    }

    #[test]
    fn registry_secrets_need_their_key_holding_json() {
        let missing = secret(json!({"metadata": {"name": "r"}, "type": DOCKER_CONFIG_JSON}));
        assert_eq!(
            check_secret(&missing),
            ["data[.dockerconfigjson]: Required value"]
        );
        let broken = secret(json!({
            "metadata": {"name": "r"}, "type": DOCKER_CONFIG_JSON,
            "stringData": {".dockerconfigjson": "{not json"},
        }));
        let errors = check_secret(&broken);
        assert!(
            errors[0].contains("<secret contents redacted>"),
            "{errors:?}"
        );
        let cfg = secret(json!({
            "metadata": {"name": "r"}, "type": DOCKER_CFG,
            "stringData": {".dockercfg": "{\"reg:5000\": {\"auth\": \"YTpi\"}}"},
        }));
        assert!(check_secret(&cfg).is_empty());
        let json: serde_json::Value =
            serde_json::from_slice(&docker_config(&cfg).unwrap()).unwrap();
        assert_eq!(json["auths"]["reg:5000"]["auth"], "YTpi");
    }

    #[test]
    fn names_and_keys_are_checked() {
        let s = secret(json!({"metadata": {"name": "Bad_Name"}, "stringData": {"a/b": "x"}}));
        let errors = check_secret(&s);
        assert!(
            errors[0].starts_with("metadata.name: Invalid value"),
            "{errors:?}"
        );
        assert!(
            errors[1].starts_with("data[a/b]: Invalid value"),
            "{errors:?}"
        );
    }

    #[test]
    fn pull_secrets_are_the_registry_secrets_found_and_the_rest_are_named() {
        let spec: PodSpec = serde_json::from_value(json!({
            "containers": [],
            "imagePullSecrets": [{"name": "reg"}, {"name": "plain"}, {"name": "gone"}],
        }))
        .unwrap();
        let reg = secret(json!({
            "metadata": {"name": "reg"}, "type": DOCKER_CONFIG_JSON,
            "stringData": {".dockerconfigjson": "{\"auths\": {}}"},
        }));
        let plain = secret(json!({"metadata": {"name": "plain"}, "stringData": {"k": "v"}}));
        let (found, missing) = pull_secrets(&spec, "team", |name| {
            Ok::<_, ()>(
                [&reg, &plain]
                    .into_iter()
                    .find(|s| s.metadata.name.as_deref() == Some(name))
                    .cloned(),
            )
        })
        .unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].name, "team/reg");
        assert_eq!(missing, ["plain", "gone"]);
    }
}
