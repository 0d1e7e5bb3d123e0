//! `podrt`'s command line, shaped like kubectl's: `apply -f`, `get pods`,
//! `describe pod`, `logs`, `exec`, `delete pod`, plus `images` and `image import`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Run Kubernetes pods on this host, straight on the kernel.
#[derive(Debug, Parser)]
#[command(name = "podrt", version, about)]
pub struct Cli {
    /// podrt's state directory.
    #[arg(long, global = true, default_value = podrt_sandbox::state::paths::DEFAULT_ROOT, env = "PODRT_ROOT")]
    pub root: PathBuf,
    /// Where images are kept (default: /var/lib/podrt/images; with a --root of
    /// your own, <root>/images, so a private root is self-contained).
    #[arg(long, global = true, env = "PODRT_IMAGE_ROOT")]
    pub image_root: Option<PathBuf>,
    /// Parent cgroup of every pod's cgroup.
    #[arg(long, global = true, default_value = "/podrt")]
    pub cgroup_parent: String,
    /// Cluster DNS server for `dnsPolicy: ClusterFirst` (as kubelet's --cluster-dns);
    /// without one, pods get the host's resolv.conf.
    #[arg(long, global = true)]
    pub cluster_dns: Vec<String>,
    /// Cluster domain for the search path (as kubelet's --cluster-domain).
    #[arg(long, global = true, default_value = "cluster.local")]
    pub cluster_domain: String,
    /// CNI network configs; the lexically first `.conflist`/`.conf`/`.json` is
    /// used, and podrt's built-in network when there is none.
    #[arg(long, global = true, default_value = podrt_sandbox::network::DEFAULT_CONF_DIR, env = "PODRT_CNI_CONF_DIR")]
    pub cni_conf_dir: PathBuf,
    /// CNI plugin dirs, searched in order (repeat the flag, or separate with ':').
    #[arg(long, global = true, value_delimiter = ':', default_values = podrt_sandbox::network::DEFAULT_BIN_DIRS, env = "PODRT_CNI_BIN_DIR")]
    pub cni_bin_dir: Vec<PathBuf>,
    /// The built-in network's subnet (bridge podrt0, host-local IPAM).
    #[arg(long, global = true, default_value = podrt_sandbox::network::DEFAULT_SUBNET)]
    pub pod_subnet: String,
    /// Let the built-in network masquerade pod traffic leaving the subnet.
    #[arg(long, global = true)]
    pub pod_masquerade: bool,
    /// Where `seccompProfile: Localhost` profiles are (as kubelet's flag;
    /// default: the config file's seccompProfileRoot, else /var/lib/kubelet/seccomp).
    #[arg(long, global = true)]
    pub seccomp_profile_root: Option<PathBuf>,
    /// podrt's config file (policy, defaultCapabilities, seccompProfileRoot);
    /// /etc/podrt/config.yaml is read when it exists.
    #[arg(long, global = true, env = "PODRT_CONFIG")]
    pub config: Option<PathBuf>,
    /// Registry credentials: a Docker-style config.json (default: the config
    /// file's registries.authFile, else /etc/podrt/auth.json then
    /// ~/.docker/config.json).
    #[arg(long, global = true, env = "PODRT_REGISTRY_CONFIG")]
    pub registry_config: Option<PathBuf>,
    /// The most processes one pod may hold (its cgroup's pids limit, as
    /// kubelet's --pod-max-pids; -1: no limit).
    #[arg(long, global = true, default_value_t = -1, allow_negative_numbers = true)]
    pub pod_max_pids: i64,
    /// The longest wait before a crashed container is restarted (kubelet's
    /// crashLoopBackOff.maxContainerRestartPeriod; default 5m, e.g. 30s, 0s).
    #[arg(long, global = true, value_parser = humantime::parse_duration)]
    pub max_container_restart_period: Option<std::time::Duration>,
    /// The range Services' cluster IPs come from (kube-apiserver's
    /// --service-cluster-ip-range).
    #[arg(long, global = true, default_value = podrt_node::objects::DEFAULT_SERVICE_CIDR, env = "PODRT_SERVICE_CIDR")]
    pub service_cidr: String,
    /// The range NodePort Services' node ports come from.
    #[arg(long, global = true, default_value = podrt_node::objects::DEFAULT_NODE_PORTS)]
    pub service_node_port_range: String,
    /// Where workload objects (Deployments, ReplicaSets) are kept; unlike the
    /// root, it survives a reboot.
    #[arg(long, global = true, default_value = podrt_node::store::DEFAULT_STATE_DIR, env = "PODRT_STATE_DIR")]
    pub state_dir: PathBuf,
    /// The namespace of the objects named or listed (kubectl's -n; default:
    /// `default`, or a manifest object's own).
    #[arg(short = 'n', long, global = true)]
    pub namespace: Option<String>,
    /// Print debug messages.
    #[arg(long, global = true)]
    pub debug: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The image store: `--image-root`, else [`podrt_sandbox::image::DEFAULT_ROOT`]
    /// for the default root and `<root>/images` for a root of the caller's own.
    pub fn image_root(&self) -> PathBuf {
        match &self.image_root {
            Some(dir) => dir.clone(),
            None if self.root
                == std::path::Path::new(podrt_sandbox::state::paths::DEFAULT_ROOT) =>
            {
                PathBuf::from(podrt_sandbox::image::DEFAULT_ROOT)
            }
            None => self.root.join("images"),
        }
    }
}

