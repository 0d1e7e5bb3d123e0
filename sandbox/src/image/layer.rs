//! One layer blob, from whatever stream it arrives on (a file of a layout or
//! archive, or a registry's response), into a directory: sniffed for gzip, zstd or
//! no compression, unpacked, and checked against the blob digest and size and the
//! uncompressed tar's diff id, all in the one read. Import and pull share it and
//! each turn a [`Fault`] into an error that names their own source.

use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use super::digest::{HashingReader, Sha256};
use super::source::Compression;
use super::unpack::{unpack, EntryError};

/// What a layer blob must be.
pub(super) struct Expected<'a> {
    /// The blob's digest (of the bytes as stored, compressed or not), when known.
    pub(crate) digest: Option<&'a Sha256>,
    /// The blob's size, when known.
    pub(crate) size: Option<u64>,
    /// The digest of the uncompressed tar (the config's diff id).
    pub(crate) diff_id: &'a Sha256,
}

/// Why a layer could not be unpacked.
#[derive(Debug)]
pub(super) enum Fault {
    /// Reading the blob failed (the file, the network, or the decompressor).
    Read(io::Error),
    /// The blob (or, `uncompressed`, its tar) hashes to another digest.
    Mismatch {
        /// Whether it is the diff id (the uncompressed tar) that differs.
        uncompressed: bool,
        /// The digest it should have.
        expected: String,
        /// The digest it has.
        actual: String,
    },
    /// The blob has another size than its descriptor states.
    Size {
        /// The size stated.
        expected: u64,
        /// The bytes read.
        actual: u64,
    },
    /// An entry of the tar cannot be unpacked safely.
    Entry(EntryError),
}

/// Unpack the layer blob `blob` into the existing empty directory `dir` and check
/// it against `want`; returns the bytes of file content unpacked.
pub(super) fn unpack_verified<R: Read>(
    blob: R,
    want: &Expected<'_>,
    dir: &Path,
) -> Result<u64, Fault> {
    let mut raw = BufReader::with_capacity(256 * 1024, HashingReader::new(blob));
    let streamed = match Compression::sniff(raw.fill_buf().map_err(Fault::Read)?) {
        Compression::Zstd => match zstd::stream::read::Decoder::with_buffer(&mut raw) {
            Ok(d) => unpack_stream(d, dir),
            Err(e) => Streamed::failed(e),
        },
        Compression::Gzip => unpack_stream(flate2::bufread::MultiGzDecoder::new(&mut raw), dir),
        Compression::None => unpack_stream(&mut raw, dir),
    };
    // Read the blob to its end whatever happened, so a corrupt blob is reported
    // as one rather than as the decompression or tar error it caused.
    let drained = io::copy(&mut raw, &mut io::sink());
    let finished = raw.into_inner().finish();
    let (blob_digest, blob_size) = match (drained, finished) {
        (Ok(_), Ok(done)) => done,
        (Err(e), _) | (_, Err(e)) => return Err(Fault::Read(e)),
    };
    // The size first: a blob cut short is reported as that, not as the other
    // digest it then has.
    if let Some(expected) = want.size {
        if expected != blob_size {
            return Err(Fault::Size {
                expected,
                actual: blob_size,
            });
        }
    }
    if let Some(expected) = want.digest {
        if blob_digest != *expected {
            return Err(Fault::Mismatch {
                uncompressed: false,
                expected: expected.to_string(),
                actual: blob_digest.to_string(),
            });
        }
    }
    match streamed.diff_id {
        Ok(actual) if actual != *want.diff_id => {
            return Err(Fault::Mismatch {
                uncompressed: true,
                expected: want.diff_id.to_string(),
                actual: actual.to_string(),
            })
        }
        Ok(_) => {}
        // An unpack error below says more than the read error it led to.
        Err(e) if streamed.unpacked.is_ok() => return Err(Fault::Read(e)),
        Err(_) => {}
    }
    streamed.unpacked.map_err(Fault::Entry)
}

/// What streaming one layer tar gave: the unpack's outcome and the tar's digest.
struct Streamed {
    unpacked: Result<u64, EntryError>,
    diff_id: io::Result<Sha256>,
}

impl Streamed {
    /// The decompressor could not even start.
    fn failed(e: io::Error) -> Streamed {
        Streamed {
            unpacked: Err(EntryError {
                entry: String::new(),
                reason: format!("cannot start decompressing: {e}"),
            }),
            diff_id: Err(e),
        }
    }
}

/// Unpack a tar stream, then hash it to its end, also after a failed unpack: an
/// altered layer is then reported as the digest mismatch it is.
fn unpack_stream<R: Read>(tar: R, dir: &Path) -> Streamed {
    let mut tar = HashingReader::new(tar);
    let unpacked = unpack(&mut tar, dir);
    Streamed {
        unpacked,
        diff_id: tar.finish().map(|(d, _)| d),
    }
}
