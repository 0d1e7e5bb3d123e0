//! Making and starting containers for the supervisor, in a process of its own: the
//! supervisor forks (and, given the podrt binary, execs) a short-lived creator that
//! reads its work, one [`WorkItem`] per line on stdin, builds each container and
//! starts it, writes one [`Outcome`] per container on stdout, and exits. The
//! container's process, orphaned, is adopted by the supervisor (a child
//! subreaper), which so stays the parent of every container while never loading the
//! creation code itself.

use std::io::{BufReader, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use super::plan::Plan;
use super::protocol::{self, Outcome, WorkItem};
use super::state::ERR_IMAGE_PULL;
use crate::image::ImageStore;
use crate::pod;
use crate::proc::roles::Role;
use crate::state::events::{self, Kind};
use crate::state::record::PodStage;
use crate::state::Sandbox;

/// Run a creator for `items` and wait for it: one outcome per item, in their
/// order. Items it did not report on are returned as failed.
pub(crate) fn run(plan: &Plan, items: &[WorkItem]) -> Vec<Outcome> {
    let outcomes = spawn_and_read(plan, items).unwrap_or_else(|e| {
        Vec::from([Outcome::Aborted {
            message: format!("running the container creator: {e}"),
        }])
    });
    per_item(items, &outcomes)
}

/// The creator's `outcomes` matched to `items` by name; an item without one of
/// its own failed with the first failure the creator reported.
fn per_item(items: &[WorkItem], outcomes: &[Outcome]) -> Vec<Outcome> {
    items
        .iter()
        .map(|it| {
            outcomes
                .iter()
                .find(|o| match o {
                    Outcome::Started { name, .. }
                    | Outcome::Created { name, .. }
                    | Outcome::Failed { name, .. } => *name == it.name,
                    Outcome::Aborted { .. } => false,
                })
                .cloned()
                .unwrap_or_else(|| Outcome::Failed {
                    name: it.name.clone(),
                    reason: None,
                    message: outcomes
                        .iter()
                        .find_map(|o| match o {
                            Outcome::Failed { message, .. } | Outcome::Aborted { message } => {
                                Some(message.clone())
                            }
                            Outcome::Started { .. } | Outcome::Created { .. } => None,
                        })
                        .unwrap_or_else(|| "the container creator died without a report".into()),
                })
        })
        .collect()
}

/// Fork the creator, hand it `items` and read what it says, to its end. A line
/// that is not an outcome becomes an [`Outcome::Aborted`] saying so.
fn spawn_and_read(plan: &Plan, items: &[WorkItem]) -> std::io::Result<Vec<Outcome>> {
    let pipe = || nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(std::io::Error::from);
    let (r, w) = pipe()?;
    // The work goes on the exec'd creator's stdin; a fork that stays has it already.
    let (work_r, work_w) = pipe()?;
    // SAFETY: fork of the supervisor, a single-threaded process.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if pid == 0 {
        drop(r);
        drop(work_w);
        creator_child(plan, items, w, work_r);
    }
    drop(w);
    drop(work_r);
    if plan.helper_exe.is_some() {
        // Written after the fork: the creator reads it all before it writes
        // anything, so a batch larger than the pipe cannot block either side. A
        // creator that could not exec closes its end early: its outcome says why.
        let mut work = std::fs::File::from(work_w);
        for item in items {
            if protocol::send(&mut work, item).is_err() {
                break;
            }
        }
    } else {
        drop(work_w);
    }
    let outcomes = protocol::receive_all::<Outcome>(&mut BufReader::new(std::fs::File::from(r)))
        .into_iter()
        .map(|o| {
            o.unwrap_or_else(|e| Outcome::Aborted {
                message: e.to_string(),
            })
        })
        .collect();
    let mut status = 0;
    // SAFETY: waitpid on the child we forked.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    Ok(outcomes)
}

