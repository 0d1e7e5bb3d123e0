//! Terminals: when `process.terminal` is true, init opens a pty from the container's
//! own devpts and sends the master side over the `--console-socket` (a Unix socket
//! the caller listens on, as runc does for containerd and conmon), then makes the
//! slave its controlling terminal and stdio.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use crate::sync::{Step, StepError};

fn fail(index: u32) -> StepError {
    StepError::last(Step::Console, index)
}

/// Send `fd` over the connected Unix socket `sock` with `name` as the payload.
/// Async-signal-safe (stack buffers only).
pub(crate) fn send_fd(sock: RawFd, fd: RawFd, name: &[u8]) -> std::result::Result<(), i32> {
    // Room for one cmsghdr carrying one int, suitably aligned.
    #[repr(C, align(8))]
    struct CmsgBuf([u8; 64]);
    let mut cbuf = CmsgBuf([0; 64]);
    let mut iov = libc::iovec {
        iov_base: name.as_ptr() as *mut libc::c_void,
        iov_len: name.len().max(1),
    };
    // SAFETY: all pointers refer to stack storage valid for the duration of sendmsg;
    // CMSG_* macros compute offsets inside `cbuf`, which is large enough for one fd.
    unsafe {
        let space = libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) as usize;
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.0.as_mut_ptr() as *mut libc::c_void;
        msg.msg_controllen = space as _;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg) as *mut RawFd, fd);
        if libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL) < 0 {
            return Err(nix::errno::Errno::last_raw());
        }
    }
    Ok(())
}

/// Create a pty in the current root, send its master over `sock`, and make the slave
/// the controlling terminal and stdio of this process. Async-signal-safe.
pub(crate) fn setup_pty(
    sock: RawFd,
    size: Option<(u16, u16)>,
) -> std::result::Result<(), StepError> {
    // SAFETY: plain syscalls on descriptors we open here and on stack buffers.
    unsafe {
        let master = libc::open(
            c"/dev/ptmx".as_ptr(),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        );
        if master < 0 {
            return Err(fail(0));
        }
        let mut unlock: libc::c_int = 0;
        if libc::ioctl(master, libc::TIOCSPTLCK, &mut unlock) < 0 {
            return Err(fail(1));
        }
        let mut n: libc::c_uint = 0;
        if libc::ioctl(master, libc::TIOCGPTN, &mut n) < 0 {
            return Err(fail(2));
        }
        let path = crate::in_root::NumberedPath::new(b"/dev/pts/", n);
        let slave = libc::open(path.as_cstr().as_ptr(), libc::O_RDWR | libc::O_NOCTTY);
        if slave < 0 {
            return Err(fail(3));
        }
        if let Some((rows, cols)) = size {
            let ws = libc::winsize {
                ws_row: rows,
                ws_col: cols,
                ws_xpixel: 0,
                ws_ypixel: 0,
            };
            libc::ioctl(slave, libc::TIOCSWINSZ, &ws);
        }
        if let Err(e) = send_fd(sock, master, path.as_bytes()) {
            *libc::__errno_location() = e;
            return Err(fail(4));
        }
        libc::close(master);
        if libc::ioctl(slave, libc::TIOCSCTTY, 0) < 0 {
            return Err(fail(5));
        }
        for target in 0..3 {
            if libc::dup2(slave, target) < 0 {
                return Err(fail(6));
            }
        }
        if slave > 2 {
            libc::close(slave);
        }
    }
    Ok(())
}

/// A Unix socket the runtime listens on itself, for `run`/`exec` in the foreground
/// with a terminal and no `--console-socket` (runc then proxies the pty for the user).
/// Connecting queues in the backlog, so `create` can connect and init can send the
/// master before anyone calls `accept`: no thread is needed.
#[derive(Debug)]
pub(crate) struct ConsoleListener {
    listener: std::os::unix::net::UnixListener,
    /// The socket's path, to pass as the console socket.
    pub(crate) path: std::path::PathBuf,
}

impl ConsoleListener {
    /// Listen on a fresh socket in `dir` (a state directory, made 0700 if missing),
    /// which only root may connect to.
    pub(crate) fn bind(dir: &std::path::Path, id: &str) -> crate::Result<ConsoleListener> {
        crate::private_fs::create_dir_all(dir)
            .map_err(|e| crate::Error::io(format!("creating {}", dir.display()), e))?;
        let path = dir.join(format!(".console-{id}-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let listener = crate::private_fs::bind_unix(&path)
            .map_err(|e| crate::Error::io(format!("listening on {}", path.display()), e))?;
        Ok(ConsoleListener { listener, path })
    }

    /// Take the pty master that init sent.
    pub(crate) fn receive_master(&self) -> crate::Result<OwnedFd> {
        let (conn, _) = self
            .listener
            .accept()
            .map_err(|e| crate::Error::io(format!("accepting on {}", self.path.display()), e))?;
        recv_fd(conn.as_raw_fd()).map_err(|e| {
            crate::Error::io(
                "receiving the terminal from init",
                std::io::Error::from_raw_os_error(e),
            )
        })
    }
}

impl Drop for ConsoleListener {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The console a process with a terminal gets: a connection to the caller's
/// `--console-socket`, or, without one, to a listener of our own whose master the
/// caller later takes with [`ConsoleListener::receive_master`]. Both `None` when the
/// process has no terminal.
pub(crate) fn connect(
    given: Option<&std::path::Path>,
    terminal: bool,
    own_dir: &std::path::Path,
    own_name: &str,
) -> crate::Result<(Option<OwnedFd>, Option<ConsoleListener>)> {
    if !terminal {
        return Ok((None, None));
    }
    let (path, own) = match given {
        Some(p) => (p.to_path_buf(), None),
        None => {
            let listener = ConsoleListener::bind(own_dir, own_name)?;
            (listener.path.clone(), Some(listener))
        }
    };
    let sock = std::os::unix::net::UnixStream::connect(&path).map_err(|e| {
        crate::Error::io(
            format!("connecting to console socket {}", path.display()),
            e,
        )
    })?;
    Ok((Some(OwnedFd::from(sock)), own))
}

/// Receive one descriptor sent with `SCM_RIGHTS`.
pub(crate) fn recv_fd(sock: RawFd) -> std::result::Result<OwnedFd, i32> {
    #[repr(C, align(8))]
    struct CmsgBuf([u8; 64]);
    let mut cbuf = CmsgBuf([0; 64]);
    let mut data = [0u8; 256];
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    // SAFETY: recvmsg into stack buffers; CMSG macros stay inside `cbuf`, and the
    // received descriptor becomes owned by us exactly once.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.0.as_mut_ptr() as *mut libc::c_void;
        msg.msg_controllen = cbuf.0.len() as _;
        if libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC) < 0 {
            return Err(nix::errno::Errno::last_raw());
        }
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if cmsg.is_null() || (*cmsg).cmsg_type != libc::SCM_RIGHTS {
            return Err(libc::EPROTO);
        }
        let fd = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg) as *const RawFd);
        Ok(<OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd))
    }
}
