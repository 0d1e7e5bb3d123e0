//! The pod sandbox and its containers, with the Kubernetes CRI RuntimeService's
//! verbs (DESIGN.md §2): `run_pod_sandbox` makes the pod's shared namespaces, files,
//! volumes and cgroup; `create_container`/`start_container` make and start one
//! container in it; `stop_*`/`remove_*` undo them and are idempotent, as CRI requires.
//! The caller of `create_container` becomes the parent of the container's process
//! (for `podrt apply` that is the pod's supervisor).
//!
//! Each step has its file: namespace pins ([`pins`]), the pod cgroup
//! ([`pod_cgroup`]), the shared PID 1 ([`pod_init`]), `/etc` files ([`etc_files`]),
//! volumes ([`volumes`]), each container's OCI spec ([`container_spec`]). This
//! layer stands on the pod's state ([`crate::state`]) and its network
//! ([`crate::network`]); keeping the pod alive is the lifecycle's work above it.

pub mod container_spec;
pub mod etc_files;
pub(crate) mod hooks;
pub mod image_users;
pub(crate) mod pinned_path;
pub(crate) mod pins;
pub(crate) mod pod_cgroup;
pub mod pod_init;
pub mod pulls;
pub mod qos;
pub(crate) mod volumes;

use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Container, Pod};
use podrt_runtime::cgroups::Cgroup;
use podrt_runtime::private_fs;
use podrt_runtime::{Container as RtContainer, CreateOptions, StartMode};

use crate::error::{Error, Result};
use crate::image::ImageStore;
use crate::manifest::ValidPod;
use crate::network::{self, host_ports, NetworkOptions};
use crate::overlay;
use crate::proc::clock::{now_nanos, now_seconds};
use crate::proc::identity::this_process;
use crate::security::SecurityOptions;
use crate::state::listing::find;
use crate::state::lock::Lock;
use crate::state::paths::{self, PodPaths};
use crate::state::record::{
    ContainerRecord, PodNetwork, PodRecord, PodStage, PreparedVolume, RECORD_VERSION,
};
use crate::state::Sandbox;
use container_spec::{JoinPaths, SpecInput};
use etc_files::ClusterDns;

/// Settings of the podrt installation that pods are made under.
#[derive(Debug, Clone)]
pub struct Options {
    /// State root (`/run/podrt`, `--root`).
    pub root: PathBuf,
    /// The image store (`/var/lib/podrt/images`, `--image-root`).
    pub image_root: PathBuf,
    /// Parent of every pod's cgroup.
    pub cgroup_parent: String,
    /// kubelet's `--cluster-dns`/`--cluster-domain` for `dnsPolicy: ClusterFirst`.
    pub dns: ClusterDns,
    /// The podrt binary, run as the supervisor and the pod's PID 1 so they are
    /// small fresh processes (see [`crate::proc::roles`]); `None` keeps them as forks of
    /// the caller.
    pub helper_exe: Option<PathBuf>,
    /// Where CNI networks and plugins are, and the built-in network's settings.
    pub network: NetworkOptions,
    /// Installation-wide security settings (kept in each pod's record).
    pub security: SecurityOptions,
    /// Where pods in their own user namespace get their host ids, and whether
    /// pods without `spec.hostUsers` get one (the config's `userNamespaces`).
    pub userns: crate::userns::UsernsOptions,
    /// kubelet's `--pod-max-pids`: the most processes a pod's cgroup may hold.
    pub pod_max_pids: Option<i64>,
    /// kubelet's `crashLoopBackOff.maxContainerRestartPeriod`: the longest wait
    /// before restarting a container (5 minutes when `None`).
    pub max_container_restart_period: Option<std::time::Duration>,
    /// How images are pulled when containers are made (restarts included);
    /// `None` never pulls (the images must be in the store).
    pub pulling: Option<pulls::PullSettings>,
    /// This process is the pod's dedicated supervisor (`podrt apply`'s fork): it is
    /// recorded from the first write, so a `delete` racing the creation can stop it.
    pub as_supervisor: bool,
    /// The pod is kubelet's, made over the CRI: what kubelet said of it,
    /// recorded from the first write. Its `cgroup_parent`, when given, is the
    /// pod's cgroup (kubelet's), its containers' parent.
    pub kubelet: Option<crate::state::kubelet_meta::KubeletPod>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            root: PathBuf::from(paths::DEFAULT_ROOT),
            image_root: PathBuf::from(crate::image::DEFAULT_ROOT),
            cgroup_parent: "/podrt".into(),
            kubelet: None,
            dns: ClusterDns::default(),
            helper_exe: None,
            network: NetworkOptions::default(),
            security: SecurityOptions::default(),
            userns: crate::userns::UsernsOptions::default(),
            pod_max_pids: None,
            max_container_restart_period: None,
            pulling: None,
            as_supervisor: false,
        }
    }
}

