//! One function per verb: each loads what it needs from the sandbox, acts, prints.

use std::time::{Duration, SystemTime};

use anyhow::{bail, Context, Result};
use podrt_sandbox::config::{self, Config};
use podrt_sandbox::image::ImageStore;
use podrt_sandbox::lifecycle::{delete, gc, reconcile, status, supervisor};
use podrt_sandbox::manifest;
use podrt_sandbox::network::{self, NetworkOptions};
use podrt_sandbox::pod::etc_files::ClusterDns;
use podrt_sandbox::pod::pulls::PullSettings;
use podrt_sandbox::pod::Options;
use podrt_sandbox::policy::Policy;
use podrt_sandbox::proc::detach::{fork_detached, Forked};
use podrt_sandbox::security::SecurityOptions;
use podrt_sandbox::state::{listing, Sandbox};

use super::args::{
    ApplyArgs, Cli, Command, DeleteArgs, GetArgs, NetworkCommand, Output, PolicyCommand,
};
use super::namespaces;
use super::print;
use super::psps;
use super::pulls::{self, Pulling};
use super::revisions;
use super::scope::{with_namespace_column, Scope};
use super::secrets;
use super::services;
use super::watch;
use super::workloads;
use super::workloads::Described;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use podrt_node::agent;
use podrt_node::objects::{Kind, ServiceNetwork, Workload};

