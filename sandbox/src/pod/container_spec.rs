//! One Kubernetes container → one OCI runtime spec, with kubelet's rules: the image
//! config fills what the manifest leaves out (`command` replaces Entrypoint, `args`
//! replaces Cmd), `$(VAR)` references expand, the pod's shared namespaces are joined
//! by their pins, and the container's cgroup sits below the pod's.

use std::collections::HashMap;
use std::path::PathBuf;

use k8s_openapi::api::core::v1::{Container, PodSpec};
use oci_spec::runtime::{
    LinuxBuilder, LinuxCapabilitiesBuilder, LinuxCpuBuilder, LinuxMemoryBuilder,
    LinuxNamespaceBuilder, LinuxNamespaceType, LinuxResourcesBuilder, Mount, ProcessBuilder,
    RootBuilder, Spec, UserBuilder,
};

use crate::error::{Error, Result};
use crate::image::ImageConfig;
use crate::manifest::ContainerResources;
use crate::security::{self, ContainerSecurity, SecurityOptions};

/// The CFS period podrt uses for cpu limits (kubelet's default).
const CPU_PERIOD: u64 = 100_000;

/// Namespaces a container joins by path; `None` makes a new one (pid) or keeps the
/// host's (net/ipc/uts with hostNetwork/hostIPC).
#[derive(Debug, Clone, Default)]
pub struct JoinPaths {
    /// The pod's network namespace pin.
    pub(crate) net: Option<PathBuf>,
    /// The pod's IPC namespace pin.
    pub(crate) ipc: Option<PathBuf>,
    /// The pod's UTS namespace pin.
    pub(crate) uts: Option<PathBuf>,
    /// The pod's shared PID namespace (`shareProcessNamespace`).
    pub(crate) pid: Option<PathBuf>,
    /// `hostPID`: no PID namespace of its own, the host's.
    pub(crate) host_pid: bool,
    /// The pod's own user namespace pin and the first host id of its range
    /// (`hostUsers: false`).
    pub(crate) user: Option<(PathBuf, u32)>,
}

/// Everything a container's spec is made from.
#[derive(Debug)]
pub struct SpecInput<'a> {
    /// The container in the manifest.
    pub container: &'a Container,
    /// Where it is in the manifest (`spec.containers[0]`), for messages.
    pub field: &'a str,
    /// Its image's config.
    pub image: &'a ImageConfig,
    /// The mounted root filesystem.
    pub rootfs: PathBuf,
    /// The pod's hostname (for `HOSTNAME`).
    pub hostname: &'a str,
    /// Shared namespaces to join.
    pub join: JoinPaths,
    /// Volume and pod-file mounts.
    pub mounts: Vec<Mount>,
    /// Its cgroup path.
    pub cgroups_path: String,
    /// Its validated resources.
    pub resources: &'a ContainerResources,
    /// The pod's spec (its security context and sysctls).
    pub pod: &'a PodSpec,
    /// Installation-wide security settings.
    pub security: &'a SecurityOptions,
}