/// `RunPodSandbox`: claim the pod's name, give it a UID and state directory, make and
/// pin its namespaces, write its `/etc` files, prepare its volumes and (with
/// `shareProcessNamespace`) start its PID 1. On failure everything made is removed.
pub fn run_pod_sandbox(opts: &Options, pod: &ValidPod, manifest: &Pod) -> Result<Sandbox> {
    let uid = uuid::Uuid::new_v4().to_string();
    run_pod_sandbox_as(opts, pod, manifest, &uid)
}

/// [`run_pod_sandbox`] with a UID the caller chose (a fresh UUID), so it can find
/// exactly this pod afterwards even when another one of the same name wins the
/// race for the name.
pub(crate) fn run_pod_sandbox_as(
    opts: &Options,
    pod: &ValidPod,
    manifest: &Pod,
    uid: &str,
) -> Result<Sandbox> {
    let mut sandbox = claim(opts, pod, manifest, uid)?;
    match build_sandbox(&mut sandbox, opts, pod) {
        Ok(()) => Ok(sandbox),
        Err(e) => {
            remove_pod_sandbox(&mut sandbox);
            Err(e)
        }
    }
}

/// Reserve the name under the names lock and write the first record. The root and
/// every pod's directory are root's alone (0700): records, logs and the
/// supervisor's socket are in them.
fn claim(opts: &Options, pod: &ValidPod, manifest: &Pod, uid: &str) -> Result<Sandbox> {
    let pods = paths::pods_dir(&opts.root);
    private_fs::own_dir(&pods).map_err(|e| Error::io("creating", &pods, e))?;
    let _names = Lock::exclusive(&paths::names_lock(&opts.root))?;
    if find(&opts.root, &pod.namespace, &pod.name)?.is_some() {
        return Err(Error::PodExists(pod.name.clone()));
    }
    check_host_ports(&opts.root, manifest)?;
    let uid = uid.to_string();
    let paths = PodPaths::new(&opts.root, &uid);
    private_fs::create_dir(&paths.dir).map_err(|e| Error::io("creating", &paths.dir, e))?;
    let spec = manifest.spec.clone().unwrap_or_default();
    let settings = pod.settings;
    if settings.host_pid && settings.share_process_namespace {
        let _ = std::fs::remove_dir_all(&paths.dir);
        return Err(Error::Unsupported {
            field: "spec.shareProcessNamespace".into(),
            message: "cannot be true together with spec.hostPID".into(),
        });
    }
    // A hostNetwork pod lives in the host's UTS namespace: its hostname is the host's.
    let host_name = || {
        nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_default()
    };
    let hostname = if settings.host_network {
        host_name()
    } else {
        spec.hostname
            .clone()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| pod.name.chars().take(63).collect())
    };
    let mut manifest = manifest.clone();
    manifest.metadata.name = Some(pod.name.clone());
    manifest.metadata.namespace = Some(pod.namespace.clone());
    let record = PodRecord {
        version: RECORD_VERSION,
        uid: uid.clone(),
        name: pod.name.clone(),
        namespace: pod.namespace.clone(),
        created: now_seconds(),
        manifest,
        settings: Some(settings),
        hostname,
        cgroup_parent: match opts
            .kubelet
            .as_ref()
            .filter(|k| !k.cgroup_parent.is_empty())
        {
            Some(k) => k.cgroup_parent.trim_end_matches('/').to_string(),
            None => format!("{}/pod{uid}", opts.cgroup_parent.trim_end_matches('/')),
        },
        stage: PodStage::Creating,
        deletion_timestamp: None,
        pod_init: None,
        supervisor: if opts.as_supervisor {
            this_process()
        } else {
            None
        },
        containers: Vec::new(),
        volumes: Vec::new(),
        network: None,
        security: opts.security.clone(),
        userns: None,
        image_root: Some(opts.image_root.clone()),
        kubelet: opts.kubelet.clone(),
    };
    let sandbox = Sandbox { paths, record };
    if let Err(e) = sandbox.save() {
        let _ = std::fs::remove_dir_all(&sandbox.paths.dir);
        return Err(e);
    }
    Ok(sandbox)
}

