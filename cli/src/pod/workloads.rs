//! The verbs on workload objects (Deployments, ReplicaSets, DaemonSets,
//! StatefulSets, Jobs):
//! `apply` stores them
//! and nudges `podrt serve`, whose controllers make their pods; `get` shows them
//! with kubectl's columns; `delete` removes them with what they made; `serve`
//! runs the agent.

use std::path::Path;
use std::time::SystemTime;

use anyhow::{bail, Result};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use podrt_node::events::Events;
use podrt_node::objects::{self, Kind, Workload};
use podrt_node::store::{Applied, Store, DEFAULT_NAMESPACE};
use podrt_node::{agent, edits, store};
use podrt_sandbox::lifecycle::status;
use podrt_sandbox::manifest::Object;
use podrt_sandbox::pod::Options;
use podrt_sandbox::policy::Policy;
use podrt_sandbox::state::listing;

use super::args::{Cascade, DeleteArgs, GetArgs, Output, RolloutCommand};
use super::commands::{labelled, selector, Mode};
use super::print;
use super::scope::{with_namespace_column, Scope};
use super::watch;

/// Decodes and checks every workload of a manifest, before anything is made:
/// warnings go to stderr; the first invalid object is the error. With
/// [`Mode::Create`] an object that is stored already is left out, and its
/// kubectl name (`deployments.apps "web"`) returned in the second list.
pub(crate) fn check(
    objects: &[Object],
    scope: &Scope,
    image_exists: &dyn Fn(&str) -> bool,
    policy: Option<&Policy>,
    mode: Mode,
) -> Result<(Vec<Workload>, Vec<String>)> {
    let mut out = Vec::new();
    let mut existing = Vec::new();
    let mut warnings = Vec::new();
    for o in objects {
        let mut w = Workload::decode(o, &mut warnings)?;
        scope.place(w.metadata_mut())?;
        warnings.extend(objects::validate(&w, image_exists, policy)?);
        if let Some(old) = stored(&scope.in_namespace(w.namespace()), w.kind(), w.name())? {
            if mode == Mode::Create {
                existing.push(format!("{} {:?}", w.kind().plural(), w.name()));
                continue;
            }
            objects::check_update(&old, &w)?;
        }
        out.push(w);
    }
    for w in warnings {
        eprintln!("Warning: {w}");
    }
    Ok((out, existing))
}

/// The stored object of `kind` named `name` in the scope's namespace, if any
/// (no store yet: none).
pub(crate) fn stored(scope: &Scope, kind: Kind, name: &str) -> Result<Option<Workload>> {
    if !scope.has_store() {
        return Ok(None);
    }
    let store = scope.store()?;
    Ok(match kind {
        Kind::Deployment => store
            .get::<Deployment>(name)?
            .map(|d| Workload::Deployment(Box::new(d))),
        Kind::ReplicaSet => store
            .get::<ReplicaSet>(name)?
            .map(|r| Workload::ReplicaSet(Box::new(r))),
        Kind::DaemonSet => store
            .get::<DaemonSet>(name)?
            .map(|d| Workload::DaemonSet(Box::new(d))),
        Kind::StatefulSet => store
            .get::<StatefulSet>(name)?
            .map(|s| Workload::StatefulSet(Box::new(s))),
        Kind::Job => store.get::<Job>(name)?.map(|j| Workload::Job(Box::new(j))),
    })
}

/// Stores checked workloads, printing kubectl's line for each (`created`,
/// `configured`, `unchanged`; `verb` instead of `configured` when given, as
/// `edited`), and nudges the agent (or says that none runs to act on them).
pub(crate) fn store(
    opts: &Options,
    scope: &Scope,
    workloads: Vec<Workload>,
    verb: Option<&str>,
) -> Result<()> {
    if workloads.is_empty() {
        return Ok(());
    }
    let all = scope.store()?;
    let mut changed = false;
    {
        let _lock = all.lock()?;
        for w in workloads {
            let reference = w.reference();
            let store = all.in_namespace(w.namespace());
            let applied = match w {
                Workload::Deployment(d) => store.apply(*d)?.0,
                Workload::ReplicaSet(r) => store.apply(*r)?.0,
                Workload::DaemonSet(d) => store.apply(*d)?.0,
                Workload::StatefulSet(s) => store.apply(*s)?.0,
                Workload::Job(j) => store.apply(*j)?.0,
            };
            changed |= applied != Applied::Unchanged;
            match verb {
                Some(verb) if applied == Applied::Configured => println!("{reference} {verb}"),
                _ => println!("{reference} {applied}"),
            }
        }
    }
    if changed && !agent::nudge(&opts.root) {
        eprintln!(
            "Warning: podrt serve is not running for {}: the pods are made when it runs",
            opts.root.display()
        );
    }
    Ok(())
}

