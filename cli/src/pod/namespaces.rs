//! `v1` Namespace objects on the command line: applied with the rest of a
//! manifest (first, so the manifest's other objects may go into them), listed
//! by `get ns` with kubectl's `NAME STATUS AGE`, and deleted with everything in
//! them (`delete ns NAME`). `default` always exists.

use std::time::{Duration, SystemTime};

use anyhow::{bail, Result};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, Time};
use podrt_node::objects::Workload;
use podrt_node::store::{Applied, DEFAULT_NAMESPACE};
use podrt_sandbox::manifest::{self, names, Object};
use podrt_sandbox::pod::Options;

use super::args::{GetArgs, Output};
use super::commands::{labelled, selector, Mode};
use super::print;
use super::scope::Scope;

/// Whether a manifest's object is one `apply` reads besides pods: a workload,
/// a Namespace or a Secret.
pub(crate) fn accepts(api_version: &str, kind: &str) -> bool {
    Workload::accepts(api_version, kind)
        || (api_version == "v1" && matches!(kind, "Namespace" | "Secret" | "Service"))
        || super::psps::accepts(api_version, kind)
}

/// Whether a kubectl resource word names namespaces.
pub(crate) fn is_word(word: &str) -> bool {
    matches!(
        word.to_ascii_lowercase().as_str(),
        "ns" | "namespace" | "namespaces"
    )
}

/// Whether a kept object of a manifest is a Namespace.
pub(crate) fn is_namespace(object: &Object) -> bool {
    object.kind == "Namespace"
}

/// Decodes and checks a Namespace document: its name, checked.
pub(crate) fn decode(object: &Object, warnings: &mut Vec<String>) -> Result<(String, Namespace)> {
    let ns: Namespace = manifest::decode(object, warnings)?;
    let name = match ns.metadata.name.as_deref() {
        None | Some("") => {
            bail!("The Namespace \"\" is invalid: metadata.name: Required value: name is required")
        }
        Some(n) => n.to_string(),
    };
    if let Err(e) = names::dns1123_label(&name) {
        bail!("The Namespace {name:?} is invalid: metadata.name: Invalid value: {name:?}: {e}");
    }
    Ok((name, ns))
}

/// The Namespaces of a manifest, taken out of its objects before the
/// workloads are read.
#[derive(Debug, Default)]
pub(crate) struct Made {
    /// The Namespaces to store, by name.
    list: Vec<(String, Namespace)>,
    /// Those that exist, for `create` (kubectl's AlreadyExists).
    existing: Vec<String>,
}

/// Takes the Namespace documents out of `objects`, each checked; with
/// [`Mode::Create`] one that exists is an error line later, not stored.
pub(crate) fn take(objects: &mut Vec<Object>, scope: &Scope, mode: Mode) -> Result<Made> {
    let mut made = Made::default();
    let mut warnings = Vec::new();
    let mut rest = Vec::new();
    for o in objects.drain(..) {
        if !is_namespace(&o) {
            rest.push(o);
            continue;
        }
        let (name, ns) = decode(&o, &mut warnings)?;
        let exists = name == DEFAULT_NAMESPACE
            || (scope.has_store() && scope.store()?.get::<Namespace>(&name)?.is_some());
        if exists && mode == Mode::Create {
            made.existing.push(name);
            continue;
        }
        made.list.push((name, ns));
    }
    *objects = rest;
    for w in warnings {
        eprintln!("Warning: {w}");
    }
    Ok(made)
}

