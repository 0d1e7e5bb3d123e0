//! Clients that name the CRI socket as HTTP/2's `:authority`.
//!
//! grpc-go dialling `unix:///run/podrt/cri.sock` sent the socket's path as the
//! request's `:authority` until cri-tools 1.31 set `localhost` (so critest and
//! crictl 1.26–1.30 do, as grpc-java and grpc's C core still may). A path is
//! no URI authority, and h2, under tonic, resets every such request with
//! `PROTOCOL_ERROR` before any handler runs. containerd and CRI-O (grpc-go
//! servers) accept it, so podrt must too.
//!
//! So each connection passes through [`relay`]: frames from the client are
//! copied to the server as they come, except header blocks, which are decoded
//! (HPACK, keeping the client's dynamic table), given `localhost` in place of
//! an `:authority` h2 would refuse, and encoded again for the server (with a
//! table of the relay's own, which the server's decoder follows). Frames from
//! the server are copied back untouched. Every header block is re-encoded,
//! not only the ones that change: the server's table must follow the relay's
//! encoder from the first block on.

use std::io;

use loona_hpack::{Decoder, Encoder};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The client's connection preface (RFC 9113 §3.4).
const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// HEADERS and CONTINUATION frame types.
const HEADERS: u8 = 0x1;
const CONTINUATION: u8 = 0x9;
/// HEADERS flags.
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY: u8 = 0x20;
/// The largest frame payload sent to the server: HTTP/2's initial
/// SETTINGS_MAX_FRAME_SIZE, which tonic's server keeps.
const MAX_FRAME: usize = 16_384;
/// The largest header block accepted from a client (kubelet's requests have
/// a few hundred bytes of headers).
const MAX_BLOCK: usize = 1 << 20;

/// Relay one connection: `client` (the accepted socket) to `server` (tonic's
/// end), until either side closes.
pub(crate) async fn relay<C, S>(client: C, server: S)
where
    C: AsyncRead + AsyncWrite + Unpin,
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut client_read, mut client_write) = tokio::io::split(client);
    let (mut server_read, mut server_write) = tokio::io::split(server);
    let up = async {
        let r = forward(&mut client_read, &mut server_write).await;
        let _ = server_write.shutdown().await;
        r
    };
    let down = async {
        let r = tokio::io::copy(&mut server_read, &mut client_write).await;
        let _ = client_write.shutdown().await;
        r
    };
    let (up, down) = tokio::join!(up, down);
    if let Err(e) = up.and(down.map(|_| ())) {
        tracing::debug!("CRI connection: {e}");
    }
}

/// Copy the client's frames to the server, header blocks re-encoded with a
/// valid `:authority`.
async fn forward<R, W>(from: &mut R, to: &mut W) -> io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut preface = [0u8; 24];
    from.read_exact(&mut preface).await?;
    if &preface != PREFACE {
        return Err(bad("the connection does not start with HTTP/2's preface"));
    }
    to.write_all(&preface).await?;
    let mut decoder = Decoder::new();
    let mut encoder = Encoder::new();
    loop {
        let Some((head, payload)) = read_frame(from).await? else {
            return Ok(());
        };
        if head[3] != HEADERS {
            to.write_all(&head).await?;
            to.write_all(&payload).await?;
            continue;
        }
        let flags = head[4];
        let stream = stream_id(&head);
        let (priority, mut block) = headers_payload(flags, &payload)?;
        let mut ended = flags & END_HEADERS != 0;
        while !ended {
            let (next, more) = read_frame(from)
                .await?
                .ok_or_else(|| bad("the connection ended inside a header block"))?;
            if next[3] != CONTINUATION || stream_id(&next) != stream {
                return Err(bad("a header block went on in another frame"));
            }
            if block.len() + more.len() > MAX_BLOCK {
                return Err(bad("a header block larger than 1 MiB"));
            }
            block.extend_from_slice(&more);
            ended = next[4] & END_HEADERS != 0;
        }
        let fields = decoder
            .decode(&block)
            .map_err(|e| bad(&format!("a header block HPACK cannot decode: {e:?}")))?;
        let encoded = encoder.encode(
            fields
                .iter()
                .map(|(name, value)| (name.as_slice(), authority(name, value))),
        );
        write_headers(
            to,
            stream,
            flags & (END_STREAM | PRIORITY),
            priority,
            &encoded,
        )
        .await?;
    }
}

/// The value to send for header `name`: `value`, unless it is an
/// `:authority` h2 would refuse, which becomes `localhost`.
fn authority<'a>(name: &[u8], value: &'a [u8]) -> &'a [u8] {
    if name == b":authority" && http::uri::Authority::try_from(value).is_err() {
        b"localhost"
    } else {
        value
    }
}

