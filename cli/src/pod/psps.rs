//! PodSecurityPolicy objects on the command line, as the seed's kubectl
//! session uses them: `create -f psp.yaml` (`podsecuritypolicy.policy/
//! permissive created`), `get psp` with kubectl's columns, `get psp NAME -o
//! yaml`, `edit psp NAME`, `delete psp NAME`. Stored, they are the admission
//! policy of pods that neither `--policy` nor the config file gives one
//! (`policy_in_force`), here and in the agent's controllers.

use std::time::SystemTime;

use anyhow::{bail, Result};
use podrt_node::objects::{policy_of, PodSecurityPolicyObject};
use podrt_node::store::{Applied, Store};
use podrt_sandbox::manifest::Object;
use podrt_sandbox::policy::Policy;

use super::args::{GetArgs, Output};
use super::commands::{labelled, selector, Mode};
use super::print;
use super::scope::Scope;

/// Whether a kubectl resource word names PodSecurityPolicies.
pub(crate) fn is_word(word: &str) -> bool {
    matches!(
        word.to_ascii_lowercase().as_str(),
        "psp"
            | "podsecuritypolicy"
            | "podsecuritypolicies"
            | "podsecuritypolicy.policy"
            | "podsecuritypolicies.policy"
    )
}

/// Whether a manifest's kept object is one.
pub(crate) fn accepts(api_version: &str, kind: &str) -> bool {
    kind == "PodSecurityPolicy" && matches!(api_version, "policy/v1beta1" | "extensions/v1beta1")
}

/// The PodSecurityPolicies of a manifest, taken out of its objects, checked.
#[derive(Debug, Default)]
pub(crate) struct Made {
    list: Vec<PodSecurityPolicyObject>,
}

/// Takes the PodSecurityPolicy documents out of `objects`, each checked (a
/// bad one stops the manifest before anything is made).
pub(crate) fn take(objects: &mut Vec<Object>) -> Result<Made> {
    let mut made = Made::default();
    let mut rest = Vec::new();
    for o in objects.drain(..) {
        if !accepts(&o.api_version, &o.kind) {
            rest.push(o);
            continue;
        }
        let label = o.label();
        let psp = PodSecurityPolicyObject::decode(&o.value, label.trim_end_matches(": "))?;
        made.list.push(psp);
    }
    *objects = rest;
    Ok(made)
}

impl Made {
    /// Stores them, printing kubectl's line for each; the exit status so far
    /// (1 when `create` met one that exists).
    pub(crate) fn store(self, scope: &Scope, mode: Mode) -> Result<i32> {
        if self.list.is_empty() {
            return Ok(0);
        }
        let store = scope.store()?;
        let _lock = store.lock()?;
        let mut code = 0;
        for psp in self.list {
            let name = psp.name().to_string();
            if mode == Mode::Create && store.get::<PodSecurityPolicyObject>(&name)?.is_some() {
                eprintln!(
                    "Error from server (AlreadyExists): podsecuritypolicies.policy {name:?} already exists"
                );
                code = 1;
                continue;
            }
            let reference = psp.reference();
            let (applied, _) = store.apply(psp)?;
            let word = match applied {
                Applied::Created => "created",
                Applied::Configured => "configured",
                Applied::Unchanged => "unchanged",
            };
            println!("{reference} {word}");
        }
        Ok(code)
    }

    /// The admission policy for the pods of this manifest when no other is
    /// given: the stored policies with this manifest's own (which replace
    /// stored ones of the same name).
    pub(crate) fn policy_in_force(&self, scope: &Scope) -> Result<Option<Policy>> {
        let mut all = stored(scope)?;
        all.retain(|s| !self.list.iter().any(|m| m.name() == s.name()));
        all.extend(self.list.iter().cloned());
        Ok(policy_of(&all)?)
    }
}

/// The stored PodSecurityPolicies, by name.
fn stored(scope: &Scope) -> Result<Vec<PodSecurityPolicyObject>> {
    if !scope.has_store() {
        return Ok(Vec::new());
    }
    let mut list: Vec<PodSecurityPolicyObject> = scope.store()?.list()?;
    list.sort_by(|a, b| a.name().cmp(b.name()));
    Ok(list)
}

