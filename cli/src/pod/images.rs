//! The image verbs: `images`/`image ls` in podman's columns, `image pull` with
//! its progress, `image inspect`, `image rm` (refused while a pod uses the image,
//! unless `--force` deletes those pods first, as `podman rmi --force` does its
//! containers), `image prune`. The store and the pods' use of it live in podrt-sandbox.

use anyhow::{bail, Result};
use podrt_sandbox::config::Config;
use podrt_sandbox::image::registry::Quiet;
use podrt_sandbox::image::ImageStore;
use podrt_sandbox::pod::image_users::image_users;
use podrt_sandbox::pod::Options;

use super::args::{Cli, ImageCommand};
use super::print::age::human_duration_nanos;
use super::pull_progress::PullProgress;

/// Run one `image …` verb.
pub(crate) fn run(
    cli: &Cli,
    config: &Config,
    opts: &Options,
    command: &ImageCommand,
) -> Result<i32> {
    let store = ImageStore::open(&opts.image_root)?;
    match command {
        ImageCommand::Import { path, name } => {
            for img in store.import(path, name.as_deref())? {
                println!("Loaded image: {} ({})", img.name, img.id);
            }
        }
        ImageCommand::Pull { name, quiet } => {
            let registries = config.registry_options(cli.registry_config.as_deref());
            let img = if *quiet {
                store.pull(name, &registries, &Quiet)?
            } else {
                eprintln!("Trying to pull {name}...");
                let progress = PullProgress::new();
                let img = store.pull(name, &registries, &progress)?;
                progress.finish();
                eprintln!("Pulled {} ({})", img.name, human_size(img.size));
                img
            };
            println!("{}", img.id.trim_start_matches("sha256:"));
        }
        ImageCommand::Ls => list(&store)?,
        ImageCommand::Inspect { names } => {
            let details = names
                .iter()
                .map(|n| store.inspect(n))
                .collect::<Result<Vec<_>, _>>()?;
            println!("{}", serde_json::to_string_pretty(&details)?);
        }
        ImageCommand::Rm { names, force } => {
            for name in names {
                remove(opts, &store, name, *force)?;
            }
        }
        ImageCommand::Prune { all } => prune(opts, &store, *all)?,
    }
    Ok(0)
}

/// `podrt images`.
pub(crate) fn list(store: &ImageStore) -> Result<()> {
    let now = jiff::Timestamp::now();
    println!(
        "{:<45} {:<15} {:<12} {:<10} {:>8}",
        "REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"
    );
    for i in store.list()? {
        let (repo, tag) = split_name(&i.name);
        let id = i.id.trim_start_matches("sha256:");
        let created = i
            .created
            .as_deref()
            .and_then(|c| c.parse::<jiff::Timestamp>().ok())
            .map(|t| {
                human_duration_nanos((now - t).total(jiff::Unit::Nanosecond).unwrap_or(0.0) as i128)
            })
            .map_or_else(|| "<unknown>".to_string(), |d| format!("{d} ago"));
        println!(
            "{:<45} {:<15} {:<12} {:<10} {:>8}",
            repo,
            tag,
            &id[..id.len().min(12)],
            created,
            human_size(i.size)
        );
    }
    Ok(())
}

/// `docker.io/library/busybox:1.36` → (`docker.io/library/busybox`, `1.36`); a
/// name by digest has the tag `<none>`.
fn split_name(name: &str) -> (&str, &str) {
    if let Some((repo, _)) = name.split_once('@') {
        return (
            repo.rsplit_once(':')
                .filter(|(_, t)| !t.contains('/'))
                .map_or(repo, |(r, _)| r),
            "<none>",
        );
    }
    match name.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo, tag),
        _ => (name, "<none>"),
    }
}

/// `image rm NAME`: untag; delete the image when it was its last name, unless a
/// pod uses it; with `force`, delete those pods first (each with its own grace
/// period, as `podrt delete pod` does).
fn remove(opts: &Options, store: &ImageStore, reference: &str, force: bool) -> Result<()> {
    let (name, id, others) = store.names(reference)?;
    if others.is_empty() {
        if let Some(pods) = image_users(&opts.root, store)?.get(&id) {
            if !force {
                bail!(
                    "image {name} is in use by pod {}: delete the pod first, or use --force",
                    pods.join(", pod ")
                );
            }
            for pod in pods {
                let (namespace, pod_name) = pod.split_once('/').unwrap_or(("default", pod));
                let errors =
                    podrt_node::delete_pods(&opts.root, namespace, &[pod_name.to_string()], None);
                podrt_node::agent::nudge(&opts.root);
                if let Some(e) = errors.first() {
                    bail!("image rm --force {name}: {e}, which uses it");
                }
                println!("pod \"{pod_name}\" deleted");
            }
        }
    }
    store.remove(&name)?;
    println!("Untagged: {name}");
    if others.is_empty() {
        println!("Deleted: {}", id.trim_start_matches("sha256:"));
    }
    Ok(())
}

/// `image prune [-a]`: layers no image uses; with `-a`, also every image no pod
/// uses.
fn prune(opts: &Options, store: &ImageStore, all: bool) -> Result<()> {
    let mut doomed = Vec::new();
    if all {
        let users = image_users(&opts.root, store)?;
        doomed = store
            .list()?
            .into_iter()
            .filter(|i| !users.contains_key(&i.id))
            .map(|i| i.name)
            .collect();
    }
    let freed = store.prune(&doomed)?;
    for name in &doomed {
        println!("Untagged: {name}");
    }
    println!("Total reclaimed space: {}", human_size(freed));
    Ok(())
}

/// Bytes in podman's units (kB, MB, GB: powers of 1000).
pub(crate) fn human_size(bytes: u64) -> String {
    let units = ["B", "kB", "MB", "GB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < units.len() {
        v /= 1000.0;
        u += 1;
    }
    format!("{v:.1}{}", units[u])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_into_repository_and_tag() {
        assert_eq!(
            split_name("docker.io/library/busybox:1.36"),
            ("docker.io/library/busybox", "1.36")
        );
        assert_eq!(
            split_name("127.0.0.1:5000/a/b:t"),
            ("127.0.0.1:5000/a/b", "t")
        );
        assert_eq!(
            split_name("127.0.0.1:5000/a/b"),
            ("127.0.0.1:5000/a/b", "<none>")
        );
        assert_eq!(
            split_name("127.0.0.1:5000/a@sha256:00"),
            ("127.0.0.1:5000/a", "<none>")
        );
    }
}
