//! One function per runc verb; each is a few calls into `podrt_runtime`.

use std::io::Read;
use std::path::Path;

use anyhow::{bail, Context, Result};
use oci_spec::runtime::{LinuxCapabilities, LinuxResources, Process, Spec};
use podrt_sandbox::runtime::{
    self as rt, exec::ExecOptions, signal::Signal, wait, Container, CreateOptions, StartMode,
};

use super::args::{Cli, Command, CreateArgs, ExecArgs, Format, UpdateArgs};

/// Run the verb; `Ok(code)` is the exit status to return.
pub(crate) fn dispatch(cli: &Cli) -> Result<i32> {
    if cli.systemd_cgroup {
        bail!("--systemd-cgroup is not supported: podrt manages cgroups through cgroupfs (use the cgroupfs manager)");
    }
    let root = cli.root.as_path();
    match &cli.command {
        Command::Create(args) => {
            Container::create(&create_options(root, args), StartMode::Create)?;
            Ok(0)
        }
        Command::Start { id } => {
            Container::load(root, id)?.start()?;
            Ok(0)
        }
        Command::Run {
            create,
            detach,
            keep,
        } => run(root, create, *detach, *keep),
        Command::State { id } => {
            let c = Container::load(root, id)?;
            println!("{}", serde_json::to_string_pretty(&c.oci_state())?);
            Ok(0)
        }
        Command::Kill { all, id, signal } => {
            let sig: Signal = signal.parse()?;
            Container::load(root, id)?.kill(sig, *all)?;
            Ok(0)
        }
        Command::Delete { force, ids } => {
            for id in ids {
                match Container::load(root, id) {
                    Ok(c) => {
                        let cgroup = c.state.cgroup_path.clone();
                        c.delete(*force)?;
                        rt::cgroups::prune_empty_parents(&cgroup);
                    }
                    // runc: deleting a missing container with --force is not an error.
                    Err(rt::Error::NotFound(_)) if *force => {}
                    Err(e) => return Err(e.into()),
                }
            }
            Ok(0)
        }
        Command::Exec(args) => exec(root, args),
        Command::List { format, quiet } => list(root, *format, *quiet),
        Command::Ps { format, id, .. } => ps(root, id, *format),
        Command::Spec { bundle, .. } => spec(bundle),
        Command::Features => {
            println!("{}", serde_json::to_string_pretty(&features())?);
            Ok(0)
        }
        Command::Pause { id } => {
            Container::load(root, id)?.pause()?;
            Ok(0)
        }
        Command::Resume { id } => {
            Container::load(root, id)?.resume()?;
            Ok(0)
        }
        Command::Update(args) => update(root, args),
        Command::Checkpoint { .. } | Command::Restore { .. } => {
            bail!("checkpoint/restore is not supported: podrt has no CRIU integration")
        }
        Command::Events { .. } => bail!("events is not supported yet"),
    }
}

fn create_options(root: &Path, a: &CreateArgs) -> CreateOptions {
    CreateOptions {
        root: root.to_path_buf(),
        id: a.id.clone(),
        bundle: a.bundle.clone(),
        pid_file: a.pid_file.clone(),
        console_socket: a.console_socket.clone(),
        no_pivot: a.no_pivot,
        no_new_keyring: a.no_new_keyring,
        preserve_fds: a.preserve_fds,
        proxy_terminal: false,
        stdio: None,
    }
}

fn run(root: &Path, args: &CreateArgs, detach: bool, keep: bool) -> Result<i32> {
    if !detach {
        // Block before the child exists so no forwarded signal is lost.
        wait::block_signals();
    }
    let mut opts = create_options(root, args);
    // In the foreground with a terminal and no console socket, relay the pty as runc does.
    opts.proxy_terminal = !detach;
    let (c, master) = Container::create_with_terminal(&opts, StartMode::Run)?;
    if detach {
        return Ok(0);
    }
    let code = match master {
        Some(m) => rt::tty_proxy::proxy(m, c.state.pid)?,
        None => wait::wait_forwarding(c.state.pid)?,
    };
    if !keep {
        let cgroup = c.state.cgroup_path.clone();
        c.delete(true)?;
        rt::cgroups::prune_empty_parents(&cgroup);
    }
    Ok(code)
}

