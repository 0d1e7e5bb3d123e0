//! `podrt policy check`: every pod of a manifest, or of every manifest under
//! a directory, judged by a policy without creating anything, so manifests
//! can be checked in CI without a cluster. A file that does not parse is a
//! verdict of its own, not the end of the run.

use std::path::{Path, PathBuf};

use super::{Policy, Violation};
use crate::manifest;

/// What the policy says about one pod (or one unreadable file).
#[derive(Debug, Clone)]
pub struct Verdict {
    /// The manifest file.
    pub file: PathBuf,
    /// The pod's name (`generateName` with a `*` when that is all it has), empty for a file error.
    pub pod: String,
    /// Allowed, refused, or why the file could not be read.
    pub outcome: Outcome,
}

/// The outcome of one check.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The policy admits the pod.
    Allowed,
    /// The rules it breaks.
    Refused(Vec<Violation>),
    /// The file could not be read or parsed.
    Error(String),
}

/// Judges every pod of `path` (a file, or a directory searched recursively
/// for `.yaml`, `.yml` and `.json` files in name order; there, files that
/// hold other kinds of objects only are passed over).
pub fn check_path(path: &Path, policy: &Policy) -> std::io::Result<Vec<Verdict>> {
    let mut files = Vec::new();
    let dir = std::fs::metadata(path)?.is_dir();
    if dir {
        collect(path, &mut files)?;
    } else {
        files.push(path.to_path_buf());
    }
    let mut out = Vec::new();
    for file in files {
        match manifest::parse_file(&file) {
            Err(manifest::Error::NoPod { .. }) if dir => {}
            Err(e) => out.push(Verdict {
                file,
                pod: String::new(),
                outcome: Outcome::Error(e.to_string()),
            }),
            Ok(m) => {
                for pod in m.pods {
                    let name = match (&pod.metadata.name, &pod.metadata.generate_name) {
                        (Some(n), _) => n.clone(),
                        (None, Some(g)) => format!("{g}*"),
                        (None, None) => String::new(),
                    };
                    let outcome = match policy.admit(&pod) {
                        Ok(_) => Outcome::Allowed,
                        Err(r) => Outcome::Refused(r.violations),
                    };
                    out.push(Verdict {
                        file: file.clone(),
                        pod: name,
                        outcome,
                    });
                }
            }
        }
    }
    Ok(out)
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect(&p, files)?;
        } else if p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
        {
            files.push(p);
        }
    }
    Ok(())
}