/// What [`claim`] would refuse now: the pod's name taken in its namespace,
/// or its host ports. Checked by a caller whose pod is claimed in another
/// process (its supervisor, which reports only a message), so the error keeps
/// its kind; the claim checks again under the names lock.
pub(crate) fn precheck(opts: &Options, pod: &ValidPod, manifest: &Pod) -> Result<()> {
    if find(&opts.root, &pod.namespace, &pod.name)?.is_some() {
        return Err(Error::PodExists(pod.name.clone()));
    }
    check_host_ports(&opts.root, manifest)
}

/// Refuse a pod whose host ports another pod has (under the names lock, so two
/// racing `apply`s cannot both get a port).
fn check_host_ports(root: &Path, manifest: &Pod) -> Result<()> {
    let wanted = host_ports::of_pod(manifest);
    if wanted.is_empty() {
        return Ok(());
    }
    for other in crate::state::listing::list_pod_sandboxes(root)? {
        let taken = host_ports::of_pod(&other.record.manifest);
        if let Some((w, t)) = host_ports::first_clash(&wanted, &taken) {
            return Err(Error::HostPortTaken {
                field: w.field.clone(),
                port: format!("{}/{}", w.host_port, w.protocol),
                other: other.record.name.clone(),
                other_field: t.field.clone(),
            });
        }
    }
    Ok(())
}

fn build_sandbox(sandbox: &mut Sandbox, opts: &Options, pod: &ValidPod) -> Result<()> {
    let spec = sandbox.record.manifest.spec.clone().unwrap_or_default();
    let settings = sandbox.record.settings();
    let paths = sandbox.paths.clone();
    // The network is chosen and checked first: a bad config fails before any
    // kernel object exists.
    let planned = if settings.host_network {
        None
    } else {
        let ports = host_ports::of_pod(&sandbox.record.manifest);
        let list = network::for_pod(&opts.network, &opts.root, &ports)?;
        Some(PodNetwork::plan(list, &opts.network, &ports)?)
    };
    let init_names: Vec<&str> = spec
        .init_containers
        .iter()
        .flatten()
        .map(|c| c.name.as_str())
        .collect();
    let containers: Vec<(bool, &crate::manifest::ContainerResources)> = pod
        .containers
        .iter()
        .map(|r| (init_names.contains(&r.name.as_str()), r))
        .collect();
    pod_cgroup::create(
        &sandbox.record.cgroup_parent,
        &pod_cgroup::pod_resources(&containers, opts.pod_max_pids),
    )?;
    let id_map = if crate::userns::own_user_namespace(&spec, &opts.userns) {
        let allocation = crate::userns::allocate(&opts.root, &sandbox.record.uid, &opts.userns)?;
        sandbox.record.userns = Some(allocation);
        sandbox.save()?;
        Some(allocation.range.map_line())
    } else {
        None
    };
    pins::pin(
        &pins::PinRequest {
            id_map: id_map.as_deref(),
            hostname: &sandbox.record.hostname,
            net: !settings.host_network,
            ipc: !settings.host_ipc,
            uts: !settings.host_network,
        },
        &|kind| paths.ns(kind),
    )?;
    if let Some(net) = planned {
        attach_network(sandbox, net)?;
    }
    etc_files::write(
        &spec,
        &paths,
        &sandbox.record.hostname,
        &sandbox.record.namespace,
        &opts.dns,
        sandbox.record.network.as_ref(),
        sandbox.record.userns.map(|a| a.range.first),
    )?;
    sandbox.record.volumes = volumes::prepare(&spec, &paths)?;
    if sandbox.record.userns.is_some() {
        check_idmappable(&spec, &sandbox.record.volumes, &paths.ns(pins::USER.0))?;
    }
    if spec.share_process_namespace == Some(true) {
        sandbox.record.pod_init = Some(pod_init::spawn(&paths.dir, opts.helper_exe.as_deref())?);
    }
    sandbox.save()
}

