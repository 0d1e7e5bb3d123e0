//! The one protocol podrt's processes speak to each other: the supervisor's
//! report to the command that started it, the control socket's requests and
//! replies, and the creator's work and outcomes ([`messages`]). Every message is
//! one line of JSON in an envelope that carries the protocol [`VERSION`]:
//! `{"v":1,"report":"ready"}`. Encoding and decoding live here and nowhere else;
//! the other modules send and receive typed values.
//!
//! The version is there because the two ends need not be the same build: a pod's
//! supervisor lives on while podrt is upgraded, and execs whatever binary is on
//! disk for its creator. A reader that meets another version, or a line that is
//! not a message, gets an [`Error`] that says so, never a misreading. Adding a
//! variant to a message keeps the version (an older peer answers that it does not
//! understand it); changing or removing a field bumps it.

mod messages;
#[cfg(test)]
mod tests;

use std::io::{BufRead, Write};

use serde::de::DeserializeOwned;
use serde::Serialize;

pub(crate) use messages::{Outcome, Reply, Report, Request, WorkItem};

/// The protocol version this podrt speaks.
pub(crate) const VERSION: u64 = 1;

/// The envelope's field that carries the version.
const VERSION_FIELD: &str = "v";

/// How much of an unreadable line an error quotes.
const QUOTED: usize = 200;

/// A kind of message. It serializes as a JSON object (a struct, or an enum
/// tagged inside the object), into which the envelope adds the version.
pub(crate) trait Message: Serialize + DeserializeOwned {
    /// Who sends this kind of message, as a reader's errors name it.
    const SENDER: &'static str;
}

/// A message that could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// The sender speaks another version of the protocol.
    #[error(
        "{sender} speaks protocol version {theirs}, this podrt speaks {ours}: they are \
         different podrt releases (use the podrt release that started the pod, or delete \
         the pod and apply it again)"
    )]
    Version {
        /// Who sent it.
        sender: &'static str,
        /// The version the message carries.
        theirs: u64,
        /// [`VERSION`].
        ours: u64,
    },
    /// The line is not a protocol message at all.
    #[error(
        "{sender} sent {line:?}, which is not a podrt protocol message (a podrt release \
         older than protocol version 1 speaks plain text)"
    )]
    NotAMessage {
        /// Who sent it.
        sender: &'static str,
        /// The line, or its beginning.
        line: String,
    },
    /// The line ends in the middle of a message: the sender died while writing.
    #[error("{sender}'s message was cut short (did it die while writing?): {line:?}")]
    Truncated {
        /// Who sent it.
        sender: &'static str,
        /// The line, or its beginning.
        line: String,
    },
    /// A message of this version that this podrt does not understand (a variant
    /// added since, or a field of the wrong type).
    #[error(
        "{sender} sent a protocol version {version} message this podrt does not \
         understand ({reason}): {line:?}"
    )]
    Unknown {
        /// Who sent it.
        sender: &'static str,
        /// [`VERSION`], which the message carries.
        version: u64,
        /// What serde found wrong with it.
        reason: String,
        /// The line, or its beginning.
        line: String,
    },
    /// Reading the line failed.
    #[error("reading from {sender}: {source}")]
    Read {
        /// Who was to send it.
        sender: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// Writing the line failed.
    #[error("writing a protocol message: {0}")]
    Write(std::io::Error),
}

/// The envelope as it is written: the version first, then the message's fields.
#[derive(Serialize)]
struct Envelope<'a, T> {
    v: u64,
    #[serde(flatten)]
    message: &'a T,
}

/// `message` as one line of JSON in its envelope, without the newline.
pub(crate) fn encode<T: Message>(message: &T) -> Result<String, serde_json::Error> {
    serde_json::to_string(&Envelope {
        v: VERSION,
        message,
    })
}

/// Read one line (without its newline) as a message of kind `T`.
pub(crate) fn decode<T: Message>(line: &str) -> Result<T, Error> {
    let quoted = || quote(line);
    let mut object: serde_json::Map<String, serde_json::Value> = match serde_json::from_str(line) {
        Ok(o) => o,
        Err(e) if e.is_eof() && !line.trim().is_empty() => {
            return Err(Error::Truncated {
                sender: T::SENDER,
                line: quoted(),
            })
        }
        Err(_) => {
            return Err(Error::NotAMessage {
                sender: T::SENDER,
                line: quoted(),
            })
        }
    };
    let version = match object.remove(VERSION_FIELD) {
        Some(v) => v.as_u64(),
        None => None,
    };
    match version {
        Some(VERSION) => {}
        Some(theirs) => {
            return Err(Error::Version {
                sender: T::SENDER,
                theirs,
                ours: VERSION,
            })
        }
        None => {
            return Err(Error::NotAMessage {
                sender: T::SENDER,
                line: quoted(),
            })
        }
    }
    T::deserialize(serde_json::Value::Object(object)).map_err(|e| Error::Unknown {
        sender: T::SENDER,
        version: VERSION,
        reason: e.to_string(),
        line: quoted(),
    })
}

/// Write `message` as one line on `to`, in one write.
pub(crate) fn send<T: Message, W: Write + ?Sized>(to: &mut W, message: &T) -> Result<(), Error> {
    // Only a message that is not a JSON object fails to encode: a bug, caught by
    // the round-trip tests of every variant.
    let mut line = encode(message).map_err(|e| Error::Write(std::io::Error::other(e)))?;
    line.push('\n');
    to.write_all(line.as_bytes()).map_err(Error::Write)
}

/// Read one message from `from`; `None` if it ends before a single byte.
pub(crate) fn receive<T: Message>(from: &mut impl BufRead) -> Result<Option<T>, Error> {
    let mut line = String::new();
    let n = from.read_line(&mut line).map_err(|source| Error::Read {
        sender: T::SENDER,
        source,
    })?;
    if n == 0 {
        return Ok(None);
    }
    decode(line.strip_suffix('\n').unwrap_or(&line)).map(Some)
}

/// Read every message from `from` to its end: one result per line.
pub(crate) fn receive_all<T: Message>(from: &mut impl BufRead) -> Vec<Result<T, Error>> {
    let mut all = Vec::new();
    loop {
        match receive(from) {
            Ok(Some(m)) => all.push(Ok(m)),
            Ok(None) => return all,
            Err(e @ Error::Read { .. }) => {
                all.push(Err(e));
                return all;
            }
            Err(e) => all.push(Err(e)),
        }
    }
}

/// The line, or its beginning, for an error.
fn quote(line: &str) -> String {
    match line.char_indices().nth(QUOTED) {
        Some((end, _)) => format!("{}…", &line[..end]),
        None => line.to_string(),
    }
}
