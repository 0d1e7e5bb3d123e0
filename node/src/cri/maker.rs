//! The CRI server's sandbox maker: a process of one thread that makes pod
//! sandboxes (`RunPodSandbox`) for the server.
//!
//! Why: making a pod forks its supervisor, which runs Rust code before it
//! execs, and that is only sound in a process with one thread; the gRPC server
//! has several. So the maker is forked off before the server starts its
//! runtime, and takes one request at a time over a socket pair: a line of JSON
//! with the pod and kubelet's description of it, answered by a line with the
//! new sandbox's id or the error. It ends when the server does (end of file,
//! or the server's death: PR_SET_PDEATHSIG).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::sync::Mutex;

use k8s_openapi::api::core::v1::Pod;
use podrt_sandbox::pod::Options;
use podrt_sandbox::state::kubelet_meta::KubeletPod;
use serde::{Deserialize, Serialize};
use tonic::Status;

use crate::error::{Error, Result};

/// What the server asks.
#[derive(Serialize, Deserialize)]
struct Ask {
    pod: Pod,
    kubelet: KubeletPod,
}

/// What the maker answers.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Answer {
    /// Made: the sandbox id.
    Made { id: String },
    /// Not made; nothing of it is left.
    Failed { code: i32, message: String },
}

/// The server's end of the maker.
pub(crate) struct Maker {
    link: Mutex<BufReader<UnixStream>>,
}

impl Maker {
    /// Fork the maker for pods under `opts`. Call while this process has one
    /// thread. `keep_out` is a descriptor the maker closes (the server's
    /// listening socket, which it must not hold).
    pub(crate) fn fork(opts: &Options, keep_out: std::os::fd::RawFd) -> Result<Maker> {
        let (ours, theirs) =
            UnixStream::pair().map_err(|e| Error::io("making a socket pair for", &opts.root, e))?;
        let root = opts.root.clone();
        let opts = opts.clone();
        let our_end = std::os::fd::AsRawFd::as_raw_fd(&ours);
        crate::companion::fork("forking the sandbox maker for", &root, move || {
            let _ = nix::sys::prctl::set_name(c"podrt-cri-make");
            // SAFETY: closing descriptors this child inherited and never uses:
            // the server's listening socket and the server's end of the pair.
            unsafe {
                libc::close(keep_out);
                libc::close(our_end);
            }
            serve(&opts, theirs);
            0
        })?;
        Ok(Maker {
            link: Mutex::new(BufReader::new(ours)),
        })
    }

    /// Have `pod` made; its sandbox id. Blocks until the maker answers.
    pub(crate) fn make(
        &self,
        pod: Pod,
        kubelet: KubeletPod,
    ) -> std::result::Result<String, Status> {
        let gone = |e: std::io::Error| {
            Status::unavailable(format!("the CRI server's sandbox maker is gone: {e}"))
        };
        let mut line = serde_json::to_vec(&Ask { pod, kubelet })
            .map_err(|e| Status::internal(e.to_string()))?;
        line.push(b'\n');
        let mut link = self
            .link
            .lock()
            .map_err(|_| Status::internal("the sandbox maker's link is poisoned"))?;
        link.get_mut().write_all(&line).map_err(gone)?;
        let mut reply = String::new();
        if link.read_line(&mut reply).map_err(gone)? == 0 {
            return Err(gone(std::io::ErrorKind::UnexpectedEof.into()));
        }
        match serde_json::from_str::<Answer>(&reply) {
            Ok(Answer::Made { id }) => Ok(id),
            Ok(Answer::Failed { code, message }) => {
                Err(Status::new(tonic::Code::from(code), message))
            }
            Err(e) => Err(Status::internal(format!(
                "the sandbox maker's answer {reply:?}: {e}"
            ))),
        }
    }
}

/// The maker's loop: one request, one answer, until end of file.
fn serve(opts: &Options, link: UnixStream) {
    let Ok(mut out) = link.try_clone() else {
        return;
    };
    for line in BufReader::new(link).lines() {
        let Ok(line) = line else {
            return;
        };
        let answer = match serde_json::from_str::<Ask>(&line) {
            Ok(ask) => match podrt_sandbox::lifecycle::kubelet::run_pod(opts, ask.pod, ask.kubelet)
            {
                Ok(sandbox) => Answer::Made {
                    id: sandbox.record.uid,
                },
                Err(e) => {
                    let status = super::pods::status_of(&e);
                    Answer::Failed {
                        code: status.code() as i32,
                        message: status.message().to_string(),
                    }
                }
            },
            Err(e) => Answer::Failed {
                code: tonic::Code::Internal as i32,
                message: format!("the server's request: {e}"),
            },
        };
        let Ok(mut text) = serde_json::to_vec(&answer) else {
            return;
        };
        text.push(b'\n');
        if out.write_all(&text).is_err() {
            return;
        }
    }
}