/// `get deployments|replicasets|daemonsets|statefulsets|jobs [NAME…]`.
pub(crate) fn get(scope: &Scope, kind: Kind, a: &GetArgs) -> Result<i32> {
    match kind {
        Kind::Deployment => show::<Deployment>(scope, kind, a, print::deployments),
        Kind::ReplicaSet => show::<ReplicaSet>(scope, kind, a, print::replicasets),
        Kind::DaemonSet => show::<DaemonSet>(scope, kind, a, print::daemonsets),
        Kind::StatefulSet => show::<StatefulSet>(scope, kind, a, print::statefulsets),
        Kind::Job => show::<Job>(scope, kind, a, print::jobs),
    }
}

fn show<T: store::Stored>(
    scope: &Scope,
    kind: Kind,
    a: &GetArgs,
    table: fn(&[T], bool, SystemTime) -> String,
) -> Result<i32> {
    let selector = selector(a.selector.as_deref())?;
    let items: Vec<T> = if a.names.is_empty() {
        let mut all: Vec<T> = Vec::new();
        for store in scope.stores()? {
            all.extend(store.list::<T>()?);
        }
        all.retain(|o| labelled(selector.as_ref(), o.metadata().labels.as_ref()));
        all
    } else {
        let store = scope.store()?;
        let mut found = Vec::new();
        for name in &a.names {
            match store.get::<T>(name)? {
                Some(o) => found.push(o),
                None => bail!(
                    "Error from server (NotFound): {} {name:?} not found",
                    kind.plural()
                ),
            }
        }
        found
    };
    let single = a.names.len() == 1;
    let wide = matches!(a.output, Some(Output::Wide));
    // One batch as the output format prints it (a table without its header
    // when `rows_only`, for a watch).
    let show = |items: &[T], rows_only: bool| -> Result<()> {
        match a.output {
            None | Some(Output::Wide) => {
                let text = table(items, wide, SystemTime::now());
                let text = if scope.all {
                    let namespaces: Vec<String> = items
                        .iter()
                        .map(|o| o.metadata().namespace.clone().unwrap_or_default())
                        .collect();
                    with_namespace_column(&text, &namespaces)
                } else {
                    text
                };
                if rows_only {
                    print!("{}", watch::rows(&text));
                } else {
                    print!("{text}");
                }
            }
            Some(Output::Json) if rows_only => {
                for o in items {
                    print!("{}", print::objects_json(std::slice::from_ref(o), true)?);
                }
            }
            Some(Output::Json) => print!("{}", print::objects_json(items, single)?),
            Some(Output::Yaml) if rows_only => {
                for o in items {
                    print!(
                        "---\n{}",
                        print::objects_yaml(std::slice::from_ref(o), true)?
                    );
                }
            }
            Some(Output::Yaml) => print!("{}", print::objects_yaml(items, single)?),
            Some(Output::Name) => {
                for o in items {
                    println!(
                        "{}/{}",
                        kind.qualified(),
                        o.metadata().name.clone().unwrap_or_default()
                    );
                }
            }
        }
        Ok(())
    };
    if items.is_empty() && matches!(a.output, None | Some(Output::Wide)) {
        eprintln!("{}", scope.none_found());
    } else {
        show(&items, false)?;
    }
    if !a.watch {
        return Ok(0);
    }
    let mut list = || -> Result<Vec<T>> {
        let mut all: Vec<T> = Vec::new();
        for store in scope.stores()? {
            all.extend(store.list::<T>()?);
        }
        all.retain(|o| {
            labelled(selector.as_ref(), o.metadata().labels.as_ref())
                && (a.names.is_empty()
                    || o.metadata()
                        .name
                        .as_ref()
                        .is_some_and(|n| a.names.contains(n)))
        });
        Ok(all)
    };
    let key = |o: &T| o.metadata().uid.clone().unwrap_or_default();
    watch::follow(&items, &key, &mut list, &mut |items| show(items, true))
}

