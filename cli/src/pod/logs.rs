//! `podrt logs`: a container's stdout and stderr, kept in a file under the pod's
//! state directory; `-f` keeps following it until the container has ended.

use std::io::{Read, Seek, SeekFrom, Write};
use std::time::Duration;

use anyhow::{Context, Result};
use podrt_sandbox::pod::{self, Options};
use podrt_sandbox::runtime::ContainerStatus;

use super::args::LogsArgs;
use super::exec::container_name;

/// Print the log; with `follow`, wait for more while the container runs.
pub fn logs(opts: &Options, a: &LogsArgs) -> Result<i32> {
    let sandbox = pod::get(&opts.root, &a.pod)?;
    let name = container_name(&sandbox, a.container.as_deref())?;
    let path = sandbox.paths.log(&name);
    let mut file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            anyhow::bail!(
                "container {name:?} in pod {:?} is waiting to start: no logs yet",
                a.pod
            )
        }
        Err(e) => return Err(e).with_context(|| format!("opening {}", path.display())),
    };
    let mut out = std::io::stdout().lock();
    let mut pos = 0u64;
    loop {
        let mut buf = Vec::new();
        file.seek(SeekFrom::Start(pos))
            .and_then(|_| file.read_to_end(&mut buf))
            .with_context(|| format!("reading {}", path.display()))?;
        pos += buf.len() as u64;
        out.write_all(&buf)?;
        out.flush()?;
        if !a.follow {
            return Ok(0);
        }
        let running = pod::find(&opts.root, &sandbox.record.uid)?
            .and_then(|s| s.runtime_container(&name))
            .map(|c| {
                matches!(
                    c.status(),
                    ContainerStatus::Running | ContainerStatus::Paused
                )
            })
            .unwrap_or(false);
        if !running && buf.is_empty() {
            return Ok(0);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
