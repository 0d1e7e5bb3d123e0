//! The supervisor's control socket, `supervisor.sock` in the pod's directory. podrt
//! commands ask a live supervisor directly and fall back to the state files when it
//! is gone. One request line, one reply line:
//! - `status` → a JSON object mapping each container to its [`ContainerState`];
//! - `terminating` → the pod is being deleted: restart nothing from now on → `ok`.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::Duration;

use crate::error::{Error, Result};

/// The socket's file name in the pod directory.
pub const SOCKET: &str = "supervisor.sock";

/// Ask the pod's supervisor `request`; its one-line reply. Fails if no supervisor
/// listens (it is gone) or it does not answer within a second.
pub fn request(pod_dir: &Path, request: &str) -> Result<String> {
    let path = pod_dir.join(SOCKET);
    let io = |e: std::io::Error| Error::io("asking the pod's supervisor at", &path, e);
    let mut s = UnixStream::connect(&path).map_err(io)?;
    s.set_read_timeout(Some(Duration::from_secs(1)))
        .map_err(io)?;
    s.set_write_timeout(Some(Duration::from_secs(1)))
        .map_err(io)?;
    writeln!(s, "{request}").map_err(io)?;
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).map_err(io)?;
    Ok(line.trim_end().to_string())
}

/// Listen on the pod's socket (non-blocking, for the supervisor's poll loop). Only
/// root may connect: the socket is 0600, in the pod's 0700 directory.
pub fn listen(pod_dir: &Path) -> Option<UnixListener> {
    let path = pod_dir.join(SOCKET);
    let _ = std::fs::remove_file(&path);
    let l = podrt_runtime::private_fs::bind_unix(&path).ok()?;
    l.set_nonblocking(true).ok()?;
    Some(l)
}

/// Read one request from a connection just accepted (bounded wait).
pub fn read_request(conn: &UnixStream) -> Option<String> {
    conn.set_nonblocking(false).ok()?;
    conn.set_read_timeout(Some(Duration::from_millis(200)))
        .ok()?;
    let mut line = String::new();
    BufReader::new(conn).read_line(&mut line).ok()?;
    Some(line.trim_end().to_string())
}

/// Send the reply line.
pub fn reply(mut conn: &UnixStream, text: &str) {
    let _ = conn.set_write_timeout(Some(Duration::from_millis(200)));
    let _ = writeln!(conn, "{text}");
}
