//! `wait --for=condition=COND TYPE/NAME… [--timeout=30s]` and `wait
//! --for=delete`: kubectl's verb, for pods (their `status.conditions`: Ready,
//! Initialized, ContainersReady, PodScheduled) and the stored workloads (a
//! Deployment's Available or Progressing, a Job's Complete or Failed). It reads
//! the objects every 100 ms until each meets the condition or the timeout
//! passes; `condition=X=false` waits for the condition to be False.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use podrt_node::objects::Kind;
use podrt_sandbox::lifecycle::status;
use podrt_sandbox::pod::Options;
use podrt_sandbox::state::listing;
use serde_json::Value;

use super::args::WaitArgs;
use super::scope::Scope;
use super::workloads;

/// What a target must come to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Wanted {
    /// The condition of this type with this status (`True`, `False`).
    Condition(String, String),
    /// Gone.
    Deleted,
}

fn wanted(text: &str) -> Result<Wanted> {
    if text == "delete" {
        return Ok(Wanted::Deleted);
    }
    let Some(rest) = text.strip_prefix("condition=") else {
        bail!("--for={text:?}: want condition=NAME[=true|false] or delete");
    };
    let (name, value) = rest.split_once('=').unwrap_or((rest, "true"));
    let value = match value.to_ascii_lowercase().as_str() {
        "true" => "True",
        "false" => "False",
        other => {
            bail!("--for={text:?}: the condition's value must be true or false, not {other:?}")
        }
    };
    if name.is_empty() {
        bail!("--for={text:?}: name the condition");
    }
    Ok(Wanted::Condition(name.to_string(), value.to_string()))
}

/// What a target names: a pod or a workload, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Pod(String),
    Workload(Kind, String),
}

impl Target {
    fn shown(&self) -> String {
        match self {
            Target::Pod(n) => format!("pod/{n}"),
            Target::Workload(k, n) => format!("{}/{n}", k.qualified()),
        }
    }

    fn plural(&self) -> &'static str {
        match self {
            Target::Pod(_) => "pods",
            Target::Workload(k, _) => k.plural(),
        }
    }
}

fn targets(words: &[String]) -> Result<Vec<Target>> {
    let one = |kind: &str, name: &str| -> Result<Target> {
        if name.is_empty() {
            bail!("{kind}/: name the object");
        }
        match Kind::from_word(kind) {
            Some(k) => Ok(Target::Workload(k, name.to_string())),
            None if matches!(kind, "pod" | "pods" | "po") => Ok(Target::Pod(name.to_string())),
            None => bail!(
                "the server doesn't have a resource type {kind:?} to wait on (pods and workloads)"
            ),
        }
    };
    match words {
        [kind, names @ ..] if !kind.contains('/') && !names.is_empty() => {
            names.iter().map(|n| one(kind, n)).collect()
        }
        _ => words
            .iter()
            .map(|w| match w.split_once('/') {
                Some((k, n)) => one(k, n),
                None => bail!("{w:?}: give TYPE/NAME (e.g. pod/web) or the type then the names"),
            })
            .collect(),
    }
}

/// The object as JSON, if it exists.
fn read(opts: &Options, scope: &Scope, target: &Target) -> Result<Option<Value>> {
    Ok(match target {
        Target::Pod(name) => listing::find(&opts.root, &scope.namespace, name)?
            .map(|s| serde_json::to_value(status::pod_object(&s)))
            .transpose()?,
        Target::Workload(kind, name) => workloads::stored(scope, *kind, name)?
            .map(|w| w.to_json())
            .transpose()?,
    })
}

fn meets(object: Option<&Value>, wanted: &Wanted) -> bool {
    match (object, wanted) {
        (None, Wanted::Deleted) => true,
        (Some(_), Wanted::Deleted) | (None, Wanted::Condition(..)) => false,
        (Some(o), Wanted::Condition(name, value)) => o["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| {
                c["type"]
                    .as_str()
                    .is_some_and(|t| t.eq_ignore_ascii_case(name))
                    && c["status"] == value.as_str()
            }),
    }
}

/// `wait`: 0 when every target met the condition, else kubectl's error.
pub(crate) fn wait(opts: &Options, scope: &Scope, a: &WaitArgs) -> Result<i32> {
    let wanted = wanted(&a.condition)?;
    let targets = targets(&a.targets)?;
    let deadline = Instant::now() + a.timeout;
    for target in &targets {
        loop {
            let object = read(opts, scope, target)?;
            if object.is_none() && matches!(wanted, Wanted::Condition(..)) && a.timeout.is_zero() {
                bail!(
                    "Error from server (NotFound): {} {:?} not found",
                    target.plural(),
                    name_of(target)
                );
            }
            if meets(object.as_ref(), &wanted) {
                println!("{} condition met", target.shown());
                break;
            }
            if Instant::now() >= deadline {
                bail!(
                    "timed out waiting for the condition on {}",
                    target.shown().replacen('/', "s/", 1)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    Ok(0)
}

fn name_of(target: &Target) -> &str {
    match target {
        Target::Pod(n) | Target::Workload(_, n) => n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_and_targets_read_as_kubectl_writes_them() {
        assert_eq!(
            wanted("condition=Ready").unwrap(),
            Wanted::Condition("Ready".into(), "True".into())
        );
        assert_eq!(
            wanted("condition=Ready=false").unwrap(),
            Wanted::Condition("Ready".into(), "False".into())
        );
        assert_eq!(wanted("delete").unwrap(), Wanted::Deleted);
        assert!(wanted("Ready").is_err());
        assert!(wanted("condition=Ready=maybe").is_err());
        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            targets(&words(&["pod/a", "deploy/web"])).unwrap(),
            [
                Target::Pod("a".into()),
                Target::Workload(Kind::Deployment, "web".into())
            ]
        );
        assert_eq!(
            targets(&words(&["pods", "a", "b"])).unwrap(),
            [Target::Pod("a".into()), Target::Pod("b".into())]
        );
        assert!(targets(&words(&["svc/a"])).is_err());
        let ready =
            serde_json::json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}});
        assert!(meets(Some(&ready), &wanted("condition=ready").unwrap()));
        assert!(!meets(
            Some(&ready),
            &wanted("condition=Ready=false").unwrap()
        ));
        assert!(meets(None, &Wanted::Deleted));
    }
}