/// Build the runtime spec of one container.
pub fn build(input: &SpecInput) -> Result<Spec> {
    let c = input.container;
    let unsupported = |field: &str, message: &str| Error::Unsupported {
        field: format!("{}.{field}", input.field),
        message: message.to_string(),
    };
    if c.tty == Some(true) || c.stdin == Some(true) {
        return Err(unsupported(
            "tty",
            "attached terminals and stdin are not supported yet; use podrt exec -it",
        ));
    }
    let env = environment(input)?;
    let vars: HashMap<&str, &str> = env.iter().filter_map(|e| e.split_once('=')).collect();
    let argv: Vec<String> = command_line(c, input.image)
        .iter()
        .map(|a| expand(a, &vars))
        .collect();
    if argv.is_empty() {
        return Err(unsupported(
            "command",
            "nothing to run: the image has no Entrypoint or Cmd, so give command",
        ));
    }
    let cwd = c
        .working_dir
        .clone()
        .filter(|w| !w.is_empty())
        .or_else(|| input.image.working_dir.clone().filter(|w| !w.is_empty()))
        .unwrap_or_else(|| "/".into());
    let sec = security::for_container(
        input.pod.security_context.as_ref(),
        c,
        input.field,
        input.security,
    )?;
    let (uid, gid, from_image) = user(input.image, input, &sec)?;
    sec.check_non_root(uid, from_image)?;
    let caps = sec.capabilities.clone();
    let built = |e: oci_spec::OciSpecError| unsupported("", &e.to_string());
    let process = ProcessBuilder::default()
        .args(argv)
        .env(env)
        .cwd(cwd)
        .user(
            UserBuilder::default()
                .uid(uid)
                .gid(gid)
                .additional_gids(sec.additional_gids.clone())
                .build()
                .map_err(built)?,
        )
        .capabilities(
            LinuxCapabilitiesBuilder::default()
                .bounding(caps.clone())
                .effective(caps.clone())
                .permitted(caps)
                .inheritable(std::collections::HashSet::new())
                .ambient(std::collections::HashSet::new())
                .build()
                .map_err(built)?,
        )
        .no_new_privileges(sec.no_new_privileges)
        .build()
        .map_err(built)?;
    let mut spec = Spec::default();
    spec.set_hostname(None);
    spec.set_process(Some(process));
    spec.set_root(Some(
        RootBuilder::default()
            .path(input.rootfs.clone())
            .readonly(sec.read_only_root)
            .build()
            .map_err(built)?,
    ));
    let mut mounts: Vec<Mount> = spec
        .mounts()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m.destination().as_path() != std::path::Path::new("/dev/shm"))
        .collect();
    mounts.extend(input.mounts.iter().cloned());
    spec.set_mounts(Some(mounts));
    let sysctls = security::sysctls::for_pod(input.pod)?;
    spec.set_linux(Some(linux_section(input, &sec, sysctls).map_err(built)?));
    if sec.privileged {
        security::privileged::apply(&mut spec);
    }
    if input.join.user.is_some() {
        // The runtime makes the mounts as the host's root and enters the pod's user
        // namespace just before the process takes its identity.
        let mut annotations = spec.annotations().clone().unwrap_or_default();
        annotations.insert(
            podrt_runtime::namespaces::LATE_USERNS_ANNOTATION.to_string(),
            "true".to_string(),
        );
        spec.set_annotations(Some(annotations));
    }
    Ok(spec)
}

/// Namespaces, cgroup, resources, sysctls, seccomp and the `/proc` masks.
fn linux_section(
    input: &SpecInput,
    sec: &ContainerSecurity,
    sysctls: HashMap<String, String>,
) -> std::result::Result<oci_spec::runtime::Linux, oci_spec::OciSpecError> {
    let defaults = Spec::default().linux().clone().unwrap_or_default();
    let (masked, readonly) = if sec.unmasked_proc {
        (Vec::new(), Vec::new())
    } else {
        (
            defaults.masked_paths().clone().unwrap_or_default(),
            defaults.readonly_paths().clone().unwrap_or_default(),
        )
    };
    let mut b = LinuxBuilder::default()
        .namespaces(namespaces(&input.join)?)
        .cgroups_path(PathBuf::from(&input.cgroups_path))
        .resources(resources(input.resources)?)
        .masked_paths(masked)
        .readonly_paths(readonly);
    if !sysctls.is_empty() {
        b = b.sysctl(sysctls);
    }
    if let Some(filter) = &sec.seccomp {
        b = b.seccomp(filter.clone());
    }
    if let Some((_, first)) = &input.join.user {
        let map = oci_spec::runtime::LinuxIdMappingBuilder::default()
            .container_id(0u32)
            .host_id(*first)
            .size(crate::userns::RANGE_SIZE)
            .build()?;
        b = b.uid_mappings(vec![map]).gid_mappings(vec![map]);
    }
    b.build()
}

/// kubelet's rule: `command` replaces the Entrypoint (and drops Cmd), `args`
/// replaces Cmd.
pub(crate) fn command_line(c: &Container, image: &ImageConfig) -> Vec<String> {
    let command = c.command.clone().unwrap_or_default();
    let args = c.args.clone().unwrap_or_default();
    if !command.is_empty() {
        return command.into_iter().chain(args).collect();
    }
    let rest = if args.is_empty() {
        image.cmd.clone()
    } else {
        args
    };
    image.entrypoint.iter().cloned().chain(rest).collect()
}