/// The forked creator: with its outcomes going to `out`, exec the podrt binary
/// as [`Role::Create`] reading `work`, or (without the binary) do the work here.
fn creator_child(plan: &Plan, items: &[WorkItem], out: OwnedFd, work: OwnedFd) -> ! {
    // SAFETY: plain descriptor operations on descriptors we hold: stdout becomes
    // the outcome pipe (dup2 leaves it open across exec), and the containers'
    // output descriptors are kept open across exec.
    unsafe {
        libc::dup2(out.as_raw_fd(), 1);
        for i in items {
            libc::fcntl(i.stdout_fd, libc::F_SETFD, 0);
            libc::fcntl(i.stderr_fd, libc::F_SETFD, 0);
        }
    }
    let mut stdout = std::io::stdout();
    if let Some(exe) = &plan.helper_exe {
        use std::os::unix::process::CommandExt;
        // SAFETY: dup2 of a descriptor we hold onto stdin, open across exec.
        unsafe { libc::dup2(work.as_raw_fd(), 0) };
        let role = Role::Create {
            pod_dir: plan.pod_dir.clone(),
        };
        let err = role.command(exe).exec();
        let aborted = Outcome::Aborted {
            message: format!("exec {}: {err}", exe.display()),
        };
        let _ = protocol::send(&mut stdout, &aborted);
    } else {
        create_items(&plan.pod_dir, items, &mut stdout);
    }
    let _ = stdout.flush();
    // SAFETY: leave the forked child without running the parent's destructors.
    unsafe { libc::_exit(0) };
}

/// The creator role ([`Role::Create`]): read the work on stdin, to its end, and do
/// it ([`create_items`]), the outcomes on stdout. Returns the exit status.
pub fn create_role(pod_dir: &Path) -> i32 {
    let work = protocol::receive_all::<WorkItem>(&mut std::io::stdin().lock());
    // What the containers and hooks made here inherit: /dev/null, not a spent pipe.
    if let Ok(null) = std::fs::File::open("/dev/null") {
        // SAFETY: dup2 onto stdin of a descriptor we hold.
        unsafe { libc::dup2(null.as_raw_fd(), 0) };
    }
    let mut stdout = std::io::stdout().lock();
    let items: Result<Vec<WorkItem>, protocol::Error> = work.into_iter().collect();
    let code = match items {
        Ok(items) => {
            create_items(pod_dir, &items, &mut stdout);
            0
        }
        Err(e) => {
            let aborted = Outcome::Aborted {
                message: e.to_string(),
            };
            let _ = protocol::send(&mut stdout, &aborted);
            1
        }
    };
    let _ = stdout.flush();
    code
}

/// The creator's work: under the pod's lock, (re)create each container with the
/// given output descriptors and start them, writing one [`Outcome`] per container
/// on `out` ([`Outcome::Aborted`] if it could do none).
pub(crate) fn create_items(pod_dir: &Path, items: &[WorkItem], out: &mut dyn Write) {
    if let Err(e) = try_create(pod_dir, items, out) {
        let aborted = Outcome::Aborted {
            message: one_line(&e.to_string()),
        };
        let _ = protocol::send(out, &aborted);
    }
}

fn try_create(pod_dir: &Path, items: &[WorkItem], out: &mut dyn Write) -> crate::Result<()> {
    let mut sandbox = Sandbox::at(pod_dir)?;
    let images = ImageStore::open(&sandbox.image_root())?;
    // The plan says how to pull; a pull cannot go on without it.
    let pulling = match Plan::load(&sandbox.paths.supervisor_plan()) {
        Ok(plan) => plan.pulling,
        Err(e) if items.iter().any(|i| i.pull) => return Err(e),
        Err(_) => None,
    };
    // Pulls first, outside the pod's lock: a delete must not wait for a
    // registry. A container whose image could not be pulled is not made.
    let items = match &pulling {
        Some(settings) if items.iter().any(|i| i.pull) => {
            pull_images(&sandbox, &images, settings, items, out)
        }
        _ => items.to_vec(),
    };
    let _lock = sandbox.lock()?;
    if sandbox.record.stage == PodStage::Deleting {
        return Err(crate::Error::Create {
            pod: sandbox.record.name.clone(),
            message: "the pod is being deleted".into(),
        });
    }
    let manifest = sandbox.record.manifest.clone();
    // Images of containers not made yet may still be pulled when their turn
    // comes: they count as there.
    let spec = manifest.spec.clone().unwrap_or_default();
    let exists =
        |i: &str| images.resolve(i).is_ok() || pod::pulls::will_pull(pulling.as_ref(), &spec, i);
    let valid =
        crate::manifest::validate(&manifest, &exists).map_err(|invalid| crate::Error::Invalid {
            pod: sandbox.record.name.clone(),
            invalid,
        })?;
    let mut made = Vec::new();
    for item in &items {
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
            let failed = Outcome::Failed {
                name: item.name.clone(),
                message: "no such container in the pod".into(),
                reason: None,
            };
            let _ = protocol::send(out, &failed);
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
            Some((item.stdout_fd, item.stderr_fd)),
        ) {
            Ok(record) if item.create_only => {
                // Started later, when kubelet asks: its process waits now.
                let pid = sandbox
                    .runtime_container(&item.name)
                    .map_or(0, |c| c.state.pid);
                let cgroup = format!("{}/{}", sandbox.record.cgroup_parent, record.id);
                let created = Outcome::Created {
                    name: item.name.clone(),
                    pid,
                    cgroup,
                };
                let _ = protocol::send(out, &created);
            }
            Ok(record) => made.push((item.name.clone(), record.id)),
            Err(e) => {
                let failed = Outcome::Failed {
                    name: item.name.clone(),
                    message: one_line(&e.in_container()),
                    reason: None,
                };
                let _ = protocol::send(out, &failed);
            }
        }
    }
    for (name, id) in made {
        match pod::start_container(&mut sandbox, &name) {
            Ok(pid) => {
                post_start(&sandbox, &spec, &name);
                let cgroup = format!("{}/{id}", sandbox.record.cgroup_parent);
                let _ = protocol::send(out, &Outcome::Started { name, pid, cgroup });
            }
            Err(e) => {
                let message = one_line(&e.to_string());
                let failed = Outcome::Failed {
                    name,
                    message,
                    reason: None,
                };
                let _ = protocol::send(out, &failed);
            }
        }
    }
    Ok(())
}

