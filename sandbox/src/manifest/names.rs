//! Name rules Kubernetes applies to pods, containers, volumes, ports,
//! environment variables and sysctls, with Kubernetes' own error wording so a
//! manifest refused by podrt is refused for the same reason as by a cluster.
//!
//! Each check returns `Err(detail)`; the caller adds the field path and value.

/// Longest DNS-1123 label (container, volume, namespace names).
pub(crate) const LABEL_MAX: usize = 63;
/// Longest DNS-1123 subdomain (pod names).
pub(crate) const SUBDOMAIN_MAX: usize = 253;

/// Kubernetes leaves 5 characters for the random suffix of a generated name.
const GENERATE_PREFIX_MAX: usize = LABEL_MAX - 5;
/// kube's random-string alphabet: no vowels (no words) and no look-alikes.
const ALPHABET: &[u8; 27] = b"bcdfghjklmnpqrstvwxz2456789";

const LABEL_FORMAT: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric \
characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or \
'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

const SUBDOMAIN_FORMAT: &str = "a lowercase RFC 1123 subdomain must consist of lower case \
alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character \
(e.g. 'example.com', regex used for validation is \
'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

const QUALIFIED_FORMAT: &str = "name part must consist of alphanumeric characters, '-', '_' or \
'.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or \
'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

const LABEL_VALUE_FORMAT: &str = "a valid label must be an empty string or consist of \
alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character \
(e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is \
'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

const ENV_FORMAT: &str = "a valid environment variable name must consist of alphabetic \
characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or \
'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')";

const SYSCTL_FORMAT: &str = "must have at most 253 characters and match regex \
^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$";

/// Checks a DNS-1123 label: `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters.
pub fn dns1123_label(value: &str) -> Result<(), String> {
    let mut problems = Vec::new();
    if value.len() > LABEL_MAX {
        problems.push(format!("must be no more than {LABEL_MAX} characters"));
    }
    if !is_label(value) {
        problems.push(LABEL_FORMAT.to_string());
    }
    join(problems)
}

/// Checks a DNS-1035 label (a Service's name): `[a-z]([-a-z0-9]*[a-z0-9])?`, at
/// most 63 characters.
pub fn dns1035_label(value: &str) -> Result<(), String> {
    let mut problems = Vec::new();
    if value.len() > LABEL_MAX {
        problems.push(format!("must be no more than {LABEL_MAX} characters"));
    }
    if !is_label(value) || !value.starts_with(|c: char| c.is_ascii_lowercase()) {
        problems.push(DNS1035_FORMAT.to_string());
    }
    join(problems)
}

const DNS1035_FORMAT: &str = "a DNS-1035 label must consist of lower case alphanumeric \
characters or '-', start with an alphabetic character, and end with an alphanumeric character \
(e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

/// Checks a DNS-1123 subdomain: dot-separated labels, at most 253 characters.
pub fn dns1123_subdomain(value: &str) -> Result<(), String> {
    let mut problems = Vec::new();
    if value.len() > SUBDOMAIN_MAX {
        problems.push(format!("must be no more than {SUBDOMAIN_MAX} characters"));
    }
    if !value.split('.').all(is_label) {
        problems.push(SUBDOMAIN_FORMAT.to_string());
    }
    join(problems)
}

/// Checks a port name (IANA_SVC_NAME, RFC 6335): at most 15 characters of
/// `a-z0-9-`, at least one letter, no `--`, no hyphen at either end.
pub fn iana_svc_name(value: &str) -> Result<(), String> {
    let mut problems = Vec::new();
    if value.len() > 15 {
        problems.push("must be no more than 15 characters".to_string());
    }
    if value.is_empty()
        || !value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        problems.push(
            "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".to_string(),
        );
    }
    if !value.bytes().any(|b| b.is_ascii_lowercase()) {
        problems.push("must contain at least one letter (a-z)".to_string());
    }
    if value.contains("--") {
        problems.push("must not contain consecutive hyphens".to_string());
    }
    if value.starts_with('-') || value.ends_with('-') {
        problems.push("must not begin or end with a hyphen".to_string());
    }
    join(problems)
}