/// Image env, then `HOSTNAME`, then the manifest's `env` (later wins), with `$(VAR)`
/// in values expanded against what came before, as kubelet does.
fn environment(input: &SpecInput) -> Result<Vec<String>> {
    let mut env: Vec<(String, String)> = Vec::new();
    let set = |env: &mut Vec<(String, String)>, k: String, v: String| {
        env.retain(|(name, _)| *name != k);
        env.push((k, v));
    };
    for kv in &input.image.env {
        if let Some((k, v)) = kv.split_once('=') {
            set(&mut env, k.into(), v.into());
        }
    }
    if !env.iter().any(|(k, _)| k == "PATH") {
        set(
            &mut env,
            "PATH".into(),
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
        );
    }
    set(&mut env, "HOSTNAME".into(), input.hostname.into());
    for (i, var) in input.container.env.iter().flatten().enumerate() {
        if var.value_from.is_some() {
            return Err(Error::Unsupported {
                field: format!("{}.env[{i}].valueFrom", input.field),
                message: "podrt has no API server to take values from; give value".into(),
            });
        }
        let vars: HashMap<&str, &str> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let value = expand(var.value.as_deref().unwrap_or(""), &vars);
        set(&mut env, var.name.clone(), value);
    }
    Ok(env.into_iter().map(|(k, v)| format!("{k}={v}")).collect())
}

/// Expand `$(VAR)` references; `$$(VAR)` escapes to a literal `$(VAR)`, and an
/// unknown variable is left as written (kubelet's rules).
pub(crate) fn expand(s: &str, vars: &HashMap<&str, &str>) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('(') {
            match body.find(')') {
                Some(end) => {
                    let name = &body[..end];
                    match vars.get(name) {
                        Some(v) => out.push_str(v),
                        None => out.push_str(&format!("$({name})")),
                    }
                    rest = &body[end + 1..];
                }
                None => {
                    out.push_str("$(");
                    rest = body;
                }
            }
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// uid/gid from `runAsUser`/`runAsGroup` (container, else pod), else the image's
/// `User` (numeric, or a name looked up in the image's /etc/passwd and
/// /etc/group); and whether the uid is the image's.
fn user(
    image: &ImageConfig,
    input: &SpecInput,
    sec: &ContainerSecurity,
) -> Result<(u32, u32, bool)> {
    let (mut uid, mut gid) = (0u32, 0u32);
    if let Some(u) = image.user.as_deref().filter(|u| !u.is_empty()) {
        let (user, group) = match u.split_once(':') {
            Some((a, b)) => (a, Some(b)),
            None => (u, None),
        };
        let (found_uid, primary) =
            lookup(&input.rootfs, "etc/passwd", user).ok_or_else(|| Error::Unsupported {
                field: format!("{}.image", input.field),
                message: format!("the image's user {user:?} is not in its /etc/passwd"),
            })?;
        uid = found_uid;
        gid = primary;
        if let Some(g) = group {
            gid = lookup(&input.rootfs, "etc/group", g)
                .map(|(id, _)| id)
                .ok_or_else(|| Error::Unsupported {
                    field: format!("{}.image", input.field),
                    message: format!("the image's group {g:?} is not in its /etc/group"),
                })?;
        }
    }
    if let Some(g) = sec.run_as_group {
        gid = g;
    }
    match sec.run_as_user {
        Some(u) => Ok((u, gid, false)),
        None => Ok((uid, gid, true)),
    }
}

/// A numeric id, or the id (and, for passwd, primary gid) of `name` in the rootfs file.
fn lookup(rootfs: &std::path::Path, file: &str, name: &str) -> Option<(u32, u32)> {
    if let Ok(n) = name.parse::<u32>() {
        let primary = std::fs::read_to_string(rootfs.join(file))
            .ok()
            .and_then(|t| {
                t.lines()
                    .map(|l| l.split(':').collect::<Vec<_>>())
                    .find(|f| f.get(2) == Some(&name))
                    .and_then(|f| f.get(3).and_then(|g| g.parse().ok()))
            })
            .unwrap_or(0);
        return Some((n, primary));
    }
    let text = std::fs::read_to_string(rootfs.join(file)).ok()?;
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.first() != Some(&name) {
            return None;
        }
        let id = f.get(2)?.parse().ok()?;
        let primary = f.get(3).and_then(|g| g.parse().ok()).unwrap_or(id);
        Some((id, primary))
    })
}