/// `get all`: the pods, then each kind of workload that has objects, each in
/// its own table with kubectl's `TYPE/NAME` names (`-o name`: those lines;
/// `-o json|yaml`: one `List` of everything).
pub(crate) fn get_all(opts: &Options, scope: &Scope, a: &GetArgs) -> Result<i32> {
    if !a.names.is_empty() {
        bail!("get all takes no names (give -l to pick objects by label)");
    }
    let selector = selector(a.selector.as_deref())?;
    let all = gather(opts, scope, a.output, &|_, meta| {
        labelled(selector.as_ref(), meta.labels.as_ref())
    })?;
    all.print(scope, a.output)
}

/// `get -f FILE`: the objects the manifest names, kind by kind as `get all`
/// prints them; each one not there is an error line (exit status 1).
pub(crate) fn get_file(
    opts: &Options,
    scope: &Scope,
    file: &Path,
    output: Option<Output>,
) -> Result<i32> {
    let wanted: Vec<(Described, String, String)> = named_in(scope, file)?
        .into_iter()
        .map(|(kind, ns, name)| (kind, ns, name.unwrap_or_default()))
        .collect();
    let everywhere = scope.across(true);
    let all = gather(opts, &everywhere, output, &|kind, meta| {
        wanted.iter().any(|(k, ns, n)| {
            k.type_name() == kind
                && meta.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE) == ns
                && meta.name.as_deref() == Some(n.as_str())
        })
    })?;
    let mut code = 0;
    for (kind, _, name) in &wanted {
        if !all.names.contains(&format!("{}/{name}", kind.type_name())) {
            eprintln!(
                "Error from server (NotFound): {} {name:?} not found",
                kind.plural()
            );
            code = 1;
        }
    }
    all.print(scope, output)?;
    Ok(code)
}

/// The pods and stored workloads `keep` keeps (given the kind as `TYPE/` names
/// it, `pod` or `deployment.apps`, and the object's metadata).
fn gather(
    opts: &Options,
    scope: &Scope,
    output: Option<Output>,
    keep: &dyn Fn(&str, &ObjectMeta) -> bool,
) -> Result<All> {
    let mut all = All {
        wide: matches!(output, Some(Output::Wide)),
        now: SystemTime::now(),
        tables: Vec::new(),
        values: Vec::new(),
        names: Vec::new(),
        namespaces: scope.all,
    };
    let pods: Vec<Pod> = listing::list_pod_sandboxes(&opts.root)?
        .iter()
        .filter(|s| scope.holds_pod(s))
        .map(status::pod_object)
        .filter(|p| keep("pod", &p.metadata))
        .collect();
    all.add(&pods, "pod", print::table)?;
    let stores = scope.stores()?;
    let services: Vec<k8s_openapi::api::core::v1::Service> = kept(&stores, "service", keep)?;
    all.add(&services, "service", |items, wide, now| {
        print::services(items, false, wide, now)
    })?;
    let ds: Vec<DaemonSet> = kept(&stores, Kind::DaemonSet.qualified(), keep)?;
    all.add(&ds, Kind::DaemonSet.qualified(), print::daemonsets)?;
    let deploy: Vec<Deployment> = kept(&stores, Kind::Deployment.qualified(), keep)?;
    all.add(&deploy, Kind::Deployment.qualified(), print::deployments)?;
    let rs: Vec<ReplicaSet> = kept(&stores, Kind::ReplicaSet.qualified(), keep)?;
    all.add(&rs, Kind::ReplicaSet.qualified(), print::replicasets)?;
    let sts: Vec<StatefulSet> = kept(&stores, Kind::StatefulSet.qualified(), keep)?;
    all.add(&sts, Kind::StatefulSet.qualified(), print::statefulsets)?;
    let jobs: Vec<Job> = kept(&stores, Kind::Job.qualified(), keep)?;
    all.add(&jobs, Kind::Job.qualified(), print::jobs)?;
    // Cluster-scoped: read once, whatever the namespaces in scope.
    let psps: Vec<podrt_node::objects::PodSecurityPolicyObject> = kept(
        &stores[..stores.len().min(1)],
        "podsecuritypolicy.policy",
        keep,
    )?;
    all.add(&psps, "podsecuritypolicy.policy", |items, _, now| {
        print::psps(items, now)
    })?;
    Ok(all)
}

