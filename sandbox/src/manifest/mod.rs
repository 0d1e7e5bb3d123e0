//! Pod manifests: the edge where user YAML becomes checked data.
//!
//! [`parse`] turns YAML or JSON (one or several documents) into k8s-openapi
//! `Pod`s, warning about what podrt ignores; [`validate`] then checks one pod
//! completely, before anything is created, and returns a [`ValidPod`] whose
//! numbers (bytes, millicores, seconds) the sandbox can use without
//! re-parsing. Nothing here touches the kernel except `hostPath` checks.

mod containers;
mod error;
mod host_users;
mod parse;
mod path;
mod ports;
mod report;
mod resources;
mod spec;
mod unsupported;
mod valid;
mod volumes;

pub mod names;
pub mod pull_policy;
pub(crate) mod quantity;

#[cfg(test)]
mod tests;

use std::io::Read;
use std::path::Path;

use k8s_openapi::api::core::v1::Pod;

pub use error::{Error, Invalid};
pub(crate) use host_users::shares_host;
pub(crate) use valid::{ContainerResources, PodSettings, RestartPolicy, ValidPod};

pub use parse::Object;

/// The pods of a manifest file, in file order, and what podrt ignored in it.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// Every Pod of the file (List items expanded), not yet validated.
    pub pods: Vec<Pod>,
    /// The objects of other kinds that the caller asked for ([`parse_with`]), in
    /// file order, not yet decoded.
    pub objects: Vec<Object>,
    /// One line each: unknown fields, skipped kinds, ignored `status`.
    pub warnings: Vec<String>,
}

/// Which objects besides Pods a caller reads: `(apiVersion, kind)` → whether to
/// keep it in [`Manifest::objects`].
pub type Accept<'a> = &'a dyn Fn(&str, &str) -> bool;

/// Parses YAML or JSON, one or several documents (`---`). `source` names the
/// text in messages (usually the file name).
///
/// A document of another kind (Service, Deployment, …) is skipped with a
/// warning; a `List` is expanded; a file with no Pod is an error.
pub fn parse(text: &str, source: &str) -> Result<Manifest, Error> {
    parse::parse(text, source, &|_, _| false)
}

/// [`parse`], keeping the objects `accept` names in [`Manifest::objects`]
/// instead of skipping them; a file with neither a Pod nor such an object is an
/// error.
pub fn parse_with(text: &str, source: &str, accept: Accept<'_>) -> Result<Manifest, Error> {
    parse::parse(text, source, accept)
}

/// Decodes one kept object into its type, as Pods are decoded: a wrong type is an
/// error naming the document and the field path; each unknown field is a
/// warning pushed to `warnings`.
pub fn decode<T: serde::de::DeserializeOwned>(
    object: &Object,
    warnings: &mut Vec<String>,
) -> Result<T, Error> {
    parse::decode_object(object, warnings)
}

/// The volume sources set on `v`, spelled as the Pod fields are (`emptyDir`,
/// `hostPath`, `cephfs`, …).
pub(crate) fn volume_sources(v: &k8s_openapi::api::core::v1::Volume) -> Vec<&'static str> {
    volumes::set_sources(v)
}

/// Splits YAML or JSON text into its non-empty documents, unparsed (for other
/// documents podrt reads, such as PodSecurityPolicy files).
pub(crate) fn documents(text: &str, source: &str) -> Result<Vec<serde_json::Value>, Error> {
    parse::documents(text, source)
}

/// Reads and parses a manifest file; `-` reads standard input.
pub fn parse_file(path: &Path) -> Result<Manifest, Error> {
    parse_file_with(path, &|_, _| false)
}

/// [`parse_file`] with [`parse_with`]'s `accept`.
pub fn parse_file_with(path: &Path, accept: Accept<'_>) -> Result<Manifest, Error> {
    let read_error = |source| Error::Read {
        path: path.to_path_buf(),
        source,
    };
    if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(read_error)?;
        return parse_with(&text, "stdin", accept);
    }
    let text = std::fs::read_to_string(path).map_err(read_error)?;
    parse_with(&text, &path.display().to_string(), accept)
}

/// Validates one pod before anything is created, collecting every error.
///
/// `image_exists` answers whether an image reference is in podrt's store.
/// `hostPath` volumes of a type that must already exist are checked on this
/// host now. A pod with only `metadata.generateName` gets its name generated
/// here, once, in [`ValidPod::name`].
pub fn validate(pod: &Pod, image_exists: &dyn Fn(&str) -> bool) -> Result<ValidPod, Invalid> {
    spec::validate(pod, image_exists, false)
}

/// [`validate`] for a pod sandbox made before its containers, as kubelet makes
/// them over the CRI: it may have no container yet.
pub fn validate_sandbox(
    pod: &Pod,
    image_exists: &dyn Fn(&str) -> bool,
) -> Result<ValidPod, Invalid> {
    spec::validate(pod, image_exists, true)
}

/// The [`PodSettings`] of a pod validated before, by the same rules as
/// [`validate`] (a value it would refuse takes the default). For records written
/// before podrt kept the settings in them.
pub(crate) fn settings_of(pod: &Pod) -> PodSettings {
    let spec = pod.spec.clone().unwrap_or_default();
    spec::settings(&spec, &mut report::Report::default())
}
