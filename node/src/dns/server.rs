//! The resolver's UDP loop: one socket on the DNS address, each query read
//! and each reply written through hickory-proto's message codec (an answer
//! too big for the client's UDP limit goes back truncated, and the client asks
//! again over TCP, [`super::tcp`]). Names of
//! the cluster are answered from the zone file the agent keeps (read again
//! whenever it changes); others are forwarded, as they came, to the upstream
//! resolvers, each in a thread of its own so a slow upstream holds up nobody.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::{A, CNAME, SRV};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use nix::sys::socket::{self, sockopt, AddressFamily, SockFlag, SockType, SockaddrIn};

use super::zone::{Answer, Asked, Zone};
use crate::error::{Error, Result};

/// How long clients may keep an answer: short, so a Service made or deleted is
/// seen soon (CoreDNS' kubernetes plugin uses 5 s too).
const TTL: u32 = 5;

/// How long an upstream has to answer a forwarded query.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(2);

/// The resolvers of the host's `resolv.conf` (`path`), but `ours`.
pub fn host_upstreams(path: &Path, ours: Ipv4Addr) -> Vec<SocketAddr> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|a| a.trim().parse::<IpAddr>().ok())
        .filter(|a| *a != IpAddr::V4(ours))
        .map(|a| SocketAddr::new(a, 53))
        .collect()
}

/// A UDP socket bound to `addr`:`port`, which need not be configured yet
/// (IP_FREEBIND): the bridge that carries it may come with the first pod.
pub(super) fn bind(addr: Ipv4Addr, port: u16) -> Result<UdpSocket> {
    let at = format!("{addr}:{port}");
    let io = |e: nix::Error| Error::io("binding the cluster DNS on", Path::new(&at), e.into());
    let fd: OwnedFd = socket::socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(io)?;
    socket::setsockopt(&fd, sockopt::IpFreebind, &true).map_err(io)?;
    socket::bind(
        std::os::fd::AsRawFd::as_raw_fd(&fd),
        &SockaddrIn::from(std::net::SocketAddrV4::new(addr, port)),
    )
    .map_err(io)?;
    Ok(UdpSocket::from(fd))
}

/// A TCP listener on `addr`:`port`, IP_FREEBIND as the UDP socket.
pub(super) fn listen(addr: Ipv4Addr, port: u16) -> Result<std::net::TcpListener> {
    let at = format!("{addr}:{port}");
    let io =
        |e: nix::Error| Error::io("listening for the cluster DNS on", Path::new(&at), e.into());
    let fd: OwnedFd = socket::socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(io)?;
    socket::setsockopt(&fd, sockopt::IpFreebind, &true).map_err(io)?;
    socket::setsockopt(&fd, sockopt::ReuseAddr, &true).map_err(io)?;
    socket::bind(
        std::os::fd::AsRawFd::as_raw_fd(&fd),
        &SockaddrIn::from(std::net::SocketAddrV4::new(addr, port)),
    )
    .map_err(io)?;
    socket::listen(&fd, socket::Backlog::new(128).map_err(io)?).map_err(io)?;
    Ok(std::net::TcpListener::from(fd))
}

/// The zone file as last read, read again when its modification time changes.
pub(super) struct Loaded {
    path: PathBuf,
    stamp: Option<SystemTime>,
    zone: Zone,
}

impl Loaded {
    /// The zone at `path`, read when first asked.
    pub(super) fn new(path: PathBuf) -> Loaded {
        Loaded {
            path,
            stamp: None,
            zone: Zone::default(),
        }
    }

    /// The zone, read again if the file changed.
    pub(super) fn current(&mut self) -> &Zone {
        let stamp = std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .ok();
        if stamp != self.stamp {
            if let Ok(Some(zone)) = crate::store::read::<Zone>(&self.path) {
                self.zone = zone;
            }
            self.stamp = stamp;
        }
        &self.zone
    }
}

/// What to do with one query.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Reply {
    /// Send these bytes back.
    Bytes(Vec<u8>),
    /// Forward the query upstream.
    Forward,
    /// Drop it (not a DNS query podrt understands).
    Ignore,
}