/// A pod in its own user namespace gets its volumes idmapped, never chowned: refuse
/// it, naming the volume, where the volume's filesystem cannot be idmapped (tmpfs
/// before Linux 6.3, some network filesystems).
fn check_idmappable(
    spec: &k8s_openapi::api::core::v1::PodSpec,
    volumes: &[PreparedVolume],
    userns_pin: &Path,
) -> Result<()> {
    let userns = std::fs::File::open(userns_pin)
        .map(std::os::fd::OwnedFd::from)
        .map_err(|e| Error::io("opening the pod's user namespace", userns_pin, e))?;
    for (i, v) in spec.volumes.iter().flatten().enumerate() {
        let Some(prepared) = volumes.iter().find(|p| p.name == v.name) else {
            continue;
        };
        let source = prepared.source();
        let ok = crate::userns::probe::can_idmap_dir(source, &userns)
            .map_err(|e| Error::io("probing idmapped mounts on", source, e))?;
        if ok {
            continue;
        }
        let (field, what) = if prepared.tmpfs {
            (
                format!("spec.volumes[{i}].emptyDir.medium"),
                "Memory: this kernel's tmpfs has no idmapped mounts (Linux 6.3 has them)"
                    .to_string(),
            )
        } else if v.host_path.is_some() {
            (
                format!("spec.volumes[{i}].hostPath.path"),
                format!(
                    "{}: its filesystem has no idmapped mounts",
                    source.display()
                ),
            )
        } else {
            (
                format!("spec.volumes[{i}]"),
                format!(
                    "{}: the filesystem of podrt's state root has no idmapped mounts",
                    source.display()
                ),
            )
        };
        return Err(Error::Unsupported {
            field,
            message: format!(
                "{what}, which spec.hostUsers: false needs to give the pod its volume without chowning it; `podrt check` lists what this host supports"
            ),
        });
    }
    Ok(())
}

/// CNI ADD on the pinned network namespace. The attachment is recorded first, so a
/// failure (or a crash) half-way leaves what DEL needs to release it.
fn attach_network(sandbox: &mut Sandbox, net: PodNetwork) -> Result<()> {
    if net.list.source.is_none() {
        // The built-in network's leases: host-local would make their directory
        // 0755; it keeps the one made here.
        let leases = paths::ipam_dir(&sandbox.paths.root).join(&net.list.name);
        private_fs::own_dir(&leases).map_err(|e| Error::io("creating", &leases, e))?;
    }
    sandbox.record.network = Some(net);
    sandbox.save()?;
    let netns = sandbox.paths.ns("net");
    if let Some(net) = sandbox.record.network.as_mut() {
        net.add(&sandbox.record.uid, &netns)?;
    }
    sandbox.save()
}

/// CNI DEL, if the pod was attached; the record forgets the attachment once
/// every plugin released its part.
fn detach_network(sandbox: &mut Sandbox) -> Result<()> {
    let Some(net) = &sandbox.record.network else {
        return Ok(());
    };
    net.del(&sandbox.record.uid, &sandbox.paths.ns("net"))?;
    sandbox.record.network = None;
    Ok(())
}