/// The stored objects of a kind (`TYPE` as `get all` names it), in the stores
/// given, that `keep` keeps.
fn kept<T: store::Stored>(
    stores: &[Store],
    type_name: &str,
    keep: &dyn Fn(&str, &ObjectMeta) -> bool,
) -> Result<Vec<T>> {
    let mut all: Vec<T> = Vec::new();
    for store in stores {
        all.extend(store.list::<T>()?);
    }
    all.retain(|o| keep(type_name, o.metadata()));
    Ok(all)
}

/// What `get all` prints, gathered kind by kind.
struct All {
    wide: bool,
    now: SystemTime,
    /// One table per kind that has objects.
    tables: Vec<String>,
    /// Every object, for `-o json|yaml`.
    values: Vec<serde_json::Value>,
    /// `TYPE/NAME` of every object, for `-o name`.
    names: Vec<String>,
    /// Tables get a NAMESPACE column (`-A`).
    namespaces: bool,
}

impl All {
    /// Prints what was gathered in the format asked for.
    fn print(&self, scope: &Scope, output: Option<Output>) -> Result<i32> {
        match output {
            None | Some(Output::Wide) if self.tables.is_empty() => {
                eprintln!("{}", scope.none_found());
            }
            None | Some(Output::Wide) => print!("{}", self.tables.join("\n")),
            Some(Output::Json) => print!("{}", print::objects_json(&self.values, false)?),
            Some(Output::Yaml) => print!("{}", print::objects_yaml(&self.values, false)?),
            Some(Output::Name) => self.names.iter().for_each(|n| println!("{n}")),
        }
        Ok(0)
    }

    /// One kind's part: its table (names as `TYPE/NAME`), its objects and its
    /// names; nothing for none.
    fn add<T>(
        &mut self,
        items: &[T],
        type_name: &str,
        table: fn(&[T], bool, SystemTime) -> String,
    ) -> Result<()>
    where
        T: Clone + serde::Serialize + k8s_openapi::Metadata<Ty = ObjectMeta>,
    {
        if items.is_empty() {
            return Ok(());
        }
        let mut renamed = items.to_vec();
        for o in &mut renamed {
            let meta = o.metadata_mut();
            let name = format!("{type_name}/{}", meta.name.as_deref().unwrap_or_default());
            self.names.push(name.clone());
            meta.name = Some(name);
        }
        let text = table(&renamed, self.wide, self.now);
        if self.namespaces {
            let namespaces: Vec<String> = items
                .iter()
                .map(|o| o.metadata().namespace.clone().unwrap_or_default())
                .collect();
            self.tables.push(with_namespace_column(&text, &namespaces));
        } else {
            self.tables.push(text);
        }
        for o in items {
            self.values.push(serde_json::to_value(o)?);
        }
        Ok(())
    }
}

/// What kind of object `describe` or `get -f` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Described {
    /// A pod.
    Pod,
    /// A workload.
    Workload(Kind),
    /// A Service.
    Service,
    /// A PodSecurityPolicy (cluster-scoped: its namespace is ignored).
    Psp,
}

impl Described {
    /// kubectl's `TYPE` of `TYPE/NAME`: `pod`, `deployment.apps`, `service`.
    pub(crate) fn type_name(self) -> &'static str {
        match self {
            Described::Pod => "pod",
            Described::Workload(k) => k.qualified(),
            Described::Service => "service",
            Described::Psp => "podsecuritypolicy.policy",
        }
    }

    /// kubectl's plural, as in NotFound: `pods`, `deployments.apps`.
    pub(crate) fn plural(self) -> &'static str {
        match self {
            Described::Pod => "pods",
            Described::Workload(k) => k.plural(),
            Described::Service => "services",
            Described::Psp => "podsecuritypolicies.policy",
        }
    }
}

