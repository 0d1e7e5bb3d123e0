//! Running one CNI plugin: find its executable in the plugin dirs, start it in
//! its own process group with the `CNI_*` environment and the config on stdin,
//! and turn its stdout into a result or its error object into an [`Error`].
//! A plugin that outlives the timeout is killed with its whole process group.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use serde_json::Value;

use super::error::{Call, Error, Result};

/// The most output read from a plugin; results are a few KiB.
const MAX_OUTPUT: u64 = 16 << 20;
/// The most of a failing plugin's stderr quoted in an error.
const MAX_QUOTED: usize = 2000;
/// How often a running plugin is polled for exit.
const POLL: Duration = Duration::from_millis(5);

/// Everything a plugin is told besides its config.
pub(crate) struct Invocation<'a> {
    /// Which plugin, command and network (for errors).
    pub(crate) call: Call,
    /// `CNI_CONTAINERID`.
    pub(crate) container_id: &'a str,
    /// `CNI_NETNS`.
    pub(crate) netns: &'a Path,
    /// `CNI_IFNAME`.
    pub(crate) ifname: &'a str,
    /// The plugin dirs, searched in order and passed as `CNI_PATH`.
    pub(crate) bin_dirs: &'a [PathBuf],
    /// How long the plugin may run.
    pub(crate) timeout: Duration,
}

/// The executable plugin `name` in `dirs`, first match wins.
pub(crate) fn plugin_path(name: &str, dirs: &[PathBuf]) -> Option<PathBuf> {
    dirs.iter().map(|dir| dir.join(name)).find(|path| {
        path.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// Finds the executable for `call.plugin` in `dirs`, first match wins.
pub(crate) fn find_plugin(call: &Call, dirs: &[PathBuf]) -> Result<PathBuf> {
    plugin_path(&call.plugin, dirs).ok_or_else(|| Error::PluginNotFound {
        call: Box::new(call.clone()),
        dirs: dirs.to_vec(),
    })
}

/// Runs the plugin with `config` on stdin; returns its parsed stdout, or `None`
/// if it printed nothing (as DEL and CHECK usually do).
pub(crate) fn run(inv: &Invocation<'_>, config: &Value) -> Result<Option<Value>> {
    let path = find_plugin(&inv.call, inv.bin_dirs)?;
    let input = serde_json::to_vec(config).map_err(|e| Error::BadResult {
        call: Box::new(inv.call.clone()),
        message: format!("cannot encode its config: {e}"),
    })?;
    let mut child = spawn(inv, &path)?;
    let deadline = Instant::now() + inv.timeout;

    // Feed stdin and drain stdout/stderr on threads so that a plugin which
    // ignores stdin or fills a pipe cannot block us past the deadline.
    let feeder = child.stdin.take().map(|mut stdin| {
        thread::spawn(move || {
            // A plugin may exit without reading its config; that is its business.
            let _ = stdin.write_all(&input);
        })
    });
    let (stdout, stdout_thread) = drain(child.stdout.take());
    let (stderr, stderr_thread) = drain(child.stderr.take());

    let status = match wait_until(&mut child, deadline) {
        Some(status) => status,
        None => return Err(kill_group(inv, &mut child)),
    };
    let remaining = deadline.saturating_duration_since(Instant::now()) + POLL;
    // A background process the plugin left behind may hold stdout open.
    let out = stdout.recv_timeout(remaining).map_err(|_| Error::Timeout {
        call: Box::new(inv.call.clone()),
        timeout: inv.timeout,
    })?;
    // stderr only matters for the message; wait for it briefly, not to the deadline.
    let grace = deadline
        .saturating_duration_since(Instant::now())
        .min(Duration::from_secs(1));
    let err = stderr.recv_timeout(grace + POLL);
    // The helper threads are done (the plugin exited, its pipes were read to
    // the end): join them, so that no thread of ours is still running when the
    // caller forks next (a fork beside a running thread may inherit its locks).
    // A pipe still held open by a plugin's leftover child keeps its thread; that
    // one owns nothing but its buffer.
    if let Some(t) = feeder {
        let _ = t.join();
    }
    let _ = stdout_thread.map(thread::JoinHandle::join);
    let err = match err {
        Ok(err) => {
            let _ = stderr_thread.map(thread::JoinHandle::join);
            err
        }
        Err(_) => Vec::new(),
    };
    if status.success() {
        parse_output(&inv.call, &out)
    } else {
        Err(failure(&inv.call, status, &out, &err))
    }
}

fn spawn(inv: &Invocation<'_>, path: &Path) -> Result<Child> {
    let cni_path = std::env::join_paths(inv.bin_dirs).unwrap_or_else(|_| {
        // A dir with ':' in its name cannot be expressed in CNI_PATH; fall back
        // to the dirs that can, since the plugin itself was found already.
        let ok: Vec<&PathBuf> = inv
            .bin_dirs
            .iter()
            .filter(|d| !d.as_os_str().as_encoded_bytes().contains(&b':'))
            .collect();
        std::env::join_paths(ok).unwrap_or_else(|_| OsString::new())
    });
    let mut cmd = Command::new(path);
    cmd.env("CNI_COMMAND", inv.call.command.as_str())
        .env("CNI_CONTAINERID", inv.container_id)
        .env("CNI_NETNS", inv.netns)
        .env("CNI_IFNAME", inv.ifname)
        .env("CNI_PATH", cni_path)
        .env_remove("CNI_ARGS")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own group, so a timeout kills anything it started too.
        .process_group(0);
    // ETXTBSY: the plugin was just written and another thread's fork still
    // holds it open for writing; that passes within moments.
    let mut tries = 0;
    loop {
        match cmd.spawn() {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 20 => {
                tries += 1;
                thread::sleep(POLL);
            }
            other => {
                return other.map_err(|source| Error::Spawn {
                    call: Box::new(inv.call.clone()),
                    path: path.to_path_buf(),
                    source,
                })
            }
        }
    }
}

/// Reads `pipe` to its end on a thread; the output arrives on the receiver.
fn drain<R: Read + Send + 'static>(
    pipe: Option<R>,
) -> (mpsc::Receiver<Vec<u8>>, Option<thread::JoinHandle<()>>) {
    let (tx, rx) = mpsc::channel();
    let Some(pipe) = pipe else {
        let _ = tx.send(Vec::new());
        return (rx, None);
    };
    let handle = thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.take(MAX_OUTPUT).read_to_end(&mut buf);
        let _ = tx.send(buf);
    });
    (rx, Some(handle))
}

