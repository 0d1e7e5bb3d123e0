//! Downloading one layer straight into its unpacked directory: the response body
//! is passed, chunk by chunk, to a thread that decompresses, unpacks and hashes it
//! (`layer::unpack_verified`), so a layer is never stored twice and its digests are
//! checked in the same read. The compressed blob is not kept.

use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::{Buf, Bytes};
use futures_util::StreamExt;
use oci_client::manifest::OciDescriptor;
use oci_client::Reference;
use tokio::sync::{mpsc, oneshot};

use super::client::Endpoint;
use super::progress::{LayerState, Progress};
use crate::image::digest::Sha256;
use crate::image::layer::{self, Expected, Fault};

/// Chunks in flight between the download and the unpacking thread.
const QUEUE: usize = 64;

/// One layer to fetch.
pub(super) struct Job {
    /// Its descriptor in the manifest.
    pub(crate) descriptor: OciDescriptor,
    /// Its blob digest, parsed.
    pub(crate) digest: Sha256,
    /// The config's diff id for it.
    pub(crate) diff_id: Sha256,
    /// The empty directory to unpack into.
    pub(crate) dir: PathBuf,
}

/// Download and unpack `job`; returns the unpacked size or a line saying why not.
/// Stops early (with an error) once `cancel` is set by another layer's failure.
pub(super) async fn fetch(
    endpoint: &Endpoint,
    image: &Reference,
    job: &Job,
    cancel: &AtomicBool,
    progress: &dyn Progress,
) -> Result<u64, String> {
    let digest = job.digest.to_string();
    let mut stream = endpoint
        .client
        .pull_blob_stream(image, &job.descriptor)
        .await
        .map_err(|e| endpoint.explain(&e))?;
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(QUEUE);
    let (done_tx, done_rx) = oneshot::channel();
    let want = (
        job.digest.clone(),
        u64::try_from(job.descriptor.size).ok(),
        job.diff_id.clone(),
        job.dir.clone(),
    );
    let thread = std::thread::Builder::new()
        .name("podrt-unpack".into())
        .spawn(move || {
            let (digest, size, diff_id, dir) = want;
            let expected = Expected {
                digest: Some(&digest),
                size,
                diff_id: &diff_id,
            };
            let _ = done_tx.send(layer::unpack_verified(
                ChannelReader::new(rx),
                &expected,
                &dir,
            ));
        })
        .map_err(|e| format!("cannot start a thread to unpack the layer: {e}"))?;
    let mut received = 0u64;
    progress.layer(&digest, job.descriptor.size, LayerState::Started);
    while let Some(chunk) = stream.next().await {
        // The crate checks the digest too and ends a bad blob with its own error
        // (its type is private): end the stream instead, so the unpacking side's
        // check reports the mismatch with both digests, as for an import.
        if chunk
            .as_ref()
            .is_err_and(|e| e.to_string().starts_with("Invalid digest"))
        {
            break;
        }
        let end = chunk.is_err();
        if let Ok(c) = &chunk {
            received += c.len() as u64;
            progress.layer(&digest, job.descriptor.size, LayerState::Bytes(received));
        }
        let chunk = if cancel.load(Ordering::Relaxed) {
            Err(io::Error::other("cancelled: another layer failed"))
        } else {
            chunk
        };
        let stop = end || chunk.is_err();
        if tx.send(chunk).await.is_err() || stop {
            break;
        }
    }
    drop(tx);
    let outcome = done_rx
        .await
        .map_err(|_| "the unpacking thread ended without an answer".to_string())?;
    let _ = thread.join();
    outcome.map_err(|f| describe(f, cancel))
}

/// One line for a fault.
fn describe(fault: Fault, cancel: &AtomicBool) -> String {
    match fault {
        Fault::Read(e) if cancel.load(Ordering::Relaxed) => format!("{e}"),
        Fault::Read(e) => format!("download failed: {}", super::client::chain(&e)),
        Fault::Mismatch {
            uncompressed: false,
            expected,
            actual,
        } => format!("the blob has digest {actual}, not {expected}: it is corrupt on the registry or was altered on the way"),
        Fault::Mismatch {
            uncompressed: true,
            expected,
            actual,
        } => format!(
            "the uncompressed layer has digest {actual}, but the image config says {expected}"
        ),
        Fault::Size { expected, actual } if actual < expected => format!(
            "the download ended after {actual} of {expected} bytes (the registry closed the connection)"
        ),
        Fault::Size { expected, actual } => {
            format!("the blob is {actual} bytes, but the manifest says {expected}")
        }
        Fault::Entry(e) => format!("entry {:?}: {}", e.entry, e.reason),
    }
}

/// A `Read` over the chunks the download sends; an error chunk is returned as
/// the read's error, a closed channel is the end of the blob.
struct ChannelReader {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    current: Bytes,
}

impl ChannelReader {
    fn new(rx: mpsc::Receiver<io::Result<Bytes>>) -> ChannelReader {
        ChannelReader {
            rx,
            current: Bytes::new(),
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.current = b,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current.advance(n);
        Ok(n)
    }
}
