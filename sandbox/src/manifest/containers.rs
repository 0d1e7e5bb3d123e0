//! Per-container checks: names (unique across init, app and ephemeral
//! containers, since `logs -c` and `exec -c` select by name), images (which
//! must be in podrt's store or be pulled by apply before the pod is made), environment,
//! ports, mounts and resources.

use std::collections::HashSet;

use k8s_openapi::api::core::v1::{Container, EnvFromSource, EnvVar, PodSpec};

use super::names;
use super::ports::{validate_ports, PodPorts};
use super::report::{FieldPath, Report};
use super::resources::validate_resources;
use super::unsupported;
use super::valid::ContainerResources;
use super::volumes::validate_mounts;

/// What every container check needs to know about the pod.
pub(super) struct PodContext<'a> {
    /// Names of `spec.volumes`, for `volumeMounts[].name`.
    pub(crate) volume_names: HashSet<&'a str>,
    /// Whether an image reference is in podrt's store.
    pub(crate) image_exists: &'a dyn Fn(&str) -> bool,
    /// `spec.hostNetwork`.
    pub(crate) host_network: bool,
    /// A pod sandbox made before its containers (over the CRI) may have none.
    pub(crate) containers_optional: bool,
}

/// Validates every container of the pod; returns their resources, init
/// containers first, then app containers.
pub(super) fn validate_containers(
    spec: &PodSpec,
    ctx: &PodContext<'_>,
    report: &mut Report,
) -> Vec<ContainerResources> {
    let spec_path = FieldPath::root("spec");
    let mut names = HashSet::new();
    let mut pod_ports = PodPorts::default();
    let mut out = Vec::new();
    let init = spec.init_containers.as_deref().unwrap_or(&[]);
    for (i, c) in init.iter().enumerate() {
        let path = spec_path.key("initContainers").index(i);
        out.push(container(c, &path, None, ctx, &mut names, report));
    }
    if spec.containers.is_empty() && !ctx.containers_optional {
        report.required(&spec_path.key("containers"));
    }
    for (i, c) in spec.containers.iter().enumerate() {
        let path = spec_path.key("containers").index(i);
        out.push(container(
            c,
            &path,
            Some(&mut pod_ports),
            ctx,
            &mut names,
            report,
        ));
    }
    let ephemeral = spec.ephemeral_containers.as_deref().unwrap_or(&[]);
    for (i, c) in ephemeral.iter().enumerate() {
        let path = spec_path.key("ephemeralContainers").index(i);
        check_name(&c.name, &path.key("name"), &mut names, report);
        report.ignored(&path);
    }
    out
}

/// One init (`pod_ports` is None) or app container.
fn container<'a>(
    c: &'a Container,
    path: &FieldPath,
    pod_ports: Option<&mut PodPorts>,
    ctx: &PodContext<'_>,
    names: &mut HashSet<&'a str>,
    report: &mut Report,
) -> ContainerResources {
    let init = pod_ports.is_none();
    check_name(&c.name, &path.key("name"), names, report);
    check_image(
        c.image.as_deref(),
        c.image_pull_policy.as_deref() == Some("Never"),
        &path.key("image"),
        ctx.image_exists,
        report,
    );
    let ports = c.ports.as_deref().unwrap_or(&[]);
    validate_ports(ports, path, ctx.host_network, pod_ports, report);
    for (i, var) in c.env.as_deref().unwrap_or(&[]).iter().enumerate() {
        check_env(var, &path.key("env").index(i), report);
    }
    for (i, from) in c.env_from.as_deref().unwrap_or(&[]).iter().enumerate() {
        check_env_from(from, &path.key("envFrom").index(i), report);
    }
    let mounts = c.volume_mounts.as_deref().unwrap_or(&[]);
    validate_mounts(mounts, path, &ctx.volume_names, report);
    unsupported::container(c, path, init, report);
    validate_resources(c.resources.as_ref(), &c.name, path, report)
}

/// A DNS-1123 label, unique among all the pod's containers.
fn check_name<'a>(
    name: &'a str,
    field: &FieldPath,
    seen: &mut HashSet<&'a str>,
    report: &mut Report,
) {
    if name.is_empty() {
        report.required(field);
    } else if let Err(e) = names::dns1123_label(name) {
        report.invalid(field, name, &e);
    } else if !seen.insert(name) {
        report.duplicate(field, name);
    }
}

fn check_image(
    image: Option<&str>,
    never_pull: bool,
    field: &FieldPath,
    image_exists: &dyn Fn(&str) -> bool,
    report: &mut Report,
) {
    match image {
        None | Some("") => report.required(field),
        Some(image) if image.trim() != image => {
            report.invalid(field, image, "must not have leading or trailing whitespace")
        }
        Some(image) if !image_exists(image) => {
            let how = if never_pull {
                ": the image is not present with pull policy of Never (ErrImageNeverPull)"
            } else {
                ": pull it with podrt image pull, or import it with podrt image import"
            };
            report.not_found(field, image, Some(how))
        }
        Some(_) => {}
    }
}

fn check_env(var: &EnvVar, path: &FieldPath, report: &mut Report) {
    let name_field = path.key("name");
    if var.name.is_empty() {
        report.required(&name_field);
    } else if let Err(e) = names::env_var_name(&var.name) {
        report.invalid(&name_field, &var.name, &e);
    }
    let Some(from) = &var.value_from else {
        return;
    };
    let from_field = path.key("valueFrom");
    if var.value.as_deref().is_some_and(|v| !v.is_empty()) {
        report.invalid(
            &from_field,
            "",
            "may not be specified when `value` is not empty",
        );
    }
    if from.config_map_key_ref.is_some() || from.secret_key_ref.is_some() {
        report.forbidden(
            &from_field,
            "podrt has no ConfigMaps or Secrets; set the variable with value",
        );
    } else if from.file_key_ref.is_some() {
        report.forbidden(&from_field.key("fileKeyRef"), "not supported by podrt");
    } else {
        // fieldRef and resourceFieldRef: the downward API.
        report.ignored(&from_field);
    }
}

fn check_env_from(from: &EnvFromSource, path: &FieldPath, report: &mut Report) {
    if from.config_map_ref.is_some() || from.secret_ref.is_some() {
        report.forbidden(
            path,
            "podrt has no ConfigMaps or Secrets; set variables with env",
        );
    }
    if let Some(prefix) = from.prefix.as_deref().filter(|p| !p.is_empty()) {
        if let Err(e) = names::env_var_name(prefix) {
            report.invalid(&path.key("prefix"), prefix, &e);
        }
    }
}