/// The reply to the query `bytes` from `zone`.
pub(super) fn reply(bytes: &[u8], zone: &Zone) -> Reply {
    let Ok(request) = Message::from_vec(bytes) else {
        return Reply::Ignore;
    };
    if request.message_type() != MessageType::Query {
        return Reply::Ignore;
    }
    let Some(query) = request.queries().first().cloned() else {
        return Reply::Ignore;
    };
    let asked = match query.query_type() {
        RecordType::A => Asked::A,
        RecordType::SRV => Asked::Srv,
        _ => Asked::Other,
    };
    let answer = if query.query_class() == DNSClass::IN {
        zone.answer(&query.name().to_ascii(), asked)
    } else {
        Answer::Forward
    };
    if answer == Answer::Forward {
        return Reply::Forward;
    }
    let mut m = Message::new();
    m.set_id(request.id())
        .set_message_type(MessageType::Response)
        .set_op_code(request.op_code())
        .set_authoritative(true)
        .set_recursion_desired(request.recursion_desired())
        .set_recursion_available(true)
        .add_query(query.clone());
    let owner = query.name().clone();
    let record = |rdata: RData| Record::from_rdata(owner.clone(), TTL, rdata);
    match answer {
        Answer::A(ips) => {
            for ip in ips {
                m.add_answer(record(RData::A(A(ip))));
            }
        }
        Answer::Cname(target) => {
            if let Ok(name) = Name::from_ascii(format!("{}.", target.trim_end_matches('.'))) {
                m.add_answer(record(RData::CNAME(CNAME(name))));
            }
        }
        Answer::Srv(targets) => {
            let weight = u16::try_from(100 / targets.len().max(1)).unwrap_or(100);
            for (port, target) in targets {
                if let Ok(name) = Name::from_ascii(format!("{target}.")) {
                    m.add_answer(record(RData::SRV(SRV::new(0, weight, port, name))));
                }
            }
        }
        Answer::NxDomain => {
            m.set_response_code(ResponseCode::NXDomain);
        }
        Answer::NoData | Answer::Forward => {}
    }
    match m.to_vec() {
        Ok(b) => Reply::Bytes(b),
        Err(_) => Reply::Ignore,
    }
}