/// Checks a label value: empty, or at most 63 characters of
/// `[A-Za-z0-9][-A-Za-z0-9_.]*[A-Za-z0-9]`.
pub fn label_value(value: &str) -> Result<(), String> {
    let mut problems = Vec::new();
    if value.len() > LABEL_MAX {
        problems.push(format!("must be no more than {LABEL_MAX} characters"));
    }
    if !value.is_empty() && !is_name_part(value) {
        problems.push(LABEL_VALUE_FORMAT.to_string());
    }
    join(problems)
}

/// Checks an environment variable name: `[-._a-zA-Z][-._a-zA-Z0-9]*`.
pub(crate) fn env_var_name(value: &str) -> Result<(), String> {
    let ok_rest = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_');
    let ok = match value.as_bytes().split_first() {
        Some((first, rest)) => {
            ok_rest(*first) && !first.is_ascii_digit() && rest.iter().all(|b| ok_rest(*b))
        }
        None => false,
    };
    if ok {
        Ok(())
    } else {
        Err(ENV_FORMAT.to_string())
    }
}

/// Checks a sysctl name such as `net.ipv4.ip_forward` or `kernel/shm_rmid_forced`.
pub(crate) fn sysctl_name(value: &str) -> Result<(), String> {
    let segment_ok = |s: &str| {
        let b = s.as_bytes();
        let edge = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
        match (b.first(), b.last()) {
            (Some(f), Some(l)) => {
                edge(f) && edge(l) && b.iter().all(|c| edge(c) || *c == b'-' || *c == b'_')
            }
            _ => false,
        }
    };
    if value.len() <= SUBDOMAIN_MAX && value.split(['.', '/']).all(segment_ok) {
        Ok(())
    } else {
        Err(SYSCTL_FORMAT.to_string())
    }
}

/// Checks a qualified name `[prefix/]name` (resource names such as
/// `example.com/gpu`): the prefix a DNS-1123 subdomain, the name at most 63
/// characters of `[A-Za-z0-9][-A-Za-z0-9_.]*[A-Za-z0-9]`.
pub fn qualified_name(value: &str) -> Result<(), String> {
    let mut problems = Vec::new();
    let name = match value.split_once('/') {
        Some((prefix, name)) => {
            if prefix.is_empty() {
                problems.push("prefix part must be non-empty".to_string());
            } else if let Err(e) = dns1123_subdomain(prefix) {
                problems.push(format!("prefix part {e}"));
            }
            name
        }
        None => value,
    };
    if name.is_empty() {
        problems.push("name part must be non-empty".to_string());
    } else {
        if name.len() > LABEL_MAX {
            problems.push(format!(
                "name part must be no more than {LABEL_MAX} characters"
            ));
        }
        if !is_name_part(name) {
            problems.push(QUALIFIED_FORMAT.to_string());
        }
    }
    join(problems)
}

