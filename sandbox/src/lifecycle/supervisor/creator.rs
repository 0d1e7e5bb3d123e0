//! Making and starting containers for the supervisor, in a process of its own: the
//! supervisor forks (and, given the podrt binary, execs) a short-lived creator that
//! builds each container and starts it, reports one line per container, and exits.
//! The container's process, orphaned, is adopted by the supervisor (a child
//! subreaper), which so stays the parent of every container while never loading the
//! creation code itself.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::path::Path;

use super::plan::Plan;
use crate::image::ImageStore;
use crate::pod;
use crate::state::record::PodStage;
use crate::state::Sandbox;

/// A container to make, with the write ends of its stdout and stderr pipes.
#[derive(Debug, Clone)]
pub struct Item {
    /// Container name.
    pub name: String,
    /// Its stdout.
    pub out: RawFd,
    /// Its stderr.
    pub err: RawFd,
}

/// What became of one [`Item`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Created and started.
    Started {
        /// Container name.
        name: String,
        /// Host PID of its process.
        pid: i32,
        /// Its cgroup path.
        cgroup: String,
    },
    /// Not made; why.
    Failed {
        /// Container name.
        name: String,
        /// The error, one line.
        message: String,
    },
}

/// Run a creator for `items` and wait for it. Items it did not report on are
/// returned as failed.
pub fn run(plan: &Plan, items: &[Item]) -> Vec<Outcome> {
    let outcomes = match spawn_and_read(plan, items) {
        Ok(text) => parse(&text),
        Err(e) => Vec::from([Outcome::Failed {
            name: String::new(),
            message: format!("running the container creator: {e}"),
        }]),
    };
    items
        .iter()
        .map(|it| {
            outcomes
                .iter()
                .find(|o| match o {
                    Outcome::Started { name, .. } | Outcome::Failed { name, .. } => {
                        *name == it.name
                    }
                })
                .cloned()
                .unwrap_or_else(|| Outcome::Failed {
                    name: it.name.clone(),
                    message: outcomes
                        .iter()
                        .find_map(|o| match o {
                            Outcome::Failed { message, .. } => Some(message.clone()),
                            _ => None,
                        })
                        .unwrap_or_else(|| "the container creator died without a report".into()),
                })
        })
        .collect()
}

fn spawn_and_read(plan: &Plan, items: &[Item]) -> std::io::Result<String> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(std::io::Error::from)?;
    let args: Vec<String> = items
        .iter()
        .map(|i| format!("{}:{}:{}", i.name, i.out, i.err))
        .collect();
    // SAFETY: fork of the supervisor, a single-threaded process.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if pid == 0 {
        drop(r);
        // SAFETY: plain descriptor operations on descriptors we hold.
        unsafe {
            libc::dup2(w.as_raw_fd(), 1);
            for i in items {
                libc::fcntl(i.out, libc::F_SETFD, 0);
                libc::fcntl(i.err, libc::F_SETFD, 0);
            }
        }
        if let Some(exe) = &plan.helper_exe {
            use std::os::unix::process::CommandExt;
            let err = std::process::Command::new(exe)
                .arg0("podrt-create")
                .arg(crate::proc::roles::CREATE)
                .arg(&plan.pod_dir)
                .args(&args)
                .exec();
            let _ = writeln!(std::io::stdout(), "error - exec {}: {err}", exe.display());
        } else {
            create_items(&plan.pod_dir, items, &mut std::io::stdout());
        }
        // SAFETY: leave the forked child without running the parent's destructors.
        unsafe { libc::_exit(0) };
    }
    drop(w);
    let mut text = String::new();
    let _ = std::fs::File::from(r).read_to_string(&mut text);
    let mut status = 0;
    // SAFETY: waitpid on the child we forked.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    Ok(text)
}

/// Parse `name:out:err` arguments of a creator.
pub fn parse_items(args: &[String]) -> Vec<Item> {
    args.iter()
        .filter_map(|a| {
            let mut parts = a.rsplitn(3, ':');
            let err = parts.next()?.parse().ok()?;
            let out = parts.next()?.parse().ok()?;
            let name = parts.next()?.to_string();
            Some(Item { name, out, err })
        })
        .collect()
}

fn parse(text: &str) -> Vec<Outcome> {
    text.lines()
        .filter_map(|l| {
            let mut words = l.splitn(3, ' ');
            match words.next()? {
                "ok" => {
                    let name = words.next()?.to_string();
                    let mut rest = words.next()?.split(' ');
                    let pid = rest.next()?.parse().ok()?;
                    let cgroup = rest.next()?.to_string();
                    Some(Outcome::Started { name, pid, cgroup })
                }
                "error" => Some(Outcome::Failed {
                    name: words.next()?.to_string(),
                    message: words.next().unwrap_or("").to_string(),
                }),
                _ => None,
            }
        })
        .collect()
}