fn exec_process(c: &Container, a: &ExecArgs) -> Result<Process> {
    if let Some(path) = &a.process {
        let text =
            std::fs::read(path).with_context(|| format!("reading --process {}", path.display()))?;
        let mut de = serde_json::Deserializer::from_slice(&text);
        let p: Process = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            anyhow::anyhow!(
                "{}: invalid process at `{}`: {}",
                path.display(),
                e.path(),
                e.inner()
            )
        })?;
        return Ok(p);
    }
    if a.args.is_empty() {
        bail!("exec needs a command (or --process FILE)");
    }
    let spec = c.spec()?;
    let mut p = spec.process().clone().unwrap_or_default();
    p.set_args(Some(a.args.clone()));
    p.set_terminal(Some(a.tty));
    let mut env = p.env().clone().unwrap_or_default();
    for kv in &a.env {
        let key = kv.split('=').next().unwrap_or_default();
        env.retain(|e| e.split('=').next() != Some(key));
        env.push(kv.clone());
    }
    p.set_env(Some(env));
    if let Some(cwd) = &a.cwd {
        p.set_cwd(cwd.clone());
    }
    if let Some(u) = &a.user {
        let (uid, gid) = match u.split_once(':') {
            Some((uid, gid)) => (uid.parse::<u32>()?, gid.parse::<u32>()?),
            None => (
                u.parse::<u32>()
                    .context("--user must be numeric uid[:gid]")?,
                0,
            ),
        };
        let user = p.user_mut();
        user.set_uid(uid);
        user.set_gid(gid);
    }
    if !a.additional_gids.is_empty() {
        p.user_mut()
            .set_additional_gids(Some(a.additional_gids.clone()));
    }
    if a.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if !a.cap.is_empty() {
        let mut caps: LinuxCapabilities = p.capabilities().clone().unwrap_or_default();
        for name in &a.cap {
            let cap = name
                .parse()
                .map_err(|_| anyhow::anyhow!("--cap {name:?}: unknown capability"))?;
            let add = |s: &Option<oci_spec::runtime::Capabilities>| {
                let mut s = s.clone().unwrap_or_default();
                s.insert(cap);
                Some(s)
            };
            caps.set_bounding(add(caps.bounding()));
            caps.set_effective(add(caps.effective()));
            caps.set_permitted(add(caps.permitted()));
        }
        p.set_capabilities(Some(caps));
    }
    Ok(p)
}

fn exec(root: &Path, a: &ExecArgs) -> Result<i32> {
    let c = Container::load(root, &a.id)?;
    let process = exec_process(&c, a)?;
    let opts = ExecOptions {
        pid_file: a.pid_file.clone(),
        console_socket: a.console_socket.clone(),
        preserve_fds: a.preserve_fds,
        proxy_terminal: !a.detach,
        stdio: None,
    };
    if !a.detach {
        wait::block_signals();
    }
    let (pid, master) = rt::exec::exec_with_terminal(&c, &process, &opts)?;
    if a.detach {
        return Ok(0);
    }
    Ok(match master {
        Some(m) => rt::tty_proxy::proxy(m, pid)?,
        None => wait::wait_forwarding(pid)?,
    })
}

fn list(root: &Path, format: Format, quiet: bool) -> Result<i32> {
    let all = Container::list(root)?;
    if quiet {
        for c in &all {
            println!("{}", c.id());
        }
        return Ok(0);
    }
    let states: Vec<_> = all.iter().map(|c| c.oci_state()).collect();
    match format {
        Format::Json => println!("{}", serde_json::to_string(&states)?),
        Format::Table => {
            println!(
                "{:<20} {:<8} {:<10} {:<50} {:<32} OWNER",
                "ID", "PID", "STATUS", "BUNDLE", "CREATED"
            );
            for s in states {
                println!(
                    "{:<20} {:<8} {:<10} {:<50} {:<32} {}",
                    s.id,
                    s.pid,
                    s.status,
                    s.bundle.display(),
                    s.created,
                    s.owner
                );
            }
        }
    }
    Ok(0)
}