/// Run the command; the exit status on success.
pub(crate) fn dispatch(cli: &Cli) -> Result<i32> {
    let config = match &cli.config {
        Some(path) => Config::load(path, true)?,
        None => Config::load(std::path::Path::new(config::DEFAULT_PATH), false)?,
    };
    let pulling = Pulling {
        registries: config.registry_options(cli.registry_config.as_deref()),
        default: config.default_pull_policy(),
    };
    let opts = Options {
        root: cli.root.clone(),
        image_root: cli.image_root(),
        cgroup_parent: cli.cgroup_parent.clone(),
        dns: cluster_dns(cli),
        helper_exe: std::env::current_exe().ok(),
        network: network_options(cli)?,
        security: security_options(cli, &config),
        userns: config.userns(),
        pod_max_pids: (cli.pod_max_pids > 0).then_some(cli.pod_max_pids),
        max_container_restart_period: cli.max_container_restart_period,
        // What supervisors pull with when they make containers: after apply's
        // own pulls only restarts pull; the agent's pods pull from their first
        // start.
        pulling: Some(PullSettings {
            registries: pulling.registries.clone(),
            default_policy: pulling.default,
            prepulled: !matches!(cli.command, Command::Serve(_)),
        }),
        as_supervisor: false,
        kubelet: None,
    };
    if let Some(ns) = &cli.namespace {
        manifest::names::dns1123_label(ns)
            .map_err(|e| anyhow::anyhow!("--namespace {ns:?}: {e}"))?;
    }
    let scope = Scope::new(
        workloads::state_dir(&cli.state_dir),
        cli.namespace.as_deref(),
    );
    let state_dir = &scope;
    let service_net = ServiceNetwork::parse(&cli.service_cidr, &cli.service_node_port_range)
        .map_err(|e| anyhow::anyhow!("--service-cidr/--service-node-port-range: {e}"))?;
    look_after_pods(&opts, &cli.command);
    match &cli.command {
        Command::Apply(a) => apply(
            &opts,
            state_dir,
            a,
            policy(&config, a.policy.as_deref())?,
            Mode::Apply,
            &pulling,
            &service_net,
        ),
        Command::Create(a) => apply(
            &opts,
            state_dir,
            a,
            policy(&config, a.policy.as_deref())?,
            Mode::Create,
            &pulling,
            &service_net,
        ),
        Command::Serve(a) => {
            workloads::serve(&opts, scope.state_dir(), &config, &pulling.registries, a)
        }
        Command::Wait(a) => super::wait::wait(&opts, state_dir, a),
        Command::Edit(a) => {
            let policy = match policy(&config, a.policy.as_deref())? {
                Some(p) => Some(p),
                None => psps::policy(state_dir)?,
            };
            super::edit::edit(&opts, state_dir, &a.target, policy.as_ref(), &service_net)
        }
        Command::Label(a) => super::label::label(&opts, state_dir, a),
        Command::Scale(a) => workloads::scale(&opts, state_dir, &a.target, a.replicas),
        Command::Rollout { command } => workloads::rollout(&opts, state_dir, command),
        Command::Policy {
            command: PolicyCommand::Check(a),
        } => {
            let given = match policy(&config, a.policy.as_deref())? {
                Some(p) => Some(p),
                None => psps::policy(state_dir)?,
            };
            let Some(policy) = given else {
                bail!("no policy to check against: give --policy (privileged, baseline, restricted or a PodSecurityPolicy file), set policy in the config file, or create a PodSecurityPolicy");
            };
            let found = podrt_sandbox::policy::report::check_path(&a.file, &policy)
                .with_context(|| format!("reading {}", a.file.display()))?;
            print!("{}", print::verdicts(&policy.name(), &found));
            let all_allowed = found
                .iter()
                .all(|v| matches!(v.outcome, podrt_sandbox::policy::report::Outcome::Allowed));
            Ok(if all_allowed { 0 } else { 1 })
        }
        Command::Get(a) => {
            let scope = scope.across(a.all_namespaces);
            let state_dir = &scope;
            let kind = match (&a.kind, &a.file) {
                (_, Some(file)) => return workloads::get_file(&opts, state_dir, file, a.output),
                (Some(kind), None) => kind,
                (None, None) => {
                    bail!("get needs a type (pods, deploy, rs, ds, jobs, all) or -f FILE")
                }
            };
            let (kind, names) = one_type(kind, &a.names)?;
            no_names_with_selector(&names, &a.selector)?;
            let a = GetArgs {
                kind: Some(kind.clone()),
                names,
                output: a.output,
                selector: a.selector.clone(),
                file: None,
                all_namespaces: a.all_namespaces,
                watch: a.watch,
            };
            match Kind::from_word(&kind) {
                Some(k) => workloads::get(state_dir, k, &a),
                None if kind == "all" => workloads::get_all(&opts, state_dir, &a),
                None if namespaces::is_word(&kind) => namespaces::get(state_dir, &a),
                None if secrets::is_word(&kind) => secrets::get(state_dir, &a),
                None if revisions::is_word(&kind) => revisions::get(state_dir, &a),
                None if services::is_word(&kind) => services::get(state_dir, &a),
                None if services::is_endpoints_word(&kind) => {
                    services::get_endpoints(state_dir, &a)
                }
                None if services::is_slices_word(&kind) => services::get_slices(state_dir, &a),
                None if psps::is_word(&kind) => psps::get(state_dir, &a),
                None => get(&opts, state_dir, &kind, &a),
            }
        }
        Command::Describe(a) => {
            let scope = scope.across(a.all_namespaces);
            let state_dir = &scope;
            let targets: Vec<workloads::Target> = match (&a.kind, &a.file) {
                (_, Some(file)) => workloads::named_in(state_dir, file)?,
                (Some(kind), None) => {
                    let (kind, names) = one_type(kind, &a.names)?;
                    let kind = match Kind::from_word(&kind) {
                        Some(k) => Described::Workload(k),
                        None if services::is_word(&kind) => Described::Service,
                        None if psps::is_word(&kind) => Described::Psp,
                        None => {
                            check_kind(&kind)?;
                            Described::Pod
                        }
                    };
                    let ns = state_dir.namespace.clone();
                    if names.is_empty() {
                        vec![(kind, ns, None)]
                    } else {
                        names
                            .into_iter()
                            .map(|n| (kind, ns.clone(), Some(n)))
                            .collect()
                    }
                }
                (None, None) => bail!("describe needs a type and names, or -f FILE"),
            };
            let now = SystemTime::now();
            let mut pages = Vec::new();
            for (kind, ns, name) in targets {
                let in_ns = if name.is_some() {
                    state_dir.in_namespace(&ns)
                } else {
                    state_dir.clone()
                };
                match kind {
                    Described::Workload(kind) => pages.extend(workloads::describe(
                        &opts,
                        &in_ns,
                        kind,
                        name.as_deref(),
                        now,
                    )?),
                    Described::Service => {
                        pages.extend(services::describe(&in_ns, name.as_deref())?)
                    }
                    Described::Psp => pages.extend(psps::describe(state_dir, name.as_deref())?),
                    Described::Pod => {
                        let names: Vec<String> = name.into_iter().collect();
                        for s in select(&opts, &in_ns, &names)? {
                            pages.push(print::describe(
                                &status::pod_object(&s),
                                &podrt_sandbox::state::events::list(&s),
                                now,
                            ));
                        }
                    }
                }
            }
            print!("{}", pages.join("\n\n"));
            Ok(0)
        }
        Command::Logs(a) => super::logs::logs(&opts, state_dir, a),
        Command::Exec(a) => super::exec::exec(&opts, state_dir, a),
        Command::Delete(a) => delete(&opts, &scope.across(a.all_namespaces), a),
        Command::Images => {
            super::images::list(&ImageStore::open(&opts.image_root)?)?;
            Ok(0)
        }
        Command::Check => {
            let items = podrt_sandbox::host_check::report(
                &opts.root,
                &opts.image_root,
                &opts.network,
                &opts.userns,
            );
            print!("{}", print::host_check(&items));
            let missing = items
                .iter()
                .any(|i| i.status == podrt_sandbox::host_check::Status::Missing);
            Ok(if missing { 1 } else { 0 })
        }
        Command::Gc => {
            let removed = gc::collect(&opts.root, &opts.cgroup_parent, &opts.network)?;
            for r in &removed {
                println!("removed {} {}: {}", r.kind, r.what, r.why);
            }
            if removed.is_empty() {
                println!("nothing to remove");
            }
            for line in reconcile::reconcile(&opts, reconcile::Scope::AdoptOnly, &[]) {
                eprintln!("Warning: {line}");
            }
            Ok(0)
        }
        Command::Image { command } => super::images::run(cli, &config, &opts, command),
        Command::Network {
            command: NetworkCommand::Ls,
        } => {
            let networks = podrt_sandbox::network::summary::list(&opts.network, &opts.root)?;
            print!("{}", print::networks(&networks));
            Ok(0)
        }
    }
}