/// Sends `query` to each upstream in turn until one answers: its answer, or
/// SERVFAIL when none does (none when the query cannot be read).
pub(super) fn forward(query: &[u8], upstreams: &[SocketAddr]) -> Option<Vec<u8>> {
    for upstream in upstreams {
        let local: SocketAddr = if upstream.is_ipv4() {
            (Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let Ok(out) = UdpSocket::bind(local) else {
            continue;
        };
        if out.set_read_timeout(Some(UPSTREAM_TIMEOUT)).is_err()
            || out.connect(upstream).is_err()
            || out.send(query).is_err()
        {
            continue;
        }
        let mut buf = [0u8; 4096];
        if let Ok(n) = out.recv(&mut buf) {
            return Some(buf[..n].to_vec());
        }
    }
    let request = Message::from_vec(query).ok()?;
    let mut m = Message::error_msg(request.id(), request.op_code(), ResponseCode::ServFail);
    m.add_queries(request.queries().to_vec());
    m.to_vec().ok()
}

/// The most a UDP answer to `query` may hold: what its EDNS record offers,
/// else DNS's 512 bytes.
fn udp_limit(query: &[u8]) -> usize {
    Message::from_vec(query)
        .ok()
        .and_then(|m| {
            m.extensions()
                .as_ref()
                .map(|e| usize::from(e.max_payload()))
        })
        .unwrap_or(512)
        .max(512)
}

/// `answer` cut down to its header and question with the TC bit set, which
/// sends the client to TCP for the whole answer.
fn truncated(answer: &[u8]) -> Option<Vec<u8>> {
    let full = Message::from_vec(answer).ok()?;
    let mut m = Message::new();
    m.set_id(full.id())
        .set_message_type(MessageType::Response)
        .set_op_code(full.op_code())
        .set_authoritative(full.authoritative())
        .set_recursion_desired(full.recursion_desired())
        .set_recursion_available(full.recursion_available())
        .set_response_code(full.response_code())
        .set_truncated(true)
        .add_queries(full.queries().to_vec());
    m.to_vec().ok()
}

/// Answers queries on `socket` (UDP) and `listener` (TCP) until the process
/// ends: the cluster's names from the zone at `zone_path`, the rest through
/// `upstreams`.
pub(super) fn serve(
    socket: UdpSocket,
    listener: std::net::TcpListener,
    zone_path: PathBuf,
    upstreams: Vec<SocketAddr>,
) -> ! {
    let upstreams = std::sync::Arc::new(upstreams);
    {
        let (zone_path, upstreams) = (zone_path.clone(), upstreams.clone());
        std::thread::spawn(move || super::tcp::serve(listener, zone_path, upstreams));
    }
    let mut loaded = Loaded::new(zone_path);
    let mut buf = [0u8; 4096];
    loop {
        let Ok((n, client)) = socket.recv_from(&mut buf) else {
            continue;
        };
        let query = &buf[..n];
        match reply(query, loaded.current()) {
            Reply::Bytes(b) => {
                let b = if b.len() > udp_limit(query) {
                    truncated(&b).unwrap_or(b)
                } else {
                    b
                };
                let _ = socket.send_to(&b, client);
            }
            Reply::Forward => {
                let Ok(socket) = socket.try_clone() else {
                    continue;
                };
                let query = query.to_vec();
                let upstreams = upstreams.clone();
                std::thread::spawn(move || {
                    if let Some(answer) = forward(&query, &upstreams) {
                        let _ = socket.send_to(&answer, client);
                    }
                });
            }
            Reply::Ignore => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::zone::ZoneService;
    use hickory_proto::op::Query;

    fn query(name: &str, kind: RecordType) -> Vec<u8> {
        let mut m = Message::new();
        m.set_id(7)
            .set_recursion_desired(true)
            .add_query(Query::query(Name::from_ascii(name).unwrap(), kind));
        m.to_vec().unwrap()
    }

    fn zone() -> Zone {
        Zone {
            domain: "cluster.local".into(),
            services: vec![ZoneService {
                name: "myservice".into(),
                namespace: "default".into(),
                cluster_ip: Some(Ipv4Addr::new(10, 96, 0, 20)),
                ..ZoneService::default()
            }],
        }
    }

    fn answered(bytes: &[u8]) -> Message {
        match reply(bytes, &zone()) {
            Reply::Bytes(b) => Message::from_vec(&b).unwrap(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn cluster_names_are_answered_on_the_wire() {
        let m = answered(&query(
            "myservice.default.svc.cluster.local.",
            RecordType::A,
        ));
        assert_eq!(m.id(), 7);
        assert_eq!(m.message_type(), MessageType::Response);
        assert_eq!(m.response_code(), ResponseCode::NoError);
        assert!(m.authoritative());
        let a = m.answers()[0].data().clone();
        assert_eq!(a, RData::A(A(Ipv4Addr::new(10, 96, 0, 20))));
        let m = answered(&query("mydb.default.svc.cluster.local.", RecordType::A));
        assert_eq!(m.response_code(), ResponseCode::NXDomain);
        let m = answered(&query("myservice.svc.cluster.local.", RecordType::AAAA));
        assert_eq!(
            (m.response_code(), m.answers().len()),
            (ResponseCode::NoError, 0)
        );
        assert_eq!(
            reply(&query("example.org.", RecordType::A), &zone()),
            Reply::Forward
        );
        assert_eq!(reply(b"not dns", &zone()), Reply::Ignore);
    }

    /// A headless Service with `n` ready pods.
    fn big(n: u8) -> Zone {
        Zone {
            domain: "cluster.local".into(),
            services: vec![ZoneService {
                name: "many".into(),
                namespace: "default".into(),
                endpoints: (1..=n)
                    .map(|i| (Ipv4Addr::new(10, 88, 1, i), None))
                    .collect(),
                ..ZoneService::default()
            }],
        }
    }

    #[test]
    fn an_answer_too_big_for_udp_is_sent_truncated() {
        let q = query("many.default.svc.cluster.local.", RecordType::A);
        let Reply::Bytes(full) = reply(&q, &big(60)) else {
            panic!("no answer");
        };
        assert!(full.len() > udp_limit(&q), "{}", full.len());
        let cut = Message::from_vec(&truncated(&full).unwrap()).unwrap();
        assert!(cut.truncated());
        assert_eq!((cut.id(), cut.answers().len()), (7, 0));
        assert_eq!(cut.queries().len(), 1);
    }

    #[test]
    fn tcp_carries_whole_answers_and_several_queries_per_connection() {
        use std::io::{Read, Write};
        let dir = std::env::temp_dir().join(format!("podrt-dns-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let zone_path = dir.join("zone.json");
        crate::store::write_atomic(&zone_path, &big(60)).unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let at = listener.local_addr().unwrap();
        let path = zone_path.clone();
        std::thread::spawn(move || {
            super::super::tcp::serve(listener, path, std::sync::Arc::new(Vec::new()))
        });
        let mut stream = std::net::TcpStream::connect(at).unwrap();
        for _ in 0..2 {
            let q = query("many.default.svc.cluster.local.", RecordType::A);
            let mut framed = u16::try_from(q.len()).unwrap().to_be_bytes().to_vec();
            framed.extend_from_slice(&q);
            stream.write_all(&framed).unwrap();
            let mut len = [0u8; 2];
            stream.read_exact(&mut len).unwrap();
            let mut answer = vec![0u8; usize::from(u16::from_be_bytes(len))];
            stream.read_exact(&mut answer).unwrap();
            let m = Message::from_vec(&answer).unwrap();
            assert!(!m.truncated());
            assert_eq!(m.answers().len(), 60);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn upstreams_are_the_hosts_but_ours() {
        let dir = std::env::temp_dir().join(format!("podrt-dns-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("resolv.conf");
        std::fs::write(
            &path,
            "search example\nnameserver 10.88.0.1\nnameserver 192.0.2.53\nnameserver ::1\n",
        )
        .unwrap();
        let found = host_upstreams(&path, Ipv4Addr::new(10, 88, 0, 1));
        assert_eq!(
            found,
            [
                "192.0.2.53:53".parse::<SocketAddr>().unwrap(),
                "[::1]:53".parse().unwrap()
            ]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
