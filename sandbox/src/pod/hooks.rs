//! Container lifecycle hooks (`lifecycle.postStart`, `lifecycle.preStop`): an `exec`
//! handler runs a command inside the container as `podrt exec` would; an `httpGet`
//! handler sends a GET from inside the pod's network namespace (to the pod's own
//! address, or `host` when given) and succeeds on a 2xx or 3xx answer, as kubelet's
//! does. Hooks are started without waiting, so several can run at once.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::Duration;

use k8s_openapi::api::core::v1::LifecycleHandler;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use podrt_runtime::exec::{exec_with_terminal, ExecOptions};
use podrt_runtime::Container as RtContainer;

use crate::error::{Error, Result};

/// Start `handler` for `container`; returns the PID of the process carrying it out
/// (the exec'd command, or a child making the HTTP request), to be waited for.
/// `netns` is the pod's network namespace pin.
pub(crate) fn start(
    handler: &LifecycleHandler,
    container: &RtContainer,
    netns: Option<&Path>,
    field: &str,
) -> Result<i32> {
    if let Some(exec) = &handler.exec {
        let command = exec.command.clone().unwrap_or_default();
        if command.is_empty() {
            return Err(Error::Unsupported {
                field: format!("{field}.exec.command"),
                message: "empty".into(),
            });
        }
        let spec = container.spec()?;
        let mut process = spec.process().clone().unwrap_or_default();
        process.set_args(Some(command));
        process.set_terminal(Some(false));
        let null = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")
            .map_err(|e| Error::io("opening", "/dev/null", e))?;
        let fd = null.as_raw_fd();
        let opts = ExecOptions {
            stdio: Some([fd, fd, fd]),
            ..ExecOptions::default()
        };
        let (pid, _) = exec_with_terminal(container, &process, &opts)?;
        return Ok(pid);
    }
    if let Some(get) = &handler.http_get {
        let port = match &get.port {
            IntOrString::Int(p) => u16::try_from(*p).ok(),
            IntOrString::String(s) => s.parse().ok(),
        }
        .ok_or_else(|| Error::Unsupported {
            field: format!("{field}.httpGet.port"),
            message: "podrt needs a port number here (named ports are not looked up)".into(),
        })?;
        let host = get.host.clone().unwrap_or_else(|| "127.0.0.1".into());
        let path = get.path.clone().unwrap_or_else(|| "/".into());
        return http_child(netns, &host, port, &path);
    }
    Err(Error::Unsupported {
        field: field.into(),
        message: "podrt runs exec and httpGet hook handlers".into(),
    })
}

/// Fork a child that joins `netns` and makes the request; its exit status is 0 on
/// success. Called from single-threaded podrt processes.
fn http_child(netns: Option<&Path>, host: &str, port: u16, path: &str) -> Result<i32> {
    let ns = match netns {
        Some(p) => Some(std::fs::File::open(p).map_err(|e| Error::io("opening", p, e))?),
        None => None,
    };
    // SAFETY: fork of a single-threaded process; the child joins a namespace, makes
    // one request and exits without returning.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(Error::last_os("forking for an httpGet hook of", "/"));
    }
    if pid == 0 {
        let ok = ns
            .as_ref()
            // SAFETY: setns on a descriptor we own.
            .is_none_or(|f| unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } == 0)
            && http_get(host, port, path);
        // SAFETY: leave the child at once.
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    Ok(pid)
}

/// One GET; true on a 2xx or 3xx status.
fn http_get(host: &str, port: u16, path: &str) -> bool {
    let Ok(mut s) = TcpStream::connect((host, port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let req = format!("GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: podrt\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 32];
    let n = s.read(&mut head).unwrap_or(0);
    let line = String::from_utf8_lossy(&head[..n]);
    line.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse::<u16>().ok())
        .is_some_and(|c| (200..400).contains(&c))
}

/// Wait (blocking) for a hook process; true if it succeeded.
pub(crate) fn wait(pid: i32) -> bool {
    let mut status = 0;
    loop {
        // SAFETY: waitpid on our own child with a pointer to a local.
        let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
        if rc == pid {
            return libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
        }
        if rc < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return false;
        }
    }
}

/// Has the hook process ended? `Some(success)` once it has.
pub(crate) fn poll(pid: i32) -> Option<bool> {
    let mut status = 0;
    // SAFETY: waitpid with WNOHANG on our own child.
    let rc = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
    if rc == pid {
        Some(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0)
    } else if rc < 0 {
        Some(false)
    } else {
        None
    }
}