/// `CreateContainer`: mount the container's overlay root over its image, build its
/// spec and create it in the runtime, waiting for `start`. Its stdout and stderr go
/// to `output` (the supervisor's log pipes), or else straight to its log file.
/// `field` is where it is in the manifest (`spec.containers[0]`).
pub fn create_container(
    sandbox: &mut Sandbox,
    container: &Container,
    field: &str,
    init: bool,
    resources: &crate::manifest::ContainerResources,
    images: &ImageStore,
    output: Option<(RawFd, RawFd)>,
) -> Result<ContainerRecord> {
    let image = images.resolve(container.image.as_deref().unwrap_or(""))?;
    let name = container.name.clone();
    let id = uuid::Uuid::new_v4().simple().to_string();
    let paths = sandbox.paths.clone();
    let dir = paths.container(&name);
    // A restarted container starts from a fresh root, as in Kubernetes.
    remove_container_files(&paths, &name);
    private_fs::create_dir_all(&dir).map_err(|e| Error::io("creating", &dir, e))?;
    let rootfs = paths.rootfs(&name);
    let join = join_paths(sandbox);
    match &join.user {
        Some((pin, _)) => {
            let userns = std::fs::File::open(pin)
                .map_err(|e| Error::io("opening the pod's user namespace", pin, e))?;
            overlay::mount_idmapped(
                &image.layers,
                &dir.join("upper"),
                &dir.join("work"),
                &rootfs,
                std::os::fd::AsFd::as_fd(&userns),
                &dir.join("layers"),
            )?
        }
        None => overlay::mount(
            &image.layers,
            &dir.join("upper"),
            &dir.join("work"),
            &rootfs,
        )?,
    }
    let made = (|| {
        let spec = sandbox.record.manifest.spec.clone().unwrap_or_default();
        let mut mounts = etc_files::mounts(&paths, sandbox.record.settings().host_network);
        mounts.extend(volumes::mounts_for(
            container,
            field,
            &sandbox.record.volumes,
            &dir,
            join.user.is_some(),
        )?);
        let oci = container_spec::build(&SpecInput {
            container,
            field,
            image: &image.config,
            rootfs: rootfs.clone(),
            hostname: &sandbox.record.hostname,
            join: join.clone(),
            mounts,
            cgroups_path: format!("{}/{id}", sandbox.record.cgroup_parent),
            resources,
            pod: &spec,
            security: &sandbox.record.security,
        })?;
        let oci = kubelets_paths(oci, sandbox, &name);
        let log = private_fs::open_append(&paths.log(&name))
            .map_err(|e| Error::io("opening log", paths.log(&name), e))?;
        let null =
            std::fs::File::open("/dev/null").map_err(|e| Error::io("opening", "/dev/null", e))?;
        let opts = CreateOptions {
            root: paths.runtime_root(),
            id: id.clone(),
            stdio: Some(match output {
                Some((out, err)) => [null.as_raw_fd(), out, err],
                None => [null.as_raw_fd(), log.as_raw_fd(), log.as_raw_fd()],
            }),
            ..CreateOptions::default()
        };
        let bundle =
            podrt_runtime::spec::Bundle::from_spec(&dir, oci).map_err(Error::container(&name))?;
        RtContainer::create_from_bundle(&opts, bundle, StartMode::Create)
            .map_err(Error::container(&name))
    })();
    if let Err(e) = made {
        let _ = overlay::unmount(&rootfs);
        return Err(e);
    }
    let record = ContainerRecord {
        name: name.clone(),
        id,
        init,
        image: container.image.clone().unwrap_or_default(),
        image_name: image.name.clone(),
        image_id: image.id.clone(),
        started_at: None,
    };
    sandbox.record.containers.retain(|c| c.name != name);
    sandbox.record.containers.push(record.clone());
    sandbox.save()?;
    Ok(record)
}

/// The masked and read-only paths kubelet gave a container over the CRI, in
/// place of podrt's defaults.
fn kubelets_paths(
    mut spec: oci_spec::runtime::Spec,
    sandbox: &Sandbox,
    name: &str,
) -> oci_spec::runtime::Spec {
    let Some(meta) = sandbox
        .record
        .kubelet
        .as_ref()
        .and_then(|k| k.containers.get(name))
    else {
        return spec;
    };
    // kubelet gives none for a privileged container or `procMount: Unmasked`.
    if let Some(linux) = spec.linux_mut() {
        if !meta.masked_paths.is_empty() {
            linux.set_masked_paths(Some(meta.masked_paths.clone()));
        }
        if !meta.readonly_paths.is_empty() {
            linux.set_readonly_paths(Some(meta.readonly_paths.clone()));
        }
    }
    spec
}

