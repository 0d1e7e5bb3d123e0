//! The resolver over TCP (RFC 7766): what a client asks again when a UDP
//! answer came back truncated (a headless Service with many ready pods), and
//! what some clients use from the start. Each connection gets a thread of
//! its own and may carry several queries, each a two-byte length and a DNS
//! message; an idle connection is closed after a while.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::server::{forward, reply, Loaded, Reply};

/// How long a connection may sit idle before it is closed.
const IDLE: Duration = Duration::from_secs(10);

/// Accepts connections on `listener` forever.
pub(super) fn serve(listener: TcpListener, zone_path: PathBuf, upstreams: Arc<Vec<SocketAddr>>) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else {
            continue;
        };
        let (zone_path, upstreams) = (zone_path.clone(), upstreams.clone());
        std::thread::spawn(move || connection(stream, zone_path, &upstreams));
    }
}

/// Answers the queries of one connection until it closes or idles.
fn connection(mut stream: TcpStream, zone_path: PathBuf, upstreams: &[SocketAddr]) {
    if stream.set_read_timeout(Some(IDLE)).is_err() {
        return;
    }
    let mut loaded = Loaded::new(zone_path);
    loop {
        let mut len = [0u8; 2];
        if stream.read_exact(&mut len).is_err() {
            return;
        }
        let mut query = vec![0u8; usize::from(u16::from_be_bytes(len))];
        if stream.read_exact(&mut query).is_err() {
            return;
        }
        let answer = match reply(&query, loaded.current()) {
            Reply::Bytes(b) => b,
            Reply::Forward => match forward(&query, upstreams) {
                Some(b) => b,
                None => return,
            },
            Reply::Ignore => return,
        };
        let Ok(n) = u16::try_from(answer.len()) else {
            return;
        };
        let mut framed = n.to_be_bytes().to_vec();
        framed.extend_from_slice(&answer);
        if stream.write_all(&framed).is_err() {
            return;
        }
    }
}
