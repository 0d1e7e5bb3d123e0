//! `get` of a kind the store keeps that has no controller of its own to show:
//! Secrets, ControllerRevisions, Services and their endpoints. Both list the same way (every namespace in
//! scope, `-l`, names, kubectl's NotFound), differing only in their table and
//! their `-o name` prefix.

use std::time::SystemTime;

use anyhow::{bail, Result};
use podrt_node::store::Stored;

use super::args::{GetArgs, Output};
use super::commands::{labelled, selector};
use super::print;
use super::scope::Scope;

/// How a kind is shown.
pub(crate) struct Listed<T> {
    /// The plural kubectl names it by in errors: `secrets`.
    pub(crate) plural: &'static str,
    /// The `-o name` prefix: `secret`, `controllerrevision.apps`.
    pub(crate) prefix: &'static str,
    /// Its table, header included, given whether a NAMESPACE column leads
    /// and whether it is `-o wide`.
    pub(crate) table: fn(&[T], bool, bool, SystemTime) -> String,
}

fn name_of<T: Stored>(o: &T) -> &str {
    o.metadata().name.as_deref().unwrap_or_default()
}

/// The objects of the kind in scope.
pub(crate) fn all<T: Stored>(scope: &Scope) -> Result<Vec<T>> {
    let mut out = Vec::new();
    for store in scope.stores()? {
        out.extend(store.list::<T>()?);
    }
    Ok(out)
}

/// `get KIND [NAME…] [-l SELECTOR] [-o …]`.
pub(crate) fn get<T: Stored>(scope: &Scope, a: &GetArgs, how: &Listed<T>) -> Result<i32> {
    let selector = selector(a.selector.as_deref())?;
    let every = all::<T>(scope)?;
    let items: Vec<T> = if a.names.is_empty() {
        every
            .into_iter()
            .filter(|o| labelled(selector.as_ref(), o.metadata().labels.as_ref()))
            .collect()
    } else {
        let mut found = Vec::new();
        for wanted in &a.names {
            match every.iter().find(|o| name_of(*o) == wanted) {
                Some(o) => found.push(o.clone()),
                None => bail!(
                    "Error from server (NotFound): {} {wanted:?} not found",
                    how.plural
                ),
            }
        }
        found
    };
    if items.is_empty() && matches!(a.output, None | Some(Output::Wide)) {
        eprintln!("{}", scope.none_found());
        return Ok(0);
    }
    let single = a.names.len() == 1;
    match a.output {
        None | Some(Output::Wide) => {
            print!(
                "{}",
                (how.table)(
                    &items,
                    scope.all,
                    matches!(a.output, Some(Output::Wide)),
                    SystemTime::now()
                )
            )
        }
        Some(Output::Json) => print!("{}", print::objects_json(&items, single)?),
        Some(Output::Yaml) => print!("{}", print::objects_yaml(&items, single)?),
        Some(Output::Name) => {
            for o in &items {
                println!("{}/{}", how.prefix, name_of(o));
            }
        }
    }
    Ok(0)
}
