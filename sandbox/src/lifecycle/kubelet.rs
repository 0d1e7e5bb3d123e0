//! Pods kubelet drives over the CRI: made without containers, which come and go
//! one call at a time (`CreateContainer`, `StartContainer`, `StopContainer`,
//! `RemoveContainer`), stopped (`StopPodSandbox`) before they are removed
//! (`RemovePodSandbox`).
//!
//! Such a pod is an ordinary podrt pod, so the CLI sees it: its record keeps
//! kubelet's own description ([`KubeletPod`]) besides a manifest podrt
//! derives from it, and each container kubelet makes is added to that manifest
//! under a name unique in the pod (kubelet's name, with its attempt when an
//! earlier attempt is still there). Its supervisor ([`MadeWhen::Kubelet`])
//! makes and starts a container when asked, records how it ends, and restarts
//! nothing: restarts are kubelet's decision.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, Volume};

use crate::error::{Error, Result};
use crate::image::ImageStore;
use crate::lifecycle::supervisor::{self, control, protocol, MadeWhen};
use crate::pod::{self, Options};
use crate::state::kubelet_meta::{KubeletContainer, KubeletPod};
use crate::state::record::PodStage;
use crate::state::Sandbox;

/// `RunPodSandbox`: make the pod sandbox `manifest` (no containers) describes,
/// with its supervisor, and record kubelet's `meta` in it. Call from a
/// single-threaded process (its supervisor is forked from this one).
pub fn run_pod(opts: &Options, mut manifest: Pod, meta: KubeletPod) -> Result<Sandbox> {
    let spec = manifest.spec.get_or_insert_with(PodSpec::default);
    spec.containers.clear();
    spec.restart_policy = Some("Never".into());
    let valid = crate::manifest::validate_sandbox(&manifest, &|_| true).map_err(|invalid| {
        Error::Invalid {
            pod: manifest.metadata.name.clone().unwrap_or_default(),
            invalid,
        }
    })?;
    // Checked here too, so the error keeps its kind (the supervisor's claim,
    // which decides under the names lock, reports it as a failed creation).
    pod::precheck(opts, &valid, &manifest)?;
    // kubelet gives Localhost seccomp profiles as absolute paths (it joins
    // its own profile root): they are found from `/`.
    let mut security = opts.security.clone();
    security.seccomp_profile_root = "/".into();
    let opts = Options {
        kubelet: Some(meta),
        security,
        ..opts.clone()
    };
    supervisor::apply(&opts, &manifest, &valid, MadeWhen::Kubelet)
}

/// A container kubelet asks for, in podrt's terms.
#[derive(Debug, Clone)]
pub struct NewContainer {
    /// The container, its name unset (podrt names it in the pod).
    pub container: Container,
    /// hostPath volumes its `volumeMounts` name, added to the pod.
    pub volumes: Vec<Volume>,
    /// What kubelet said of it.
    pub meta: KubeletContainer,
}

/// `CreateContainer`: add `new` to the pod and have its supervisor make it,
/// waiting to be started. Returns its name in the pod and its id. On failure
/// nothing of it is left.
pub fn create_container(sandbox: &mut Sandbox, new: NewContainer) -> Result<(String, String)> {
    let name = {
        let _lock = sandbox.lock()?;
        if matches!(sandbox.record.stage, PodStage::Deleting | PodStage::Stopped) {
            return Err(stopped(sandbox));
        }
        let Some(kubelet) = &sandbox.record.kubelet else {
            return Err(not_kubelets(sandbox));
        };
        if let Some(made) = kubelet.container_named(&new.meta.name, new.meta.attempt) {
            return Err(Error::Create {
                pod: sandbox.record.name.clone(),
                message: format!(
                    "container {:?} attempt {} exists already (as {made})",
                    new.meta.name, new.meta.attempt
                ),
            });
        }
        let name = unique_name(sandbox, &new.meta);
        add(sandbox, &name, new)?;
        if let Err(e) = link_log(sandbox, &name) {
            take_out(sandbox, &name);
            sandbox.save()?;
            return Err(e);
        }
        name
    };
    let made = ask(sandbox, &protocol::Request::Create { name: name.clone() });
    let _lock = sandbox.lock()?;
    if let Err(e) = made {
        take_out(sandbox, &name);
        sandbox.save()?;
        return Err(e);
    }
    let id = sandbox
        .record
        .container(&name)
        .map(|c| c.id.clone())
        .ok_or_else(|| Error::ContainerNotFound {
            pod: sandbox.record.name.clone(),
            container: name.clone(),
        })?;
    Ok((name, id))
}