/// The verbs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the pods of a manifest and return once their containers run
    /// (with init containers, once the first has started); store its other
    /// objects (workloads, Services, policies) for `podrt serve`.
    Apply(ApplyArgs),
    /// As apply, but every object must be new: one that exists is an error
    /// (kubectl's AlreadyExists) and is left as it is.
    Create(ApplyArgs),
    /// List pods, deployments or replicasets.
    Get(GetArgs),
    /// Wait until pods or workloads meet a condition, or are gone:
    /// `wait --for=condition=Ready pod/myapp-pod --timeout=60s`.
    Wait(WaitArgs),
    /// Show pods or workloads in detail, with their controllers' events.
    Describe(DescribeArgs),
    /// Print a container's output.
    Logs(LogsArgs),
    /// Run a command in a container of a pod.
    Exec(ExecArgs),
    /// Stop and remove pods, or deployments and replicasets with their pods.
    Delete(DeleteArgs),
    /// Edit a stored workload (or a pod's labels and annotations) in
    /// `$KUBE_EDITOR`/`$EDITOR`, storing it on save as apply would.
    Edit(EditArgs),
    /// Add, change or remove labels of pods or workloads:
    /// `label pod web app=v2 tier- --overwrite`.
    Label(LabelArgs),
    /// Set a Deployment's, ReplicaSet's or StatefulSet's replicas: `scale deploy/web --replicas=3`.
    Scale(ScaleArgs),
    /// Manage the rollout of a Deployment, StatefulSet or DaemonSet.
    Rollout {
        /// What to do.
        #[command(subcommand)]
        command: RolloutCommand,
    },
    /// Run the node agent in the foreground: the controllers that keep
    /// Deployments' and ReplicaSets' pods (one agent per root).
    Serve(ServeArgs),
    /// List the images in podrt's store.
    Images,
    /// Manage the image store.
    Image {
        /// What to do with images.
        #[command(subcommand)]
        command: ImageCommand,
    },
    /// Report what this host offers podrt, and what podrt cannot do here and why;
    /// exit status 1 if pods cannot run at all.
    Check,
    /// Remove what no pod owns: pod directories without a record, pods whose
    /// create or delete was interrupted, pod cgroups and IP leases of pods that
    /// do not exist.
    Gc,
    /// Check manifests against an admission policy without creating anything.
    Policy {
        /// What to do.
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Show the pod network.
    Network {
        /// What to show.
        #[command(subcommand)]
        command: NetworkCommand,
    },
}

/// `policy …`.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Report which pods of a manifest (or of every manifest under a
    /// directory) the policy would refuse, and why; exit status 1 if any.
    Check(PolicyCheckArgs),
}