/// Security settings: flags first, then the config file, then podrt's defaults.
fn security_options(cli: &Cli, config: &Config) -> SecurityOptions {
    let defaults = SecurityOptions::default();
    SecurityOptions {
        seccomp_profile_root: cli
            .seccomp_profile_root
            .clone()
            .or_else(|| config.seccomp_profile_root.clone())
            .unwrap_or(defaults.seccomp_profile_root),
        default_capabilities: config
            .default_capabilities
            .clone()
            .unwrap_or(defaults.default_capabilities),
    }
}

/// The admission policy in force: `--policy` (relative to the working
/// directory), else the config file's (relative to its directory), else none.
fn policy(config: &Config, flag: Option<&str>) -> Result<Option<Policy>> {
    let loaded = match (flag, &config.policy) {
        (Some(p), _) => Policy::load(p, std::path::Path::new("."))?,
        (None, Some(p)) => Policy::load(p, &config.dir)?,
        (None, None) => return Ok(None),
    };
    Ok(Some(loaded))
}

/// The CNI settings from the global flags, the subnet checked.
/// The cluster DNS pods made now use: `--cluster-dns`, else the resolver of
/// the agent running for this root (`serve`'s own pods get it from `serve`).
fn cluster_dns(cli: &Cli) -> ClusterDns {
    let mut dns = ClusterDns {
        servers: cli.cluster_dns.clone(),
        domain: cli.cluster_domain.clone(),
    };
    if dns.servers.is_empty() && !matches!(cli.command, Command::Serve(_)) {
        let served = agent::running(&cli.root)
            .then(|| podrt_node::dns::advertised(&cli.root))
            .flatten();
        if let Some(served) = served {
            dns.servers = vec![served.address.to_string()];
            dns.domain = served.domain;
        }
    }
    dns
}

fn network_options(cli: &Cli) -> Result<NetworkOptions> {
    let subnet = cli
        .pod_subnet
        .parse()
        .map_err(|e: String| anyhow::anyhow!("--pod-subnet: {e}"))?;
    network::builtin::check_subnet(&subnet).map_err(|e| anyhow::anyhow!("--pod-subnet: {e}"))?;
    Ok(NetworkOptions {
        conf_dir: cli.cni_conf_dir.clone(),
        bin_dirs: cli.cni_bin_dir.clone(),
        subnet,
        masquerade: cli.pod_masquerade,
    })
}

/// Before a command on pods: take over pods whose supervisor died, carry
/// interrupted deletions on, remove interrupted creations; one line on stderr
/// for each ([`reconcile`]). `gc` does it after its own work.
fn look_after_pods(opts: &Options, command: &Command) {
    match command {
        Command::Apply(_)
        | Command::Create(_)
        | Command::Serve(_)
        | Command::Get(_)
        | Command::Describe(_)
        | Command::Logs(_)
        | Command::Exec(_) => look_after_pods_but(opts, &[]),
        // `delete` does it itself once it knows the names (-f means reading a file).
        _ => {}
    }
}

/// [`look_after_pods`], leaving alone the pods named in `deleting`: a delete
/// carries their deletions on itself, in the foreground, and needs no new
/// supervisor for them first.
fn look_after_pods_but(opts: &Options, deleting: &[String]) {
    for line in reconcile::reconcile(opts, reconcile::Scope::Everything, deleting) {
        eprintln!("Warning: {line}");
    }
}