/// One frame: its 9-byte head and its payload; `None` at a clean end of the
/// connection (between frames).
async fn read_frame<R: AsyncRead + Unpin>(from: &mut R) -> io::Result<Option<([u8; 9], Vec<u8>)>> {
    let mut head = [0u8; 9];
    match from.read_exact(&mut head).await {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = usize::from(head[0]) << 16 | usize::from(head[1]) << 8 | usize::from(head[2]);
    let mut payload = vec![0u8; len];
    from.read_exact(&mut payload).await?;
    Ok(Some((head, payload)))
}

fn stream_id(head: &[u8; 9]) -> u32 {
    u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff
}

/// A HEADERS payload's priority fields (when flagged) and its header block
/// fragment, padding removed.
fn headers_payload(flags: u8, payload: &[u8]) -> io::Result<(Option<[u8; 5]>, Vec<u8>)> {
    let mut rest = payload;
    let mut pad = 0usize;
    if flags & PADDED != 0 {
        let (&p, tail) = rest
            .split_first()
            .ok_or_else(|| bad("a padded HEADERS frame without its pad length"))?;
        pad = usize::from(p);
        rest = tail;
    }
    let mut priority = None;
    if flags & PRIORITY != 0 {
        if rest.len() < 5 {
            return Err(bad("a HEADERS frame too short for its priority"));
        }
        let mut p = [0u8; 5];
        p.copy_from_slice(&rest[..5]);
        priority = Some(p);
        rest = &rest[5..];
    }
    if pad > rest.len() {
        return Err(bad("a HEADERS frame's padding is longer than the frame"));
    }
    Ok((priority, rest[..rest.len() - pad].to_vec()))
}

/// Send `block` as a HEADERS frame (with `flags` and `priority`) and as many
/// CONTINUATION frames as it needs.
async fn write_headers<W: AsyncWrite + Unpin>(
    to: &mut W,
    stream: u32,
    flags: u8,
    priority: Option<[u8; 5]>,
    block: &[u8],
) -> io::Result<()> {
    let first_room = MAX_FRAME - priority.map_or(0, |p| p.len());
    let (first, mut rest) = block.split_at(block.len().min(first_room));
    let mut payload = Vec::with_capacity(first.len() + 5);
    payload.extend_from_slice(priority.as_ref().map_or(&[][..], |p| &p[..]));
    payload.extend_from_slice(first);
    let end = if rest.is_empty() { END_HEADERS } else { 0 };
    write_frame(to, HEADERS, flags | end, stream, &payload).await?;
    while !rest.is_empty() {
        let (chunk, tail) = rest.split_at(rest.len().min(MAX_FRAME));
        rest = tail;
        let end = if rest.is_empty() { END_HEADERS } else { 0 };
        write_frame(to, CONTINUATION, end, stream, chunk).await?;
    }
    Ok(())
}

async fn write_frame<W: AsyncWrite + Unpin>(
    to: &mut W,
    kind: u8,
    flags: u8,
    stream: u32,
    payload: &[u8],
) -> io::Result<()> {
    let len = payload.len();
    let mut head = [0u8; 9];
    head[0] = (len >> 16) as u8;
    head[1] = (len >> 8) as u8;
    head[2] = len as u8;
    head[3] = kind;
    head[4] = flags;
    head[5..].copy_from_slice(&stream.to_be_bytes());
    to.write_all(&head).await?;
    to.write_all(payload).await
}

fn bad(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client's bytes: the preface and one request's HEADERS frame.
    fn request(authority: &[u8], padded: bool) -> Vec<u8> {
        let mut encoder = Encoder::new();
        let block = encoder.encode([
            (&b":method"[..], &b"POST"[..]),
            (b":scheme", b"http"),
            (b":path", b"/runtime.v1.RuntimeService/Version"),
            (b":authority", authority),
            (b"content-type", b"application/grpc"),
        ]);
        let mut payload = Vec::new();
        let mut flags = END_HEADERS;
        if padded {
            flags |= PADDED;
            payload.push(3);
        }
        payload.extend_from_slice(&block);
        if padded {
            payload.extend_from_slice(&[0, 0, 0]);
        }
        let mut out = PREFACE.to_vec();
        let len = payload.len();
        out.extend_from_slice(&[
            (len >> 16) as u8,
            (len >> 8) as u8,
            len as u8,
            HEADERS,
            flags,
        ]);
        out.extend_from_slice(&1u32.to_be_bytes());
        out.extend_from_slice(&payload);
        out
    }

    /// What the server receives for `bytes`, its first header block decoded.
    fn relayed(bytes: Vec<u8>) -> Vec<(Vec<u8>, Vec<u8>)> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut out = Vec::new();
            forward(&mut &bytes[..], &mut out).await.unwrap();
            assert_eq!(&out[..24], PREFACE);
            let mut rest = &out[24..];
            let (head, payload) = read_frame(&mut rest).await.unwrap().unwrap();
            assert_eq!(head[3], HEADERS);
            assert_eq!(head[4] & END_HEADERS, END_HEADERS);
            Decoder::new().decode(&payload).unwrap()
        })
    }

    fn value<'a>(fields: &'a [(Vec<u8>, Vec<u8>)], name: &[u8]) -> &'a [u8] {
        &fields.iter().find(|(n, _)| n == name).unwrap().1
    }

    #[test]
    fn a_socket_path_becomes_localhost() {
        let fields = relayed(request(b"/run/podrt/cri.sock", true));
        assert_eq!(value(&fields, b":authority"), b"localhost");
        assert_eq!(
            value(&fields, b":path"),
            b"/runtime.v1.RuntimeService/Version"
        );
    }

    #[test]
    fn a_valid_authority_is_kept() {
        let fields = relayed(request(b"localhost:50051", false));
        assert_eq!(value(&fields, b":authority"), b"localhost:50051");
    }

    #[test]
    fn other_than_http2_is_refused() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let mut out = Vec::new();
        let e = rt
            .block_on(forward(
                &mut &b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
                &mut out,
            ))
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
    }
}
