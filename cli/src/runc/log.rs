//! `--log`/`--log-format`/`--debug`: tracing to a file, and the error record runc's
//! callers look for.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

use super::args::{Cli, LogFormat};

/// The mode of a `--log` file podrt-runc creates: root's alone, as its state. (One
/// that exists, the caller's, keeps its mode.)
const LOG_MODE: u32 = 0o600;

/// Install a tracing subscriber writing to `--log` (or stderr). The level is `warn`,
/// `debug` with `--debug`, or what `PODRT_LOG` names (`error`…`trace`). A plain level
/// filter, not an env filter: parsing directives costs more than the container does.
pub(crate) fn init(cli: &Cli) {
    let default = if cli.debug {
        tracing::Level::DEBUG
    } else {
        tracing::Level::WARN
    };
    let level = std::env::var("PODRT_LOG")
        .ok()
        .and_then(|v| v.parse::<tracing::Level>().ok())
        .unwrap_or(default);
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_ansi(false);
    let file = cli.log.as_ref().and_then(|p| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(LOG_MODE)
            .open(p)
            .ok()
    });
    let result = match (file, cli.log_format) {
        (Some(f), LogFormat::Json) => builder
            .json()
            .with_writer(std::sync::Mutex::new(f))
            .try_init(),
        (Some(f), LogFormat::Text) => builder.with_writer(std::sync::Mutex::new(f)).try_init(),
        (None, _) => builder.with_writer(std::io::stderr).try_init(),
    };
    let _ = result;
}

/// Append an error record to `--log` in the chosen format (runc's shape).
pub(crate) fn error(cli: &Cli, msg: &str) {
    let Some(path) = &cli.log else { return };
    let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(LOG_MODE)
        .open(path)
    else {
        return;
    };
    let time = humantime_now();
    let line = match cli.log_format {
        LogFormat::Json => {
            serde_json::json!({"level": "error", "msg": msg, "time": time}).to_string()
        }
        LogFormat::Text => format!("time=\"{time}\" level=error msg={msg:?}"),
    };
    let _ = writeln!(f, "{line}");
}

fn humantime_now() -> String {
    humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string()
}