/// One object `describe` shows: its kind, its namespace and its name (none:
/// all of the kind).
pub(crate) type Target = (Described, String, Option<String>);

/// What a manifest names, for `describe -f` and `get -f`: each pod, Service
/// and workload, by namespace and name.
pub(crate) fn named_in(scope: &Scope, file: &Path) -> Result<Vec<Target>> {
    // Namespaces and Secrets in the file are read (not refused) and left out.
    let parsed = podrt_sandbox::manifest::parse_file_with(file, &super::namespaces::accepts)?;
    let mut out: Vec<Target> = Vec::new();
    for mut p in parsed.pods {
        scope.place(&mut p.metadata)?;
        if let (Some(ns), Some(n)) = (p.metadata.namespace, p.metadata.name) {
            out.push((Described::Pod, ns, Some(n)));
        }
    }
    let mut warnings = Vec::new();
    for o in parsed
        .objects
        .iter()
        .filter(|o| !super::namespaces::is_namespace(o) && !super::secrets::is_secret(o))
    {
        if super::psps::accepts(&o.api_version, &o.kind) {
            if let Some(n) = o.value["metadata"]["name"].as_str() {
                out.push((
                    Described::Psp,
                    DEFAULT_NAMESPACE.to_string(),
                    Some(n.to_string()),
                ));
            }
            continue;
        }
        if o.kind == "Service" {
            let mut svc: k8s_openapi::api::core::v1::Service =
                podrt_sandbox::manifest::decode(o, &mut warnings)?;
            scope.place(&mut svc.metadata)?;
            if let (Some(ns), Some(n)) = (svc.metadata.namespace, svc.metadata.name) {
                out.push((Described::Service, ns, Some(n)));
            }
            continue;
        }
        let mut w = Workload::decode(o, &mut warnings)?;
        scope.place(w.metadata_mut())?;
        out.push((
            Described::Workload(w.kind()),
            w.namespace().to_string(),
            Some(w.name().to_string()),
        ));
    }
    Ok(out)
}

/// `describe KIND [NAME]`: the page of the object named, or of every object of
/// the kind, with the events its controller recorded.
pub(crate) fn describe(
    opts: &Options,
    scope: &Scope,
    kind: Kind,
    name: Option<&str>,
    now: SystemTime,
) -> Result<Vec<String>> {
    if name.is_none() && scope.all {
        let mut pages = Vec::new();
        for store in scope.stores()? {
            let one = scope.in_namespace(store.namespace());
            pages.extend(describe(opts, &one, kind, None, now)?);
        }
        return Ok(pages);
    }
    if !scope.has_store() {
        return match name {
            Some(n) => bail!(
                "Error from server (NotFound): {} {n:?} not found",
                kind.plural()
            ),
            None => Ok(Vec::new()),
        };
    }
    let store = scope.store()?;
    let events = Events::of(&store);
    let events_of = |meta: &ObjectMeta| {
        events.list(
            kind.kind_name(),
            meta.name.as_deref().unwrap_or_default(),
            meta.uid.as_deref(),
        )
    };
    let pods: Vec<Pod> = listing::list_pod_sandboxes(&opts.root)?
        .iter()
        .filter(|s| scope.holds_pod(s))
        .map(status::pod_object)
        .collect();
    let owned = |meta: &ObjectMeta| -> Vec<Pod> {
        pods.iter()
            .filter(|p| {
                p.metadata
                    .owner_references
                    .iter()
                    .flatten()
                    .any(|o| o.controller == Some(true) && Some(&o.uid) == meta.uid.as_ref())
            })
            .cloned()
            .collect()
    };
    let mut pages = Vec::new();
    match kind {
        Kind::Deployment => {
            let sets: Vec<ReplicaSet> = store.list()?;
            for d in pick::<Deployment>(&store, kind, name)? {
                let mine: Vec<ReplicaSet> = sets
                    .iter()
                    .filter(|rs| {
                        rs.metadata
                            .owner_references
                            .iter()
                            .flatten()
                            .any(|o| Some(&o.uid) == d.metadata.uid.as_ref())
                    })
                    .cloned()
                    .collect();
                let ev = events_of(&d.metadata)?;
                pages.push(print::describe_workloads::deployment(&d, &mine, &ev, now));
            }
        }
        Kind::ReplicaSet => {
            for rs in pick::<ReplicaSet>(&store, kind, name)? {
                let ev = events_of(&rs.metadata)?;
                let p = owned(&rs.metadata);
                pages.push(print::describe_workloads::replicaset(&rs, &p, &ev, now));
            }
        }
        Kind::DaemonSet => {
            for ds in pick::<DaemonSet>(&store, kind, name)? {
                let ev = events_of(&ds.metadata)?;
                let p = owned(&ds.metadata);
                pages.push(print::describe_workloads::daemonset(&ds, &p, &ev, now));
            }
        }
        Kind::StatefulSet => {
            for sts in pick::<StatefulSet>(&store, kind, name)? {
                let ev = events_of(&sts.metadata)?;
                let p = owned(&sts.metadata);
                pages.push(print::describe_workloads::statefulset(&sts, &p, &ev, now));
            }
        }
        Kind::Job => {
            for job in pick::<Job>(&store, kind, name)? {
                let ev = events_of(&job.metadata)?;
                pages.push(print::describe_workloads::job(&job, &ev, now));
            }
        }
    }
    Ok(pages)
}

