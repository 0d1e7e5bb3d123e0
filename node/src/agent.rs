//! `podrt serve`'s loop: a controller pass, then wait for a nudge or the resync
//! period, forever. A command that changed the desired state nudges the agent (a
//! datagram on `ROOT/agent.sock`) so it acts at once; the resync catches what no
//! command announces (a container that crashed, a pod deleted by hand).
//!
//! One agent per root: it holds `ROOT/agent.lock` for its life; the kernel drops
//! the lock when it dies, however it dies. It keeps nothing in memory that the
//! next pass needs, so SIGKILL at any moment loses nothing.

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::fcntl::{Flock, FlockArg};
use podrt_sandbox::pod::Options;
use podrt_sandbox::runtime::private_fs;

use crate::controllers::Controllers;
use crate::error::{Error, Result};
use crate::store::Store;

/// How often a pass runs with nobody nudging.
pub const RESYNC: Duration = Duration::from_secs(1);

fn socket_path(root: &Path) -> PathBuf {
    root.join("agent.sock")
}

fn lock_path(root: &Path) -> PathBuf {
    root.join("agent.lock")
}

/// Runs the agent for pods under `opts.root` and workloads under `state_dir`
/// until killed. An error if another agent runs for the same root.
pub fn serve(opts: Options, state_dir: &Path) -> Result<()> {
    let root = opts.root.clone();
    private_fs::create_dir_all(&root).map_err(|e| Error::io("creating", &root, e))?;
    let lock = lock_path(&root);
    let file = private_fs::open_lock(&lock).map_err(|e| Error::io("opening", &lock, e))?;
    let _held =
        Flock::lock(file, FlockArg::LockExclusiveNonblock).map_err(|_| Error::AgentRunning {
            root: root.clone(),
            lock: lock.clone(),
        })?;
    let sock = socket_path(&root);
    // Ours to replace: the lock says no other agent uses it.
    let _ = std::fs::remove_file(&sock);
    let socket = UnixDatagram::bind(&sock).map_err(|e| Error::io("binding", &sock, e))?;
    socket
        .set_read_timeout(Some(RESYNC))
        .map_err(|e| Error::io("setting a timeout on", &sock, e))?;
    let controllers = Controllers::new(Store::open(state_dir)?, opts);
    tracing::info!(root = %root.display(), state_dir = %state_dir.display(), "podrt serve: controllers running");
    let mut buf = [0u8; 64];
    loop {
        if let Err(e) = controllers.pass() {
            tracing::warn!(error = %e, "controller pass");
        }
        // Wait for a nudge or the resync; nudges that piled up meanwhile are
        // answered by the one pass.
        let _ = socket.recv(&mut buf);
        let _ = socket.set_nonblocking(true);
        while socket.recv(&mut buf).is_ok() {}
        let _ = socket.set_nonblocking(false);
    }
}

/// Whether an agent runs for `root` (its lock is held).
pub fn running(root: &Path) -> bool {
    let Ok(file) = std::fs::File::open(lock_path(root)) else {
        return false;
    };
    Flock::lock(file, FlockArg::LockSharedNonblock).is_err()
}

/// Asks the agent for `root`, if one runs, to make a pass now. Whether one
/// got it.
pub fn nudge(root: &Path) -> bool {
    let Ok(socket) = UnixDatagram::unbound() else {
        return false;
    };
    socket.send_to(b"pass", socket_path(root)).is_ok()
}
