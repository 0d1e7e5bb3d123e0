//! Image references normalised the way Docker and containers/image do it, so
//! `busybox`, `library/busybox` and `docker.io/library/busybox:latest` all name one
//! image. Only the grammar lives here; the store decides what a reference resolves to.

use std::fmt;

use super::error::{Error, Result};

const DEFAULT_DOMAIN: &str = "docker.io";
const LEGACY_DOMAIN: &str = "index.docker.io";
const OFFICIAL_PREFIX: &str = "library/";
const DEFAULT_TAG: &str = "latest";
/// Docker's limit on `domain/path`.
const NAME_MAX: usize = 255;

/// A parsed, normalised reference: `domain/path[:tag][@digest]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Reference {
    /// `domain/path`, e.g. `docker.io/library/busybox`.
    pub(crate) repository: String,
    /// The tag; `latest` when neither a tag nor a digest was given.
    pub(crate) tag: Option<String>,
    /// `algorithm:hex`, when given.
    pub(crate) digest: Option<String>,
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// Normalise `reference` by Docker's rules: `busybox` → `docker.io/library/busybox:latest`.
pub(crate) fn normalize(reference: &str) -> Result<String> {
    Reference::parse(reference).map(|r| r.to_string())
}

impl Reference {
    /// Parse and normalise; the error names the reference and the rule it breaks.
    pub(crate) fn parse(reference: &str) -> Result<Reference> {
        parse(reference).map_err(|reason| Error::InvalidReference {
            reference: reference.to_string(),
            reason,
        })
    }
}

fn parse(s: &str) -> std::result::Result<Reference, String> {
    if s.is_empty() {
        return Err("it is empty".into());
    }
    let (rest, digest) = match s.split_once('@') {
        Some((rest, digest)) => (rest, Some(check_digest(digest)?)),
        None => (s, None),
    };
    // A tag is the part after the last ':' that follows the last '/', so a
    // registry port (`localhost:5000/x`) is not mistaken for one.
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => {
            let tag = &rest[last_slash + i + 1..];
            check_tag(tag)?;
            (&rest[..last_slash + i], Some(tag.to_string()))
        }
        None => (rest, None),
    };
    if name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("a 64-character hexadecimal string is an image id, not a name".into());
    }
    let (domain, path) = split_domain(name);
    if path.to_lowercase() != path {
        return Err("repository name must be lowercase".into());
    }
    check_domain(&domain)?;
    for component in path.split('/') {
        check_path_component(component)?;
    }
    let repository = format!("{domain}/{path}");
    if repository.len() > NAME_MAX {
        return Err(format!("the name is longer than {NAME_MAX} characters"));
    }
    let tag = match (tag, &digest) {
        (None, None) => Some(DEFAULT_TAG.to_string()),
        (tag, _) => tag,
    };
    Ok(Reference {
        repository,
        tag,
        digest,
    })
}

/// Docker's `splitDockerDomain`: the first component is a registry only if it
/// looks like a host (has `.` or `:`, is `localhost`, or has upper case).
fn split_domain(name: &str) -> (String, String) {
    let (domain, path) = match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.to_lowercase() != first =>
        {
            (first.to_string(), rest.to_string())
        }
        _ => (DEFAULT_DOMAIN.to_string(), name.to_string()),
    };
    let domain = if domain == LEGACY_DOMAIN {
        DEFAULT_DOMAIN.to_string()
    } else {
        domain
    };
    let path = if domain == DEFAULT_DOMAIN && !path.contains('/') {
        format!("{OFFICIAL_PREFIX}{path}")
    } else {
        path
    };
    (domain, path)
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn check_path_component(c: &str) -> std::result::Result<(), String> {
    let bad = || {
        Err(format!(
            "path component {c:?} must be lower-case letters and digits, separated by \
             '.', '_', '__' or dashes"
        ))
    };
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = c.as_bytes();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return bad();
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        if !(sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|b| b == b'-')) {
            return bad();
        }
    }
    Ok(())
}

/// `host(:port)?` where host is dot-separated `[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?`
/// or a bracketed IPv6 address.
fn check_domain(domain: &str) -> std::result::Result<(), String> {
    let port_ok = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    let ok = if let Some(v6) = domain.strip_prefix('[') {
        v6.split_once(']').is_some_and(|(addr, after)| {
            !addr.is_empty()
                && addr.bytes().all(|b| b.is_ascii_hexdigit() || b == b':')
                && (after.is_empty() || after.strip_prefix(':').is_some_and(port_ok))
        })
    } else {
        let (host, port) = match domain.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (domain, None),
        };
        let label_ok = |l: &str| {
            let b = l.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        };
        host.split('.').all(label_ok) && port.into_iter().all(port_ok)
    };
    if ok {
        Ok(())
    } else {
        Err(format!("registry {domain:?} is not a valid host[:port]"))
    }
}

