//! sha256 digests: parsing the `sha256:<hex>` strings images refer to each other by,
//! and a reader that hashes what passes through it, so every blob is verified while
//! it is read rather than in a second pass.

use std::fmt;
use std::io::{self, Read};

use sha2::{Digest as _, Sha256 as Hasher};

/// A `sha256:<64 lower-case hex>` digest; the only algorithm images use in practice.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) struct Sha256(String);

impl Sha256 {
    /// Parse `sha256:<hex>`; `None` for anything else.
    pub(crate) fn parse(s: &str) -> Option<Sha256> {
        let hex = s.strip_prefix("sha256:")?;
        is_hex64(hex).then(|| Sha256(hex.to_string()))
    }

    /// A bare 64-digit hex string, as docker-archive file names use.
    pub(crate) fn from_hex(hex: &str) -> Option<Sha256> {
        is_hex64(hex).then(|| Sha256(hex.to_string()))
    }

    /// The digest of `bytes`.
    pub(crate) fn of(bytes: &[u8]) -> Sha256 {
        Sha256(hex(&Hasher::digest(bytes)))
    }

    /// The hex part, used as a file name in the store.
    pub(crate) fn hex(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.0)
    }
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hashes and counts every byte read through it.
pub(super) struct HashingReader<R> {
    inner: R,
    hasher: Hasher,
    count: u64,
}

impl<R: Read> HashingReader<R> {
    /// Wrap `inner`.
    pub(crate) fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Hasher::new(),
            count: 0,
        }
    }

    /// Read the rest of the stream (so trailing padding is hashed too) and return
    /// the digest and byte count of everything read.
    pub(crate) fn finish(mut self) -> io::Result<(Sha256, u64)> {
        io::copy(&mut self, &mut io::sink())?;
        Ok((Sha256(hex(&self.hasher.finalize())), self.count))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn parse_accepts_only_sha256_with_64_lower_hex() {
        assert_eq!(
            Sha256::parse(&format!("sha256:{EMPTY}")).unwrap().hex(),
            EMPTY
        );
        assert!(Sha256::parse(EMPTY).is_none());
        assert!(Sha256::parse(&format!("sha512:{EMPTY}")).is_none());
        assert!(Sha256::parse(&format!("sha256:{}", EMPTY.to_uppercase())).is_none());
        assert!(Sha256::parse("sha256:abc").is_none());
    }

    #[test]
    fn hashing_reader_digests_everything_read_including_the_rest() {
        let data = b"hello world".repeat(1000);
        let mut r = HashingReader::new(&data[..]);
        let mut first = [0u8; 10];
        r.read_exact(&mut first).unwrap();
        let (d, n) = r.finish().unwrap();
        assert_eq!(n, data.len() as u64);
        assert_eq!(d, Sha256::of(&data));
        assert_eq!(Sha256::of(b"").to_string(), format!("sha256:{EMPTY}"));
    }
}
