//! The CRI's socket and process: the socket is bound by the agent (so a
//! socket it cannot have is an error `podrt serve` reports at once), then a
//! process forked before any thread serves it with a tokio runtime of two
//! workers, until the agent dies.
//!
//! Under systemd socket activation (`dist/podrt.socket`), the socket systemd
//! passes (`LISTEN_FDS`, descriptor 3) is served instead of binding one.

use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::Arc;

use k8s_cri::v1::image_service_server::ImageServiceServer;
use k8s_cri::v1::runtime_service_server::RuntimeServiceServer;
use podrt_sandbox::pod::Options;
use podrt_sandbox::runtime::private_fs;

use super::authority;
use super::image_service::Images;
use super::maker::Maker;
use super::runtime_service::Runtime;
use super::CriSettings;
use crate::error::{Error, Result};

/// The largest message kubelet sends or accepts (its gRPC limit).
const MAX_MESSAGE: usize = 16 * 1024 * 1024;

/// Bind the socket and fork the server. Call before any thread exists.
pub(crate) fn start(opts: &Options, cri: CriSettings) -> Result<()> {
    let listener = listener(&cri.socket)?;
    let socket = cri.socket.clone();
    let opts = opts.clone();
    crate::companion::fork("forking the CRI server for", &socket, move || {
        let _ = nix::sys::prctl::set_name(c"podrt-cri");
        // Before the runtime's threads: the maker is a fork of this process.
        let maker = match Maker::fork(&opts, std::os::fd::AsRawFd::as_raw_fd(&listener)) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("podrt serve: the CRI server stopped: {e}");
                return 1;
            }
        };
        match serve(listener, opts, cri, maker) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("podrt serve: the CRI server stopped: {e}");
                1
            }
        }
    })?;
    tracing::info!(socket = %socket.display(), "CRI serving");
    Ok(())
}

/// The socket systemd passed, or `path` bound (mode 0660, root's): a stale
/// socket file is replaced, one another server still answers on after 5 s
/// is not.
fn listener(path: &Path) -> Result<UnixListener> {
    if let Some(fd) = activated() {
        return Ok(UnixListener::from(fd));
    }
    let io = |what: &'static str| move |e| Error::io(what, path, e);
    if let Some(dir) = path.parent() {
        private_fs::create_dir_all(dir).map_err(io("creating the directory of"))?;
    }
    // The server of an agent killed just now may not be gone yet: its
    // PR_SET_PDEATHSIG is on its way. Give it a moment.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while UnixStream::connect(path).is_ok() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    if UnixStream::connect(path).is_ok() {
        return Err(Error::io(
            "binding",
            path,
            std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                "another server answers on this socket",
            ),
        ));
    }
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(io("removing the stale socket")(e))
        }
        _ => {}
    }
    let listener = UnixListener::bind(path).map_err(io("binding"))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
        .map_err(io("setting the mode of"))?;
    Ok(listener)
}

/// The listening socket systemd handed this process, if it did.
fn activated() -> Option<OwnedFd> {
    let pid: u32 = std::env::var("LISTEN_PID").ok()?.parse().ok()?;
    let fds: u32 = std::env::var("LISTEN_FDS").ok()?.parse().ok()?;
    if pid != std::process::id() || fds < 1 {
        return None;
    }
    // SAFETY: systemd's protocol: with LISTEN_PID naming us and LISTEN_FDS >= 1,
    // descriptor 3 is an open socket handed to this process, and nothing else
    // owns it.
    Some(unsafe { OwnedFd::from_raw_fd(3) })
}

/// Serve both services on `listener` until the process ends.
fn serve(listener: UnixListener, opts: Options, cri: CriSettings, maker: Maker) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(16)
        .enable_all()
        .build()
        .map_err(|e| Error::io("starting the CRI server's runtime for", &cri.socket, e))?;
    let socket = cri.socket.clone();
    runtime.block_on(async move {
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::io("listening on", &socket, e))?;
        let listener = tokio::net::UnixListener::from_std(listener)
            .map_err(|e| Error::io("listening on", &socket, e))?;
        let opts = Arc::new(opts);
        let runtime = RuntimeServiceServer::new(Runtime::new(opts.clone(), maker))
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE);
        let images = ImageServiceServer::new(Images::new(opts, cri.registries))
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE);
        tonic::transport::Server::builder()
            .add_service(runtime)
            .add_service(images)
            .serve_with_incoming(relayed(listener))
            .await
            .map_err(|e| Error::io("serving", &socket, std::io::Error::other(e)))
    })
}

/// The connections accepted on `listener`, each through an
/// [`authority::relay`] (so clients that send the socket's path as
/// `:authority` are served).
fn relayed(
    listener: tokio::net::UnixListener,
) -> impl tokio_stream::Stream<Item = std::io::Result<Relayed>> {
    use tokio_stream::StreamExt;
    tokio_stream::wrappers::UnixListenerStream::new(listener).map(|accepted| {
        let client = accepted?;
        let (ours, tonics) = tokio::io::duplex(RELAY_BUFFER);
        tokio::spawn(authority::relay(client, ours));
        Ok(Relayed(tonics))
    })
}

/// The buffer between a connection's relay and the server.
const RELAY_BUFFER: usize = 256 * 1024;

/// The server's end of a relayed connection.
struct Relayed(tokio::io::DuplexStream);

impl tonic::transport::server::Connected for Relayed {
    type ConnectInfo = ();

    fn connect_info(&self) -> Self::ConnectInfo {}
}

impl tokio::io::AsyncRead for Relayed {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Relayed {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// Run blocking work (the store and the pods' files) off the async workers;
/// a panic in it becomes an `Internal` status.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> std::result::Result<T, tonic::Status> + Send + 'static,
) -> std::result::Result<T, tonic::Status> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| tonic::Status::internal(format!("the call's worker failed: {e}")))?
}
