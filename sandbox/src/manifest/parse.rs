//! From text to `Pod` objects: split documents (YAML or JSON), dispatch on
//! `kind`, expand `List`s, and decode each Pod into k8s-openapi's type.
//!
//! Decoding is strict about types (a wrong type is an error naming the field
//! path) and lenient about unknown fields (a warning each), like `kubectl`.
//! Whether the values make sense is left to [`validate`](super::validate).

use k8s_openapi::api::core::v1::Pod;
use serde_json::Value;

use super::error::Error;
use super::path;
use super::Manifest;

/// An object of another kind than Pod that the caller asked to keep, with where
/// it was found.
#[derive(Debug, Clone)]
pub struct Object {
    /// Its `apiVersion`, e.g. `apps/v1`.
    pub api_version: String,
    /// Its `kind`, e.g. `Deployment`.
    pub kind: String,
    /// The object as written (`status` removed).
    pub value: Value,
    file: String,
    document: usize,
    prefix: String,
}

impl Object {
    /// `FILE: document N: ` (and `items[i]: ` inside a List), to start a message
    /// about this object.
    pub fn label(&self) -> String {
        self.place().label()
    }

    /// An error about `field` of this object (a path such as `spec.replicas`),
    /// formatted as a decoding error is.
    pub fn field_error(&self, field: &str, message: String) -> Error {
        self.place().field_error(field, message)
    }

    fn place(&self) -> Place<'_> {
        Place {
            file: &self.file,
            document: self.document,
            prefix: self.prefix.clone(),
        }
    }
}

/// Where in the input an object was found, for messages.
struct Place<'a> {
    file: &'a str,
    document: usize,
    /// `""` for a top-level object, `items[2].` inside a List.
    prefix: String,
}

impl Place<'_> {
    /// `document 2: ` or `document 2: items[0]: `, as a message prefix.
    fn label(&self) -> String {
        let mut s = format!("{}: document {}: ", self.file, self.document);
        if !self.prefix.is_empty() {
            s.push_str(self.prefix.trim_end_matches('.'));
            s.push_str(": ");
        }
        s
    }

    fn document_error(&self, message: String) -> Error {
        let message = match self.prefix.trim_end_matches('.') {
            "" => message,
            prefix => format!("{prefix}: {message}"),
        };
        Error::Document {
            file: self.file.to_string(),
            document: self.document,
            message,
        }
    }

    fn field_error(&self, field: &str, message: String) -> Error {
        let field = if field.is_empty() {
            self.prefix.trim_end_matches('.').to_string()
        } else {
            format!("{}{field}", self.prefix)
        };
        Error::Field {
            file: self.file.to_string(),
            document: self.document,
            field,
            message,
        }
    }
}

/// Parses every document of `text`; see [`super::parse`].
pub(super) fn parse(text: &str, file: &str, accept: super::Accept<'_>) -> Result<Manifest, Error> {
    let mut manifest = Manifest {
        pods: Vec::new(),
        objects: Vec::new(),
        warnings: Vec::new(),
    };
    let mut skipped = Vec::new();
    for (i, doc) in documents(text, file)?.into_iter().enumerate() {
        let place = Place {
            file,
            document: i + 1,
            prefix: String::new(),
        };
        read_object(doc, &place, accept, &mut manifest, &mut skipped)?;
    }
    if manifest.pods.is_empty() && manifest.objects.is_empty() {
        let found = if skipped.is_empty() {
            String::new()
        } else {
            format!(" (skipped: {})", skipped.join(", "))
        };
        return Err(Error::NoPod {
            file: file.to_string(),
            found,
        });
    }
    Ok(manifest)
}

/// Splits the text into documents. Text starting with `{` is tried as a JSON
/// stream first (better messages, and `{…}{…}` is not YAML); everything else,
/// and `{` text that is YAML flow syntax, goes to the YAML parser. Empty
/// documents are dropped.
pub(crate) fn documents(text: &str, file: &str) -> Result<Vec<Value>, Error> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim_start().starts_with('{') {
        let json: Result<Vec<Value>, _> = serde_json::Deserializer::from_str(text)
            .into_iter::<Value>()
            .collect();
        match json {
            Ok(docs) => return Ok(docs),
            Err(json_err) => {
                return yaml_documents(text, file).map_err(|_| Error::Json {
                    file: file.to_string(),
                    message: json_err.to_string(),
                })
            }
        }
    }
    yaml_documents(text, file)
}