/// The object named (not there: kubectl's NotFound), or all of the kind.
fn pick<T: store::Stored>(store: &Store, kind: Kind, name: Option<&str>) -> Result<Vec<T>> {
    match name {
        None => Ok(store.list()?),
        Some(n) => match store.get::<T>(n)? {
            Some(o) => Ok(vec![o]),
            None => bail!(
                "Error from server (NotFound): {} {n:?} not found",
                kind.plural()
            ),
        },
    }
}

/// The namespaces and names of the stored objects of `kind` in scope whose
/// labels match (`delete -l`, `label -l`).
pub(crate) fn names_matching(
    scope: &Scope,
    kind: Kind,
    selector: &LabelSelector,
) -> Result<Vec<(String, String)>> {
    fn names<T: store::Stored>(
        store: &Store,
        selector: &LabelSelector,
    ) -> Result<Vec<(String, String)>> {
        Ok(store
            .list::<T>()?
            .into_iter()
            .filter(|o| labelled(Some(selector), o.metadata().labels.as_ref()))
            .filter_map(|o| o.metadata().name.clone())
            .map(|n| (store.namespace().to_string(), n))
            .collect())
    }
    let mut out = Vec::new();
    for store in scope.stores()? {
        out.extend(match kind {
            Kind::Deployment => names::<Deployment>(&store, selector)?,
            Kind::ReplicaSet => names::<ReplicaSet>(&store, selector)?,
            Kind::DaemonSet => names::<DaemonSet>(&store, selector)?,
            Kind::StatefulSet => names::<StatefulSet>(&store, selector)?,
            Kind::Job => names::<Job>(&store, selector)?,
        });
    }
    Ok(out)
}

/// `delete deployment|replicaset|daemonset|statefulset|job NAME`, for one
/// object of the scope's namespace: it and the ReplicaSets or revisions it
/// owns leave the store; the exit status so far and what it leaves (the pods
/// they owned, a StatefulSet's claims under `whenDeleted: Delete`) are
/// returned, for the caller to delete as it deletes pods (gracefully, waiting
/// unless `--wait=false`), the claims after the pods. With `--cascade=orphan`
/// only the object goes: what it made stays, without its owner reference, and
/// nothing is returned.
pub(crate) fn delete(
    opts: &Options,
    scope: &Scope,
    kind: Kind,
    name: &str,
    a: &DeleteArgs,
) -> Result<(i32, podrt_node::Dependents)> {
    let store = scope.store()?;
    let deleted = match a.cascade {
        Cascade::Orphan => {
            podrt_node::orphan(&store, &opts.root, kind, name).map(|()| Default::default())
        }
        Cascade::Background | Cascade::Foreground => {
            podrt_node::delete_with_dependents(&store, &opts.root, kind, name)
        }
    };
    let outcome = match deleted {
        Ok(owned) => {
            println!("{} {name:?} deleted", kind.qualified());
            (0, owned)
        }
        Err(podrt_node::Error::NotFound { .. }) if a.ignore_not_found => (0, Default::default()),
        Err(e @ podrt_node::Error::NotFound { .. }) => {
            eprintln!("Error from server (NotFound): {e}");
            (1, Default::default())
        }
        Err(e) => return Err(e.into()),
    };
    agent::nudge(&opts.root);
    Ok(outcome)
}

