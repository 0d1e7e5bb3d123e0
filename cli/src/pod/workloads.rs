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
use podrt_node::objects::{self, Kind, Workload};
use podrt_node::store::{Applied, Store};
use podrt_node::{agent, edits, store};
use podrt_sandbox::manifest::Object;
use podrt_sandbox::pod::Options;
use podrt_sandbox::policy::Policy;

use super::args::{GetArgs, Output, RolloutCommand};
use super::print;

/// Decodes and checks every workload of a manifest, before anything is made:
/// warnings go to stderr; the first invalid object is the error.
pub(crate) fn check(
    objects: &[Object],
    state_dir: &Path,
    image_exists: &dyn Fn(&str) -> bool,
    policy: Option<&Policy>,
) -> Result<Vec<Workload>> {
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    for o in objects {
        let w = Workload::decode(o, &mut warnings)?;
        warnings.extend(objects::validate(&w, image_exists, policy)?);
        if let Some(old) = stored(state_dir, w.kind(), w.name())? {
            objects::check_update(&old, &w)?;
        }
        out.push(w);
    }
    for w in warnings {
        eprintln!("Warning: {w}");
    }
    Ok(out)
}

/// The stored object of `kind` named `name`, if any (no store yet: none).
fn stored(state_dir: &Path, kind: Kind, name: &str) -> Result<Option<Workload>> {
    if !state_dir.join("objects").is_dir() {
        return Ok(None);
    }
    let store = Store::open(state_dir)?;
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

/// Stores checked workloads, printing kubectl's line for each, and nudges the
/// agent (or says that none runs to act on them).
pub(crate) fn store(opts: &Options, state_dir: &Path, workloads: Vec<Workload>) -> Result<()> {
    if workloads.is_empty() {
        return Ok(());
    }
    let store = Store::open(state_dir)?;
    let mut changed = false;
    {
        let _lock = store.lock()?;
        for w in workloads {
            let reference = w.reference();
            let applied = match w {
                Workload::Deployment(d) => store.apply(*d)?.0,
                Workload::ReplicaSet(r) => store.apply(*r)?.0,
                Workload::DaemonSet(d) => store.apply(*d)?.0,
                Workload::StatefulSet(s) => store.apply(*s)?.0,
                Workload::Job(j) => store.apply(*j)?.0,
            };
            changed |= applied != Applied::Unchanged;
            println!("{reference} {applied}");
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
pub(crate) fn get(state_dir: &Path, kind: Kind, a: &GetArgs) -> Result<i32> {
    let store = Store::open(state_dir)?;
    match kind {
        Kind::Deployment => show::<Deployment>(&store, kind, a, print::deployments),
        Kind::ReplicaSet => show::<ReplicaSet>(&store, kind, a, print::replicasets),
        Kind::DaemonSet => show::<DaemonSet>(&store, kind, a, print::daemonsets),
        Kind::StatefulSet => show::<StatefulSet>(&store, kind, a, print::statefulsets),
        Kind::Job => show::<Job>(&store, kind, a, print::jobs),
    }
}

fn show<T: store::Stored>(
    store: &Store,
    kind: Kind,
    a: &GetArgs,
    table: fn(&[T], bool, SystemTime) -> String,
) -> Result<i32> {
    let items: Vec<T> = if a.names.is_empty() {
        store.list()?
    } else {
        let mut found = Vec::new();
        for name in &a.names {
            match store.get::<T>(name)? {
                Some(o) => found.push(o),
                None => bail!("{} {name:?} not found", kind.plural()),
            }
        }
        found
    };
    let single = a.names.len() == 1;
    match a.output {
        None | Some(Output::Wide) => {
            if items.is_empty() {
                eprintln!("No resources found in default namespace.");
            } else {
                let wide = matches!(a.output, Some(Output::Wide));
                print!("{}", table(&items, wide, SystemTime::now()));
            }
        }
        Some(Output::Json) => print!("{}", print::objects_json(&items, single)?),
        Some(Output::Yaml) => print!("{}", print::objects_yaml(&items, single)?),
        Some(Output::Name) => {
            for o in &items {
                println!(
                    "{}/{}",
                    kind.qualified(),
                    o.metadata().name.clone().unwrap_or_default()
                );
            }
        }
    }
    Ok(0)
}

/// `delete deployment|replicaset|daemonset|statefulset|job NAME…`: each object and the
/// ReplicaSets it owns leave the store; the names of the pods they owned are returned, for the
/// caller to delete as it deletes pods (gracefully, waiting unless
/// `--wait=false`).
pub(crate) fn delete(
    opts: &Options,
    state_dir: &Path,
    kind: Kind,
    names: &[String],
    ignore_not_found: bool,
) -> Result<(i32, Vec<String>)> {
    let store = Store::open(state_dir)?;
    let mut code = 0;
    let mut pods = Vec::new();
    for name in names {
        match podrt_node::delete_with_dependents(&store, &opts.root, kind, name) {
            Ok(owned) => {
                println!("{} {name:?} deleted", kind.qualified());
                pods.extend(owned);
            }
            Err(podrt_node::Error::NotFound { .. }) if ignore_not_found => {}
            Err(e @ podrt_node::Error::NotFound { .. }) => {
                eprintln!("Error from server (NotFound): {e}");
                code = 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
    agent::nudge(&opts.root);
    Ok((code, pods))
}

/// `serve`: the node agent, in the foreground, until killed.
pub(crate) fn serve(opts: &Options, state_dir: &Path) -> Result<i32> {
    agent::serve(opts.clone(), state_dir)?;
    Ok(0)
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

/// A Deployment target, as every `rollout` verb takes.
fn deployment_target(words: &[String]) -> Result<String> {
    match target(words)? {
        (Kind::Deployment, name) => Ok(name),
        (kind, _) => bail!("rollout works on deployments, not {}", kind.plural()),
    }
}

/// `scale TYPE/NAME --replicas=N`.
pub(crate) fn scale(
    opts: &Options,
    state_dir: &Path,
    words: &[String],
    replicas: i32,
) -> Result<i32> {
    let (kind, name) = target(words)?;
    edits::scale(&Store::open(state_dir)?, kind, &name, replicas)?;
    println!("{}/{name} scaled", kind.qualified());
    agent::nudge(&opts.root);
    Ok(0)
}

/// `rollout …`.
pub(crate) fn rollout(opts: &Options, state_dir: &Path, command: &RolloutCommand) -> Result<i32> {
    let store = Store::open(state_dir)?;
    match command {
        RolloutCommand::Status { target, timeout } => {
            let (kind, name) = self::target(target)?;
            let progress: fn(&Store, &str) -> podrt_node::Result<edits::Progress> = match kind {
                Kind::Deployment => edits::status,
                Kind::StatefulSet => edits::stateful_set_status,
                other => bail!(
                    "rollout status works on deployments and statefulsets, not {}",
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
            let name = deployment_target(target)?;
            println!("deployment.apps/{name}");
            let mut text = String::from("REVISION\tCHANGE-CAUSE\n");
            for r in edits::history(&store, &name)? {
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
            let name = deployment_target(target)?;
            edits::undo(&store, &name, *to_revision)?;
            println!("deployment.apps/{name} rolled back");
            agent::nudge(&opts.root);
            Ok(0)
        }
        RolloutCommand::Restart { target } => {
            let name = deployment_target(target)?;
            let now = jiff::Timestamp::now()
                .round(jiff::Unit::Second)?
                .to_string();
            edits::restart(&store, &name, &now)?;
            println!("deployment.apps/{name} restarted");
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
