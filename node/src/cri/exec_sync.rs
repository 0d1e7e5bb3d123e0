//! `ExecSync`: run a command in a running container and return its output and
//! exit code, as kubelet's exec probes and `crictl exec -s` do.
//!
//! The command runs through `podrt exec` (this binary, a fresh process), not
//! by forking this server: entering a container forks and runs code that is
//! only sound in a process with one thread, and this one has several. Output
//! is capped per stream at [`OUTPUT_LIMIT`] (CRI-O's; kubelet reads far less),
//! the rest read and dropped so the command never blocks on a full pipe. On
//! time-out the command is sent SIGTERM (`podrt exec` passes it on), the call
//! ends with `DeadlineExceeded`, and `podrt exec` is killed 2 s later.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use k8s_cri::v1;
use tokio::io::{AsyncRead, AsyncReadExt};
use tonic::Status;

/// The most bytes of each stream returned: both streams and the message's
/// framing stay under kubelet's 16 MiB.
pub(crate) const OUTPUT_LIMIT: usize = 8 * 1024 * 1024 - 4096;

/// How long the command has to end on SIGTERM after a time-out, before
/// `podrt exec` is killed.
const KILL_AFTER: Duration = Duration::from_secs(2);

/// Where the command runs: the container `container` of pod `namespace/pod`
/// under `root`, through the podrt binary `exe`.
pub(crate) struct Target {
    /// The podrt binary.
    pub(crate) exe: PathBuf,
    /// podrt's root.
    pub(crate) root: PathBuf,
    /// The pod's namespace.
    pub(crate) namespace: String,
    /// The pod's name.
    pub(crate) pod: String,
    /// The container's name.
    pub(crate) container: String,
}

/// Run `cmd` in `target`, for at most `timeout` (none: no limit).
pub(crate) async fn run(
    target: Target,
    cmd: Vec<String>,
    timeout: Option<Duration>,
) -> Result<v1::ExecSyncResponse, Status> {
    if cmd.is_empty() {
        return Err(Status::invalid_argument(
            "cmd: empty: give the command to run",
        ));
    }
    let mut child = tokio::process::Command::new(&target.exe)
        .arg("--root")
        .arg(&target.root)
        .arg("-n")
        .arg(&target.namespace)
        .arg("exec")
        .arg(&target.pod)
        .arg("-c")
        .arg(&target.container)
        .arg("--")
        .args(&cmd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Status::internal(format!("running {} exec: {e}", target.exe.display())))?;
    let pid = child.id();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let ended = {
        let finished = async {
            let (out, err) = tokio::join!(capped(stdout), capped(stderr));
            (out, err, child.wait().await)
        };
        match timeout {
            Some(limit) => tokio::time::timeout(limit, finished).await.ok(),
            None => Some(finished.await),
        }
    };
    let Some((stdout, stderr, status)) = ended else {
        if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        tokio::spawn(async move {
            if tokio::time::timeout(KILL_AFTER, child.wait())
                .await
                .is_err()
            {
                let _ = child.kill().await;
            }
        });
        return Err(Status::deadline_exceeded(format!(
            "command {cmd:?} timed out after {:?}",
            timeout.unwrap_or_default()
        )));
    };
    let status = status.map_err(|e| Status::internal(format!("waiting for podrt exec: {e}")))?;
    let exit_code = match (
        status.code(),
        std::os::unix::process::ExitStatusExt::signal(&status),
    ) {
        (Some(code), _) => code,
        (None, Some(sig)) => 128 + sig,
        (None, None) => -1,
    };
    Ok(v1::ExecSyncResponse {
        stdout,
        stderr,
        exit_code,
    })
}

/// All of a stream up to [`OUTPUT_LIMIT`], the rest read and dropped.
async fn capped(stream: Option<impl AsyncRead + Unpin>) -> Vec<u8> {
    let mut kept = Vec::new();
    let Some(mut stream) = stream else {
        return kept;
    };
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return kept,
            Ok(n) => {
                let room = OUTPUT_LIMIT.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
}