fn yaml_documents(text: &str, file: &str) -> Result<Vec<Value>, Error> {
    // YAML 1.1 octals (0644 = 420), as sigs.k8s.io/yaml reads them; no
    // multi-line snippet, so the CLI prints one line.
    let options = serde_saphyr::options! {
        legacy_octal_numbers: true,
        with_snippet: false,
    };
    let docs = serde_saphyr::from_multiple_with_options::<Value>(text, options).map_err(|e| {
        let message = match (&e, e.location()) {
            (serde_saphyr::Error::DuplicateMappingKey { key: Some(key), .. }, Some(at)) => {
                format!(
                    "duplicate key {key:?} at line {}, column {}",
                    at.line(),
                    at.column()
                )
            }
            _ => e.to_string(),
        };
        Error::Yaml {
            file: file.to_string(),
            message,
        }
    })?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

/// Reads one object: a Pod is decoded, a List expanded, anything else skipped
/// with a warning.
fn read_object(
    value: Value,
    place: &Place<'_>,
    accept: super::Accept<'_>,
    manifest: &mut Manifest,
    skipped: &mut Vec<String>,
) -> Result<(), Error> {
    let mut object = match value {
        Value::Object(object) => object,
        Value::Null => return Ok(()),
        other => {
            return Err(place.document_error(format!(
                "expected a Kubernetes object (a mapping with apiVersion and kind), found {}",
                json_type(&other)
            )))
        }
    };
    let kind = match object.get("kind") {
        Some(Value::String(kind)) if !kind.is_empty() => kind.clone(),
        None | Some(Value::Null) | Some(Value::String(_)) => {
            return Err(place.document_error(
                "kind: Required value: every object needs apiVersion and kind".to_string(),
            ))
        }
        Some(other) => {
            return Err(place.field_error(
                "kind",
                format!("invalid type: {}, expected a string", json_type(other)),
            ))
        }
    };
    if kind.ends_with("List") && object.contains_key("items") {
        return read_list(&mut object, place, accept, manifest, skipped);
    }
    let api_version = match object.get("apiVersion") {
        Some(Value::String(v)) => v.as_str(),
        _ => "",
    };
    if kind != "Pod" && accept(api_version, &kind) {
        let api_version = api_version.to_string();
        if object.remove("status").is_some_and(|s| !s.is_null()) {
            manifest
                .warnings
                .push(format!("{}status is set by podrt, ignored", place.label()));
        }
        manifest.objects.push(Object {
            api_version,
            kind,
            value: Value::Object(object),
            file: place.file.to_string(),
            document: place.document,
            prefix: place.prefix.clone(),
        });
        return Ok(());
    }
    if kind != "Pod" {
        manifest.warnings.push(format!(
            "{}kind {kind} skipped: podrt runs Pods",
            place.label()
        ));
        skipped.push(kind);
        return Ok(());
    }
    match object.get("apiVersion") {
        Some(Value::String(v)) if v == "v1" => {}
        None | Some(Value::Null) => {
            return Err(place.document_error(
                "apiVersion: Required value: a Pod needs apiVersion: v1".to_string(),
            ))
        }
        Some(other) => {
            return Err(place.field_error(
                "apiVersion",
                format!("Unsupported value: {other}: a Pod has apiVersion v1"),
            ))
        }
    }
    if object.remove("status").is_some_and(|s| !s.is_null()) {
        manifest
            .warnings
            .push(format!("{}status is set by podrt, ignored", place.label()));
    }
    let pod = decode_pod(Value::Object(object), place, &mut manifest.warnings)?;
    manifest.pods.push(pod);
    Ok(())
}

fn read_list(
    object: &mut serde_json::Map<String, Value>,
    place: &Place<'_>,
    accept: super::Accept<'_>,
    manifest: &mut Manifest,
    skipped: &mut Vec<String>,
) -> Result<(), Error> {
    let items = match object.remove("items") {
        Some(Value::Array(items)) => items,
        Some(Value::Null) | None => Vec::new(),
        Some(other) => {
            return Err(place.field_error(
                "items",
                format!("invalid type: {}, expected an array", json_type(&other)),
            ))
        }
    };
    for (i, item) in items.into_iter().enumerate() {
        let inner = Place {
            file: place.file,
            document: place.document,
            prefix: format!("{}items[{i}].", place.prefix),
        };
        read_object(item, &inner, accept, manifest, skipped)?;
    }
    Ok(())
}

/// Decodes a kept object; see [`super::decode`].
pub(super) fn decode_object<T: serde::de::DeserializeOwned>(
    object: &Object,
    warnings: &mut Vec<String>,
) -> Result<T, Error> {
    decode(object.value.clone(), &object.place(), warnings)
}

/// The annotations in which Kubernetes 1.5 to 1.7 read init containers (a
/// JSON array of containers), beta first.
const INIT_CONTAINER_ANNOTATIONS: [&str; 2] = [
    "pod.beta.kubernetes.io/init-containers",
    "pod.alpha.kubernetes.io/init-containers",
];

/// Decodes a Pod, recording each unknown field as a warning and naming the
/// field path of a type error. Init containers given in the 1.5 form (an
/// annotation) become `spec.initContainers`, as the API server of those
/// versions made them.
fn decode_pod(value: Value, place: &Place<'_>, warnings: &mut Vec<String>) -> Result<Pod, Error> {
    let mut pod: Pod = decode(value, place, warnings)?;
    init_containers_from_annotation(&mut pod, place)?;
    Ok(pod)
}

/// Moves the init containers of the 1.5 annotation into the spec. Refused,
/// naming the field: JSON that is not an array of containers, an unknown field
/// in one, both annotations, or init containers given in the spec as well.
fn init_containers_from_annotation(pod: &mut Pod, place: &Place<'_>) -> Result<(), Error> {
    let annotations = pod
        .metadata
        .annotations
        .get_or_insert_with(Default::default);
    let given: Vec<&str> = INIT_CONTAINER_ANNOTATIONS
        .into_iter()
        .filter(|k| annotations.contains_key(*k))
        .collect();
    let Some(key) = given.first().copied() else {
        if annotations.is_empty() {
            pod.metadata.annotations = None;
        }
        return Ok(());
    };
    let field = format!("metadata.annotations[{key}]");
    if given.len() > 1 {
        return Err(place.field_error(
            &field,
            format!(
                "Invalid value: init containers are given in both {} and {}: give one",
                given[0], given[1]
            ),
        ));
    }
    let text = annotations.remove(key).unwrap_or_default();
    if annotations.is_empty() {
        pod.metadata.annotations = None;
    }
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| place.field_error(&field, format!("Invalid value: not JSON: {e}")))?;
    let inner = Place {
        file: place.file,
        document: place.document,
        prefix: format!("{}{field}", place.prefix),
    };
    let mut unknown = Vec::new();
    let containers: Vec<k8s_openapi::api::core::v1::Container> =
        decode(value, &inner, &mut unknown)?;
    if let Some(first) = unknown.first() {
        let path = first
            .trim_start_matches(&inner.label())
            .trim_start_matches("unknown field ")
            .trim_end_matches(", ignored");
        return Err(place.field_error(&field, format!("Invalid value: unknown field {path}")));
    }
    let spec = pod.spec.get_or_insert_with(Default::default);
    if spec.init_containers.as_ref().is_some_and(|c| !c.is_empty()) {
        return Err(place.field_error(
            &field,
            "Invalid value: init containers are given both here and in spec.initContainers: give one".to_string(),
        ));
    }
    spec.init_containers = Some(containers);
    Ok(())
}

/// Decodes an object of type `T`, recording each unknown field as a warning and
/// naming the field path of a type error.
fn decode<T: serde::de::DeserializeOwned>(
    value: Value,
    place: &Place<'_>,
    warnings: &mut Vec<String>,
) -> Result<T, Error> {
    let mut unknown = Vec::new();
    let result: Result<T, _> = {
        let mut record = |p: serde_ignored::Path<'_>| unknown.push(path::from_ignored(&p));
        let ignoring = serde_ignored::Deserializer::new(value, &mut record);
        serde_path_to_error::deserialize(ignoring)
    };
    let label = place.label();
    for field in unknown {
        warnings.push(format!(
            "{label}unknown field {}{field}, ignored",
            place.prefix
        ));
    }
    result.map_err(|e| place.field_error(&path::from_tracked(e.path()), e.inner().to_string()))
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a sequence",
        Value::Object(_) => "a mapping",
    }
}
