//! The namespaces a command acts on, as kubectl picks them: `-n NS` (default
//! `default`), or every namespace with `-A` where a verb lists. An object
//! whose manifest names a namespace goes there, unless `-n` names another:
//! that is kubectl's mismatch error.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use podrt_node::store::{Store, DEFAULT_NAMESPACE};
use podrt_sandbox::state::Sandbox;

/// Where a command looks for and puts objects.
#[derive(Debug, Clone)]
pub(crate) struct Scope {
    /// The state directory (made absolute).
    pub(crate) state_dir: PathBuf,
    /// `-n`, or `default`.
    pub(crate) namespace: String,
    /// `-n` was given.
    pub(crate) explicit: bool,
    /// `-A`: every namespace (listing verbs only).
    pub(crate) all: bool,
}

impl Scope {
    /// The scope of `-n` (none: `default`) under `state_dir`.
    pub(crate) fn new(state_dir: PathBuf, namespace: Option<&str>) -> Scope {
        Scope {
            state_dir,
            namespace: namespace.unwrap_or(DEFAULT_NAMESPACE).to_string(),
            explicit: namespace.is_some(),
            all: false,
        }
    }

    /// The same scope, over every namespace when `all` (`-A`).
    pub(crate) fn across(&self, all: bool) -> Scope {
        Scope {
            all: self.all || all,
            ..self.clone()
        }
    }

    /// The same scope narrowed to the one namespace `namespace`.
    pub(crate) fn in_namespace(&self, namespace: &str) -> Scope {
        Scope {
            namespace: namespace.to_string(),
            all: false,
            ..self.clone()
        }
    }

    /// The state directory.
    pub(crate) fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// Whether the store exists yet (a read on a fresh machine makes nothing).
    pub(crate) fn has_store(&self) -> bool {
        self.state_dir.join("objects").is_dir()
    }

    /// The store, seen from the namespace.
    pub(crate) fn store(&self) -> Result<Store> {
        Ok(Store::open(&self.state_dir)?.in_namespace(&self.namespace))
    }

    /// The stores a listing reads: the namespace's, or with `-A` one per
    /// namespace holding objects.
    pub(crate) fn stores(&self) -> Result<Vec<Store>> {
        if !self.has_store() {
            return Ok(Vec::new());
        }
        let store = self.store()?;
        if !self.all {
            return Ok(vec![store]);
        }
        Ok(store
            .namespaces_in_use()?
            .iter()
            .map(|ns| store.in_namespace(ns))
            .collect())
    }

    /// Whether a pod or object of `namespace` is in scope.
    pub(crate) fn holds(&self, namespace: Option<&str>) -> bool {
        self.all || namespace.unwrap_or(DEFAULT_NAMESPACE) == self.namespace
    }

    /// Whether the pod is in scope.
    pub(crate) fn holds_pod(&self, sandbox: &Sandbox) -> bool {
        self.holds(Some(&sandbox.record.namespace))
    }

    /// Puts an object of a manifest in its namespace: the manifest's, else
    /// `-n`'s; both, and different, is kubectl's error.
    pub(crate) fn place(&self, meta: &mut ObjectMeta) -> Result<()> {
        match meta.namespace.as_deref().filter(|n| !n.is_empty()) {
            Some(ns) if self.explicit && ns != self.namespace => bail!(
                "the namespace from the provided object {ns:?} does not match the namespace {:?}. You must pass '--namespace={ns}' to perform this operation.",
                self.namespace
            ),
            Some(_) => {}
            None => meta.namespace = Some(self.namespace.clone()),
        }
        Ok(())
    }

    /// kubectl's line for an empty listing.
    pub(crate) fn none_found(&self) -> String {
        if self.all {
            "No resources found".to_string()
        } else {
            format!("No resources found in {} namespace.", self.namespace)
        }
    }
}

/// A `get` table with kubectl's NAMESPACE column in front (`-A`): `table` has a
/// header line and then one line per object, `namespaces` the objects' in the
/// same order.
pub(crate) fn with_namespace_column(table: &str, namespaces: &[String]) -> String {
    let width = namespaces
        .iter()
        .map(String::len)
        .chain(std::iter::once("NAMESPACE".len()))
        .max()
        .unwrap_or(0)
        + 3;
    let mut out = String::with_capacity(table.len() + (width + 1) * (namespaces.len() + 1));
    for (i, line) in table.lines().enumerate() {
        let ns = match i {
            0 => "NAMESPACE",
            n => namespaces.get(n - 1).map_or("", String::as_str),
        };
        out.push_str(&format!("{ns:<width$}{line}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_namespace_wins_unless_n_names_another() {
        let scope = Scope::new(PathBuf::from("/s"), None);
        let mut meta = ObjectMeta::default();
        scope.place(&mut meta).unwrap();
        assert_eq!(meta.namespace.as_deref(), Some("default"));
        let mut meta = ObjectMeta {
            namespace: Some("team-a".into()),
            ..ObjectMeta::default()
        };
        scope.place(&mut meta).unwrap();
        assert_eq!(meta.namespace.as_deref(), Some("team-a"));
        let scope = Scope::new(PathBuf::from("/s"), Some("team-b"));
        let e = scope.place(&mut meta).unwrap_err().to_string();
        assert!(e.contains("does not match the namespace \"team-b\""), "{e}");
        let mut meta = ObjectMeta::default();
        scope.place(&mut meta).unwrap();
        assert_eq!(meta.namespace.as_deref(), Some("team-b"));
    }

    #[test]
    fn the_namespace_column_goes_first() {
        let table = "NAME   AGE\nweb    1s\napi    2s\n";
        assert_eq!(
            with_namespace_column(table, &["default".into(), "team-a".into()]),
            "NAMESPACE   NAME   AGE\ndefault     web    1s\nteam-a      api    2s\n"
        );
    }
}