/// `StartContainer`: release a created container's process.
pub fn start_container(sandbox: &mut Sandbox, name: &str) -> Result<i32> {
    let c = sandbox
        .runtime_container(name)
        .ok_or_else(|| not_found(sandbox, name))?;
    c.start().map_err(Error::container(name))?;
    let started = now_nanos();
    if let Some(r) = sandbox
        .record
        .containers
        .iter_mut()
        .find(|c| c.name == name)
    {
        r.started_at = Some(started);
    }
    sandbox.save()?;
    Ok(c.state.pid)
}

/// Stop several containers at once: all get SIGTERM together, and whatever still
/// runs when `timeout` ends gets SIGKILL.
pub(crate) fn stop_all(containers: &[RtContainer], timeout: Duration) {
    let running = |c: &RtContainer| c.status().has_process();
    for c in containers.iter().filter(|c| running(c)) {
        let _ = c.kill(podrt_runtime::signal::Signal(libc::SIGTERM), false);
    }
    let deadline = Instant::now() + timeout;
    while containers.iter().any(running) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    for c in containers.iter().filter(|c| running(c)) {
        let _ = c.kill(podrt_runtime::signal::Signal(libc::SIGKILL), true);
    }
}

/// `RemoveContainer`: delete it from the runtime (killing what is left) and unmount
/// its root. Removing a removed container does nothing.
pub(crate) fn remove_container(sandbox: &mut Sandbox, name: &str) -> Result<()> {
    if let Some(c) = sandbox.runtime_container(name) {
        c.delete(true).map_err(Error::container(name))?;
    }
    remove_container_files(&sandbox.paths, name);
    sandbox.record.containers.retain(|c| c.name != name);
    Ok(())
}

fn remove_container_files(paths: &PodPaths, name: &str) {
    let _ = overlay::unmount(&paths.rootfs(name));
    // The container's pinned subPaths (mounts) go before their directory.
    let _ = remove_tree(&paths.container(name).join("subpaths"));
    for sub in ["upper", "work", "rootfs"] {
        let _ = std::fs::remove_dir_all(paths.container(name).join(sub));
    }
}

/// `StopPodSandbox`: stop every container (SIGTERM, SIGKILL after `timeout`) and the
/// pod's PID 1. Idempotent.
pub fn stop_pod_sandbox(sandbox: &Sandbox, timeout: Duration) {
    let containers: Vec<RtContainer> = sandbox
        .record
        .containers
        .iter()
        .filter_map(|c| sandbox.runtime_container(&c.name))
        .collect();
    stop_all(&containers, timeout);
    if let Some(init) = sandbox.record.pod_init.filter(|p| p.alive()) {
        // SAFETY: kill of the pod's own init, verified by PID and start time.
        unsafe { libc::kill(init.pid, libc::SIGKILL) };
    }
}