/// kubectl's `TYPE/NAME` words (`get deploy/web deploy/api`) as one type and
/// its names; other words are returned as they are.
fn one_type(kind: &str, names: &[String]) -> Result<(String, Vec<String>)> {
    let Some((first, _)) = kind.split_once('/') else {
        return Ok((kind.to_string(), names.to_vec()));
    };
    let mut out = Vec::new();
    for word in std::iter::once(kind).chain(names.iter().map(String::as_str)) {
        match word.split_once('/') {
            Some((t, n)) if t == first && !n.is_empty() => out.push(n.to_string()),
            _ => bail!(
                "{word:?}: give every object as {first}/NAME, or the type once and then the names"
            ),
        }
    }
    Ok((first.to_string(), out))
}

/// kubectl's rule: objects are picked by name or by selector, not both.
fn no_names_with_selector(names: &[String], selector: &Option<String>) -> Result<()> {
    if selector.is_some() && !names.is_empty() {
        bail!("name cannot be provided when a selector is specified");
    }
    Ok(())
}

/// The `-l` selector, read with kubectl's syntax.
pub(super) fn selector(text: Option<&str>) -> Result<Option<LabelSelector>> {
    text.map(|t| {
        podrt_node::selector::parse(t)
            .map_err(|e| anyhow::anyhow!("unable to parse the selector (-l): {e}"))
    })
    .transpose()
}

/// Whether labels pass the `-l` selector (none: everything passes).
pub(super) fn labelled(
    selector: Option<&LabelSelector>,
    labels: Option<&std::collections::BTreeMap<String, String>>,
) -> bool {
    let empty = std::collections::BTreeMap::new();
    selector.is_none_or(|s| podrt_node::selector::matches(s, labels.unwrap_or(&empty)))
}

/// The pods in scope whose labels pass the selector.
pub(super) fn pods_matching(
    opts: &Options,
    scope: &Scope,
    selector: &LabelSelector,
) -> Result<Vec<Sandbox>> {
    Ok(listing::list_pod_sandboxes(&opts.root)?
        .into_iter()
        .filter(|s| {
            scope.holds_pod(s)
                && labelled(Some(selector), s.record.manifest.metadata.labels.as_ref())
        })
        .collect())
}

pub(super) fn check_kind(kind: &str) -> Result<()> {
    match kind {
        "pod" | "pods" | "po" => Ok(()),
        other => bail!("the server doesn't have a resource type {other:?} (podrt knows pods, deployments, replicasets, daemonsets, statefulsets, jobs, namespaces, secrets, services, endpoints, endpointslices, controllerrevisions and podsecuritypolicies)"),
    }
}

/// The pods of the scope named, or all of the scope.
fn select(opts: &Options, scope: &Scope, names: &[String]) -> Result<Vec<Sandbox>> {
    if names.is_empty() {
        let mut all = listing::list_pod_sandboxes(&opts.root)?;
        all.retain(|s| scope.holds_pod(s));
        return Ok(all);
    }
    names
        .iter()
        .map(|n| listing::get(&opts.root, &scope.namespace, n).map_err(Into::into))
        .collect()
}

/// `apply` changes what exists; `create` only makes what does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// kubectl apply.
    Apply,
    /// kubectl create.
    Create,
}

