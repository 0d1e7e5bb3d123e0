//! `podrt exec`: run a command in one container of a pod, with that container's
//! environment, user and privileges, and pass its exit status through.

use anyhow::{bail, Result};
use podrt_sandbox::pod::Options;
use podrt_sandbox::runtime::exec::{exec_with_terminal, ExecOptions};
use podrt_sandbox::runtime::{tty_proxy, wait};
use podrt_sandbox::state::{listing, Sandbox};

use super::args::ExecArgs;

/// Run it; returns the command's exit status (128+N when killed by signal N).
pub(crate) fn exec(opts: &Options, scope: &super::scope::Scope, a: &ExecArgs) -> Result<i32> {
    let sandbox = listing::get(&opts.root, &scope.namespace, &a.pod)?;
    let name = container_name(&sandbox, a.container.as_deref())?;
    let Some(c) = sandbox.runtime_container(&name) else {
        bail!("container {name} of pod {} has not been created", a.pod);
    };
    let spec = c.spec()?;
    let mut process = spec.process().clone().unwrap_or_default();
    process.set_args(Some(a.command.clone()));
    process.set_terminal(Some(a.tty));
    let options = ExecOptions {
        proxy_terminal: a.tty,
        ..ExecOptions::default()
    };
    wait::block_signals();
    let (pid, master) = exec_with_terminal(&c, &process, &options)?;
    Ok(match master {
        Some(m) => tty_proxy::proxy(m, pid)?,
        None => wait::wait_forwarding(pid)?,
    })
}

/// The container asked for, or the first app container (kubectl's default, noted on
/// stderr when the pod has several).
pub(crate) fn container_name(sandbox: &Sandbox, asked: Option<&str>) -> Result<String> {
    let spec = sandbox.record.manifest.spec.clone().unwrap_or_default();
    let all: Vec<String> = spec
        .init_containers
        .iter()
        .flatten()
        .chain(spec.containers.iter())
        .map(|c| c.name.clone())
        .collect();
    match asked {
        Some(n) if all.iter().any(|c| c == n) => Ok(n.to_string()),
        Some(n) => bail!(
            "container {n} is not valid for pod {}: choose one of: [{}]",
            sandbox.record.name,
            all.join(" ")
        ),
        None => {
            let first = spec
                .containers
                .first()
                .map(|c| c.name.clone())
                .unwrap_or_default();
            if spec.containers.len() > 1 {
                let names: Vec<&str> = spec.containers.iter().map(|c| c.name.as_str()).collect();
                eprintln!(
                    "Defaulted container \"{first}\" out of: {}",
                    names.join(", ")
                );
            }
            Ok(first)
        }
    }
}