fn namespaces(
    join: &JoinPaths,
) -> std::result::Result<Vec<oci_spec::runtime::LinuxNamespace>, oci_spec::OciSpecError> {
    let ns = |typ, path: Option<&PathBuf>| {
        let mut b = LinuxNamespaceBuilder::default().typ(typ);
        if let Some(p) = path {
            b = b.path(p.clone());
        }
        b.build()
    };
    let mut list = vec![
        ns(LinuxNamespaceType::Mount, None)?,
        ns(LinuxNamespaceType::Cgroup, None)?,
    ];
    if !join.host_pid {
        list.insert(0, ns(LinuxNamespaceType::Pid, join.pid.as_ref())?);
    }
    let user = join.user.as_ref().map(|(p, _)| p.clone());
    for (typ, path) in [
        (LinuxNamespaceType::Network, &join.net),
        (LinuxNamespaceType::Ipc, &join.ipc),
        (LinuxNamespaceType::Uts, &join.uts),
        (LinuxNamespaceType::User, &user),
    ] {
        if let Some(p) = path {
            list.push(ns(typ, Some(p))?);
        }
    }
    Ok(list)
}

/// Memory and cpu from `resources`, as kubelet sets them: limit → memory limit and
/// CFS quota, cpu request → shares. The device cgroup starts by denying every
/// device, as the OCI default spec does; the runtime then allows the default
/// `/dev` nodes (a privileged container's rules are replaced whole).
fn resources(
    r: &ContainerResources,
) -> std::result::Result<oci_spec::runtime::LinuxResources, oci_spec::OciSpecError> {
    let deny_all = oci_spec::runtime::LinuxDeviceCgroupBuilder::default()
        .allow(false)
        .access("rwm")
        .build()?;
    let mut b = LinuxResourcesBuilder::default().devices(vec![deny_all]);
    if let Some(bytes) = r.memory_limit {
        b = b.memory(LinuxMemoryBuilder::default().limit(bytes as i64).build()?);
    }
    let mut cpu = LinuxCpuBuilder::default();
    let mut any_cpu = false;
    if let Some(m) = r.cpu_limit_millis {
        cpu = cpu
            .quota((m * CPU_PERIOD / 1000).max(1000) as i64)
            .period(CPU_PERIOD);
        any_cpu = true;
    }
    if let Some(m) = r.cpu_request_millis.or(r.cpu_limit_millis) {
        cpu = cpu.shares((m * 1024 / 1000).max(2));
        any_cpu = true;
    }
    if any_cpu {
        b = b.cpu(cpu.build()?);
    }
    b.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(json: serde_json::Value) -> Container {
        serde_json::from_value(json).unwrap()
    }

    fn image(entrypoint: &[&str], cmd: &[&str]) -> ImageConfig {
        ImageConfig {
            entrypoint: entrypoint.iter().map(|s| s.to_string()).collect(),
            cmd: cmd.iter().map(|s| s.to_string()).collect(),
            ..ImageConfig::default()
        }
    }

    #[test]
    fn command_and_args_follow_kubelet() {
        let img = image(&["/ep"], &["cmd"]);
        let none = container(serde_json::json!({"name": "a"}));
        assert_eq!(command_line(&none, &img), ["/ep", "cmd"]);
        let args = container(serde_json::json!({"name": "a", "args": ["x"]}));
        assert_eq!(command_line(&args, &img), ["/ep", "x"]);
        let cmd = container(serde_json::json!({"name": "a", "command": ["sh"]}));
        assert_eq!(command_line(&cmd, &img), ["sh"]);
        let both =
            container(serde_json::json!({"name": "a", "command": ["sh"], "args": ["-c", "true"]}));
        assert_eq!(command_line(&both, &img), ["sh", "-c", "true"]);
    }

    #[test]
    fn expands_variables_as_kubelet() {
        let vars = HashMap::from([("A", "1"), ("B", "two")]);
        assert_eq!(expand("$(A)-$(B)", &vars), "1-two");
        assert_eq!(expand("$$(A)", &vars), "$(A)");
        assert_eq!(expand("$(C) $A $(", &vars), "$(C) $A $(");
    }
}