fn apply(
    opts: &Options,
    state_dir: &Scope,
    a: &ApplyArgs,
    policy: Option<Policy>,
    mode: Mode,
    pulling: &Pulling,
    service_net: &ServiceNetwork,
) -> Result<i32> {
    let mut parsed = manifest::parse_file_with(&a.file, &namespaces::accepts)?;
    for w in &parsed.warnings {
        eprintln!("Warning: {w}");
    }
    if a.name.is_some() && (parsed.pods.len() != 1 || !parsed.objects.is_empty()) {
        bail!(
            "--name needs a manifest with exactly one pod; {} has {}",
            a.file.display(),
            parsed.pods.len()
        );
    }
    let store = ImageStore::open(&opts.image_root)?;
    let made_namespaces = namespaces::take(&mut parsed.objects, state_dir, mode)?;
    let made_secrets = secrets::take(&mut parsed.objects, state_dir)?;
    let made_services = services::take(&mut parsed.objects, state_dir, service_net)?;
    let made_psps = psps::take(&mut parsed.objects)?;
    // --policy or the config file's; else the stored PodSecurityPolicies
    // (with this manifest's own), as the admission plugin used them.
    let policy = match policy {
        Some(p) => Some(p),
        None => made_psps.policy_in_force(state_dir)?,
    };
    // What must be pulled, with each owner's pull Secrets; validation counts
    // those images as there.
    let templates: Vec<Workload> = parsed
        .objects
        .iter()
        .filter_map(|o| Workload::decode(o, &mut Vec::new()).ok())
        .collect();
    let in_scope = |meta: &ObjectMeta| {
        meta.namespace
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| state_dir.namespace.clone())
    };
    let mut specs = Vec::new();
    // Each pod's pull Secrets, in the order of the pods: its supervisor pulls
    // with them when it restarts a container.
    let mut pod_secrets = Vec::new();
    for p in &parsed.pods {
        let Some(spec) = p.spec.as_ref() else {
            pod_secrets.push(Vec::new());
            continue;
        };
        let owner = format!("pod {:?}", p.metadata.name.clone().unwrap_or_default());
        let ns = in_scope(&p.metadata);
        let secrets = made_secrets.pull_secrets(state_dir, &ns, &owner, spec)?;
        pod_secrets.push(secrets.clone());
        specs.push((owner, spec, secrets));
    }
    for w in &templates {
        let Some(spec) = w.pod_spec() else { continue };
        let owner = w.reference();
        let ns = in_scope(w.metadata());
        let secrets = made_secrets.pull_secrets(state_dir, &ns, &owner, spec)?;
        specs.push((owner, spec, secrets));
    }
    let needs = pulls::plan(&store, pulling, specs.into_iter());
    let exists = |image: &str| store.resolve(image).is_ok() || pulls::will_pull(&needs, image);
    // Validate every pod before creating any, so a bad document creates nothing.
    let mut valid = Vec::new();
    for (mut p, secrets) in parsed.pods.into_iter().zip(pod_secrets) {
        state_dir.place(&mut p.metadata)?;
        if let Some(n) = &a.name {
            p.metadata.name = Some(n.clone());
            p.metadata.generate_name = None;
        }
        let v = manifest::validate(&p, &exists).map_err(|invalid| {
            let name = p
                .metadata
                .name
                .clone()
                .or(p.metadata.generate_name.clone())
                .unwrap_or_default();
            podrt_sandbox::Error::Invalid { pod: name, invalid }
        })?;
        for w in &v.warnings {
            eprintln!("Warning: {w}");
        }
        // Admission: the pod created is the one the policy defaulted.
        if let Some(policy) = &policy {
            p = policy
                .admit(&p)
                .map_err(|refusal| podrt_sandbox::Error::Refused {
                    pod: v.name.clone(),
                    refusal,
                })?;
        }
        valid.push((p, v, secrets));
    }
    let (workloads, existing) =
        workloads::check(&parsed.objects, state_dir, &exists, policy.as_ref(), mode)?;
    // Every object goes into a namespace that exists, or that this manifest makes.
    let used = valid
        .iter()
        .map(|(_, v, _)| v.namespace.as_str())
        .chain(workloads.iter().map(|w| w.namespace()))
        .chain(made_secrets.namespaces())
        .chain(made_services.namespaces());
    made_namespaces.check_usable(state_dir, used)?;
    pulls::run(&store, pulling, &needs)?;
    let mut code = made_namespaces.store(state_dir)?;
    code = code.max(made_psps.store(state_dir, mode)?);
    code = code.max(made_secrets.store(state_dir, mode)?);
    let services_made = !made_services.is_empty();
    code = code.max(made_services.store(state_dir, mode, service_net)?);
    if services_made {
        // The agent's endpoints controller fills in their endpoints.
        agent::nudge(&opts.root);
    }
    for reference in existing {
        eprintln!("Error from server (AlreadyExists): {reference} already exists");
        code = 1;
    }
    for (p, v, secrets) in &valid {
        if let Some(existing) = listing::find(&opts.root, &v.namespace, &v.name)? {
            if mode == Mode::Create {
                eprintln!(
                    "Error from server (AlreadyExists): pods {:?} already exists",
                    v.name
                );
                code = 1;
                continue;
            }
            if existing.record.manifest.spec == p.spec {
                println!("pod/{} unchanged", v.name);
                continue;
            }
            bail!(
                "pod {:?} exists with another spec (pods cannot be changed in place): delete it first",
                v.name
            );
        }
        let mut opts = opts.clone();
        if let Some(pulling) = &mut opts.pulling {
            pulling.registries.pull_secrets = secrets.clone();
        }
        // kubectl's create returns once the pod exists: init containers may
        // wait for a Service (`podrt wait` waits); apply waits until it runs.
        let when = match mode {
            Mode::Create => supervisor::MadeWhen::Supervised,
            Mode::Apply => supervisor::MadeWhen::Running,
        };
        supervisor::apply(&opts, p, v, when)?;
        println!("pod/{} created", v.name);
    }
    workloads::store(opts, state_dir, workloads, None)?;
    Ok(code)
}

