//! The pod's supervisor: the process that creates the pod's containers, so it is
//! their parent and learns how each one ends. `podrt apply` forks it and waits for
//! its one-line report ("created" or the error); after that it detaches (new session,
//! stdio to its log), waits for its children and records each container's exit in
//! `containers/<name>/exit.json`. Restart policy, hooks and graceful termination
//! arrive with the lifecycle work; this is the part the pod sandbox needs.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;

use crate::error::{Error, Result};
use crate::image::ImageStore;
use crate::manifest::ValidPod;
use crate::pod::{self, Options, Sandbox};
use crate::record::{write_atomic, ExitRecord, PodStage};

/// Create the pod through a forked supervisor and return once every container
/// runs (init containers having run to completion first), or with the error that
/// stopped it, in which case nothing of the pod is left. Call from a
/// single-threaded process.
pub fn apply(opts: &Options, manifest: &Pod, valid: &ValidPod) -> Result<Sandbox> {
    let (read_end, write_end) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| Error::io("creating a pipe for", &opts.root, e.into()))?;
    // SAFETY: fork in a single-threaded process (the CLI); the child carries on in
    // Rust as an ordinary process and never returns from this function.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(Error::last_os("forking the pod supervisor for", &opts.root));
    }
    if pid == 0 {
        drop(read_end);
        supervisor_main(opts, manifest, valid, write_end);
    }
    drop(write_end);
    let mut report = String::new();
    let mut reader = std::fs::File::from(read_end);
    let _ = reader.read_to_string(&mut report);
    if let Some(uid) = report.strip_prefix("ok ") {
        return pod::get(&opts.root, uid.trim());
    }
    if let Some(msg) = report.strip_prefix("error ") {
        return Err(Error::Create {
            pod: valid.name.clone(),
            message: msg.trim().to_string(),
        });
    }
    // The supervisor died without a word: killed by a `delete` racing the creation,
    // or crashed. Clean up whatever it left.
    // Under the pod's lock: a `delete` holds it while it stops the supervisor and
    // marks the pod Deleting, and then removes the pod itself.
    let found = pod::find(&opts.root, &valid.name).ok().flatten();
    let message = match found {
        Some(mut s) => match s.lock() {
            Ok(_lock) if s.record.stage == PodStage::Creating => {
                pod::remove_pod_sandbox(&mut s);
                "the pod's supervisor died while creating it (see the kernel log)"
            }
            _ => "the pod was deleted while it was being created",
        },
        None => "the pod was deleted while it was being created",
    };
    Err(Error::Create {
        pod: valid.name.clone(),
        message: message.into(),
    })
}

/// The supervisor: create, report, then wait on the containers. Never returns.
fn supervisor_main(opts: &Options, manifest: &Pod, valid: &ValidPod, report: OwnedFd) -> ! {
    // Detach from the caller's session and stdio (a caller reading our stdout to its
    // end must not wait for the pod), and adopt orphans of exec'd processes.
    // SAFETY: setsid/prctl with integer arguments.
    unsafe {
        libc::setsid();
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    }
    redirect_stdio(None);
    let mut report = std::fs::File::from(report);
    let sandbox = match create(opts, manifest, valid) {
        Ok(s) => s,
        Err(e) => {
            let _ = writeln!(report, "error {e}");
            std::process::exit(1);
        }
    };
    redirect_stdio(Some(&sandbox.paths.supervisor_log()));
    let _ = writeln!(report, "ok {}", sandbox.record.uid);
    drop(report);
    let children = children(&sandbox);
    if let Some(exe) = &opts.helper_exe {
        // Go on as a fresh, small process: the creation code's pages are not kept
        // resident for the pod's whole life. The children stay ours across exec.
        let err = crate::reexec::supervise(exe, &sandbox.paths.dir, &children);
        tracing::warn!("re-executing {} as the supervisor: {err}", exe.display());
    }
    watch(&sandbox.paths.dir, &children);
    std::process::exit(0);
}

fn redirect_stdio(log: Option<&std::path::Path>) {
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null");
    let err = log.and_then(|p| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .ok()
    });
    if let Ok(null) = &null {
        // SAFETY: dup2 of descriptors we own onto stdio.
        unsafe {
            libc::dup2(null.as_raw_fd(), 0);
            libc::dup2(null.as_raw_fd(), 1);
            libc::dup2(err.as_ref().unwrap_or(null).as_raw_fd(), 2);
        }
    }
}

