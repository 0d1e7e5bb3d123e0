//! The image configuration blob: the defaults a container of the image starts with
//! (entrypoint, cmd, env, ...) and the diff ids that name its layers. Both import
//! formats carry the same OCI/Docker config JSON, so one parser serves both.

use oci_spec::image::ImageConfiguration;
use serde::{Deserialize, Serialize};

use super::digest::Sha256;

/// What a container of this image runs with unless the pod says otherwise.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConfig {
    /// `Entrypoint`: the executable and its leading arguments.
    pub entrypoint: Vec<String>,
    /// `Cmd`: arguments after the entrypoint, or the command when there is none.
    pub cmd: Vec<String>,
    /// `Env`: `NAME=value` entries.
    pub env: Vec<String>,
    /// `WorkingDir`, if set and not empty.
    pub working_dir: Option<String>,
    /// `User` (`uid`, `name`, `uid:gid`, ...), if set and not empty.
    pub user: Option<String>,
    /// `StopSignal` (`SIGTERM`, `15`, ...), if set.
    pub stop_signal: Option<String>,
    /// `ExposedPorts` keys (`80/tcp`), sorted.
    pub exposed_ports: Vec<String>,
}

/// A parsed config blob.
#[derive(Debug)]
pub(super) struct Parsed {
    /// The container defaults.
    pub(crate) config: ImageConfig,
    /// The layers' diff ids, bottom layer first.
    pub(crate) diff_ids: Vec<Sha256>,
    /// `created`, as written in the image.
    pub(crate) created: Option<String>,
    /// `os/architecture`, for checking against the host.
    pub(crate) platform: (String, String),
}

/// Parse a config blob; the error is a sentence for `Error::Json`/`Error::Invalid`.
pub(super) fn parse(bytes: &[u8]) -> std::result::Result<Parsed, String> {
    let cfg: ImageConfiguration = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    if cfg.rootfs().typ() != "layers" {
        return Err(format!(
            "rootfs.type is {:?}, but only \"layers\" exists",
            cfg.rootfs().typ()
        ));
    }
    let diff_ids = cfg
        .rootfs()
        .diff_ids()
        .iter()
        .map(|d| {
            Sha256::parse(d).ok_or_else(|| format!("rootfs.diff_ids: {d:?} is not a sha256 digest"))
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let non_empty = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
    let config = match cfg.config() {
        Some(c) => {
            let mut exposed_ports = c.exposed_ports().clone().unwrap_or_default();
            exposed_ports.sort();
            ImageConfig {
                entrypoint: c.entrypoint().clone().unwrap_or_default(),
                cmd: c.cmd().clone().unwrap_or_default(),
                env: c.env().clone().unwrap_or_default(),
                working_dir: non_empty(c.working_dir()),
                user: non_empty(c.user()),
                stop_signal: non_empty(c.stop_signal()),
                exposed_ports,
            }
        }
        None => ImageConfig::default(),
    };
    Ok(Parsed {
        config,
        diff_ids,
        created: cfg.created().clone(),
        platform: (cfg.os().to_string(), cfg.architecture().to_string()),
    })
}

/// Why this host cannot run an image of `parsed`'s platform ("built for
/// linux/arm64, but this host is linux/amd64"), or `None` when it can.
pub(super) fn foreign_platform(parsed: &Parsed) -> Option<String> {
    let (os, arch) = host_platform();
    let (img_os, img_arch) = &parsed.platform;
    (img_os != os || img_arch != arch)
        .then(|| format!("built for {img_os}/{img_arch}, but this host is {os}/{arch}"))
}

/// The host's platform in OCI terms (`linux`, `amd64`).
pub(super) fn host_platform() -> (&'static str, &'static str) {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    };
    (std::env::consts::OS, arch)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIFF: &str = "sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b";

    #[test]
    fn docker_config_fields_are_read() {
        let json = format!(
            r#"{{"architecture":"amd64","os":"linux","created":"2024-01-01T00:00:00Z",
            "config":{{"Entrypoint":["/init"],"Cmd":["run","-v"],"Env":["A=1"],
            "WorkingDir":"/srv","User":"1000:1000","StopSignal":"SIGQUIT",
            "ExposedPorts":{{"8080/tcp":{{}},"53/udp":{{}}}},"Healthcheck":{{"Test":["NONE"]}}}},
            "container_config":{{"Cmd":null}},
            "rootfs":{{"type":"layers","diff_ids":["{DIFF}"]}}}}"#
        );
        let p = parse(json.as_bytes()).unwrap();
        assert_eq!(p.config.entrypoint, ["/init"]);
        assert_eq!(p.config.cmd, ["run", "-v"]);
        assert_eq!(p.config.env, ["A=1"]);
        assert_eq!(p.config.working_dir.as_deref(), Some("/srv"));
        assert_eq!(p.config.user.as_deref(), Some("1000:1000"));
        assert_eq!(p.config.stop_signal.as_deref(), Some("SIGQUIT"));
        assert_eq!(p.config.exposed_ports, ["53/udp", "8080/tcp"]);
        assert_eq!(p.diff_ids[0].to_string(), DIFF);
        assert_eq!(p.created.as_deref(), Some("2024-01-01T00:00:00Z"));
        assert_eq!(p.platform, ("linux".to_string(), "amd64".to_string()));
    }

    #[test]
    fn nulls_and_empty_strings_mean_unset() {
        let json = r#"{"architecture":"arm64","os":"linux",
            "config":{"Cmd":null,"Env":null,"WorkingDir":"","User":""},
            "rootfs":{"type":"layers","diff_ids":[]}}"#;
        let p = parse(json.as_bytes()).unwrap();
        assert_eq!(p.config, ImageConfig::default());
        assert!(p.diff_ids.is_empty());
    }

    #[test]
    fn bad_diff_ids_and_rootfs_types_are_refused() {
        let bad = r#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["md5:x"]}}"#;
        assert!(parse(bad.as_bytes()).unwrap_err().contains("md5:x"));
        let typ =
            r#"{"architecture":"amd64","os":"linux","rootfs":{"type":"other","diff_ids":[]}}"#;
        assert!(parse(typ.as_bytes()).unwrap_err().contains("other"));
        assert!(parse(b"{").is_err());
    }
}