/// `StartContainer`: start the container `name`, made by [`create_container`].
pub fn start_container(sandbox: &Sandbox, name: &str) -> Result<()> {
    ask(
        sandbox,
        &protocol::Request::Start {
            name: name.to_string(),
        },
    )
}

/// `ReopenContainerLog`: the container `name` writes its output to a new file
/// at its log path (kubelet renamed the old one to rotate it).
pub fn reopen_log(sandbox: &Sandbox, name: &str) -> Result<()> {
    ask(
        sandbox,
        &protocol::Request::ReopenLog {
            name: name.to_string(),
        },
    )
}

/// Ask the pod's supervisor `request`; its refusal as the error.
fn ask(sandbox: &Sandbox, request: &protocol::Request) -> Result<()> {
    let refused = |message: String| Error::Create {
        pod: sandbox.record.name.clone(),
        message,
    };
    match control::request(&sandbox.paths.dir, request)? {
        protocol::Reply::Ok => Ok(()),
        protocol::Reply::Error { message } => Err(refused(message)),
        other => Err(refused(format!("the pod's supervisor answered {other:?}"))),
    }
}

/// `StopContainer`: SIGTERM to the container `name`, SIGKILL once `timeout`
/// has passed (at once for zero); returns once it has ended and its supervisor
/// has recorded how. Stopping a stopped container does nothing.
pub fn stop_container(sandbox: &Sandbox, name: &str, timeout: Duration) -> Result<()> {
    let Some(c) = sandbox.runtime_container(name) else {
        return Ok(());
    };
    pod::stop_all(&[c], timeout);
    // The supervisor reaps it and records its end: wait for that, briefly.
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        match control::request(&sandbox.paths.dir, &protocol::Request::Status) {
            Ok(protocol::Reply::Status { containers }) => {
                let running = containers.get(name).is_some_and(|s| {
                    matches!(
                        s.state,
                        crate::lifecycle::supervisor::state::State::Running { .. }
                    )
                });
                if !running {
                    break;
                }
            }
            _ => break,
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

/// `RemoveContainer`: remove the container `name` (killing it if it runs) and
/// all of it: its root, its volumes, its state and logs, its entry in the
/// manifest. Removing a removed container does nothing.
pub fn remove_container(sandbox: &mut Sandbox, name: &str) -> Result<()> {
    // A supervisor gone (the pod stopped) has nothing to forget.
    let _ = control::request(
        &sandbox.paths.dir,
        &protocol::Request::Forget {
            name: name.to_string(),
        },
    );
    let _lock = sandbox.lock()?;
    pod::remove_container(sandbox, name)?;
    take_out(sandbox, name);
    sandbox.save()?;
    let dir = sandbox.paths.container(name);
    if let Err(e) = pod::remove_tree(&dir) {
        tracing::warn!("{e}");
    }
    Ok(())
}

/// `StopPodSandbox`: stop every container at once (kubelet has stopped them
/// gracefully before) and the pod's supervisor with them; the sandbox stays,
/// not ready, until it is removed. Idempotent.
pub fn stop_pod(sandbox: &mut Sandbox) -> Result<()> {
    let stopped = crate::lifecycle::delete::stop_pod_and(
        sandbox,
        Duration::ZERO,
        PodStage::Stopped,
        &mut || {},
    )?;
    if stopped {
        let _lock = sandbox.lock()?;
        pod::stop_pod_sandbox(sandbox, Duration::ZERO);
    }
    Ok(())
}

/// `RemovePodSandbox`: stop it if it is not, and remove all of it. Idempotent.
pub fn remove_pod(sandbox: &mut Sandbox) -> Result<()> {
    crate::lifecycle::delete::delete_pod(sandbox, Duration::ZERO)?;
    Ok(())
}

/// The image store the pod's containers come from.
pub fn images_of(sandbox: &Sandbox) -> Result<ImageStore> {
    Ok(ImageStore::open(&sandbox.image_root())?)
}

/// A name for kubelet's container `meta` no container of the pod has:
/// kubelet's own (made a DNS label, [`dns_name`]), else with its attempt,
/// else with a random tail.
fn unique_name(sandbox: &Sandbox, meta: &KubeletContainer) -> String {
    let spec = sandbox.record.manifest.spec.clone().unwrap_or_default();
    let taken = |n: &str| spec.containers.iter().any(|c| c.name == n);
    let base = dns_name(&meta.name, LABEL_MAX, false);
    let with = |tail: &str| {
        let room = LABEL_MAX - tail.len() - 1;
        let head: String = base.chars().take(room).collect();
        format!("{}-{tail}", head.trim_end_matches('-'))
    };
    let with_attempt = with(&meta.attempt.to_string());
    if !taken(&base) {
        base
    } else if !taken(&with_attempt) {
        with_attempt
    } else {
        let tail = uuid::Uuid::new_v4().simple().to_string();
        with(&tail[..8])
    }
}

/// The longest DNS label (a container's name, a namespace).
pub const LABEL_MAX: usize = 63;
/// The longest DNS subdomain (a pod's name).
pub const SUBDOMAIN_MAX: usize = 253;

/// kubelet's name for a pod, namespace or container (any string, over the
/// CRI) as a name podrt accepts: a DNS subdomain (`dots`) or label of at most
/// `max` characters. A name that had to change gets a tail from a hash of the
/// original, so two names that differ stay apart.
pub fn dns_name(name: &str, max: usize, dots: bool) -> String {
    let mapped: String = name
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '-' => c,
            '.' if dots => c,
            _ => '-',
        })
        .collect();
    let trimmed = mapped.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    if trimmed == name && !name.is_empty() && name.len() <= max {
        return name.to_string();
    }
    // FNV-1a: stable across releases, as the name is kept in records.
    let hash = name.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    let tail = format!("{hash:08x}");
    let head: String = trimmed.chars().take(max - tail.len() - 1).collect();
    let head = head.trim_end_matches(|c: char| !c.is_ascii_alphanumeric());
    if head.is_empty() {
        tail
    } else {
        format!("{head}-{tail}")
    }
}