/// `serve`: the node agent, in the foreground, until killed.
pub(crate) fn serve(
    opts: &Options,
    state_dir: &Path,
    config: &podrt_sandbox::config::Config,
    registries: &podrt_sandbox::image::registry::RegistryOptions,
    args: &super::args::ServeArgs,
) -> Result<i32> {
    let mut labels = config.node_labels.clone().unwrap_or_default();
    for word in &args.node_labels {
        let Some((key, value)) = word.split_once('=') else {
            bail!("--node-labels: {word:?} is not KEY=VALUE");
        };
        podrt_sandbox::config::check_label(key, value)
            .map_err(|m| anyhow::anyhow!("--node-labels: {m}"))?;
        labels.insert(key.to_string(), value.to_string());
    }
    let dns = dns_settings(opts, args)?;
    let cri = match args.cri_listen.as_deref() {
        Some("none") => None,
        Some(endpoint) => Some((
            podrt_node::cri::socket_of(endpoint)
                .map_err(|m| anyhow::anyhow!("--cri-listen: {m}"))?,
            true,
        )),
        None => Some((opts.root.join("cri.sock"), false)),
    }
    .map(|(socket, required)| podrt_node::cri::CriSettings {
        socket,
        registries: registries.clone(),
        required,
    });
    agent::serve(opts.clone(), state_dir, labels, dns, cri)?;
    Ok(0)
}

/// What cluster DNS `serve` runs: at `--dns-address`, else at the built-in
/// network's gateway; none with `--dns-address none` or a CNI config of the
/// user's and no address.
fn dns_settings(
    opts: &Options,
    args: &super::args::ServeArgs,
) -> Result<Option<agent::DnsSettings>> {
    let address = match args.dns_address.as_deref() {
        Some("none") => return Ok(None),
        Some(a) => a
            .parse()
            .map_err(|_| anyhow::anyhow!("--dns-address {a:?}: want an IPv4 address or none"))?,
        None => match podrt_sandbox::network::builtin_gateway(&opts.network)? {
            Some(gateway) => gateway,
            None => {
                eprintln!("podrt serve: no cluster DNS (the CNI config is your own): give --dns-address to serve one");
                return Ok(None);
            }
        },
    };
    let upstreams = if args.dns_upstream.is_empty() {
        podrt_node::dns::host_upstreams(Path::new("/etc/resolv.conf"), address)
    } else {
        args.dns_upstream
            .iter()
            .map(|ip| std::net::SocketAddr::new(*ip, 53))
            .collect()
    };
    Ok(Some(agent::DnsSettings {
        address,
        domain: opts.dns.domain.clone(),
        upstreams,
    }))
}

/// Where workloads are kept, made absolute against the working directory (the
/// agent and commands may run from different places).
pub(crate) fn state_dir(flag: &Path) -> std::path::PathBuf {
    if flag.is_absolute() {
        flag.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(flag))
            .unwrap_or_else(|_| flag.to_path_buf())
    }
}

/// `TYPE/NAME` or `TYPE NAME` of a workload.
fn target(words: &[String]) -> Result<(Kind, String)> {
    let (kind, name) = match words {
        [one] => match one.split_once('/') {
            Some((k, n)) => (k, n),
            None => bail!("{one:?}: give the object as TYPE/NAME (e.g. deploy/web) or TYPE NAME"),
        },
        [k, n] => (k.as_str(), n.as_str()),
        _ => bail!("give one object: TYPE/NAME or TYPE NAME"),
    };
    match Kind::from_word(kind) {
        Some(k) if !name.is_empty() => Ok((k, name.to_string())),
        Some(_) => bail!("the object needs a name"),
        None => bail!("the server doesn't have a resource type {kind:?} for this command (deployments, replicasets, statefulsets)"),
    }
}

