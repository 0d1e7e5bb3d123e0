//! `--log`/`--log-format`/`--debug`: tracing to a file, and the error record runc's
//! callers look for.

use std::io::Write;

use super::args::{Cli, LogFormat};

/// Install a tracing subscriber writing to `--log` (or stderr when `--debug`).
pub fn init(cli: &Cli) {
    let level = if cli.debug { "debug" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("PODRT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false);
    let file = cli.log.as_ref().and_then(|p| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
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
pub fn error(cli: &Cli, msg: &str) {
    let Some(path) = &cli.log else { return };
    let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
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
