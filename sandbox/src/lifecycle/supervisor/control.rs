//! The supervisor's control socket, `supervisor.sock` in the pod's directory. podrt
//! commands ask a live supervisor directly and fall back to the state files when it
//! is gone. One [`Request`] line, one [`Reply`] line, in the supervisor's
//! [`protocol`](super::protocol):
//! - `status` → `status`: each container's [`ContainerState`](super::state::ContainerState), by name;
//! - `terminate` with the grace period (`podrt delete`) → `ok`: the pod is being
//!   deleted; restart nothing, and terminate every container gracefully in a
//!   terminator process of the supervisor's, which goes on without the command;
//! - `terminating` → `ok`: the pod is being deleted; restart nothing from now on;
//! - for a pod kubelet drives over the CRI ([`super::MadeWhen::Kubelet`]):
//!   `create` → `ok` once the container (already in the manifest) is made and
//!   waits to be started, `start` → `ok` once it runs, `forget` → `ok` once
//!   the supervisor no longer watches it (its caller removes it); `error` with
//!   the reason otherwise;
//! - `reopen_log` → `ok` once a running container's output goes to a new file
//!   at its log's path (`ReopenContainerLog`, after kubelet renamed the old).
//!
//! A request the supervisor cannot read (another podrt release's) gets an `error`
//! reply that says why.

use std::io::{BufReader, ErrorKind};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::Duration;

use super::protocol::{self, Reply, Request};
use crate::error::{Error, Result};

/// The socket's file name in the pod directory.
pub(crate) const SOCKET: &str = "supervisor.sock";

/// Ask the pod's supervisor `request`; its reply. Fails if no supervisor listens
/// (it is gone), it does not answer within a second, or its answer is not one
/// this podrt can read (it speaks another protocol version).
pub(crate) fn request(pod_dir: &Path, request: &Request) -> Result<Reply> {
    let path = pod_dir.join(SOCKET);
    let io = |e: std::io::Error| Error::io("asking the pod's supervisor at", &path, e);
    let protocol = |e: protocol::Error| io(std::io::Error::new(ErrorKind::InvalidData, e));
    let mut s = UnixStream::connect(&path).map_err(io)?;
    s.set_read_timeout(Some(Duration::from_secs(1)))
        .map_err(io)?;
    s.set_write_timeout(Some(Duration::from_secs(1)))
        .map_err(io)?;
    protocol::send(&mut s, request).map_err(protocol)?;
    match protocol::receive(&mut BufReader::new(s)).map_err(protocol)? {
        Some(reply) => Ok(reply),
        None => Err(io(std::io::Error::new(
            ErrorKind::UnexpectedEof,
            "the supervisor closed the connection without a reply",
        ))),
    }
}

/// Listen on the pod's socket (non-blocking, for the supervisor's poll loop). Only
/// root may connect: the socket is 0600, in the pod's 0700 directory.
pub(crate) fn listen(pod_dir: &Path) -> Option<UnixListener> {
    let path = pod_dir.join(SOCKET);
    let _ = std::fs::remove_file(&path);
    let l = podrt_runtime::private_fs::bind_unix(&path).ok()?;
    l.set_nonblocking(true).ok()?;
    Some(l)
}

/// Read one request from a connection just accepted (bounded wait): `None` if
/// nothing came, an error if what came is not a request this podrt can read.
pub(crate) fn read_request(
    conn: &UnixStream,
) -> Option<std::result::Result<Request, protocol::Error>> {
    conn.set_nonblocking(false).ok()?;
    conn.set_read_timeout(Some(Duration::from_millis(200)))
        .ok()?;
    match protocol::receive(&mut BufReader::new(conn)) {
        Ok(Some(request)) => Some(Ok(request)),
        Ok(None) | Err(protocol::Error::Read { .. }) => None,
        Err(e) => Some(Err(e)),
    }
}

/// Send the reply.
pub(crate) fn reply(mut conn: &UnixStream, reply: &Reply) {
    let _ = conn.set_write_timeout(Some(Duration::from_millis(200)));
    let _ = protocol::send(&mut conn, reply);
}