fn get(opts: &Options, scope: &Scope, kind: &str, a: &GetArgs) -> Result<i32> {
    check_kind(kind)?;
    let selector = selector(a.selector.as_deref())?;
    let keep = |s: &Sandbox| {
        labelled(
            selector.as_ref(),
            s.record.manifest.metadata.labels.as_ref(),
        )
    };
    let mut sandboxes = select(opts, scope, &a.names)?;
    sandboxes.retain(keep);
    let pods: Vec<_> = sandboxes.iter().map(status::pod_object).collect();
    let wide = matches!(a.output, Some(Output::Wide));
    // One batch of pods as the output format prints it (a table without its
    // header when `rows_only`).
    let show = |pods: &[Pod], rows_only: bool| -> Result<()> {
        match a.output {
            None | Some(Output::Wide) => {
                let table = print::table(pods, wide, SystemTime::now());
                let table = if scope.all {
                    let namespaces: Vec<String> = pods
                        .iter()
                        .map(|p| p.metadata.namespace.clone().unwrap_or_default())
                        .collect();
                    with_namespace_column(&table, &namespaces)
                } else {
                    table
                };
                if rows_only {
                    print!("{}", watch::rows(&table));
                } else {
                    print!("{table}");
                }
            }
            // `get pod NAME` prints the object, a listing prints a List, as
            // kubectl; a watch prints each object.
            Some(Output::Json) if a.names.len() == 1 || rows_only => {
                for p in pods {
                    println!("{}", print::to_json(std::slice::from_ref(p))?);
                }
            }
            Some(Output::Json) => println!("{}", print::list_json(pods)?),
            Some(Output::Yaml) if a.names.len() == 1 || rows_only => {
                for p in pods {
                    print!("---\n{}", print::to_yaml(std::slice::from_ref(p))?);
                }
            }
            Some(Output::Yaml) => print!("{}", print::list_yaml(pods)?),
            Some(Output::Name) => {
                for p in pods {
                    println!("pod/{}", p.metadata.name.clone().unwrap_or_default());
                }
            }
        }
        Ok(())
    };
    if pods.is_empty() && matches!(a.output, None | Some(Output::Wide)) {
        eprintln!("{}", scope.none_found());
    } else {
        show(&pods, false)?;
    }
    if !a.watch {
        return Ok(0);
    }
    let mut list = || -> Result<Vec<Pod>> {
        Ok(listing::list_pod_sandboxes(&opts.root)?
            .iter()
            .filter(|s| scope.holds_pod(s) && keep(s))
            .filter(|s| a.names.is_empty() || a.names.contains(&s.record.name))
            .map(status::pod_object)
            .collect())
    };
    watch::follow(&pods, &pod_key, &mut list, &mut |pods| show(pods, true))
}

/// A pod's identity across readings: its UID.
fn pod_key(p: &Pod) -> String {
    p.metadata.uid.clone().unwrap_or_default()
}

/// What a delete names: pods, workloads of one kind or another and
/// namespaces, on the command line (after `pod`/`deploy`/`ns`…, or all the
/// words with -f) and in the -f file; pods and workloads with their namespace.
#[derive(Debug, Default)]
struct Named {
    pods: Vec<(String, String)>,
    workloads: Vec<(String, Kind, String)>,
    namespaces: Vec<String>,
    secrets: Vec<(String, String)>,
    services: Vec<(String, String)>,
    psps: Vec<String>,
}

impl Named {
    fn is_empty(&self) -> bool {
        self.pods.is_empty()
            && self.workloads.is_empty()
            && self.namespaces.is_empty()
            && self.secrets.is_empty()
            && self.services.is_empty()
            && self.psps.is_empty()
    }

    /// One `TYPE` word and a name, in the scope's namespace.
    fn push(&mut self, scope: &Scope, kind: &str, name: &str) -> Result<()> {
        let ns = scope.namespace.clone();
        match Kind::from_word(kind) {
            Some(k) => self.workloads.push((ns, k, name.to_string())),
            None if namespaces::is_word(kind) => self.namespaces.push(name.to_string()),
            None if secrets::is_word(kind) => self.secrets.push((ns, name.to_string())),
            None if services::is_word(kind) => self.services.push((ns, name.to_string())),
            None if psps::is_word(kind) => self.psps.push(name.to_string()),
            None => {
                check_kind(kind)?;
                self.pods.push((ns, name.to_string()));
            }
        }
        Ok(())
    }
}