/// `RemovePodSandbox`: remove every container, the supervisor, mounts, pins, the pod
/// cgroup and the state directory. Idempotent and best-effort: it carries on past
/// failures so as much as possible is gone, and reports the first.
pub fn remove_pod_sandbox(sandbox: &mut Sandbox) -> Option<Error> {
    let mut first: Option<Error> = None;
    let names: Vec<String> = sandbox
        .record
        .containers
        .iter()
        .map(|c| c.name.clone())
        .collect();
    for name in names {
        if let Err(e) = remove_container(sandbox, &name) {
            first.get_or_insert(e);
        }
    }
    let mut killed = Vec::new();
    for p in [sandbox.record.pod_init, sandbox.record.supervisor]
        .into_iter()
        .flatten()
        .filter(|p| p.alive() && p.pid != std::process::id() as i32)
    {
        // Watched before the signal, so the wait below cannot mistake a
        // successor with the recycled PID for it.
        killed.extend(crate::proc::pidfd::Watched::open(p));
        // SAFETY: kill of a process of this pod, verified by PID and start time.
        unsafe { libc::kill(p.pid, libc::SIGKILL) };
    }
    // A SIGKILLed supervisor may still be writing a file into the pod's
    // directory until it is gone: wait for that (briefly) before removing it.
    wait_ended(&killed, std::time::Duration::from_secs(2));
    if let Err(e) = detach_network(sandbox) {
        first.get_or_insert(e);
    }
    volumes::release(&sandbox.record.volumes);
    etc_files::release(&sandbox.paths);
    let pins: Vec<PathBuf> = pins::SHARED
        .iter()
        .chain([&pins::USER])
        .map(|(kind, _)| sandbox.paths.ns(kind))
        .collect();
    pins::unpin(&pins);
    if let Some(allocation) = sandbox.record.userns {
        crate::userns::release(&sandbox.paths.root, allocation.index, &sandbox.record.uid);
    }
    if let Ok(mut cg) = Cgroup::open(&sandbox.record.cgroup_parent) {
        if cg.exists() {
            if let Err(e) = cg.destroy() {
                first.get_or_insert(e.into());
            }
        }
    }
    // The installation's parent (`/podrt`) goes with its last pod; kubelet's
    // (its QoS classes' cgroups) are kubelet's.
    let kubelets = sandbox
        .record
        .kubelet
        .as_ref()
        .is_some_and(|k| !k.cgroup_parent.is_empty());
    if !kubelets {
        podrt_runtime::cgroups::prune_empty_parents(&sandbox.record.cgroup_parent);
    }
    if let Err(e) = remove_tree(&sandbox.paths.dir) {
        first.get_or_insert(e);
    }
    first
}

/// Wait until every process of `watched` has exited, or `limit` has passed.
fn wait_ended(watched: &[crate::proc::pidfd::Watched], limit: std::time::Duration) {
    let deadline = std::time::Instant::now() + limit;
    while watched.iter().any(|w| !w.ended()) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

/// Remove the pod directory, refusing to cross into anything still mounted below it
/// (a mount missed by the steps above must not take host files with it).
pub(crate) fn remove_tree(dir: &Path) -> Result<()> {
    let mountinfo = podrt_runtime::mountinfo::read_own().unwrap_or_default();
    // Strictly below `dir`: not `dir` itself, nor a sibling sharing its prefix.
    let busy: Vec<PathBuf> = podrt_runtime::mountinfo::parse(&mountinfo)
        .map(|m| m.mount_point)
        .filter(|m| m.starts_with(dir) && m != dir)
        .collect();
    for m in &busy {
        let _ = nix::mount::umount2(m, nix::mount::MntFlags::MNT_DETACH);
    }
    // A process of the pod that is still on its way out may add a file while
    // the tree is removed (ENOTEMPTY): try again a few times.
    let mut tries = 0;
    loop {
        match std::fs::remove_dir_all(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::ENOTEMPTY) && tries < 5 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => return Err(Error::io("removing", dir, e)),
        }
    }
}

/// The namespaces each container of `sandbox` joins.
fn join_paths(sandbox: &Sandbox) -> JoinPaths {
    let settings = sandbox.record.settings();
    let pin = |kind: &str| Some(sandbox.paths.ns(kind)).filter(|p| p.exists());
    JoinPaths {
        net: (!settings.host_network).then(|| pin("net")).flatten(),
        ipc: (!settings.host_ipc).then(|| pin("ipc")).flatten(),
        uts: (!settings.host_network).then(|| pin("uts")).flatten(),
        host_pid: settings.host_pid,
        pid: sandbox
            .record
            .pod_init
            .filter(|p| p.alive())
            .map(|p| PathBuf::from(format!("/proc/{}/ns/pid", p.pid))),
        user: sandbox
            .record
            .userns
            .and_then(|a| pin(pins::USER.0).map(|p| (p, a.range.first))),
    }
}

fn not_found(sandbox: &Sandbox, name: &str) -> Error {
    Error::ContainerNotFound {
        pod: sandbox.record.name.clone(),
        container: name.to_string(),
    }
}