/// Polls (not blocks) so the child stays unreaped, and its pid and process
/// group ours to signal, until we decide.
fn wait_until(child: &mut Child, deadline: Instant) -> Option<ExitStatus> {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() >= deadline => return None,
            Ok(None) => thread::sleep(POLL),
            // ECHILD and the like: treat as gone, and let the caller kill the group.
            Err(_) => return None,
        }
    }
}

fn kill_group(inv: &Invocation<'_>, child: &mut Child) -> Error {
    let pgid = i32::try_from(child.id()).map(Pid::from_raw);
    if let Ok(pgid) = pgid {
        // The group may already be empty; nothing else to do then.
        let _ = killpg(pgid, Signal::SIGKILL);
    }
    let _ = child.wait();
    tracing::warn!(call = %inv.call, timeout = ?inv.timeout, "killed CNI plugin after timeout");
    Error::Timeout {
        call: Box::new(inv.call.clone()),
        timeout: inv.timeout,
    }
}

fn parse_output(call: &Call, out: &[u8]) -> Result<Option<Value>> {
    if out.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(out)
        .map(Some)
        .map_err(|e| Error::BadResult {
            call: Box::new(call.clone()),
            message: format!("stdout is not JSON ({e}): {}", quote(out)),
        })
}

/// The plugin's error object, or failing that its exit status and stderr.
fn failure(call: &Call, status: ExitStatus, out: &[u8], err: &[u8]) -> Error {
    if let Ok(Value::Object(obj)) = serde_json::from_slice::<Value>(out) {
        if let Some(code) = obj.get("code").and_then(Value::as_u64) {
            let text = |k: &str| obj.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            return Error::Plugin {
                call: Box::new(call.clone()),
                code: u32::try_from(code).unwrap_or(u32::MAX),
                msg: text("msg"),
                details: text("details"),
            };
        }
    }
    let status = match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        (None, None) => status.to_string(),
    };
    let quoted = if err.iter().all(u8::is_ascii_whitespace) {
        out
    } else {
        err
    };
    Error::PluginFailed {
        call: Box::new(call.clone()),
        status,
        stderr: quote(quoted),
    }
}

/// The tail of a plugin's output, trimmed, for an error message.
fn quote(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    let start = text.len().saturating_sub(MAX_QUOTED);
    let start = (start..text.len())
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(text.len());
    text[start..].to_string()
}
