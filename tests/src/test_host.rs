//! A network namespace that stands for "the host" in a test, so that podrt's bridge,
//! veths, routes, IP leases and iptables rules live and die there and the machine's
//! own network is never touched. Every podrt command a test runs enters it (only
//! the network namespace: mounts and cgroups are the real host's, so pins and
//! overlays stay visible from one command to the next).

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::pods::text;

/// A pinned network namespace with loopback up.
pub struct TestHost {
    /// The pin (a bind mount of the namespace), inside the test's directory.
    pub pin: PathBuf,
    fd: OwnedFd,
}

impl TestHost {
    /// Make the namespace and pin it at `pin`.
    pub fn new(pin: &Path) -> TestHost {
        std::fs::write(pin, b"").expect("create the test host's netns pin file");
        let target = pin.to_path_buf();
        // A fresh network namespace for one thread only, bind-mounted so it
        // outlives the thread.
        std::thread::spawn(move || {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
                .expect("unshare a network namespace for the test host");
            nix::mount::mount(
                Some("/proc/thread-self/ns/net"),
                &target,
                None::<&str>,
                nix::mount::MsFlags::MS_BIND,
                None::<&str>,
            )
            .expect("pin the test host's network namespace");
        })
        .join()
        .expect("test host thread");
        let fd = std::fs::File::open(pin)
            .expect("open the test host's netns")
            .into();
        let host = TestHost {
            pin: pin.to_path_buf(),
            fd,
        };
        host.ok(&["ip", "link", "set", "lo", "up"]);
        host
    }

    /// Make `cmd` run in this namespace.
    pub fn enter(&self, cmd: &mut Command) {
        enter_netns(&self.fd, cmd);
    }

    /// A command (`ip`, `iptables`, `busybox wget`...) in this namespace.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(args[0]);
        c.args(&args[1..]).stdin(Stdio::null());
        self.enter(&mut c);
        c
    }

    /// Run it and collect its output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args)
            .output()
            .unwrap_or_else(|e| panic!("run {args:?} in the test host: {e}"))
    }

    /// Run it and require success; its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?} in the test host failed: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// The names of its network interfaces (`ip -o link`), without `@peer`.
    pub fn links(&self) -> Vec<String> {
        self.ok(&["ip", "-o", "link", "show"])
            .lines()
            .filter_map(|l| l.split(": ").nth(1))
            .map(|n| n.split('@').next().unwrap_or(n).to_string())
            .collect()
    }

    /// Its veth interfaces (pods' host ends, once CNI made them).
    pub fn veths(&self) -> Vec<String> {
        self.links()
            .into_iter()
            .filter(|l| l.starts_with("veth"))
            .collect()
    }

    /// Interfaces enslaved to `bridge`.
    pub fn bridge_ports(&self, bridge: &str) -> Vec<String> {
        self.ok(&["ip", "-o", "link", "show", "master", bridge])
            .lines()
            .filter_map(|l| l.split(": ").nth(1))
            .map(|n| n.split('@').next().unwrap_or(n).to_string())
            .collect()
    }

    /// Its NAT table rules (`iptables -t nat -S`).
    pub fn nat_rules(&self) -> String {
        self.ok(&["iptables", "-t", "nat", "-S"])
    }

    /// The namespace's identity as `/proc/<pid>/ns/net` links read: `net:[inode]`.
    pub fn ns_link(&self) -> String {
        use std::os::unix::fs::MetadataExt;
        let ino = std::fs::metadata(&self.pin).expect("stat the pin").ino();
        format!("net:[{ino}]")
    }
}

/// Make `cmd` join the network namespace `netns` before it execs. `netns` must
/// stay open until the command is spawned.
pub fn enter_netns(netns: &impl AsRawFd, cmd: &mut Command) {
    let fd = netns.as_raw_fd();
    // SAFETY: setns is async-signal-safe, and the caller keeps the descriptor
    // open until the spawn (the child's exec) is done.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setns(fd, libc::CLONE_NEWNET) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}