/// The creator's work: under the pod's lock, (re)create each container with the
/// given output descriptors and start them, reporting `ok NAME PID CGROUP` or
/// `error NAME MESSAGE` per line on `out`.
pub fn create_items(pod_dir: &Path, items: &[Item], out: &mut dyn Write) {
    if let Err(e) = try_create(pod_dir, items, out) {
        let _ = writeln!(out, "error - {}", one_line(&e.to_string()));
    }
}

fn try_create(pod_dir: &Path, items: &[Item], out: &mut dyn Write) -> crate::Result<()> {
    let mut sandbox = Sandbox::at(pod_dir)?;
    let root = sandbox.paths.root.clone();
    let _lock = sandbox.lock()?;
    if sandbox.record.stage == PodStage::Deleting {
        return Err(crate::Error::Create {
            pod: sandbox.record.name.clone(),
            message: "the pod is being deleted".into(),
        });
    }
    let images = ImageStore::open(&root)?;
    let manifest = sandbox.record.manifest.clone();
    let valid = crate::manifest::validate(&manifest, &|i| images.resolve(i).is_ok()).map_err(
        |invalid| crate::Error::Invalid {
            pod: sandbox.record.name.clone(),
            invalid,
        },
    )?;
    let spec = manifest.spec.clone().unwrap_or_default();
    let mut made = Vec::new();
    for item in items {
        let found = spec
            .init_containers
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, c)| (c, format!("spec.initContainers[{i}]"), true))
            .chain(
                spec.containers
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (c, format!("spec.containers[{i}]"), false)),
            )
            .find(|(c, _, _)| c.name == item.name);
        let Some((container, field, init)) = found else {
            let _ = writeln!(out, "error {} no such container in the pod", item.name);
            continue;
        };
        let resources = valid
            .containers
            .iter()
            .find(|r| r.name == item.name)
            .cloned()
            .unwrap_or_default();
        let _ = pod::remove_container(&mut sandbox, &item.name);
        match pod::create_container(
            &mut sandbox,
            container,
            &field,
            init,
            &resources,
            &images,
            Some((item.out, item.err)),
        ) {
            Ok(record) => made.push((item.name.clone(), record.id)),
            Err(e) => {
                let _ = writeln!(out, "error {} {}", item.name, one_line(&e.in_container()));
            }
        }
    }
    for (name, id) in made {
        match pod::start_container(&mut sandbox, &name) {
            Ok(pid) => {
                post_start(&sandbox, &spec, &name);
                let cgroup = format!("{}/{id}", sandbox.record.cgroup_parent);
                let _ = writeln!(out, "ok {name} {pid} {cgroup}");
            }
            Err(e) => {
                let _ = writeln!(out, "error {name} {}", one_line(&e.to_string()));
            }
        }
    }
    Ok(())
}

/// Run the container's `postStart` hook to its end, as kubelet does before the
/// container counts as running. A failed hook kills the container, which then
/// ends (exit 137) and is restarted per `restartPolicy`.
fn post_start(sandbox: &Sandbox, spec: &k8s_openapi::api::core::v1::PodSpec, name: &str) {
    let found = spec
        .containers
        .iter()
        .enumerate()
        .find(|(_, c)| c.name == name);
    let Some((i, c)) = found else { return };
    let Some(hook) = c.lifecycle.as_ref().and_then(|l| l.post_start.as_ref()) else {
        return;
    };
    let Some(rt) = sandbox.runtime_container(name) else {
        return;
    };
    let netns = Some(sandbox.paths.ns("net")).filter(|p| p.exists());
    let field = format!("spec.containers[{i}].lifecycle.postStart");
    let ok = match crate::pod::hooks::start(hook, &rt, netns.as_deref(), &field) {
        Ok(pid) => crate::pod::hooks::wait(pid),
        Err(e) => {
            eprintln!("container {name}: {e}");
            false
        }
    };
    if !ok {
        eprintln!("container {name}: postStart hook failed: killing the container");
        let _ = rt.kill(podrt_runtime::signal::Signal(libc::SIGKILL), true);
    }
}

fn one_line(s: &str) -> String {
    s.replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_and_arguments_round_trip() {
        let items = parse_items(&["web:5:6".into(), "a:b:7:8".into(), "bad".into()]);
        assert_eq!(items.len(), 2);
        assert_eq!(
            (items[1].name.as_str(), items[1].out, items[1].err),
            ("a:b", 7, 8)
        );
        let got = parse("ok web 42 /podrt/pod1/abc\nerror db image not found: x\njunk\n");
        assert_eq!(
            got,
            [
                Outcome::Started {
                    name: "web".into(),
                    pid: 42,
                    cgroup: "/podrt/pod1/abc".into()
                },
                Outcome::Failed {
                    name: "db".into(),
                    message: "image not found: x".into()
                },
            ]
        );
    }
}
