//! `podrt logs`: a container's stdout and stderr, kept by the pod's supervisor in a
//! CRI-format log file under the pod's state directory (see
//! [`podrt_sandbox::cri_log`]); `-f` keeps following it until the container has ended.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use podrt_sandbox::cri_log::Decoder;
use podrt_sandbox::pod::Options;
use podrt_sandbox::runtime::ContainerStatus;
use podrt_sandbox::state::{listing, Sandbox};

use super::args::LogsArgs;
use super::exec::container_name;

/// Print the log; with `follow`, wait for more while the container runs.
pub(crate) fn logs(opts: &Options, scope: &super::scope::Scope, a: &LogsArgs) -> Result<i32> {
    let sandbox = listing::get(&opts.root, &scope.namespace, &a.pod)?;
    let name = container_name(&sandbox, a.container.as_deref())?;
    let path = sandbox.paths.log(&name);
    let mut file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            anyhow::bail!(
                "container {name:?} in pod {:?} is waiting to start: no logs yet",
                a.pod
            )
        }
        Err(e) => return Err(e).with_context(|| format!("opening {}", path.display())),
    };
    let mut decoder = Decoder::new(a.timestamps);
    let mut out = BufWriter::new(std::io::stdout().lock());
    if !a.follow {
        let log = read_more(&mut file, Vec::new(), &path)?;
        decoder.decode(&log, &mut out)?;
        out.flush()?;
        return Ok(0);
    }
    // Only complete lines are decoded: a record the supervisor is writing right
    // now may be half in the file, so the unfinished tail waits for the next read.
    let mut tail = Vec::new();
    loop {
        // Asked before reading, so that the read after the container has ended
        // sees all it wrote.
        let was_running = running(opts, &sandbox, &name)?;
        let before = tail.len();
        tail = read_more(&mut file, tail, &path)?;
        let arrived = tail.len() > before;
        let complete = tail.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        decoder.decode(&tail[..complete], &mut out)?;
        tail.drain(..complete);
        if !was_running && !arrived {
            // Nothing more will come: a tail without its newline is all there is
            // (plain-text output can end so).
            decoder.decode(&tail, &mut out)?;
            out.flush()?;
            return Ok(0);
        }
        out.flush()?;
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Append what the file holds past the last read to `buf`.
fn read_more(file: &mut File, mut buf: Vec<u8>, path: &Path) -> Result<Vec<u8>> {
    file.read_to_end(&mut buf)
        .with_context(|| format!("reading {}", path.display()))?;
    Ok(buf)
}

/// Whether the container's process is still there to write more output.
fn running(opts: &Options, sandbox: &Sandbox, name: &str) -> Result<bool> {
    Ok(
        listing::find(&opts.root, &sandbox.record.namespace, &sandbox.record.uid)?
            .and_then(|s| s.runtime_container(name))
            .is_some_and(|c| {
                matches!(
                    c.status(),
                    ContainerStatus::Running | ContainerStatus::Paused
                )
            }),
    )
}