/// The admission policy the stored PodSecurityPolicies make, if any.
pub(crate) fn policy(scope: &Scope) -> Result<Option<Policy>> {
    Ok(policy_of(&stored(scope)?)?)
}

/// One stored by name, or kubectl's NotFound.
fn find(scope: &Scope, name: &str) -> Result<PodSecurityPolicyObject> {
    match stored(scope)?.into_iter().find(|p| p.name() == name) {
        Some(p) => Ok(p),
        None => {
            bail!("Error from server (NotFound): podsecuritypolicies.policy {name:?} not found")
        }
    }
}

/// `get psp [NAME…]`.
pub(crate) fn get(scope: &Scope, a: &GetArgs) -> Result<i32> {
    let selector = selector(a.selector.as_deref())?;
    let items: Vec<PodSecurityPolicyObject> = if a.names.is_empty() {
        stored(scope)?
            .into_iter()
            .filter(|p| labelled(selector.as_ref(), p.metadata.labels.as_ref()))
            .collect()
    } else {
        a.names
            .iter()
            .map(|n| find(scope, n))
            .collect::<Result<_>>()?
    };
    if items.is_empty() && matches!(a.output, None | Some(Output::Wide)) {
        eprintln!("No resources found");
        return Ok(0);
    }
    let single = a.names.len() == 1;
    match a.output {
        None | Some(Output::Wide) => print!("{}", print::psps(&items, SystemTime::now())),
        Some(Output::Json) => print!("{}", print::objects_json(&items, single)?),
        Some(Output::Yaml) => print!("{}", print::objects_yaml(&items, single)?),
        Some(Output::Name) => {
            for p in &items {
                println!("podsecuritypolicy.policy/{}", p.name());
            }
        }
    }
    Ok(0)
}

/// `describe psp [NAME]`: kubectl's page for each.
pub(crate) fn describe(scope: &Scope, wanted: Option<&str>) -> Result<Vec<String>> {
    let chosen = match wanted {
        Some(name) => vec![find(scope, name)?],
        None => stored(scope)?,
    };
    Ok(chosen.iter().map(print::describe_psp).collect())
}

/// `delete psp NAME`: kubectl's line, or its NotFound.
pub(crate) fn delete(scope: &Scope, name: &str) -> Result<()> {
    let gone = scope.has_store() && {
        let store: Store = scope.store()?;
        let _lock = store.lock()?;
        store.remove::<PodSecurityPolicyObject>(name)?
    };
    if !gone {
        bail!("podsecuritypolicies.policy {name:?} not found");
    }
    println!("podsecuritypolicy.policy {name:?} deleted");
    Ok(())
}

/// The names of those whose labels match (`delete psp -l`).
pub(crate) fn names_matching(
    scope: &Scope,
    selector: &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector,
) -> Result<Vec<String>> {
    Ok(stored(scope)?
        .into_iter()
        .filter(|p| labelled(Some(selector), p.metadata.labels.as_ref()))
        .map(|p| p.name().to_string())
        .collect())
}

/// The YAML `edit psp NAME` opens.
pub(crate) fn yaml_of(scope: &Scope, name: &str) -> Result<String> {
    print::objects_yaml(&[find(scope, name)?], true)
}

/// Stores the edited text of `name`: one PodSecurityPolicy of the same name,
/// checked as `create` checks it.
pub(crate) fn store_edited(scope: &Scope, name: &str, objects: Vec<Object>) -> Result<()> {
    let mut objects = objects;
    let made = take(&mut objects)?;
    let ([psp], true) = (made.list.as_slice(), objects.is_empty()) else {
        bail!("the edited file must hold the one podsecuritypolicy.policy it was");
    };
    if psp.name() != name {
        bail!(
            "podsecuritypolicy.policy/{name}: the name of an object cannot be changed by edit (got {})",
            psp.reference()
        );
    }
    let store = scope.store()?;
    let _lock = store.lock()?;
    store.apply(psp.clone())?;
    println!("{} edited", psp.reference());
    Ok(())
}