fn ps(root: &Path, id: &str, format: Format) -> Result<i32> {
    let c = Container::load(root, id)?;
    let pids = c.pids()?;
    match format {
        Format::Json => println!("{}", serde_json::to_string(&pids)?),
        Format::Table => {
            println!("{:<8} {:<8} CMD", "PID", "PPID");
            for pid in pids {
                let cmd = std::fs::read(format!("/proc/{pid}/cmdline"))
                    .map(|b| {
                        String::from_utf8_lossy(&b)
                            .replace('\0', " ")
                            .trim()
                            .to_string()
                    })
                    .unwrap_or_default();
                let ppid = rt::proc_info::stat(pid).map(|s| s.ppid).unwrap_or(0);
                println!("{pid:<8} {ppid:<8} {cmd}");
            }
        }
    }
    Ok(0)
}

fn spec(bundle: &Path) -> Result<i32> {
    let path = bundle.join("config.json");
    if path.exists() {
        bail!("{} already exists: remove it first", path.display());
    }
    let s = Spec::default();
    let text = serde_json::to_string_pretty(&s)?;
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok(0)
}

fn update(root: &Path, a: &UpdateArgs) -> Result<i32> {
    let c = Container::load(root, &a.id)?;
    let mut value = match &a.resources {
        Some(p) => {
            let mut text = String::new();
            if p.as_os_str() == "-" {
                std::io::stdin().read_to_string(&mut text)?;
            } else {
                text = std::fs::read_to_string(p)
                    .with_context(|| format!("reading {}", p.display()))?;
            }
            serde_json::from_str::<serde_json::Value>(&text).context("parsing --resources")?
        }
        None => serde_json::json!({}),
    };
    let obj = value
        .as_object_mut()
        .context("--resources must be a JSON object")?;
    let mut set = |section: &str, key: &str, v: serde_json::Value| {
        let entry = obj.entry(section).or_insert_with(|| serde_json::json!({}));
        if let Some(o) = entry.as_object_mut() {
            o.insert(key.into(), v);
        }
    };
    if let Some(v) = a.memory {
        set("memory", "limit", v.into());
    }
    if let Some(v) = a.memory_swap {
        set("memory", "swap", v.into());
    }
    if let Some(v) = a.memory_reservation {
        set("memory", "reservation", v.into());
    }
    if let Some(v) = a.cpu_shares {
        set("cpu", "shares", v.into());
    }
    if let Some(v) = a.cpu_quota {
        set("cpu", "quota", v.into());
    }
    if let Some(v) = a.cpu_period {
        set("cpu", "period", v.into());
    }
    if let Some(v) = &a.cpuset_cpus {
        set("cpu", "cpus", v.clone().into());
    }
    if let Some(v) = &a.cpuset_mems {
        set("cpu", "mems", v.clone().into());
    }
    if let Some(v) = a.pids_limit {
        set("pids", "limit", v.into());
    }
    let resources: LinuxResources = serde_json::from_value(value).context("invalid resources")?;
    c.update(&resources)?;
    Ok(0)
}

fn features() -> serde_json::Value {
    serde_json::json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": "1.2.0",
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": ["async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec",
            "lazytime", "loud", "mand", "noatime", "nodev", "nodiratime", "noexec", "nolazytime",
            "nomand", "norelatime", "nostrictatime", "nosuid", "nosymfollow", "private", "rbind",
            "relatime", "ro", "rprivate", "rshared", "rslave", "runbindable", "rw", "shared",
            "silent", "slave", "strictatime", "suid", "symfollow", "sync", "tmpcopyup", "unbindable"],
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"],
            "capabilities": caps::all().iter().map(|c| c.to_string()).collect::<Vec<_>>(),
            "cgroup": {"v1": true, "v2": true, "systemd": false, "systemdUser": false},
            "seccomp": {
                "enabled": true,
                "actions": ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
                    "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"],
                "operators": ["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
                    "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"],
                "archs": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"]
            },
            "apparmor": {"enabled": false},
            "selinux": {"enabled": false}
        },
        "annotations": {"org.opencontainers.runc.version": "podrt-runc"}
    })
}
