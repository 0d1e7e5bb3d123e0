//! `edit KIND NAME`: kubectl's edit loop without an API server. The object is
//! written as YAML to a temporary file, the user's editor (`$KUBE_EDITOR`,
//! `$EDITOR`, else `vi`) runs on it, and what comes back is checked and stored
//! exactly as `apply` would store it. A workload may change anything an apply
//! may; a pod only its labels and annotations (a pod is never changed in
//! place); a Service or a PodSecurityPolicy anything, checked as `apply`
//! checks it. An edit that is refused keeps the user's file and names it, so
//! nothing typed is lost.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Command as Process;

use anyhow::{bail, Context, Result};
use podrt_node::objects::{Kind, ServiceNetwork, Workload};
use podrt_sandbox::image::ImageStore;
use podrt_sandbox::lifecycle::status;
use podrt_sandbox::manifest;
use podrt_sandbox::pod::{pulls, Options};
use podrt_sandbox::policy::Policy;
use podrt_sandbox::state::listing;

use super::commands::{check_kind, Mode};
use super::print;
use super::scope::Scope;
use super::workloads;

/// `edit TYPE NAME` (or `TYPE/NAME`).
pub(crate) fn edit(
    opts: &Options,
    state_dir: &Scope,
    words: &[String],
    policy: Option<&Policy>,
    net: &ServiceNetwork,
) -> Result<i32> {
    let (type_word, name) = match words {
        [one] => match one.split_once('/') {
            Some((t, n)) if !n.is_empty() => (t.to_string(), n.to_string()),
            _ => bail!("{one:?}: give the object as TYPE/NAME or TYPE NAME"),
        },
        [t, n] => (t.clone(), n.clone()),
        _ => bail!("edit takes one object: TYPE/NAME or TYPE NAME"),
    };
    match Kind::from_word(&type_word) {
        Some(kind) => edit_workload(opts, state_dir, kind, &name, policy),
        None if super::psps::is_word(&type_word) => edit_psp(state_dir, &name),
        None if super::services::is_word(&type_word) => edit_service(state_dir, &name, net),
        None => {
            check_kind(&type_word)?;
            edit_pod(opts, state_dir, &name)
        }
    }
}

fn edit_workload(
    opts: &Options,
    state_dir: &Scope,
    kind: Kind,
    name: &str,
    policy: Option<&Policy>,
) -> Result<i32> {
    let Some(current) = workloads::stored(state_dir, kind, name)? else {
        bail!(
            "Error from server (NotFound): {} {name:?} not found",
            kind.plural()
        );
    };
    let before = match &current {
        Workload::Deployment(d) => print::objects_yaml(&[d], true)?,
        Workload::ReplicaSet(r) => print::objects_yaml(&[r], true)?,
        Workload::DaemonSet(d) => print::objects_yaml(&[d], true)?,
        Workload::StatefulSet(s) => print::objects_yaml(&[s], true)?,
        Workload::Job(j) => print::objects_yaml(&[j], true)?,
    };
    let Some(file) = run_editor(&before, &format!("{}-{name}", kind.qualified()))? else {
        return Ok(0);
    };
    let checked = (|| -> Result<Vec<Workload>> {
        let parsed = manifest::parse_file_with(&file, &Workload::accepts)?;
        if !parsed.pods.is_empty() || parsed.objects.len() != 1 {
            bail!(
                "the edited file must hold the one {} it was",
                kind.qualified()
            );
        }
        let images = ImageStore::open(&opts.image_root)?;
        // An image the store lacks is pulled by the new pods' supervisors.
        let templates: Vec<Workload> = parsed
            .objects
            .iter()
            .filter_map(|o| Workload::decode(o, &mut Vec::new()).ok())
            .collect();
        let exists = |image: &str| {
            images.resolve(image).is_ok()
                || templates.iter().any(|w| {
                    w.pod_spec()
                        .is_some_and(|s| pulls::will_pull(opts.pulling.as_ref(), s, image))
                })
        };
        let (found, _) =
            workloads::check(&parsed.objects, state_dir, &exists, policy, Mode::Apply)?;
        if let Some(w) = found.first() {
            if w.kind() != kind || w.name() != name || w.namespace() != state_dir.namespace {
                bail!(
                    "{}/{name}: the kind and name of an object cannot be changed by edit (got {})",
                    kind.qualified(),
                    w.reference()
                );
            }
        }
        Ok(found)
    })();
    match checked {
        Ok(found) => {
            workloads::store(opts, state_dir, found, Some("edited"))?;
            let _ = std::fs::remove_file(&file);
            Ok(0)
        }
        Err(e) => refused(e, &file),
    }
}

/// `edit svc NAME`: checked and completed on save as `apply` does (the
/// cluster IP may not change; node ports stay unless changed).
fn edit_service(scope: &Scope, name: &str, net: &ServiceNetwork) -> Result<i32> {
    let before = super::services::yaml_of(scope, name)?;
    let Some(file) = run_editor(&before, &format!("service-{name}"))? else {
        return Ok(0);
    };
    let checked = manifest::parse_file_with(&file, &super::namespaces::accepts)
        .map_err(anyhow::Error::from)
        .and_then(|mut parsed| {
            let ([o], true) = (parsed.objects.as_slice(), parsed.pods.is_empty()) else {
                bail!("the edited file must hold the one service it was");
            };
            let got = o.value["metadata"]["name"].as_str().unwrap_or_default();
            if o.kind != "Service" || got != name {
                bail!(
                    "service/{name}: the kind and name of an object cannot be changed by edit (got {}/{got})",
                    o.kind.to_ascii_lowercase()
                );
            }
            let made = super::services::take(&mut parsed.objects, scope, net)?;
            if !parsed.objects.is_empty() {
                bail!("the edited file must hold the one service it was");
            }
            made.the_edited(&scope.namespace, name)?;
            made.store_edited(scope, net)
        });
    match checked {
        Ok(()) => {
            let _ = std::fs::remove_file(&file);
            Ok(0)
        }
        Err(e) => refused(e, &file),
    }
}