fn delete_names(opts: &Options, scope: &Scope, a: &DeleteArgs) -> Result<Named> {
    let mut named = Named::default();
    if let Some(text) = &a.selector {
        no_names_with_selector(&a.names, &a.selector)?;
        let (Some(kind), None) = (&a.kind, &a.file) else {
            bail!("delete -l needs the type (e.g. `delete pods -l app=web`) and no -f");
        };
        let Some(sel) = selector(Some(text))? else {
            return Ok(named);
        };
        match Kind::from_word(kind) {
            Some(k) => {
                for (ns, name) in workloads::names_matching(scope, k, &sel)? {
                    named.workloads.push((ns, k, name));
                }
            }
            None if namespaces::is_word(kind) => {
                named.namespaces = namespaces::names_matching(scope, &sel)?;
            }
            None if secrets::is_word(kind) => {
                named.secrets = secrets::names_matching(scope, &sel)?;
            }
            None if services::is_word(kind) => {
                named.services = services::names_matching(scope, &sel)?;
            }
            None if psps::is_word(kind) => {
                named.psps = psps::names_matching(scope, &sel)?;
            }
            None => {
                check_kind(kind)?;
                named.pods = pods_matching(opts, scope, &sel)?
                    .into_iter()
                    .map(|s| (s.record.namespace, s.record.name))
                    .collect();
            }
        }
        return Ok(named);
    }
    match (&a.file, &a.kind) {
        (Some(file), kind) => {
            let mut words = a.names.clone();
            if let Some(k) = kind {
                words.insert(0, k.clone());
            }
            for w in words {
                named.pods.push((scope.namespace.clone(), w));
            }
            let mut parsed = manifest::parse_file_with(file, &namespaces::accepts)?;
            for p in &mut parsed.pods {
                scope.place(&mut p.metadata)?;
                if let (Some(ns), Some(name)) = (&p.metadata.namespace, &p.metadata.name) {
                    named.pods.push((ns.clone(), name.clone()));
                }
            }
            let mut warnings = Vec::new();
            for o in &parsed.objects {
                if namespaces::is_namespace(o) {
                    named
                        .namespaces
                        .push(namespaces::decode(o, &mut warnings)?.0);
                    continue;
                }
                if secrets::is_secret(o) {
                    let s = secrets::decode(o, scope, &mut warnings)?;
                    let meta = s.metadata;
                    named.secrets.push((
                        meta.namespace.unwrap_or_default(),
                        meta.name.unwrap_or_default(),
                    ));
                    continue;
                }
                if psps::accepts(&o.api_version, &o.kind) {
                    if let Some(name) = o.value["metadata"]["name"].as_str() {
                        named.psps.push(name.to_string());
                    }
                    continue;
                }
                if o.kind == "Service" {
                    let mut svc: k8s_openapi::api::core::v1::Service =
                        manifest::decode(o, &mut warnings)?;
                    scope.place(&mut svc.metadata)?;
                    named.services.push((
                        svc.metadata.namespace.unwrap_or_default(),
                        svc.metadata.name.unwrap_or_default(),
                    ));
                    continue;
                }
                let mut w = Workload::decode(o, &mut warnings)?;
                scope.place(w.metadata_mut())?;
                named
                    .workloads
                    .push((w.namespace().to_string(), w.kind(), w.name().to_string()));
            }
        }
        (None, Some(kind)) if kind.contains('/') => {
            for word in std::iter::once(kind).chain(a.names.iter()) {
                let Some((t, n)) = word.split_once('/').filter(|(_, n)| !n.is_empty()) else {
                    bail!("{word:?}: give every object as TYPE/NAME, or the type once and then the names");
                };
                named.push(scope, t, n)?;
            }
        }
        (None, Some(kind)) => {
            for n in &a.names {
                named.push(scope, kind, n)?;
            }
            if a.names.is_empty() {
                // The type alone is checked, for its error.
                if Kind::from_word(kind).is_none()
                    && !namespaces::is_word(kind)
                    && !secrets::is_word(kind)
                    && !psps::is_word(kind)
                {
                    check_kind(kind)?;
                }
            }
        }
        (None, None) => bail!("delete needs `pod NAME` or -f FILE"),
    }
    if named.is_empty() {
        bail!("delete needs at least one name");
    }
    Ok(named)
}

/// kubectl's rules for the grace period of pods a delete takes with it: none
/// given is each pod's own.
fn owned_grace(a: &DeleteArgs) -> Result<Option<Duration>> {
    Ok(match a.grace_period {
        Some(0) if !a.force => bail!("--grace-period=0 needs --force (immediate deletion)"),
        Some(n) if n >= 0 => Some(Duration::from_secs(n as u64)),
        _ if a.force => Some(Duration::ZERO),
        _ => None,
    })
}