/// A Deployment target, as `rollout pause` and `resume` take.
fn deployment_target(words: &[String]) -> Result<String> {
    match target(words)? {
        (Kind::Deployment, name) => Ok(name),
        (kind, _) => bail!(
            "rollout pause and resume work on deployments, not {}",
            kind.plural()
        ),
    }
}

/// `scale TYPE/NAME --replicas=N`.
pub(crate) fn scale(opts: &Options, scope: &Scope, words: &[String], replicas: i32) -> Result<i32> {
    let (kind, name) = target(words)?;
    edits::scale(&scope.store()?, kind, &name, replicas)?;
    println!("{}/{name} scaled", kind.qualified());
    agent::nudge(&opts.root);
    Ok(0)
}

/// `rollout …`.
pub(crate) fn rollout(opts: &Options, scope: &Scope, command: &RolloutCommand) -> Result<i32> {
    let store = scope.store()?;
    match command {
        RolloutCommand::Status { target, timeout } => {
            let (kind, name) = self::target(target)?;
            let progress: fn(&Store, &str) -> podrt_node::Result<edits::Progress> = match kind {
                Kind::Deployment => edits::status,
                Kind::StatefulSet => edits::stateful_set_status,
                Kind::DaemonSet => edits::daemon_set_status,
                other => bail!(
                    "rollout status works on deployments, statefulsets and daemonsets, not {}",
                    other.plural()
                ),
            };
            let deadline = timeout.map(|t| std::time::Instant::now() + t);
            let mut last = String::new();
            loop {
                match progress(&store, &name)? {
                    edits::Progress::Done(line) => {
                        println!("{line}");
                        return Ok(0);
                    }
                    edits::Progress::Failed(line) => bail!("{line}"),
                    edits::Progress::Waiting(line) => {
                        if line != last {
                            println!("{line}");
                            last = line;
                        }
                    }
                }
                if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                    bail!("timed out waiting for the condition");
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
        RolloutCommand::History { target } => {
            let (kind, name) = self::target(target)?;
            let rows = edits::history(&store, kind, &name)?;
            println!("{}/{name}", kind.qualified());
            let mut text = String::from("REVISION\tCHANGE-CAUSE\n");
            for r in rows {
                let cause = r.change_cause.unwrap_or_else(|| "<none>".into());
                text.push_str(&format!("{}\t{cause}\n", r.number));
            }
            print!("{}", print::history(&text));
            Ok(0)
        }
        RolloutCommand::Undo {
            target,
            to_revision,
        } => {
            let (kind, name) = self::target(target)?;
            let undone = edits::undo(&store, kind, &name, *to_revision)?;
            if undone.changed {
                println!("{}/{name} rolled back", kind.qualified());
                agent::nudge(&opts.root);
            } else {
                println!(
                    "{}/{name} skipped rollback (current template already matches revision {})",
                    kind.qualified(),
                    undone.revision
                );
            }
            Ok(0)
        }
        RolloutCommand::Restart { target } => {
            let (kind, name) = self::target(target)?;
            let now = jiff::Timestamp::now()
                .round(jiff::Unit::Second)?
                .to_string();
            edits::restart(&store, kind, &name, &now)?;
            println!("{}/{name} restarted", kind.qualified());
            agent::nudge(&opts.root);
            Ok(0)
        }
        RolloutCommand::Pause { target } | RolloutCommand::Resume { target } => {
            let name = deployment_target(target)?;
            let pausing = matches!(command, RolloutCommand::Pause { .. });
            let changed = edits::pause(&store, &name, pausing)?;
            let word = match (pausing, changed) {
                (true, true) => "paused",
                (true, false) => "is already paused",
                (false, true) => "resumed",
                (false, false) => "is not paused",
            };
            println!("deployment.apps/{name} {word}");
            agent::nudge(&opts.root);
            Ok(0)
        }
    }
}