/// Make the sandbox, run init containers to completion, create and start the app
/// containers. A failure removes everything made.
fn create(opts: &Options, manifest: &Pod, valid: &ValidPod) -> Result<Sandbox> {
    let images = ImageStore::open(&opts.root)?;
    let opts = Options {
        as_supervisor: true,
        ..opts.clone()
    };
    let mut sandbox = pod::run_pod_sandbox(&opts, valid, manifest)?;
    let result = (|| {
        if !run_init_containers(&mut sandbox, manifest, valid, &images)? {
            // An init container failed under restartPolicy Never: the pod is Failed
            // and no app container ever starts (it stays for inspection).
            sandbox.record.stage = PodStage::Created;
            return sandbox.save();
        }
        let spec = manifest.spec.clone().unwrap_or_default();
        let mut names = Vec::new();
        for (i, c) in spec.containers.iter().enumerate() {
            let res = resources_of(valid, &c.name);
            pod::create_container(
                &mut sandbox,
                c,
                &format!("spec.containers[{i}]"),
                false,
                &res,
                &images,
            )?;
            names.push(c.name.clone());
        }
        for name in &names {
            pod::start_container(&mut sandbox, name)?;
        }
        sandbox.record.stage = PodStage::Created;
        sandbox.save()
    })();
    match result {
        Ok(()) => Ok(sandbox),
        Err(e) => {
            pod::stop_pod_sandbox(&sandbox, Duration::ZERO);
            pod::remove_pod_sandbox(&mut sandbox);
            Err(e)
        }
    }
}

fn resources_of(valid: &ValidPod, name: &str) -> crate::manifest::ContainerResources {
    valid
        .containers
        .iter()
        .find(|c| c.name == name)
        .cloned()
        .unwrap_or_else(|| crate::manifest::ContainerResources {
            name: name.to_string(),
            memory_limit: None,
            memory_request: None,
            cpu_limit_millis: None,
            cpu_request_millis: None,
        })
}

/// kubelet's back-off between restarts: 10 s doubling up to 5 minutes.
fn back_off(failures: u32) -> Duration {
    Duration::from_secs((10u64 << failures.saturating_sub(1).min(6)).min(300))
}

/// Run each init container to completion, in order. A failure is retried with
/// back-off unless `restartPolicy` is Never; then `false` is returned.
fn run_init_containers(
    sandbox: &mut Sandbox,
    manifest: &Pod,
    valid: &ValidPod,
    images: &ImageStore,
) -> Result<bool> {
    let spec = manifest.spec.clone().unwrap_or_default();
    let never = spec.restart_policy.as_deref() == Some("Never");
    for (i, c) in spec.init_containers.iter().flatten().enumerate() {
        let field = format!("spec.initContainers[{i}]");
        let res = resources_of(valid, &c.name);
        let mut failures = 0u32;
        loop {
            pod::create_container(sandbox, c, &field, true, &res, images)?;
            let pid = pod::start_container(sandbox, &c.name)?;
            let exit = wait_child(pid);
            record_exit(sandbox, &c.name, &exit);
            if exit.exit_code == 0 {
                break;
            }
            if never {
                return Ok(false);
            }
            failures += 1;
            std::thread::sleep(back_off(failures));
        }
    }
    Ok(true)
}

/// Block until our child `pid` ends.
fn wait_child(pid: i32) -> ExitRecord {
    let mut status = 0;
    loop {
        // SAFETY: waitpid on our own child with a pointer to a local.
        let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
        if rc == pid {
            return exit_record(status);
        }
        if rc < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return ExitRecord {
                exit_code: -1,
                signal: None,
                finished_at: pod::now_nanos(),
            };
        }
    }
}

fn exit_record(status: libc::c_int) -> ExitRecord {
    let (exit_code, signal) = if libc::WIFSIGNALED(status) {
        let sig = libc::WTERMSIG(status);
        (128 + sig, Some(sig))
    } else {
        (libc::WEXITSTATUS(status), None)
    };
    ExitRecord {
        exit_code,
        signal,
        finished_at: pod::now_nanos(),
    }
}

fn record_exit(sandbox: &Sandbox, name: &str, exit: &ExitRecord) {
    write_exit(&sandbox.paths.exit(name), name, exit);
}

fn write_exit(path: &std::path::Path, name: &str, exit: &ExitRecord) {
    if let Ok(data) = serde_json::to_vec(exit) {
        if let Err(e) = write_atomic(path, &data) {
            tracing::warn!("recording the exit of container {name}: {e}");
        }
    }
}

/// The containers' processes (our children) and their names.
fn children(sandbox: &Sandbox) -> Vec<(i32, String)> {
    sandbox
        .record
        .containers
        .iter()
        .filter_map(|c| {
            sandbox
                .runtime_container(&c.name)
                .map(|rt| (rt.state.pid, c.name.clone()))
        })
        .collect()
}

/// Wait for children until none is left, recording each container's end in
/// `<pod_dir>/containers/<name>/exit.json`.
pub fn watch(pod_dir: &std::path::Path, pids: &[(i32, String)]) {
    loop {
        let mut status = 0;
        // SAFETY: waitpid on any child with a pointer to a local.
        let pid = unsafe { libc::waitpid(-1, &mut status, 0) };
        if pid < 0 {
            match std::io::Error::last_os_error().raw_os_error() {
                Some(libc::EINTR) => continue,
                _ => return,
            }
        }
        if let Some((_, name)) = pids.iter().find(|(p, _)| *p == pid) {
            let dir = pod_dir.join("containers").join(name);
            if dir.exists() {
                write_exit(&dir.join("exit.json"), name, &exit_record(status));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_from_ten_seconds_to_five_minutes() {
        let secs: Vec<u64> = (1..=7).map(|n| back_off(n).as_secs()).collect();
        assert_eq!(secs, [10, 20, 40, 80, 160, 300, 300]);
    }
}