/// `policy check`.
#[derive(Debug, Args)]
pub struct PolicyCheckArgs {
    /// A manifest, or a directory searched for *.yaml, *.yml and *.json.
    #[arg(short = 'f', long = "filename")]
    pub file: PathBuf,
    /// privileged, baseline, restricted, or a PodSecurityPolicy file
    /// (default: the config file's policy).
    #[arg(long)]
    pub policy: Option<String>,
}

/// `network …`.
#[derive(Debug, Subcommand)]
pub enum NetworkCommand {
    /// The network new pods join, where its config comes from, and the pods on it.
    #[command(alias = "list")]
    Ls,
}

/// `apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The manifest (YAML or JSON; `-` for stdin).
    #[arg(short = 'f', long = "filename")]
    pub file: PathBuf,
    /// Give the pod this name instead of the manifest's (one pod per manifest).
    #[arg(long)]
    pub name: Option<String>,
    /// Admit pods under this policy: privileged, baseline, restricted, or a
    /// PodSecurityPolicy file (default: the config file's policy, else none).
    #[arg(long)]
    pub policy: Option<String>,
}

/// Output formats of `get`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Output {
    /// The table with IP and node.
    Wide,
    /// The pod objects as JSON.
    Json,
    /// The pod objects as YAML.
    Yaml,
    /// `pod/NAME` lines.
    Name,
}

/// `get`.
#[derive(Debug, Args)]
pub struct GetArgs {
    /// `pods` (`pod`, `po`), `deployments` (`deploy`), `replicasets` (`rs`),
    /// `daemonsets` (`ds`), `statefulsets` (`sts`), `jobs`, `namespaces`
    /// (`ns`), or `all`; none with -f.
    #[arg(required_unless_present = "file")]
    pub kind: Option<String>,
    /// Only these objects.
    pub names: Vec<String>,
    /// Output format.
    #[arg(short = 'o', long = "output")]
    pub output: Option<Output>,
    /// Only objects whose labels match (kubectl's syntax: `app=web,tier!=db`,
    /// `env in (a,b)`, `!canary`).
    #[arg(short = 'l', long = "selector")]
    pub selector: Option<String>,
    /// The objects a manifest names.
    #[arg(short = 'f', long = "filename", conflicts_with_all = ["kind", "selector"])]
    pub file: Option<PathBuf>,
    /// Every namespace, with a NAMESPACE column (kubectl's -A).
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// After the listing, print each object again as it changes, appears or
    /// goes, until interrupted.
    #[arg(short = 'w', long, conflicts_with = "file")]
    pub watch: bool,
}

/// `edit`.
#[derive(Debug, Args)]
pub struct EditArgs {
    /// `deploy/web`, or the type and then the name.
    #[arg(required = true, num_args = 1..=2)]
    pub target: Vec<String>,
    /// Check edited templates under this admission policy (as apply's).
    #[arg(long)]
    pub policy: Option<String>,
}

/// `label`.
#[derive(Debug, Args)]
pub struct LabelArgs {
    /// The type and names (`pod web`, `deploy/web`), then the changes:
    /// `KEY=VALUE` sets a label, `KEY-` removes one.
    #[arg(required = true, num_args = 1..)]
    pub words: Vec<String>,
    /// Change a label that already has another value.
    #[arg(long)]
    pub overwrite: bool,
    /// Every object of the type whose labels match, instead of names.
    #[arg(short = 'l', long = "selector")]
    pub selector: Option<String>,
}

/// What a delete does with what the object made (kubectl's `--cascade`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Cascade {
    /// The object goes at once; what it made is deleted after it.
    Background,
    /// What the object made is deleted, then the object (with podrt's waiting
    /// delete, the same as background).
    Foreground,
    /// Only the object goes; what it made stays, without its owner.
    Orphan,
}