/// `[\w][\w.-]{0,127}`
fn check_tag(tag: &str) -> std::result::Result<(), String> {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let b = tag.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 128
        && word(b[0])
        && b.iter().all(|c| word(*c) || *c == b'.' || *c == b'-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "tag {tag:?} must be 1-128 letters, digits, '_', '.' or '-', not starting with '.' or '-'"
        ))
    }
}

/// `algorithm:hex`; sha256/sha384/sha512 with their exact lower-case lengths.
fn check_digest(digest: &str) -> std::result::Result<String, String> {
    let (algorithm, hex) = digest
        .split_once(':')
        .ok_or_else(|| format!("digest {digest:?} must be ALGORITHM:HEX, e.g. sha256:…"))?;
    let len = match algorithm {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => {
            return Err(format!(
                "digest algorithm {algorithm:?} is not sha256, sha384 or sha512"
            ))
        }
    };
    if hex.len() != len
        || !hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(format!(
            "digest {digest:?} must have {len} lower-case hexadecimal digits"
        ));
    }
    Ok(digest.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b";

    fn n(s: &str) -> String {
        normalize(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn short_names_become_docker_hub_library_latest() {
        for s in [
            "busybox",
            "busybox:latest",
            "library/busybox",
            "docker.io/busybox",
            "docker.io/library/busybox",
            "docker.io/library/busybox:latest",
            "index.docker.io/library/busybox",
        ] {
            assert_eq!(n(s), "docker.io/library/busybox:latest", "{s}");
        }
    }

    #[test]
    fn tags_and_user_repositories_are_kept() {
        assert_eq!(n("busybox:1.36"), "docker.io/library/busybox:1.36");
        assert_eq!(n("user/app:v1.2_x-y"), "docker.io/user/app:v1.2_x-y");
        assert_eq!(n("a/b/c"), "docker.io/a/b/c:latest");
    }

    #[test]
    fn first_component_is_a_registry_when_it_looks_like_a_host() {
        assert_eq!(n("localhost/app"), "localhost/app:latest");
        assert_eq!(n("localhost:5000/app:1"), "localhost:5000/app:1");
        assert_eq!(n("quay.io/podman/hello"), "quay.io/podman/hello:latest");
        assert_eq!(n("registry:5000/x"), "registry:5000/x:latest");
        assert_eq!(n("Registry/x"), "Registry/x:latest");
        assert_eq!(n("[::1]:5000/x"), "[::1]:5000/x:latest");
        // No '/' after it: a single name is always a Docker Hub repository.
        assert_eq!(n("localhost"), "docker.io/library/localhost:latest");
    }

    #[test]
    fn digests_are_accepted_and_replace_the_default_tag() {
        assert_eq!(
            n(&format!("busybox@{D}")),
            format!("docker.io/library/busybox@{D}")
        );
        assert_eq!(
            n(&format!("busybox:1.36@{D}")),
            format!("docker.io/library/busybox:1.36@{D}")
        );
        let r = Reference::parse(&format!("quay.io/a/b@{D}")).unwrap();
        assert_eq!(r.repository, "quay.io/a/b");
        assert_eq!(r.tag, None);
        assert_eq!(r.digest.as_deref(), Some(D));
    }

    #[test]
    fn invalid_references_are_refused_naming_the_reference() {
        for (s, why) in [
            ("", "empty"),
            ("BusyBox", "lowercase"),
            ("docker.io/Library/busybox", "lowercase"),
            ("busy box", "path component"),
            ("busybox:", "tag"),
            ("busybox:-x", "tag"),
            ("busybox:a/b", "host"),
            ("-busybox", "path component"),
            ("busybox-", "path component"),
            ("a..b", "path component"),
            ("a___b", "path component"),
            ("a//b", "path component"),
            ("busybox@sha256:abc", "64 lower-case"),
            ("busybox@md5:0123", "algorithm"),
            ("bad_host.com:x/app", "host"),
            (&"a".repeat(300), "255"),
            (&"ab".repeat(32), "image id"),
        ] {
            let e = normalize(s).expect_err(s).to_string();
            assert!(e.contains(&format!("{s:?}")), "{e}");
            assert!(e.contains(why), "{s}: {e}");
        }
    }

    #[test]
    fn separators_inside_path_components() {
        assert_eq!(n("a.b_c__d---e"), "docker.io/library/a.b_c__d---e:latest");
        assert_eq!(n("x/y-z"), "docker.io/x/y-z:latest");
    }
}
