//! Credentials for a registry from Docker-style `config.json` files (the format of
//! `docker login`, `podman login`'s `auth.json` and a
//! `kubernetes.io/dockerconfigjson` Secret): `{"auths": {"<key>": {"auth":
//! base64("user:password")}}}`, or `username`/`password` fields. A key is a host
//! (`registry:5000`), a host with a repository path (`registry:5000/team`, the
//! longest match wins, as podman reads it), or a URL (`https://index.docker.io/v1/`,
//! Docker Hub's legacy key). A pod's pull Secrets come before the files.
//! Credential helpers (`credsStore`) are not run.

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine;
use serde::Deserialize;

use super::settings::PullSecret;

/// A user name and password for one registry.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Credentials {
    /// The user name.
    pub(crate) username: String,
    /// The password or token.
    pub(crate) password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({:?}, <password>)", self.username)
    }
}

/// A parsed `config.json`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct AuthFile {
    #[serde(default)]
    auths: BTreeMap<String, Entry>,
}

#[derive(Debug, Default, Deserialize)]
struct Entry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

impl AuthFile {
    /// Parse the text of a credentials file; the error says what is wrong.
    pub(crate) fn parse(bytes: &[u8]) -> Result<AuthFile, String> {
        serde_json::from_slice(bytes).map_err(|e| e.to_string())
    }