/// `describe`.
#[derive(Debug, Args)]
pub struct DescribeArgs {
    /// `pod` (`pods`, `po`), `deploy`, `rs`, `ds` or `job` (or TYPE/NAME);
    /// none with -f.
    #[arg(required_unless_present = "file")]
    pub kind: Option<String>,
    /// The objects; all of the type when none is named.
    pub names: Vec<String>,
    /// The objects a manifest names.
    #[arg(short = 'f', long = "filename", conflicts_with = "kind")]
    pub file: Option<PathBuf>,
    /// Every namespace.
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
}

/// `logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The pod.
    pub pod: String,
    /// The container (default: the first).
    #[arg(short = 'c', long = "container")]
    pub container: Option<String>,
    /// Keep printing output as it comes, until the container ends.
    #[arg(short = 'f', long = "follow")]
    pub follow: bool,
    /// Start each line with the time it was written (RFC 3339).
    #[arg(long)]
    pub timestamps: bool,
}

/// `exec`.
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// The pod.
    pub pod: String,
    /// The container (default: the first).
    #[arg(short = 'c', long = "container")]
    pub container: Option<String>,
    /// Pass stdin to the command (it is always passed; kept for kubectl habits).
    #[arg(short = 'i', long = "stdin")]
    pub stdin: bool,
    /// Give the command a terminal.
    #[arg(short = 't', long = "tty")]
    pub tty: bool,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

/// `delete`.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// `pod` (`pods`, `po`), `deployment` (`deploy`) or `replicaset` (`rs`),
    /// unless -f is given.
    pub kind: Option<String>,
    /// The objects.
    pub names: Vec<String>,
    /// Delete the pods of this manifest.
    #[arg(short = 'f', long = "filename")]
    pub file: Option<PathBuf>,
    /// Seconds between SIGTERM and SIGKILL (default: the pod's
    /// terminationGracePeriodSeconds, else 30).
    #[arg(long, allow_negative_numbers = true)]
    pub grace_period: Option<i64>,
    /// With --grace-period=0, remove at once.
    #[arg(long)]
    pub force: bool,
    /// Delete every object of the type whose labels match, instead of names.
    #[arg(short = 'l', long = "selector")]
    pub selector: Option<String>,
    /// With -l: in every namespace.
    #[arg(short = 'A', long, requires = "selector")]
    pub all_namespaces: bool,
    /// What happens to what a workload made: background (default),
    /// foreground, or orphan (it stays).
    #[arg(long, value_enum, default_value = "background")]
    pub cascade: Cascade,
    /// Deleting a pod that does not exist is not an error.
    #[arg(long)]
    pub ignore_not_found: bool,
    /// Wait until the pod is gone (`--wait=false` returns at once and the
    /// termination carries on in the background).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub wait: bool,
}

/// `scale`.
#[derive(Debug, Args)]
pub struct ScaleArgs {
    /// `deploy/NAME`, `rs/NAME`, `sts/NAME`, or the type and then the name.
    #[arg(required = true, num_args = 1..=2)]
    pub target: Vec<String>,
    /// The new number of replicas.
    #[arg(long)]
    pub replicas: i32,
}

/// `wait`'s arguments.
#[derive(Debug, Args)]
pub struct WaitArgs {
    /// The objects: TYPE/NAME… (pod/web, deploy/web, job/migrate), or a type
    /// then names.
    #[arg(required = true)]
    pub targets: Vec<String>,
    /// `condition=NAME` (a status condition: Ready, Initialized, Available,
    /// Complete, …; `condition=NAME=false` for False), or `delete`.
    #[arg(long = "for")]
    pub condition: String,
    /// How long to wait (kubectl's default, 30s; 0s looks once).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "30s")]
    pub timeout: std::time::Duration,
}

