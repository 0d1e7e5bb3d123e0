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

/// How often a pass runs while the agent's threads delete pods.
const DELETING_POLL: Duration = Duration::from_millis(50);

/// The agent is long-lived and starts a thread per pod it deletes; glibc
/// would give each thread a malloc arena of its own, and keep the memory:
/// two arenas hold the agent's RSS near its idle size after a rollout.
fn limit_malloc_arenas() {
    // SAFETY: mallopt only changes allocator tuning; M_ARENA_MAX is a valid
    // parameter and 2 a valid value.
    let ok = unsafe { libc::mallopt(libc::M_ARENA_MAX, 2) };
    if ok == 0 {
        tracing::debug!("mallopt(M_ARENA_MAX) refused; the allocator keeps its defaults");
    }
}

fn socket_path(root: &Path) -> PathBuf {
    root.join("agent.sock")
}

fn lock_path(root: &Path) -> PathBuf {
    root.join("agent.lock")
}

/// The cluster DNS the agent serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsSettings {
    /// Where it listens (port 53).
    pub address: std::net::Ipv4Addr,
    /// The cluster domain.
    pub domain: String,
    /// Where names outside the cluster go.
    pub upstreams: Vec<std::net::SocketAddr>,
}

/// Runs the agent for pods under `opts.root` and workloads under `state_dir`
/// until killed, on a node with `node_labels` besides kubelet's own, serving
/// the cluster DNS as `dns` says (none: no DNS; one that cannot be bound is
/// reported and left out), and the CRI as `cri` says (none: no CRI). An error
/// if another agent runs for the same root, or the CRI's socket cannot be had.
pub fn serve(
    mut opts: Options,
    state_dir: &Path,
    node_labels: std::collections::BTreeMap<String, String>,
    dns: Option<DnsSettings>,
    cri: Option<crate::cri::CriSettings>,
) -> Result<()> {
    let root = opts.root.clone();
    private_fs::create_dir_all(&root).map_err(|e| Error::io("creating", &root, e))?;
    let lock = lock_path(&root);
    let file = private_fs::open_lock(&lock).map_err(|e| Error::io("opening", &lock, e))?;
    let _held =
        Flock::lock(file, FlockArg::LockExclusiveNonblock).map_err(|_| Error::AgentRunning {
            root: root.clone(),
            lock: lock.clone(),
        })?;
    // Before any thread: the resolver is a forked process. Without it the
    // controllers still run (a host resolver may hold port 53 everywhere).
    let dns =
        dns.filter(
            |d| match crate::dns::start(&root, d.address, &d.domain, d.upstreams.clone()) {
                Ok(()) => true,
                Err(e) => {
                    eprintln!(
                    "podrt serve: no cluster DNS: {e} (serve --dns-address picks another address)"
                );
                    tracing::error!(error = %e, "no cluster DNS");
                    false
                }
            },
        );
    if let Some(d) = &dns {
        // The pods this agent makes ask it, unless --cluster-dns said otherwise.
        if opts.dns.servers.is_empty() {
            opts.dns.servers = vec![d.address.to_string()];
            opts.dns.domain = d.domain.clone();
        }
    }
    // Also before any thread, and after the DNS: its pods use the cluster DNS.
    if let Some(cri) = cri {
        let required = cri.required;
        match crate::cri::start(&opts, cri) {
            Ok(()) => {}
            Err(e) if !required => {
                eprintln!("podrt serve: no CRI: {e} (serve --cri-listen picks another socket)");
                tracing::error!(error = %e, "no CRI");
            }
            Err(e) => return Err(e),
        }
    }
    let sock = socket_path(&root);
    // Ours to replace: the lock says no other agent uses it.
    let _ = std::fs::remove_file(&sock);
    let socket = UnixDatagram::bind(&sock).map_err(|e| Error::io("binding", &sock, e))?;
    socket
        .set_read_timeout(Some(RESYNC))
        .map_err(|e| Error::io("setting a timeout on", &sock, e))?;
    let controllers = Controllers::new(Store::open(state_dir)?, opts, node_labels);
    let mut published: Option<crate::dns::Zone> = None;
    let mut proxy = crate::proxy::Proxy::new(&root);
    tracing::info!(root = %root.display(), state_dir = %state_dir.display(), "podrt serve: controllers running");
    limit_malloc_arenas();
    let mut buf = [0u8; 64];
    let mut again = false;
    loop {
        let outcome = controllers.pass();
        if let Ok(o) = &outcome {
            proxy.sync(&o.services);
        }
        if let (Some(d), Ok(o)) = (&dns, &outcome) {
            publish_zone(
                &root,
                crate::dns::zone(&d.domain, &o.services),
                &mut published,
            );
        }
        // What a pass made is seen (Running, Ready) by the next, whose
        // statuses `rollout status` waits for: that one runs at once. Only one:
        // pods that fail as soon as they are made are not remade in a loop.
        again = !again && outcome.as_ref().is_ok_and(|o| o.acted);
        let wait = match outcome {
            _ if again => None,
            // Pods being deleted end without a nudge: look often.
            Ok(outcome) if outcome.deleting => Some(DELETING_POLL),
            Ok(_) => Some(RESYNC),
            Err(e) => {
                tracing::warn!(error = %e, "controller pass");
                Some(RESYNC)
            }
        };
        // SAFETY: malloc_trim only gives free heap memory back to the kernel.
        unsafe { libc::malloc_trim(0) };
        let Some(wait) = wait else {
            continue;
        };
        // Wait for a nudge or the timeout; nudges that piled up meanwhile are
        // answered by the one pass.
        let _ = socket.set_read_timeout(Some(wait));
        let _ = socket.recv(&mut buf);
        let _ = socket.set_nonblocking(true);
        while socket.recv(&mut buf).is_ok() {}
        let _ = socket.set_nonblocking(false);
    }
}

/// Writes `zone` for the resolver when it changed since `published`.
fn publish_zone(root: &Path, zone: crate::dns::Zone, published: &mut Option<crate::dns::Zone>) {
    if published.as_ref() == Some(&zone) {
        return;
    }
    match crate::dns::publish(root, &zone) {
        Ok(()) => *published = Some(zone),
        Err(e) => tracing::warn!(error = %e, "writing the DNS zone"),
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
