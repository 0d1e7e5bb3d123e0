//! Label selectors as Kubernetes evaluates them: `matchLabels` and
//! `matchExpressions` (In, NotIn, Exists, DoesNotExist), all of which must hold.
//! An empty selector matches everything; controllers refuse one beforehand.
//! [`parse`] reads kubectl's `-l` text into the same type, so a command line
//! selects exactly as a controller does.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use podrt_sandbox::manifest::names;

/// Whether `labels` satisfy `selector`.
pub fn matches(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let by_labels = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let by_expressions = selector.match_expressions.iter().flatten().all(|e| {
        let value = labels.get(&e.key);
        let values = e.values.as_deref().unwrap_or_default();
        match e.operator.as_str() {
            "In" => value.is_some_and(|v| values.contains(v)),
            "NotIn" => value.is_none_or(|v| !values.contains(v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            // Refused by validation; never matches if one slipped through.
            _ => false,
        }
    });
    by_labels && by_expressions
}

/// Whether the selector selects nothing in particular (no label, no expression).
pub fn is_empty(selector: &LabelSelector) -> bool {
    selector.match_labels.as_ref().is_none_or(|m| m.is_empty())
        && selector
            .match_expressions
            .as_ref()
            .is_none_or(|e| e.is_empty())
}

/// The problems of the selector's expressions (operator, values), as
/// `(field under the selector, message)`.
pub fn check(selector: &LabelSelector) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (i, e) in selector.match_expressions.iter().flatten().enumerate() {
        let field = format!("matchExpressions[{i}]");
        let n = e.values.as_ref().map_or(0, Vec::len);
        match e.operator.as_str() {
            "In" | "NotIn" if n == 0 => out.push((
                format!("{field}.values"),
                "Required value: must be specified when `operator` is 'In' or 'NotIn'".into(),
            )),
            "Exists" | "DoesNotExist" if n > 0 => out.push((
                format!("{field}.values"),
                "Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
                    .into(),
            )),
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            other => out.push((
                format!("{field}.operator"),
                format!("Invalid value: {other:?}: not a valid selector operator"),
            )),
        }
    }
    out
}

/// kubectl's rendering: `app=web,tier in (a,b)`.
pub fn render(selector: &LabelSelector) -> String {
    let mut parts: Vec<String> = selector
        .match_labels
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    for e in selector.match_expressions.iter().flatten() {
        let values = e.values.as_deref().unwrap_or_default().join(",");
        parts.push(match e.operator.as_str() {
            "In" => format!("{} in ({values})", e.key),
            "NotIn" => format!("{} notin ({values})", e.key),
            "Exists" => e.key.clone(),
            "DoesNotExist" => format!("!{}", e.key),
            other => format!("{} {other} ({values})", e.key),
        });
    }
    parts.join(",")
}

/// Reads kubectl's `-l` syntax: requirements separated by commas, each
/// `key=value` (or `==`), `key!=value`, `key in (a,b)`, `key notin (a,b)`,
/// `key` (exists) or `!key` (does not exist). Keys and values are checked as
/// Kubernetes checks labels; the error names the requirement.
pub fn parse(text: &str) -> Result<LabelSelector, String> {
    let mut expressions = Vec::new();
    for part in split_top_level(text) {
        let part = part.trim();
        if part.is_empty() {
            return Err(format!("{text:?}: an empty requirement"));
        }
        expressions.push(requirement(part).map_err(|e| format!("{part:?}: {e}"))?);
    }
    Ok(LabelSelector {
        match_labels: None,
        match_expressions: (!expressions.is_empty()).then_some(expressions),
    })
}

/// The text split at the commas that are not inside a value set's parentheses.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if !text.trim().is_empty() {
        parts.push(&text[start..]);
    }
    parts
}