/// `rollout …`: each takes `deploy/NAME` or `deploy NAME`; `status`,
/// `history`, `undo` and `restart` also `sts/NAME` and `ds/NAME`.
#[derive(Debug, Subcommand)]
pub enum RolloutCommand {
    /// Wait until the rollout is done, printing its progress.
    Status {
        /// The Deployment, StatefulSet or DaemonSet (TYPE/NAME or TYPE NAME).
        #[arg(required = true, num_args = 1..=2)]
        target: Vec<String>,
        /// Give up after this long (e.g. 60s; default: wait as long as it takes).
        #[arg(long, value_parser = humantime::parse_duration)]
        timeout: Option<std::time::Duration>,
    },
    /// The kept revisions.
    History {
        /// The Deployment, StatefulSet or DaemonSet (TYPE/NAME or TYPE NAME).
        #[arg(required = true, num_args = 1..=2)]
        target: Vec<String>,
    },
    /// Go back to the previous revision, or to --to-revision.
    Undo {
        /// The Deployment, StatefulSet or DaemonSet (TYPE/NAME or TYPE NAME).
        #[arg(required = true, num_args = 1..=2)]
        target: Vec<String>,
        /// The revision to go back to (default: the previous one).
        #[arg(long)]
        to_revision: Option<i64>,
    },
    /// Replace every pod through a rollout.
    Restart {
        /// The Deployment, StatefulSet or DaemonSet (TYPE/NAME or TYPE NAME).
        #[arg(required = true, num_args = 1..=2)]
        target: Vec<String>,
    },
    /// Hold new templates back until `resume`.
    Pause {
        /// The Deployment.
        #[arg(required = true, num_args = 1..=2)]
        target: Vec<String>,
    },
    /// Let a paused Deployment roll out again.
    Resume {
        /// The Deployment.
        #[arg(required = true, num_args = 1..=2)]
        target: Vec<String>,
    },
}

/// `image …`.
#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Import an OCI image layout (directory or tar) or a docker-archive tar.
    Import {
        /// The layout or archive.
        path: PathBuf,
        /// The image's name (e.g. busybox:1.36), when the archive has none or
        /// another is wanted.
        #[arg(long)]
        name: Option<String>,
    },
    /// Pull an image from its registry (or a mirror): NAME[:TAG] or NAME@DIGEST.
    Pull {
        /// The image, e.g. busybox:1.36 or registry.example:5000/team/app@sha256:….
        name: String,
        /// Print only the image id, no progress.
        #[arg(long, short)]
        quiet: bool,
    },
    /// List images.
    Ls,
    /// Show an image's id, names, digests, config and layers as JSON.
    Inspect {
        /// The images.
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Remove images by name: refused while a pod uses one, unless --force.
    Rm {
        /// The images.
        #[arg(required = true)]
        names: Vec<String>,
        /// Delete the pods that use an image first (gracefully, as `delete pod`).
        #[arg(long, short)]
        force: bool,
    },
    /// Delete layers no image uses (what failed pulls kept for a retry).
    Prune {
        /// Also remove every image no pod uses.
        #[arg(long, short)]
        all: bool,
    },
}

/// `serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Labels this node has besides kubernetes.io/{hostname,os,arch}, for
    /// DaemonSets' nodeSelector: `--node-labels disk=ssd,zone=a` (kubelet's
    /// flag; added to the config file's nodeLabels, winning over them).
    #[arg(
        long = "node-labels",
        value_name = "KEY=VALUE,...",
        value_delimiter = ','
    )]
    pub node_labels: Vec<String>,
    /// Where the cluster DNS listens (port 53): an IPv4 address, or `none` for
    /// no DNS (default: the built-in network's gateway, e.g. 10.88.0.1; with a
    /// CNI config of your own, none unless given).
    #[arg(long)]
    pub dns_address: Option<String>,
    /// Where names outside the cluster are forwarded (repeat the flag; default:
    /// the host's /etc/resolv.conf nameservers).
    #[arg(long)]
    pub dns_upstream: Vec<std::net::IpAddr>,
    /// Where the Kubernetes CRI (gRPC) is served, for kubelet's
    /// `--container-runtime-endpoint` and crictl's `--runtime-endpoint`:
    /// `unix:///PATH`, or `none` (default: `unix://ROOT/cri.sock`, so
    /// unix:///run/podrt/cri.sock).
    #[arg(long, value_name = "unix:///PATH|none")]
    pub cri_listen: Option<String>,
}