/// Makes a pod name from `metadata.generateName`, as the Kubernetes API server
/// does: the prefix (cut to 58 characters) and 5 random characters from kube's
/// alphabet, e.g. `web-` → `web-x7k2q`. Each call gives a new name.
pub fn generate_name(prefix: &str) -> String {
    let mut cut = prefix.len().min(GENERATE_PREFIX_MAX);
    while !prefix.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut name = String::with_capacity(cut + 5);
    name.push_str(&prefix[..cut]);
    let mut added = 0;
    while added < 5 {
        // A v4 UUID is 122 bits from the OS's CSPRNG; bytes 6 and 8 carry
        // the version and variant bits, so they are skipped.
        let random = uuid::Uuid::new_v4().into_bytes();
        for (i, b) in random.iter().enumerate() {
            // 243 = 9 × 27: rejecting larger bytes keeps every letter equally likely.
            if i == 6 || i == 8 || *b >= 243 || added == 5 {
                continue;
            }
            name.push(char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]));
            added += 1;
        }
    }
    name
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`: label values, names of qualified names.
fn is_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    let inner_ok = |c: &u8| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.');
    b.first().is_some_and(u8::is_ascii_alphanumeric)
        && b.last().is_some_and(u8::is_ascii_alphanumeric)
        && b.iter().all(inner_ok)
}

fn is_label(s: &str) -> bool {
    let b = s.as_bytes();
    let alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    match (b.first(), b.last()) {
        (Some(f), Some(l)) => alnum(f) && alnum(l) && b.iter().all(|c| alnum(c) || *c == b'-'),
        _ => false,
    }
}

fn join(problems: Vec<String>) -> Result<(), String> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        for ok in ["a", "web", "my-app-1", "0", "123-abc", &"a".repeat(63)] {
            assert_eq!(dns1123_label(ok), Ok(()), "{ok}");
        }
        for bad in ["", "Web", "-a", "a-", "a_b", "a.b", "é", &"a".repeat(64)] {
            assert!(dns1123_label(bad).is_err(), "{bad}");
        }
        let long = dns1123_label(&"a".repeat(64)).unwrap_err();
        assert_eq!(long, "must be no more than 63 characters");
        assert!(dns1123_label("Foo")
            .unwrap_err()
            .starts_with("a lowercase RFC 1123 label"));
    }

    #[test]
    fn subdomains() {
        let longest = "a.".repeat(126) + "a"; // 253 characters
        for ok in ["myapp-pod", "a.b.c", "example.com", &longest] {
            assert_eq!(dns1123_subdomain(ok), Ok(()), "{ok}");
        }
        for bad in ["", "a..b", ".a", "a.", "A", "a_b", &"a".repeat(254)] {
            assert!(dns1123_subdomain(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn port_names() {
        for ok in ["http", "web-8080", "a", "123456789012345"] {
            // The last one has no letter.
            let r = iana_svc_name(ok);
            assert_eq!(r.is_ok(), ok != "123456789012345", "{ok}: {r:?}");
        }
        assert_eq!(
            iana_svc_name("a--b").unwrap_err(),
            "must not contain consecutive hyphens"
        );
        assert_eq!(
            iana_svc_name("-a").unwrap_err(),
            "must not begin or end with a hyphen"
        );
        assert_eq!(
            iana_svc_name("abcdefghijklmnop").unwrap_err(),
            "must be no more than 15 characters"
        );
        assert!(iana_svc_name("HTTP").is_err());
        assert!(iana_svc_name("").is_err());
    }

    #[test]
    fn label_values() {
        for ok in ["", "myapp", "v1.2_3-x", "MyValue"] {
            assert_eq!(label_value(ok), Ok(()), "{ok}");
        }
        for bad in ["-a", "a/b", "a b", &"a".repeat(64)] {
            assert!(label_value(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn env_names() {
        for ok in ["PATH", "my.env-name", "MY_ENV.NAME", "_x", "-x", ".x", "a1"] {
            assert_eq!(env_var_name(ok), Ok(()), "{ok}");
        }
        for bad in ["", "1A", "A=B", "A B", "Ä"] {
            assert!(env_var_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sysctl_names() {
        for ok in [
            "net.ipv4.ip_forward",
            "kernel.shm_rmid_forced",
            "net/ipv4/ping_group_range",
            "kernel.msgmax",
        ] {
            assert_eq!(sysctl_name(ok), Ok(()), "{ok}");
        }
        for bad in ["", "net..x", "Net.x", "net.x_", ".net", "net."] {
            assert!(sysctl_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn qualified_names() {
        for ok in ["cpu", "example.com/gpu", "nvidia.com/gpu", "A_b.c"] {
            assert_eq!(qualified_name(ok), Ok(()), "{ok}");
        }
        for bad in ["", "/gpu", "example.com/", "Example.com/gpu", "-a", "a b"] {
            assert!(qualified_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn generated_names() {
        let a = generate_name("web-");
        let b = generate_name("web-");
        assert_eq!(a.len(), 9);
        assert!(a.starts_with("web-"));
        assert!(a[4..].bytes().all(|c| ALPHABET.contains(&c)), "{a}");
        assert_ne!(a, b, "two calls give two names (27^5 choices)");
        let long = generate_name(&"p".repeat(100));
        assert_eq!(long.len(), 63);
        assert_eq!(dns1123_subdomain(&long), Ok(()));
        // A multi-byte prefix is cut on a character boundary (byte 58 is inside an é).
        let odd = generate_name(&format!("a{}", "é".repeat(40)));
        assert_eq!(odd.len(), 57 + 5);
    }
}