    /// Read `path`: `Ok(None)` when it does not exist.
    pub(crate) fn read(path: &Path) -> Result<Option<AuthFile>, String> {
        match std::fs::read(path) {
            Ok(bytes) => AuthFile::parse(&bytes)
                .map(Some)
                .map_err(|e| format!("credentials file {}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("credentials file {}: {e}", path.display())),
        }
    }

    /// The credentials for `repository` (`host[:port]/path`), if an entry covers
    /// it: the longest `host/path` prefix, else the host, else for Docker Hub its
    /// legacy keys.
    pub(crate) fn find(&self, repository: &str) -> Result<Option<Credentials>, String> {
        let host = repository.split('/').next().unwrap_or(repository);
        let mut best: Option<(usize, &String, &Entry)> = None;
        for (key, entry) in &self.auths {
            let k = normalize_key(key);
            let covers = k == repository
                || repository
                    .strip_prefix(k.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
                || (host == "docker.io" && DOCKER_HUB_KEYS.contains(&k.as_str()));
            if covers && best.is_none_or(|(len, _, _)| k.len() > len) {
                best = Some((k.len(), key, entry));
            }
        }
        match best {
            Some((_, key, entry)) => entry
                .credentials()
                .map(Some)
                .map_err(|e| format!("entry {key:?}: {e}")),
            None => Ok(None),
        }
    }
}

/// The keys `docker login` has used for Docker Hub.
const DOCKER_HUB_KEYS: [&str; 3] = ["index.docker.io", "registry-1.docker.io", "docker.io"];

/// `https://host/v1/` → `host`; `host/path` stays.
fn normalize_key(key: &str) -> String {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key)
        .trim_end_matches('/');
    let k = k
        .strip_suffix("/v1")
        .or_else(|| k.strip_suffix("/v2"))
        .unwrap_or(k);
    k.to_string()
}

impl Entry {
    fn credentials(&self) -> Result<Credentials, String> {
        if let Some(auth) = self.auth.as_deref().filter(|a| !a.is_empty()) {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .map_err(|e| format!("\"auth\" is not base64: {e}"))?;
            let text = String::from_utf8(raw).map_err(|_| "\"auth\" is not UTF-8".to_string())?;
            let (user, pass) = text
                .split_once(':')
                .ok_or_else(|| "\"auth\" is not base64 of user:password".to_string())?;
            return Ok(Credentials {
                username: user.to_string(),
                password: pass.to_string(),
            });
        }
        match (&self.username, &self.password) {
            (Some(u), Some(p)) => Ok(Credentials {
                username: u.clone(),
                password: p.clone(),
            }),
            _ => Err("it has neither \"auth\" nor \"username\" and \"password\"".into()),
        }
    }
}

/// The credentials for `repository`, and where they came from: the first of
/// the pod's pull `secrets` with an entry for it (kubelet tries those first),
/// else the first of `files` that has one; `required` makes a missing first
/// file an error.
pub(crate) fn lookup(
    secrets: &[PullSecret],
    files: &[std::path::PathBuf],
    required: bool,
    repository: &str,
) -> Result<Option<(Credentials, String)>, String> {
    for secret in secrets {
        let source = format!("Secret {:?}", secret.name);
        let file = AuthFile::parse(&secret.config).map_err(|e| format!("{source}: {e}"))?;
        if let Some(c) = file
            .find(repository)
            .map_err(|e| format!("{source}: {e}"))?
        {
            return Ok(Some((c, source)));
        }
    }
    for (i, path) in files.iter().enumerate() {
        match AuthFile::read(path)? {
            Some(file) => {
                let source = format!("credentials file {}", path.display());
                if let Some(c) = file
                    .find(repository)
                    .map_err(|e| format!("{source}: {e}"))?
                {
                    return Ok(Some((c, source)));
                }
            }
            None if i == 0 && required => {
                return Err(format!(
                    "credentials file {} does not exist",
                    path.display()
                ))
            }
            None => {}
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(json: &str) -> AuthFile {
        AuthFile::parse(json.as_bytes()).unwrap()
    }

    #[test]
    fn auth_field_is_base64_user_colon_password() {
        // "alice:s3cr:et" — the password may hold colons.
        let f = file(r#"{"auths":{"reg:5000":{"auth":"YWxpY2U6czNjcjpldA=="}}}"#);
        let c = f.find("reg:5000/team/app").unwrap().unwrap();
        assert_eq!(
            (c.username.as_str(), c.password.as_str()),
            ("alice", "s3cr:et")
        );
        assert_eq!(f.find("other:5000/app").unwrap(), None);
        // A host that merely starts with the key is another host.
        assert_eq!(f.find("reg:50001/app").unwrap(), None);
    }

    #[test]
    fn the_longest_repository_prefix_wins_and_urls_are_keys() {
        let f = file(
            r#"{"auths":{
                "https://reg.example/v1/":{"username":"host","password":"p1"},
                "reg.example/team":{"username":"team","password":"p2"}}}"#,
        );
        assert_eq!(
            f.find("reg.example/team/app").unwrap().unwrap().username,
            "team"
        );
        assert_eq!(
            f.find("reg.example/other").unwrap().unwrap().username,
            "host"
        );
    }

    #[test]
    fn docker_hub_answers_to_its_legacy_key() {
        let f =
            file(r#"{"auths":{"https://index.docker.io/v1/":{"username":"u","password":"p"}}}"#);
        assert_eq!(
            f.find("docker.io/library/busybox")
                .unwrap()
                .unwrap()
                .username,
            "u"
        );
    }

    #[test]
    fn broken_entries_are_errors_naming_the_key() {
        let f = file(r#"{"auths":{"reg":{"auth":"!!"}}}"#);
        assert!(f.find("reg/app").unwrap_err().contains("\"reg\""));
        let f = file(r#"{"auths":{"reg":{}}}"#);
        assert!(f.find("reg/app").is_err());
        assert!(AuthFile::parse(b"{").is_err());
    }

    #[test]
    fn a_named_file_must_exist_and_defaults_may_not() {
        let missing = std::path::PathBuf::from("/nonexistent/podrt-auth.json");
        assert!(lookup(&[], std::slice::from_ref(&missing), true, "r/a").is_err());
        assert_eq!(lookup(&[], &[missing], false, "r/a").unwrap(), None);
    }

    #[test]
    fn pull_secrets_come_before_the_files_and_say_where_they_are_from() {
        let dir = std::env::temp_dir().join(format!("podrt-auth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("auth.json");
        std::fs::write(
            &path,
            r#"{"auths":{"reg":{"username":"file","password":"f"}}}"#,
        )
        .unwrap();
        let secret = PullSecret {
            name: "default/regcred".into(),
            config: br#"{"auths":{"reg/team":{"username":"secret","password":"s"}}}"#.to_vec(),
        };
        let files = [path.clone()];
        let (c, from) = lookup(std::slice::from_ref(&secret), &files, true, "reg/team/app")
            .unwrap()
            .unwrap();
        assert_eq!(
            (c.username.as_str(), from.as_str()),
            ("secret", "Secret \"default/regcred\"")
        );
        // A repository the Secret does not cover falls through to the file.
        let (c, from) = lookup(std::slice::from_ref(&secret), &files, true, "reg/other")
            .unwrap()
            .unwrap();
        assert_eq!(c.username, "file");
        assert!(from.contains("auth.json"), "{from}");
        let broken = PullSecret {
            name: "default/bad".into(),
            config: b"{".to_vec(),
        };
        let e = lookup(&[broken], &files, true, "reg/a").unwrap_err();
        assert!(e.starts_with("Secret \"default/bad\""), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