fn requirement(part: &str) -> Result<LabelSelectorRequirement, String> {
    let make = |key: &str, operator: &str, values: Vec<String>| {
        let key = key.trim();
        names::qualified_name(key).map_err(|e| format!("key {key:?}: {e}"))?;
        for v in &values {
            names::label_value(v).map_err(|e| format!("value {v:?}: {e}"))?;
        }
        Ok(LabelSelectorRequirement {
            key: key.to_string(),
            operator: operator.to_string(),
            values: (!values.is_empty()).then_some(values),
        })
    };
    if let Some(key) = part.strip_prefix('!') {
        return make(key, "DoesNotExist", Vec::new());
    }
    if let Some(open) = part.find('(') {
        let head = part[..open].trim_end();
        let (key, operator) = if let Some(k) = head.strip_suffix(" notin") {
            (k, "NotIn")
        } else if let Some(k) = head.strip_suffix(" in") {
            (k, "In")
        } else {
            return Err("expected `KEY in (VALUES)` or `KEY notin (VALUES)`".into());
        };
        let Some(inner) = part[open + 1..].strip_suffix(')') else {
            return Err("the value set needs its closing parenthesis".into());
        };
        let values: Vec<String> = inner.split(',').map(|v| v.trim().to_string()).collect();
        return make(key, operator, values);
    }
    if let Some((key, value)) = part.split_once("!=") {
        return make(key, "NotIn", vec![value.trim().to_string()]);
    }
    if let Some((key, value)) = part.split_once("==").or_else(|| part.split_once('=')) {
        return make(key, "In", vec![value.trim().to_string()]);
    }
    make(part, "Exists", Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn expr(key: &str, op: &str, values: &[&str]) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: (!values.is_empty()).then(|| values.iter().map(|v| v.to_string()).collect()),
        }
    }

    #[test]
    fn labels_and_expressions_must_all_hold() {
        let sel = LabelSelector {
            match_labels: Some(labels(&[("app", "web")])),
            match_expressions: Some(vec![
                expr("tier", "In", &["a", "b"]),
                expr("canary", "DoesNotExist", &[]),
                expr("env", "NotIn", &["prod"]),
            ]),
        };
        assert!(matches(&sel, &labels(&[("app", "web"), ("tier", "a")])));
        assert!(!matches(&sel, &labels(&[("app", "web"), ("tier", "c")])));
        assert!(!matches(&sel, &labels(&[("app", "db"), ("tier", "a")])));
        assert!(!matches(
            &sel,
            &labels(&[("app", "web"), ("tier", "a"), ("canary", "1")])
        ));
        assert!(!matches(
            &sel,
            &labels(&[("app", "web"), ("tier", "a"), ("env", "prod")])
        ));
        assert_eq!(
            render(&sel),
            "app=web,tier in (a,b),!canary,env notin (prod)"
        );
        assert!(!is_empty(&sel));
        assert!(is_empty(&LabelSelector::default()));
    }

    #[test]
    fn bad_expressions_are_named() {
        let sel = LabelSelector {
            match_labels: None,
            match_expressions: Some(vec![
                expr("a", "In", &[]),
                expr("b", "Exists", &["x"]),
                expr("c", "Near", &["x"]),
            ]),
        };
        let found: Vec<String> = check(&sel).into_iter().map(|(f, _)| f).collect();
        assert_eq!(
            found,
            [
                "matchExpressions[0].values",
                "matchExpressions[1].values",
                "matchExpressions[2].operator"
            ]
        );
    }

    #[test]
    fn command_line_selectors_read_as_kubectl_reads_them() {
        let sel = parse("app=web,tier in (a, b),!canary,env!=prod,track").unwrap();
        assert!(matches(
            &sel,
            &labels(&[("app", "web"), ("tier", "b"), ("track", "x")])
        ));
        assert!(!matches(
            &sel,
            &labels(&[
                ("app", "web"),
                ("tier", "b"),
                ("track", "x"),
                ("env", "prod")
            ])
        ));
        assert!(!matches(&sel, &labels(&[("app", "web"), ("tier", "b")])));
        assert_eq!(
            render(&sel),
            "app in (web),tier in (a,b),!canary,env notin (prod),track"
        );
        assert!(matches(&parse("a==1").unwrap(), &labels(&[("a", "1")])));
        assert!(matches(
            &parse("x notin (1,2)").unwrap(),
            &labels(&[("x", "3")])
        ));
        assert!(is_empty(&parse("").unwrap()));
        // An empty value is a valid label value.
        assert!(matches(&parse("app=").unwrap(), &labels(&[("app", "")])));
        for bad in ["=web", "a,,b", "tier in (a", "tier within (a)", "bad key=1"] {
            assert!(parse(bad).is_err(), "{bad} should be refused");
        }
    }
}
