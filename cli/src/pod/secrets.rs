//! `v1` Secret objects on the command line: applied with the rest of a
//! manifest (before its pods, so a pod's `imagePullSecrets` can name a Secret
//! of the same file), listed by `get secrets` with kubectl's `NAME TYPE DATA
//! AGE`, deleted by `delete secret NAME`. They live in the store, root's alone
//! like the rest of it. podrt reads them for pulls: a pod's `imagePullSecrets`
//! give the credentials tried before the credentials files, as kubelet does.

use anyhow::{bail, Result};
use k8s_openapi::api::core::v1::{PodSpec, Secret};
use podrt_node::store::{Applied, Store};
use podrt_sandbox::image::registry::PullSecret;
use podrt_sandbox::manifest::{self, Object};

use super::args::GetArgs;
use super::commands::{labelled, Mode};
use super::print;
use super::scope::Scope;
use super::stored;

/// Whether a kubectl resource word names secrets.
pub(crate) fn is_word(word: &str) -> bool {
    matches!(word.to_ascii_lowercase().as_str(), "secret" | "secrets")
}

/// Whether a manifest's object is a Secret.
pub(crate) fn is_secret(object: &Object) -> bool {
    object.kind == "Secret"
}

/// Decodes, places and checks a Secret document (completed as the API server
/// stores it).
pub(crate) fn decode(object: &Object, scope: &Scope, warnings: &mut Vec<String>) -> Result<Secret> {
    let mut secret: Secret = manifest::decode(object, warnings)?;
    scope.place(&mut secret.metadata)?;
    podrt_node::objects::complete_secret(&mut secret);
    let errors = podrt_node::objects::check_secret(&secret);
    if !errors.is_empty() {
        bail!(
            "The Secret {:?} is invalid: {}",
            secret.metadata.name.clone().unwrap_or_default(),
            errors.join("; ")
        );
    }
    Ok(secret)
}

/// The Secrets of a manifest, taken out of its objects.
#[derive(Debug, Default)]
pub(crate) struct Made {
    list: Vec<Secret>,
}

/// Takes the Secret documents out of `objects`, each checked.
pub(crate) fn take(objects: &mut Vec<Object>, scope: &Scope) -> Result<Made> {
    let mut made = Made::default();
    let mut warnings = Vec::new();
    let mut rest = Vec::new();
    for o in objects.drain(..) {
        if is_secret(&o) {
            made.list.push(decode(&o, scope, &mut warnings)?);
        } else {
            rest.push(o);
        }
    }
    *objects = rest;
    for w in warnings {
        eprintln!("Warning: {w}");
    }
    Ok(made)
}

fn name(s: &Secret) -> &str {
    s.metadata.name.as_deref().unwrap_or_default()
}

fn namespace(s: &Secret) -> &str {
    s.metadata.namespace.as_deref().unwrap_or_default()
}

impl Made {
    /// The namespaces the Secrets go into.
    pub(crate) fn namespaces(&self) -> impl Iterator<Item = &str> {
        self.list.iter().map(namespace)
    }

    /// The credentials of the pull Secrets `spec` names, in `ns`: this
    /// manifest's Secret of that name, else the stored one. One that is
    /// missing or of another type is a warning, as kubelet's, and the pull goes
    /// on without it.
    pub(crate) fn pull_secrets(
        &self,
        scope: &Scope,
        ns: &str,
        owner: &str,
        spec: &PodSpec,
    ) -> Result<Vec<PullSecret>> {
        let (found, missing) = podrt_node::objects::pull_secrets(spec, ns, |wanted| {
            let here = self
                .list
                .iter()
                .find(|s| name(s) == wanted && namespace(s) == ns)
                .cloned();
            anyhow::Ok(match here {
                Some(s) => Some(s),
                None if scope.has_store() => {
                    scope.in_namespace(ns).store()?.get::<Secret>(wanted)?
                }
                None => None,
            })
        })?;
        if !missing.is_empty() {
            eprintln!(
                "Warning: {owner}: Unable to retrieve some image pull secrets ({}); attempting \
                 to pull the image may not succeed.",
                missing.join(", ")
            );
        }
        Ok(found)
    }

    /// Stores the Secrets, printing kubectl's line for each; the exit status
    /// so far (1 when `create` met one that exists).
    pub(crate) fn store(self, scope: &Scope, mode: Mode) -> Result<i32> {
        let mut code = 0;
        if self.list.is_empty() {
            return Ok(code);
        }
        let store = scope.store()?;
        let _lock = store.lock()?;
        for secret in self.list {
            let in_ns = store.in_namespace(namespace(&secret));
            let name = name(&secret).to_string();
            if let Some(old) = in_ns.get::<Secret>(&name)? {
                if mode == Mode::Create {
                    eprintln!("Error from server (AlreadyExists): secrets {name:?} already exists");
                    code = 1;
                    continue;
                }
                immutable(&old, &secret)?;
            }
            let (applied, _) = in_ns.apply(secret)?;
            let word = match applied {
                Applied::Created => "created",
                Applied::Configured => "configured",
                Applied::Unchanged => "unchanged",
            };
            println!("secret/{name} {word}");
        }
        Ok(code)
    }
}

/// An `immutable` Secret keeps its data and type, and stays immutable.
fn immutable(old: &Secret, new: &Secret) -> Result<()> {
    if old.immutable != Some(true) {
        return Ok(());
    }
    if old.data != new.data || old.type_ != new.type_ || new.immutable != Some(true) {
        bail!(
            "The Secret {:?} is invalid: data: Forbidden: field is immutable when `immutable` is set",
            name(new)
        );
    }
    Ok(())
}

/// `get secrets [NAME…]`.
pub(crate) fn get(scope: &Scope, a: &GetArgs) -> Result<i32> {
    stored::get(
        scope,
        a,
        &stored::Listed::<Secret> {
            plural: "secrets",
            prefix: "secret",
            table: print::secrets,
        },
    )
}

/// The names of the Secrets whose labels match (`delete secrets -l`).
pub(crate) fn names_matching(
    scope: &Scope,
    selector: &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector,
) -> Result<Vec<(String, String)>> {
    Ok(stored::all::<Secret>(scope)?
        .into_iter()
        .filter(|s| labelled(Some(selector), s.metadata.labels.as_ref()))
        .map(|s| (namespace(&s).to_string(), name(&s).to_string()))
        .collect())
}

/// `delete secret NAME` in `ns`: kubectl's line, or its NotFound.
pub(crate) fn delete(scope: &Scope, ns: &str, wanted: &str) -> Result<()> {
    let gone = scope.has_store() && {
        let store: Store = scope.in_namespace(ns).store()?;
        let _lock = store.lock()?;
        store.remove::<Secret>(wanted)?
    };
    if !gone {
        bail!("secrets {wanted:?} not found");
    }
    println!("secret {wanted:?} deleted");
    Ok(())
}