/// `edit psp NAME`: checked on save as `create` checks a policy.
fn edit_psp(scope: &Scope, name: &str) -> Result<i32> {
    let before = super::psps::yaml_of(scope, name)?;
    let Some(file) = run_editor(&before, &format!("podsecuritypolicy-{name}"))? else {
        return Ok(0);
    };
    let checked = manifest::parse_file_with(&file, &super::psps::accepts)
        .map_err(anyhow::Error::from)
        .and_then(|parsed| {
            if !parsed.pods.is_empty() {
                bail!("the edited file must hold the one podsecuritypolicy.policy it was");
            }
            super::psps::store_edited(scope, name, parsed.objects)
        });
    match checked {
        Ok(()) => {
            let _ = std::fs::remove_file(&file);
            Ok(0)
        }
        Err(e) => refused(e, &file),
    }
}

fn edit_pod(opts: &Options, scope: &Scope, name: &str) -> Result<i32> {
    let Some(mut sandbox) = listing::find(&opts.root, &scope.namespace, name)? else {
        bail!("Error from server (NotFound): pods {name:?} not found");
    };
    let pod = status::pod_object(&sandbox);
    let Some(file) = run_editor(
        &print::to_yaml(std::slice::from_ref(&pod))?,
        &format!("pod-{name}"),
    )?
    else {
        return Ok(0);
    };
    let checked = (|| -> Result<_> {
        let parsed = manifest::parse_file_with(&file, &|_, _| false)?;
        let [edited] = parsed.pods.as_slice() else {
            bail!("the edited file must hold the one pod it was");
        };
        if edited.metadata.name.as_deref() != Some(name) {
            bail!("pods {name:?}: the name of a pod cannot be changed");
        }
        if edited.spec != pod.spec {
            bail!("pods {name:?} is invalid: spec: Forbidden: podrt changes only the labels and annotations of a running pod (delete it and apply the new spec)");
        }
        for (key, value) in edited.metadata.labels.iter().flatten() {
            manifest::names::qualified_name(key)
                .and_then(|()| manifest::names::label_value(value))
                .map_err(|e| anyhow::anyhow!("pods {name:?} is invalid: metadata.labels: Invalid value: {key}={value:?}: {e}"))?;
        }
        Ok((
            edited.metadata.labels.clone(),
            edited.metadata.annotations.clone(),
        ))
    })();
    match checked {
        Ok((labels, annotations)) => {
            let changed = sandbox.update_metadata(|meta| {
                meta.labels = labels;
                meta.annotations = annotations;
            })?;
            let _ = std::fs::remove_file(&file);
            if changed {
                println!("pod/{name} edited");
            } else {
                println!("Edit cancelled, no changes made.");
            }
            podrt_node::agent::nudge(&opts.root);
            Ok(0)
        }
        Err(e) => refused(e, &file),
    }
}

/// kubectl's answer to a refused edit: the error, and where the user's copy is.
fn refused(e: anyhow::Error, file: &Path) -> Result<i32> {
    eprintln!("error: {e:#}");
    eprintln!(
        "A copy of your changes has been stored to {:?}",
        file.display().to_string()
    );
    Ok(1)
}

/// Writes `text` to a private temporary file, runs the editor on it, and
/// returns the file if the text changed (else says so, removes it and returns
/// none).
fn run_editor(text: &str, stem: &str) -> Result<Option<PathBuf>> {
    let dir = std::env::temp_dir();
    let file = dir.join(format!("podrt-edit-{stem}-{}.yaml", std::process::id()));
    let header = "# Please edit the object below. Lines beginning with a '#' will be ignored,\n# and an empty file will abort the edit.\n#\n";
    // A new file only (create_new), readable by root alone: /tmp is shared.
    let _ = std::fs::remove_file(&file);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&file)
        .and_then(|mut f| f.write_all(format!("{header}{text}").as_bytes()))
        .with_context(|| format!("writing {}", file.display()))?;
    let editor = ["KUBE_EDITOR", "EDITOR"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|e| !e.trim().is_empty()))
        .unwrap_or_else(|| "vi".to_string());
    // As kubectl and git do: the editor setting may carry arguments.
    let status = Process::new("/bin/sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(&file)
        .status()
        .with_context(|| format!("running the editor {editor:?}"))?;
    if !status.success() {
        bail!(
            "the editor {editor:?} exited with {status}; your copy is {}",
            file.display()
        );
    }
    let after =
        std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
    let body = |t: &str| {
        t.lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n")
    };
    if body(&after).trim().is_empty() || body(&after) == body(text) {
        let _ = std::fs::remove_file(&file);
        println!("Edit cancelled, no changes made.");
        return Ok(None);
    }
    Ok(Some(file))
}
