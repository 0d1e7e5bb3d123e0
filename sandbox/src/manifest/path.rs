//! Field paths in Kubernetes' spelling: `spec.containers[1].ports[0].name`,
//! `spec.containers[0].resources.limits[memory]`.
//!
//! serde_ignored and serde_path_to_error each track where they are in their
//! own way; both are turned into [`Segment`]s here so every message podrt
//! prints names a field the same way `kubectl` would.

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Segment {
    /// A struct field or map key.
    Key(String),
    /// An array index.
    Index(usize),
}

/// Fields whose values are maps with user-chosen keys: their keys are written
/// `[key]`, like array indexes, because they may contain dots (`app.kubernetes.io/name`).
const MAP_FIELDS: &[&str] = &[
    "labels",
    "annotations",
    "nodeSelector",
    "limits",
    "requests",
    "overhead",
    "volumeAttributes",
];

/// Renders segments as a Kubernetes field path.
pub(super) fn render(segments: &[Segment]) -> String {
    let mut out = String::new();
    let mut parent_is_map = false;
    for segment in segments {
        match segment {
            Segment::Index(i) => {
                out.push_str(&format!("[{i}]"));
                parent_is_map = false;
            }
            Segment::Key(key) if parent_is_map => {
                out.push_str(&format!("[{key}]"));
                parent_is_map = false;
            }
            Segment::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
                parent_is_map = MAP_FIELDS.contains(&key.as_str());
            }
        }
    }
    out
}

/// The path of a field serde_ignored reported as unknown.
pub(super) fn from_ignored(path: &serde_ignored::Path<'_>) -> String {
    let mut reversed = Vec::new();
    let mut at = path;
    loop {
        at = match at {
            serde_ignored::Path::Root => break,
            serde_ignored::Path::Seq { parent, index } => {
                reversed.push(Segment::Index(*index));
                parent
            }
            serde_ignored::Path::Map { parent, key } => {
                reversed.push(Segment::Key(key.clone()));
                parent
            }
            serde_ignored::Path::Some { parent }
            | serde_ignored::Path::NewtypeStruct { parent }
            | serde_ignored::Path::NewtypeVariant { parent } => parent,
        };
    }
    reversed.reverse();
    render(&reversed)
}

/// The path of the field serde_path_to_error stopped at.
pub(super) fn from_tracked(path: &serde_path_to_error::Path) -> String {
    let segments: Vec<Segment> = path
        .iter()
        .map(|s| match s {
            serde_path_to_error::Segment::Seq { index } => Segment::Index(*index),
            serde_path_to_error::Segment::Map { key } => Segment::Key(key.clone()),
            serde_path_to_error::Segment::Enum { variant } => Segment::Key(variant.clone()),
            serde_path_to_error::Segment::Unknown => Segment::Key("?".to_string()),
        })
        .collect();
    render(&segments)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> Segment {
        Segment::Key(k.to_string())
    }

    #[test]
    fn renders_kubernetes_style() {
        let p = [
            key("spec"),
            key("containers"),
            Segment::Index(1),
            key("name"),
        ];
        assert_eq!(render(&p), "spec.containers[1].name");
        let p = [
            key("spec"),
            key("containers"),
            Segment::Index(0),
            key("resources"),
            key("limits"),
            key("memory"),
        ];
        assert_eq!(render(&p), "spec.containers[0].resources.limits[memory]");
        let p = [
            key("metadata"),
            key("labels"),
            key("app.kubernetes.io/name"),
        ];
        assert_eq!(render(&p), "metadata.labels[app.kubernetes.io/name]");
        assert_eq!(render(&[]), "");
    }
}
