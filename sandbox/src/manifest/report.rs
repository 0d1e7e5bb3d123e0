//! The error and warning collector validation writes into, with Kubernetes'
//! message shapes (`Required value`, `Invalid value: "x": …`,
//! `Duplicate value: "x"`, `Not found: "x"`, `Unsupported value: …`,
//! `Forbidden: …`), so every check states its finding in one line.

use std::fmt;

use super::error::{FieldError, Invalid};

/// A Kubernetes field path under construction, e.g. `spec.containers[0]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FieldPath(String);

impl FieldPath {
    /// A top-level field such as `spec`.
    pub(super) fn root(name: &str) -> Self {
        Self(name.to_string())
    }

    /// A struct field below this one: `spec` → `spec.containers`.
    pub(super) fn key(&self, name: &str) -> Self {
        Self(format!("{}.{name}", self.0))
    }

    /// An array element: `spec.containers` → `spec.containers[0]`.
    pub(super) fn index(&self, i: usize) -> Self {
        Self(format!("{}[{i}]", self.0))
    }

    /// A map entry: `resources.limits` → `resources.limits[cpu]`.
    pub(super) fn map_key(&self, key: &str) -> Self {
        Self(format!("{}[{key}]", self.0))
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Errors and warnings found so far about one pod.
#[derive(Debug, Default)]
pub(super) struct Report {
    errors: Vec<FieldError>,
    warnings: Vec<String>,
}

impl Report {
    fn error(&mut self, field: &FieldPath, message: String) {
        self.errors.push(FieldError {
            field: field.0.clone(),
            message,
        });
    }

    /// `field: Required value`.
    pub(super) fn required(&mut self, field: &FieldPath) {
        self.error(field, "Required value".to_string());
    }

    /// `field: Required value: detail`.
    pub(super) fn required_because(&mut self, field: &FieldPath, detail: &str) {
        self.error(field, format!("Required value: {detail}"));
    }

    /// `field: Invalid value: "value": detail`.
    pub(super) fn invalid(&mut self, field: &FieldPath, value: &str, detail: &str) {
        self.error(field, format!("Invalid value: {value:?}: {detail}"));
    }

    /// `field: Invalid value: 70000: detail`, for numbers.
    pub(super) fn invalid_number(&mut self, field: &FieldPath, value: i64, detail: &str) {
        self.error(field, format!("Invalid value: {value}: {detail}"));
    }

    /// `field: Duplicate value: "value"`.
    pub(super) fn duplicate(&mut self, field: &FieldPath, value: &str) {
        self.error(field, format!("Duplicate value: {value:?}"));
    }

    /// `field: Not found: "value"` followed by `detail` when there is one.
    pub(super) fn not_found(&mut self, field: &FieldPath, value: &str, detail: Option<&str>) {
        let message = match detail {
            Some(detail) => format!("Not found: {value:?}{detail}"),
            None => format!("Not found: {value:?}"),
        };
        self.error(field, message);
    }

    /// `field: Unsupported value: "value": supported values: "a", "b"`.
    pub(super) fn unsupported(&mut self, field: &FieldPath, value: &str, supported: &[&str]) {
        let list: Vec<String> = supported.iter().map(|s| format!("{s:?}")).collect();
        self.error(
            field,
            format!(
                "Unsupported value: {value:?}: supported values: {}",
                list.join(", ")
            ),
        );
    }

    /// `field: Forbidden: detail`.
    pub(super) fn forbidden(&mut self, field: &FieldPath, detail: &str) {
        self.error(field, format!("Forbidden: {detail}"));
    }

    /// Warns that a valid field has no effect in podrt.
    pub(super) fn ignored(&mut self, field: &FieldPath) {
        self.warn(field, "not supported by podrt yet, ignored");
    }

    /// `field: message`, as a warning.
    pub(super) fn warn(&mut self, field: &FieldPath, message: &str) {
        self.warnings.push(format!("{field}: {message}"));
    }

    /// The errors so far, for a check that cannot go on; call it only after
    /// recording an error.
    pub(super) fn into_invalid(self) -> Invalid {
        Invalid {
            errors: self.errors,
        }
    }

    /// The warnings, or every error if there is one.
    pub(super) fn finish(self) -> Result<Vec<String>, Invalid> {
        if self.errors.is_empty() {
            Ok(self.warnings)
        } else {
            Err(Invalid {
                errors: self.errors,
            })
        }
    }
}