/// Add `new` under `name` to the record (the caller holds the pod's lock and
/// saves): its volumes made ready, the container in the manifest, kubelet's
/// description kept. Checked as `podrt apply` checks a pod.
fn add(sandbox: &mut Sandbox, name: &str, mut new: NewContainer) -> Result<()> {
    new.container.name = name.to_string();
    let mut manifest = sandbox.record.manifest.clone();
    let spec = manifest.spec.get_or_insert_with(PodSpec::default);
    spec.containers.push(new.container);
    spec.volumes
        .get_or_insert_with(Vec::new)
        .extend(new.volumes.iter().cloned());
    let images = images_of(sandbox)?;
    crate::manifest::validate_sandbox(&manifest, &|i| images.resolve(i).is_ok()).map_err(
        |invalid| Error::Invalid {
            pod: sandbox.record.name.clone(),
            invalid,
        },
    )?;
    let only_new = PodSpec {
        volumes: Some(new.volumes),
        ..PodSpec::default()
    };
    let prepared = pod::volumes::prepare(&only_new, &sandbox.paths)?;
    sandbox.record.volumes.extend(prepared);
    sandbox.record.manifest = manifest;
    if let Some(kubelet) = &mut sandbox.record.kubelet {
        kubelet.containers.insert(name.to_string(), new.meta);
    }
    if let Err(e) = sandbox.save() {
        take_out(sandbox, name);
        return Err(e);
    }
    Ok(())
}

