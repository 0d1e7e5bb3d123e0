//! The channels that carry a container's stdout and stderr to its supervisor. They
//! are named FIFOs in the container's directory, not anonymous pipes, so that they
//! outlive the supervisor: the container's end is opened read-write, so the FIFO
//! always has a reader and a write never fails with EPIPE (or kills the container
//! with SIGPIPE) when the supervisor is gone; it blocks once the kernel's buffer
//! (64 KiB) is full, until a new supervisor opens the FIFO by its path and drains it.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::cri_log::Stream;

/// Where the FIFO of a container's `stream` is, in the container's directory; a new
/// supervisor finds it again there.
pub(crate) fn fifo_path(container_dir: &Path, stream: Stream) -> std::path::PathBuf {
    container_dir.join(format!("{}.fifo", stream.as_str()))
}

/// The two ends of a fresh output FIFO.
pub(crate) struct Channel {
    /// The supervisor's end, read-only; end of file once every writer is gone.
    pub(crate) reader: OwnedFd,
    /// The container's end, read-write (see the module comment).
    pub(crate) writer: OwnedFd,
}

/// Make a new FIFO at `path` (replacing the previous container's, so a reader of
/// that one never sees this one's output) and open both ends, close-on-exec. It is
/// root's alone (0600, whatever the umask): it carries the container's output.
pub(crate) fn create(path: &Path) -> std::io::Result<Channel> {
    let _ = std::fs::remove_file(path);
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    // SAFETY: mkfifo with a NUL-terminated path we own.
    if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let reader = open_reader(path)?;
    let mode = nix::sys::stat::Mode::from_bits_truncate(podrt_runtime::private_fs::FILE_MODE);
    nix::sys::stat::fchmod(&reader, mode)?;
    let writer = open(&c, libc::O_RDWR)?;
    Ok(Channel { reader, writer })
}

/// Open the supervisor's end of an existing FIFO: without blocking for a writer
/// (none is left when the container has ended, and then the read is at its end at
/// once), reads blocking afterwards as a pipe's do.
pub(crate) fn open_reader(path: &Path) -> std::io::Result<OwnedFd> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    let fd = open(&c, libc::O_RDONLY | libc::O_NONBLOCK)?;
    // The supervisor reads only what poll says is there; blocking reads make "no
    // data yet" impossible to mistake for the end.
    let raw = fd.as_raw_fd();
    // SAFETY: fcntl F_GETFL on the descriptor just opened.
    let flags = unsafe { libc::fcntl(raw, libc::F_GETFL) };
    if flags < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fcntl F_SETFL on the same descriptor with the flags it had.
    if unsafe { libc::fcntl(raw, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(fd)
}

fn open(path: &CString, flags: libc::c_int) -> std::io::Result<OwnedFd> {
    // SAFETY: open with a NUL-terminated path; the result is checked.
    let fd = unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a descriptor we just opened and nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn writes_survive_the_reader_and_a_new_reader_gets_them() {
        let dir = std::env::temp_dir().join(format!("podrt-fifo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("stdout.fifo");
        let ch = create(&path).unwrap();
        let mut w = std::fs::File::from(ch.writer);
        w.write_all(b"one\n").unwrap();
        let mut first = std::fs::File::from(ch.reader);
        let mut buf = [0u8; 16];
        assert_eq!(first.read(&mut buf).unwrap(), 4);
        // The supervisor's end goes away; the writer does not notice.
        drop(first);
        w.write_all(b"two\n").unwrap();
        let mut second = std::fs::File::from(open_reader(&path).unwrap());
        assert_eq!(second.read(&mut buf).unwrap(), 4);
        assert_eq!(&buf[..4], b"two\n");
        // The writer ends: the reader is at the end.
        drop(w);
        assert_eq!(second.read(&mut buf).unwrap(), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_reader_of_an_abandoned_fifo_is_at_its_end_at_once() {
        let dir = std::env::temp_dir().join(format!("podrt-fifo2-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("stderr.fifo");
        drop(create(&path).unwrap());
        let fd = open_reader(&path).unwrap();
        // poll reports neither data nor a hang-up (the kernel holds POLLHUP back
        // until a writer has been seen), so the supervisor must not wait for one.
        assert!(!crate::proc::ready::readable_now(&fd));
        let mut r = std::fs::File::from(fd);
        let mut buf = [0u8; 4];
        assert_eq!(r.read(&mut buf).unwrap(), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
