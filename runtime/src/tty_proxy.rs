//! Foreground terminals: when `run` or `exec` allocate a pty and nobody gave a
//! console socket, the runtime itself sits between the user's terminal and the pty
//! master, as runc does: raw mode on our terminal, bytes both ways, window size
//! changes passed on, other signals forwarded to the process, and our terminal
//! restored on the way out.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use crate::error::{Error, Result};

/// Puts the terminal on `fd` in raw mode and restores it when dropped.
struct RawMode {
    fd: RawFd,
    saved: Option<libc::termios>,
}

impl RawMode {
    fn enter(fd: RawFd) -> RawMode {
        // SAFETY: isatty/tcgetattr/tcsetattr on a descriptor we hold, into a struct we own.
        unsafe {
            if libc::isatty(fd) != 1 {
                return RawMode { fd, saved: None };
            }
            let mut t: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(fd, &mut t) < 0 {
                return RawMode { fd, saved: None };
            }
            let saved = t;
            libc::cfmakeraw(&mut t);
            libc::tcsetattr(fd, libc::TCSANOW, &t);
            RawMode {
                fd,
                saved: Some(saved),
            }
        }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(t) = &self.saved {
            // SAFETY: restoring the attributes we read from the same descriptor.
            unsafe { libc::tcsetattr(self.fd, libc::TCSANOW, t) };
        }
    }
}

fn copy_window_size(from: RawFd, to: RawFd) {
    // SAFETY: TIOCGWINSZ/TIOCSWINSZ with a struct we own; failures are harmless.
    unsafe {
        let mut ws: libc::winsize = std::mem::zeroed();
        if libc::ioctl(from, libc::TIOCGWINSZ, &mut ws) == 0 {
            libc::ioctl(to, libc::TIOCSWINSZ, &ws);
        }
    }
}

/// Write all of `buf` to `fd` (blocking).
fn write_all(fd: RawFd, mut buf: &[u8]) {
    while !buf.is_empty() {
        // SAFETY: write from a slice we own.
        let n = unsafe { libc::write(fd, buf.as_ptr() as *const libc::c_void, buf.len()) };
        if n <= 0 {
            if n < 0 && nix::errno::Errno::last_raw() == libc::EINTR {
                continue;
            }
            return;
        }
        buf = &buf[n as usize..];
    }
}

/// Relay between our stdio and `master` until `pid` exits; returns its exit code
/// (128+N for a signal). The caller has blocked the forwarded signals and SIGCHLD
/// (see [`crate::wait::block_signals`]).
pub fn proxy(master: OwnedFd, pid: i32) -> Result<i32> {
    let m = master.as_raw_fd();
    let _raw = RawMode::enter(0);
    copy_window_size(0, m);
    let set = crate::wait::blocked_set();
    // SAFETY: signalfd on a set we built; the descriptor is owned below.
    let sfd = unsafe { libc::signalfd(-1, &set, libc::SFD_CLOEXEC) };
    if sfd < 0 {
        return Err(Error::io("signalfd", std::io::Error::last_os_error()));
    }
    // SAFETY: sfd was just returned by the kernel.
    let sfd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(sfd) };
    let mut stdin_open = true;
    let mut master_open = true;
    let mut exit: Option<i32> = None;
    let mut buf = [0u8; 8192];
    loop {
        if exit.is_some() && !master_open {
            break;
        }
        let mut fds = [
            libc::pollfd {
                fd: sfd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: if master_open { m } else { -1 },
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: if stdin_open && exit.is_none() { 0 } else { -1 },
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // Once the process is gone, drain what the pty still holds, briefly.
        let timeout = if exit.is_some() { 100 } else { -1 };
        // SAFETY: poll on an array we own.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
        if n < 0 {
            if nix::errno::Errno::last_raw() == libc::EINTR {
                continue;
            }
            return Err(Error::io("poll", std::io::Error::last_os_error()));
        }
        if n == 0 && exit.is_some() {
            break;
        }
        if fds[0].revents & libc::POLLIN != 0 {
            // SAFETY: reading one signalfd record into a zeroed struct we own.
            let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
            let size = std::mem::size_of::<libc::signalfd_siginfo>();
            // SAFETY: see above.
            let r = unsafe {
                libc::read(
                    sfd.as_raw_fd(),
                    &mut info as *mut _ as *mut libc::c_void,
                    size,
                )
            };
            if r as usize == size {
                match info.ssi_signo as libc::c_int {
                    libc::SIGCHLD => {
                        let mut status = 0;
                        // SAFETY: waitpid on our own child.
                        if unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } == pid {
                            exit = Some(if libc::WIFSIGNALED(status) {
                                128 + libc::WTERMSIG(status)
                            } else {
                                libc::WEXITSTATUS(status)
                            });
                        }
                    }
                    libc::SIGWINCH => copy_window_size(0, m),
                    // SAFETY: forwarding to our own child.
                    sig => unsafe {
                        libc::kill(pid, sig);
                    },
                }
            }
        }
        if fds[1].revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 {
            // SAFETY: read into a buffer we own.
            let r = unsafe { libc::read(m, buf.as_mut_ptr() as *mut libc::c_void, buf.len()) };
            if r > 0 {
                write_all(1, &buf[..r as usize]);
            } else {
                master_open = false; // EIO: every slave descriptor is closed
            }
        }
        if fds[2].revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 {
            // SAFETY: read into a buffer we own.
            let r = unsafe { libc::read(0, buf.as_mut_ptr() as *mut libc::c_void, buf.len()) };
            if r > 0 {
                write_all(m, &buf[..r as usize]);
            } else {
                stdin_open = false;
                // Pass end-of-file on as the terminal's EOF character.
                write_all(m, &[4]);
            }
        }
    }
    match exit {
        Some(code) => Ok(code),
        None => crate::wait::wait_forwarding(pid),
    }
}