/// Take the container `name` out of the record (the caller holds the pod's
/// lock and saves): its manifest entry, its own volumes (released) and
/// kubelet's description.
fn take_out(sandbox: &mut Sandbox, name: &str) {
    let Some(spec) = sandbox.record.manifest.spec.as_mut() else {
        return;
    };
    let Some(i) = spec.containers.iter().position(|c| c.name == name) else {
        return;
    };
    let container = spec.containers.remove(i);
    let own: Vec<String> = container
        .volume_mounts
        .iter()
        .flatten()
        .map(|m| m.name.clone())
        .collect();
    if let Some(volumes) = spec.volumes.as_mut() {
        volumes.retain(|v| !own.contains(&v.name));
    }
    let (gone, kept) = std::mem::take(&mut sandbox.record.volumes)
        .into_iter()
        .partition(|v| own.contains(&v.name));
    sandbox.record.volumes = kept;
    pod::volumes::release(&gone);
    if let Some(kubelet) = &mut sandbox.record.kubelet {
        kubelet.containers.remove(name);
    }
}

/// Where kubelet reads the container's log (`log_directory`/`log_path`), if
/// it asked for one.
fn log_link(sandbox: &Sandbox, name: &str) -> Option<std::path::PathBuf> {
    let kubelet = sandbox.record.kubelet.as_ref()?;
    let c = kubelet.containers.get(name)?;
    if kubelet.log_directory.is_empty() || c.log_path.is_empty() {
        return None;
    }
    Some(std::path::Path::new(&kubelet.log_directory).join(&c.log_path))
}

/// Make the container's log in the pod directory a link to the file kubelet
/// reads (`log_directory`/`log_path`), made empty now: the supervisor writes
/// through the link, so the output lands where kubelet looks, and after
/// kubelet renames the file to rotate it, reopening the link makes a new one
/// there. The file is kubelet's: it stays when the container is removed.
fn link_log(sandbox: &Sandbox, name: &str) -> Result<()> {
    let Some(target) = log_link(sandbox, name) else {
        return Ok(());
    };
    let io = |what: &'static str, path: &std::path::Path| {
        let path = path.to_path_buf();
        move |e| Error::io(what, &path, e)
    };
    if let Some(dir) = target.parent() {
        std::fs::create_dir_all(dir).map_err(io("creating the log directory", dir))?;
    }
    podrt_runtime::private_fs::open_append(&target).map_err(io("creating the log", &target))?;
    let dir = sandbox.paths.container(name);
    podrt_runtime::private_fs::create_dir_all(&dir).map_err(io("creating", &dir))?;
    let link = sandbox.paths.log(name);
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&target, &link).map_err(io("linking the log", &link))
}

fn stopped(sandbox: &Sandbox) -> Error {
    Error::Create {
        pod: sandbox.record.name.clone(),
        message: "the pod sandbox is stopped".into(),
    }
}

fn not_kubelets(sandbox: &Sandbox) -> Error {
    Error::Create {
        pod: sandbox.record.name.clone(),
        message: "the pod was not made over the CRI: its containers are its manifest's".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_dns_names_that_stay_apart() {
        assert_eq!(dns_name("web", LABEL_MAX, false), "web");
        let upper = dns_name("Create-PodSandbox-X", SUBDOMAIN_MAX, true);
        assert!(upper.starts_with("create-podsandbox-x-"), "{upper}");
        assert_ne!(upper, dns_name("create-PodSandbox-X", SUBDOMAIN_MAX, true));
        let long = dns_name(&"a".repeat(100), LABEL_MAX, false);
        assert_eq!(long.len(), LABEL_MAX);
        assert_eq!(
            dns_name("a.b", LABEL_MAX, false).split('-').next(),
            Some("a")
        );
        assert_eq!(dns_name("___", LABEL_MAX, false).len(), 8);
    }
}
