//! `label`: kubectl's verb on pods and stored workloads. The words after the
//! type are names until the first change (`KEY=VALUE`, `KEY-`); a pod's labels
//! change in its record under its lock, a workload's in the store under the
//! store's lock, and the agent is nudged, since a pod relabelled out of its
//! set's selector is let go and replaced.

use anyhow::{bail, Result};
use podrt_node::labels::{relabel, LabelChange};
use podrt_node::objects::Kind;
use podrt_node::{agent, edits};
use podrt_sandbox::pod::Options;
use podrt_sandbox::state::listing;

use super::args::LabelArgs;
use super::commands::{check_kind, pods_matching, selector};
use super::scope::Scope;
use super::workloads::names_matching;

/// What the command line asks: the type, the objects (by name) and the changes.
#[derive(Debug, PartialEq, Eq)]
struct Request {
    kind: Option<Kind>,
    names: Vec<String>,
    changes: Vec<LabelChange>,
}

/// Reads `TYPE NAME… CHANGE…` or `TYPE/NAME… CHANGE…`.
fn request(words: &[String]) -> Result<Request> {
    let Some((first, rest)) = words.split_first() else {
        bail!("label needs a type, names and changes");
    };
    let (type_word, mut names) = match first.split_once('/') {
        Some((t, n)) if !n.is_empty() => (t.to_string(), vec![n.to_string()]),
        Some(_) => bail!("{first:?}: the object needs a name"),
        None => (first.clone(), Vec::new()),
    };
    let split = rest
        .iter()
        .position(|w| LabelChange::is_change(w))
        .unwrap_or(rest.len());
    for word in &rest[..split] {
        match word.split_once('/') {
            Some((t, n)) if t == type_word && !n.is_empty() => names.push(n.to_string()),
            Some(_) => bail!("{word:?}: give every object as {type_word}/NAME"),
            None => names.push(word.clone()),
        }
    }
    let changes = rest[split..]
        .iter()
        .map(|w| LabelChange::parse(w).map_err(anyhow::Error::msg))
        .collect::<Result<Vec<_>>>()?;
    if changes.is_empty() {
        bail!("at least one label update is required (KEY=VALUE or KEY-)");
    }
    let kind = Kind::from_word(&type_word);
    if kind.is_none() {
        check_kind(&type_word)?;
    }
    Ok(Request {
        kind,
        names,
        changes,
    })
}

/// `label TYPE NAME… KEY=VALUE… KEY-… [--overwrite] [-l SELECTOR]`.
pub(crate) fn label(opts: &Options, scope: &Scope, a: &LabelArgs) -> Result<i32> {
    let mut r = request(&a.words)?;
    if let Some(sel) = selector(a.selector.as_deref())? {
        if !r.names.is_empty() {
            bail!("name cannot be provided when a selector is specified");
        }
        r.names = match r.kind {
            Some(kind) => names_matching(scope, kind, &sel)?
                .into_iter()
                .map(|(_, n)| n)
                .collect(),
            None => pods_matching(opts, scope, &sel)?
                .into_iter()
                .map(|s| s.record.name)
                .collect(),
        };
        if r.names.is_empty() {
            println!("No resources found");
            return Ok(0);
        }
    } else if r.names.is_empty() {
        bail!("give the objects to label by name or with -l SELECTOR");
    }
    let mut code = 0;
    for name in &r.names {
        let outcome = match r.kind {
            Some(kind) => label_workload(scope, kind, name, &r.changes, a.overwrite)
                .map(|changed| (kind.qualified(), changed)),
            None => label_pod(opts, scope, name, &r.changes, a.overwrite).map(|c| ("pod", c)),
        };
        match outcome {
            Ok((kind, true)) => println!("{kind}/{name} labeled"),
            Ok((kind, false)) => println!("{kind}/{name} not labeled"),
            Err(e) => {
                eprintln!("error: {e:#}");
                code = 1;
            }
        }
    }
    agent::nudge(&opts.root);
    Ok(code)
}

fn label_workload(
    scope: &Scope,
    kind: Kind,
    name: &str,
    changes: &[LabelChange],
    overwrite: bool,
) -> Result<bool> {
    Ok(edits::label(
        &scope.store()?,
        kind,
        name,
        changes,
        overwrite,
    )?)
}

fn label_pod(
    opts: &Options,
    scope: &Scope,
    name: &str,
    changes: &[LabelChange],
    overwrite: bool,
) -> Result<bool> {
    let Some(mut sandbox) = listing::find(&opts.root, &scope.namespace, name)? else {
        bail!("Error from server (NotFound): pods {name:?} not found");
    };
    let mut refused = None;
    let changed = sandbox.update_metadata(|meta| {
        let mut labels = meta.labels.take().unwrap_or_default();
        if let Err(e) = relabel(&mut labels, changes, overwrite) {
            refused = Some(e);
        }
        meta.labels = (!labels.is_empty()).then_some(labels);
    })?;
    match refused {
        Some(e) => bail!("pod/{name}: {e}"),
        None => Ok(changed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split(' ').map(String::from).collect()
    }

    #[test]
    fn names_come_before_changes() {
        let r = request(&words("pods web-1 web-2 app=v2 tier-")).unwrap();
        assert_eq!(r.kind, None);
        assert_eq!(r.names, ["web-1", "web-2"]);
        assert_eq!(
            r.changes,
            [
                LabelChange::Set("app".into(), "v2".into()),
                LabelChange::Remove("tier".into())
            ]
        );
        let r = request(&words("deploy/web deploy/api app=v2")).unwrap();
        assert_eq!(r.kind, Some(Kind::Deployment));
        assert_eq!(r.names, ["web", "api"]);
        assert!(request(&words("pod web")).is_err(), "no change");
        assert!(request(&words("pod web a=b@c")).is_err());
        assert!(request(&words("widgets web a=1")).is_err(), "unknown type");
        assert!(
            request(&words("deploy/web rs/x a=1")).is_err(),
            "mixed types"
        );
    }
}