impl Made {
    /// Whether every namespace in `used` exists (or is made by this manifest)
    /// and is not being deleted: the API server's NotFound or Forbidden.
    pub(crate) fn check_usable<'a>(
        &self,
        scope: &Scope,
        used: impl Iterator<Item = &'a str>,
    ) -> Result<()> {
        for ns in used {
            if ns == DEFAULT_NAMESPACE
                || self.list.iter().any(|(n, _)| n == ns)
                || self.existing.iter().any(|n| n == ns)
            {
                continue;
            }
            let store = if scope.has_store() {
                scope.store()?
            } else {
                bail!("Error from server (NotFound): namespaces {ns:?} not found");
            };
            match podrt_node::check_namespace(&store, ns) {
                Ok(()) => {}
                Err(e @ podrt_node::Error::NotFound { .. }) => {
                    bail!("Error from server (NotFound): {e}")
                }
                Err(e @ podrt_node::Error::Forbidden { .. }) => {
                    bail!("Error from server (Forbidden): {e}")
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Stores the Namespaces, printing kubectl's line for each; the exit status
    /// so far (1 when `create` met one that exists).
    pub(crate) fn store(self, scope: &Scope) -> Result<i32> {
        let mut code = 0;
        for name in &self.existing {
            eprintln!("Error from server (AlreadyExists): namespaces {name:?} already exists");
            code = 1;
        }
        if self.list.is_empty() {
            return Ok(code);
        }
        let store = scope.store()?;
        let _lock = store.lock()?;
        for (name, ns) in self.list {
            if name == DEFAULT_NAMESPACE {
                println!("namespace/{name} unchanged");
                continue;
            }
            if store
                .get::<Namespace>(&name)?
                .is_some_and(|old| podrt_node::namespace_terminating(&old))
            {
                bail!("Error from server (Forbidden): namespaces {name:?}: the namespace is being terminated");
            }
            let (applied, _) = store.apply(ns)?;
            let word = match applied {
                Applied::Created => "created",
                Applied::Configured => "configured",
                Applied::Unchanged => "unchanged",
            };
            println!("namespace/{name} {word}");
        }
        Ok(code)
    }
}

/// Every Namespace, `default` first among them even when never stored.
fn all(scope: &Scope) -> Result<Vec<Namespace>> {
    let mut list: Vec<Namespace> = if scope.has_store() {
        scope.store()?.list()?
    } else {
        Vec::new()
    };
    if !list
        .iter()
        .any(|n| n.metadata.name.as_deref() == Some(DEFAULT_NAMESPACE))
    {
        let mut default = podrt_node::default_namespace();
        // It exists since the state directory does.
        default.metadata.creation_timestamp = std::fs::metadata(scope.state_dir().join("objects"))
            .and_then(|m| m.created().or_else(|_| m.modified()))
            .ok()
            .and_then(|t| jiff::Timestamp::try_from(t).ok())
            .map(Time);
        list.push(default);
    }
    list.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    Ok(list)
}

/// `get namespaces [NAME…]`.
pub(crate) fn get(scope: &Scope, a: &GetArgs) -> Result<i32> {
    let selector = selector(a.selector.as_deref())?;
    let every = all(scope)?;
    let items: Vec<Namespace> = if a.names.is_empty() {
        every
            .into_iter()
            .filter(|n| labelled(selector.as_ref(), n.metadata.labels.as_ref()))
            .collect()
    } else {
        let mut found = Vec::new();
        for name in &a.names {
            match every
                .iter()
                .find(|n| n.metadata.name.as_deref() == Some(name))
            {
                Some(n) => found.push(n.clone()),
                None => bail!("Error from server (NotFound): namespaces {name:?} not found"),
            }
        }
        found
    };
    let single = a.names.len() == 1;
    match a.output {
        None | Some(Output::Wide) => print!("{}", print::namespaces(&items, SystemTime::now())),
        Some(Output::Json) => print!("{}", print::objects_json(&items, single)?),
        Some(Output::Yaml) => print!("{}", print::objects_yaml(&items, single)?),
        Some(Output::Name) => {
            for n in &items {
                println!(
                    "namespace/{}",
                    n.metadata.name.as_deref().unwrap_or_default()
                );
            }
        }
    }
    Ok(0)
}

/// The names of the Namespaces whose labels match (`delete ns -l`).
pub(crate) fn names_matching(scope: &Scope, selector: &LabelSelector) -> Result<Vec<String>> {
    Ok(all(scope)?
        .into_iter()
        .filter(|n| labelled(Some(selector), n.metadata.labels.as_ref()))
        .filter_map(|n| n.metadata.name)
        .collect())
}

/// The first step of `delete ns NAME`: it turns Terminating.
pub(crate) fn begin_deletion(scope: &Scope, name: &str) -> Result<()> {
    if name != DEFAULT_NAMESPACE && !scope.has_store() {
        bail!("namespaces {name:?} not found");
    }
    podrt_node::begin_namespace_deletion(&scope.store()?, name)?;
    Ok(())
}

/// The second: everything in it goes, then it; the pods' errors.
pub(crate) fn delete_contents(
    opts: &Options,
    scope: &Scope,
    name: &str,
    grace: Option<Duration>,
) -> Result<Vec<String>> {
    let store = scope.store()?;
    let errors = podrt_node::delete_namespace_contents(&store, &opts.root, name, grace)?;
    podrt_node::agent::nudge(&opts.root);
    Ok(errors)
}