fn delete(opts: &Options, scope: &Scope, a: &DeleteArgs) -> Result<i32> {
    let named = delete_names(opts, scope, a)?;
    if named.is_empty() {
        // Only a selector gets here with nothing: kubectl's answer.
        println!("No resources found");
        return Ok(0);
    }
    let mut code = 0;
    let names = named.pods;
    let mut owned: Vec<(String, podrt_node::Dependents)> = Vec::new();
    for kind in Kind::ALL {
        for (ns, k, name) in &named.workloads {
            if *k != kind {
                continue;
            }
            let (c, left) = workloads::delete(opts, &scope.in_namespace(ns), kind, name, a)?;
            code = code.max(c);
            owned.push((ns.clone(), left));
        }
    }
    for (ns, name) in &named.services {
        match services::delete(scope, ns, name) {
            Ok(()) => {}
            Err(e) if a.ignore_not_found && e.to_string().contains("not found") => {}
            Err(e) => {
                eprintln!("Error from server (NotFound): {e}");
                code = 1;
            }
        }
    }
    for (ns, name) in &named.secrets {
        match secrets::delete(scope, ns, name) {
            Ok(()) => {}
            Err(e) if a.ignore_not_found && e.to_string().contains("not found") => {}
            Err(e) => {
                eprintln!("Error from server (NotFound): {e}");
                code = 1;
            }
        }
    }
    for name in &named.psps {
        match psps::delete(scope, name) {
            Ok(()) => {}
            Err(e) if a.ignore_not_found && e.to_string().contains("not found") => {}
            Err(e) => {
                eprintln!("Error from server (NotFound): {e}");
                code = 1;
            }
        }
    }
    for ns in &named.namespaces {
        match namespaces::begin_deletion(scope, ns) {
            Ok(()) => println!("namespace {ns:?} deleted"),
            Err(e) if a.ignore_not_found && e.to_string().contains("not found") => {}
            Err(e) => {
                eprintln!("Error from server: {e}");
                code = 1;
            }
        }
    }
    owned.retain(|(_, left)| *left != podrt_node::Dependents::default());
    let deleting_namespaces = !named.namespaces.is_empty();
    // What the workloads (and namespaces) held goes all at once, each pod with
    // its own grace period unless --grace-period says otherwise.
    if (!owned.is_empty() || deleting_namespaces) && (a.wait || !background()?) {
        let grace = owned_grace(a)?;
        let mut errors = Vec::new();
        for (ns, left) in &owned {
            let failed = podrt_node::delete_pods(&opts.root, ns, &left.pods, grace);
            // A claim goes only once no pod can write to it any more.
            if failed.is_empty() {
                errors.extend(podrt_node::release_claims(&left.claims));
            }
            errors.extend(failed);
        }
        for ns in &named.namespaces {
            match namespaces::delete_contents(opts, scope, ns, grace) {
                Ok(e) => errors.extend(e),
                Err(e) if e.to_string().contains("not found") => {}
                Err(e) => errors.push(e.to_string()),
            }
        }
        for e in &errors {
            eprintln!("error: {e}");
        }
        if !a.wait {
            std::process::exit(i32::from(!errors.is_empty()));
        }
        if !errors.is_empty() {
            code = 1;
        }
    }
    if names.is_empty() {
        return Ok(code);
    }
    let plain: Vec<String> = names.iter().map(|(_, n)| n.clone()).collect();
    look_after_pods_but(opts, &plain);
    for (ns, name) in &names {
        let mut sandbox = match listing::find(&opts.root, ns, name)? {
            Some(s) => s,
            None if a.ignore_not_found => continue,
            None => {
                eprintln!("error: pod {name:?} not found");
                code = 1;
                continue;
            }
        };
        let grace = grace_period(&sandbox, a)?;
        if !a.wait && background()? {
            println!("pod \"{name}\" deleted");
            continue;
        }
        // A controller replaces its pod as soon as it is terminating.
        let result = delete::delete_pod_and(&mut sandbox, grace, &mut || {
            agent::nudge(&opts.root);
        });
        if !a.wait {
            // The background child: done either way, once the agent knows.
            agent::nudge(&opts.root);
            std::process::exit(i32::from(result.is_err()));
        }
        if let Err(e) = result {
            agent::nudge(&opts.root);
            return Err(e).with_context(|| format!("deleting pod {name}"));
        }
        println!("pod \"{name}\" deleted");
    }
    // A controller's pod is replaced at once, not at the agent's next resync; with
    // no agent running nobody hears it.
    agent::nudge(&opts.root);
    Ok(code)
}

/// `--wait=false`: fork a process, detached from our session and stdio
/// ([`fork_detached`]), to carry the termination on. True in the caller, which
/// returns at once; false in the detached process.
fn background() -> Result<bool> {
    match fork_detached(None).context("forking to delete in the background")? {
        Forked::Caller(true) => Ok(true),
        Forked::Caller(false) => {
            bail!("forking to delete in the background: the second fork failed")
        }
        Forked::Detached => Ok(false),
    }
}

/// kubectl's rules: --grace-period wins (0 only with --force; negative means the
/// pod's own), else the pod's terminationGracePeriodSeconds as checked at creation.
fn grace_period(sandbox: &Sandbox, a: &DeleteArgs) -> Result<Duration> {
    Ok(owned_grace(a)?.unwrap_or_else(|| sandbox.record.settings().grace_period()))
}
