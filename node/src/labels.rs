//! What `kubectl label` does to an object's labels: `key=value` sets, `key-`
//! removes, and a key that already has another value changes only with
//! `--overwrite`. Pods and stored workloads are relabelled with the same rules,
//! so this knows nothing of where the labels live.

use std::collections::BTreeMap;

use podrt_sandbox::manifest::names;

/// One word of `label`'s command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelChange {
    /// `key=value`.
    Set(String, String),
    /// `key-`.
    Remove(String),
}

impl LabelChange {
    /// Whether `word` is a change rather than an object's name (names carry
    /// neither `=` nor a trailing `-`).
    pub fn is_change(word: &str) -> bool {
        word.contains('=') || word.ends_with('-')
    }

    /// Reads `key=value` or `key-`, checking the key and value as Kubernetes
    /// checks labels.
    pub fn parse(word: &str) -> Result<LabelChange, String> {
        if let Some((key, value)) = word.split_once('=') {
            names::qualified_name(key).map_err(|e| format!("invalid label key {key:?}: {e}"))?;
            names::label_value(value).map_err(|e| format!("invalid label value {value:?}: {e}"))?;
            return Ok(LabelChange::Set(key.to_string(), value.to_string()));
        }
        match word.strip_suffix('-') {
            Some(key) => {
                names::qualified_name(key)
                    .map_err(|e| format!("invalid label key {key:?}: {e}"))?;
                Ok(LabelChange::Remove(key.to_string()))
            }
            None => Err(format!(
                "{word:?}: a label change is KEY=VALUE or KEY- (to remove it)"
            )),
        }
    }
}

/// Applies `changes` to `labels`; whether they changed. A key with another
/// value is refused unless `overwrite`, naming the key, before anything is
/// changed; removing a key that is not there does nothing.
pub fn relabel(
    labels: &mut BTreeMap<String, String>,
    changes: &[LabelChange],
    overwrite: bool,
) -> Result<bool, String> {
    if !overwrite {
        for c in changes {
            if let LabelChange::Set(key, value) = c {
                if let Some(old) = labels.get(key).filter(|old| *old != value) {
                    return Err(format!(
                        "{key:?} already has a value ({old}), and --overwrite is false"
                    ));
                }
            }
        }
    }
    let before = labels.clone();
    for c in changes {
        match c {
            LabelChange::Set(key, value) => {
                labels.insert(key.clone(), value.clone());
            }
            LabelChange::Remove(key) => {
                labels.remove(key);
            }
        }
    }
    Ok(*labels != before)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changes(words: &[&str]) -> Vec<LabelChange> {
        words
            .iter()
            .map(|w| LabelChange::parse(w).unwrap())
            .collect()
    }

    #[test]
    fn words_are_sets_and_removals_checked_as_labels() {
        assert_eq!(
            changes(&["app=web", "tier-", "empty="]),
            [
                LabelChange::Set("app".into(), "web".into()),
                LabelChange::Remove("tier".into()),
                LabelChange::Set("empty".into(), String::new()),
            ]
        );
        assert!(LabelChange::parse("bad key=1").is_err());
        assert!(LabelChange::parse("app=not valid").is_err());
        assert!(LabelChange::parse("app").is_err());
        assert!(LabelChange::is_change("a=b") && LabelChange::is_change("a-"));
        assert!(!LabelChange::is_change("web-0"));
    }

    #[test]
    fn another_value_needs_overwrite_and_nothing_changes_without_it() {
        let mut labels: BTreeMap<String, String> = [("app".to_string(), "web".to_string())].into();
        let err = relabel(&mut labels, &changes(&["new=1", "app=db"]), false).unwrap_err();
        assert!(err.contains("\"app\" already has a value (web)"), "{err}");
        assert_eq!(labels.len(), 1, "nothing changed: {labels:?}");
        assert!(!relabel(&mut labels, &changes(&["app=web", "gone-"]), false).unwrap());
        assert!(relabel(&mut labels, &changes(&["app=db", "new=1"]), true).unwrap());
        assert_eq!(labels["app"], "db");
        assert!(relabel(&mut labels, &changes(&["new-"]), false).unwrap());
        assert!(!labels.contains_key("new"));
    }
}