/// Pull with `settings` the images of the `items` that ask for it, by their
/// policies; the items left to make. Each one whose pull failed is reported
/// failed with kubelet's `ErrImagePull`.
fn pull_images(
    sandbox: &Sandbox,
    images: &ImageStore,
    settings: &pod::pulls::PullSettings,
    items: &[WorkItem],
    out: &mut dyn Write,
) -> Vec<WorkItem> {
    let spec = sandbox.record.manifest.spec.clone().unwrap_or_default();
    let mut left = Vec::new();
    for item in items {
        if !item.pull {
            left.push(item.clone());
            continue;
        }
        let Some((image, wanted)) = pod::pulls::needed(settings, images, &spec, &item.name) else {
            left.push(item.clone());
            continue;
        };
        let event = |kind, reason: &str, message: &str| {
            events::record(sandbox, &item.name, kind, reason, message);
        };
        if !wanted {
            let message = format!("Container image {image:?} already present on machine");
            event(Kind::Normal, "Pulled", &message);
            left.push(item.clone());
            continue;
        }
        event(Kind::Normal, "Pulling", &format!("Pulling image {image:?}"));
        let started = std::time::Instant::now();
        match pod::pulls::pull(settings, images, &image) {
            Ok(_) => {
                let took = started.elapsed().as_secs_f64();
                let message = format!("Successfully pulled image {image:?} in {took:.3}s");
                event(Kind::Normal, "Pulled", &message);
                left.push(item.clone());
            }
            Err(message) => {
                let message = one_line(&message);
                event(Kind::Warning, "Failed", &message);
                event(Kind::Warning, "Failed", &format!("Error: {ERR_IMAGE_PULL}"));
                let failed = Outcome::Failed {
                    name: item.name.clone(),
                    message,
                    reason: Some(ERR_IMAGE_PULL.into()),
                };
                let _ = protocol::send(out, &failed);
            }
        }
    }
    left
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

    fn item(name: &str) -> WorkItem {
        WorkItem {
            name: name.into(),
            stdout_fd: 5,
            stderr_fd: 6,
            pull: false,
            create_only: false,
        }
    }

    #[test]
    fn each_item_gets_its_outcome_or_the_first_failure() {
        let started = Outcome::Started {
            name: "web".into(),
            pid: 42,
            cgroup: "/podrt/pod1/abc".into(),
        };
        let aborted = Outcome::Aborted {
            message: "the pod is being deleted".into(),
        };
        let got = per_item(&[item("db"), item("web")], &[started.clone(), aborted]);
        assert_eq!(
            got,
            [
                Outcome::Failed {
                    name: "db".into(),
                    message: "the pod is being deleted".into(),
                    reason: None,
                },
                started.clone()
            ]
        );
        let got = per_item(&[item("db")], &[started]);
        assert_eq!(
            got,
            [Outcome::Failed {
                name: "db".into(),
                message: "the container creator died without a report".into(),
                reason: None,
            }]
        );
    }

    #[test]
    fn a_creator_without_its_pod_aborts_saying_why() {
        let mut out = Vec::new();
        create_items(Path::new("/nonexistent/pods/p"), &[item("web")], &mut out);
        let said = protocol::receive_all::<Outcome>(&mut out.as_slice());
        assert!(
            matches!(&said[..], [Ok(Outcome::Aborted { message })] if message.contains("/nonexistent")),
            "{said:?}"
        );
    }
}
