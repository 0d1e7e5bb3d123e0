//! The `Init Containers:` and `Containers:` sections of `describe pod`, one block
//! per container as kubectl's `describeContainers` writes it.

use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStatus, EnvVar, Pod, Probe, ResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::age::rfc1123z;
use super::describe::Page;
use super::qos::parse_quantity;

/// Write one containers section: `label:` then each container with its status.
pub(super) fn containers(
    w: &mut Page,
    label: &str,
    list: &[Container],
    statuses: &[ContainerStatus],
    pod: &Pod,
) {
    w.line(
        0,
        if list.is_empty() {
            format!("{label}: <none>")
        } else {
            format!("{label}:")
        },
    );
    for c in list {
        let status = statuses.iter().find(|s| s.name == c.name);
        basic_info(w, c, status);
        command(w, c);
        if let Some(s) = status {
            describe_state(w, "State", s.state.as_ref());
            if let Some(last) = s.last_state.as_ref().filter(|l| l.terminated.is_some()) {
                describe_state(w, "Last State", Some(last));
            }
            w.line(
                2,
                format!("Ready:\t{}", if s.ready { "True" } else { "False" }),
            );
            w.line(2, format!("Restart Count:\t{}", s.restart_count));
        }
        resources(w, c.resources.as_ref(), 2);
        for (title, probe) in [
            ("Liveness", &c.liveness_probe),
            ("Readiness", &c.readiness_probe),
            ("Startup", &c.startup_probe),
        ] {
            if let Some(p) = probe {
                w.line(2, format!("{title}:\t{}", describe_probe(p)));
            }
        }
        env_from(w, c);
        env(w, c, pod);
        mounts(w, c);
    }
}

fn basic_info(w: &mut Page, c: &Container, status: Option<&ContainerStatus>) {
    w.line(1, format!("{}:", c.name));
    if let Some(s) = status {
        w.line(
            2,
            format!("Container ID:\t{}", s.container_id.as_deref().unwrap_or("")),
        );
    }
    w.line(2, format!("Image:\t{}", c.image.as_deref().unwrap_or("")));
    if let Some(s) = status {
        w.line(2, format!("Image ID:\t{}", s.image_id));
    }
    let ports = c.ports.as_deref().unwrap_or(&[]);
    // The API server defaults the protocol to TCP.
    let proto = |p: &k8s_openapi::api::core::v1::ContainerPort| {
        p.protocol.clone().unwrap_or_else(|| "TCP".into())
    };
    let container: Vec<String> = ports
        .iter()
        .map(|p| format!("{}/{}", p.container_port, proto(p)))
        .collect();
    let host: Vec<String> = ports
        .iter()
        .map(|p| format!("{}/{}", p.host_port.unwrap_or(0), proto(p)))
        .collect();
    for (one, many, list) in [
        ("Port", "Ports", container),
        ("Host Port", "Host Ports", host),
    ] {
        match list.len() {
            0 => w.line(2, format!("{one}:\t<none>")),
            1 => w.line(2, format!("{one}:\t{}", list[0])),
            _ => w.line(2, format!("{many}:\t{}", list.join(", "))),
        }
    }
    if let Some(profile) = c
        .security_context
        .as_ref()
        .and_then(|s| s.seccomp_profile.as_ref())
    {
        w.line(2, format!("SeccompProfile:\t{}", profile.type_));
        if profile.type_ == "Localhost" {
            w.line(
                3,
                format!(
                    "LocalhostProfile:\t{}",
                    profile.localhost_profile.as_deref().unwrap_or("")
                ),
            );
        }
    }
}

fn command(w: &mut Page, c: &Container) {
    for (title, words) in [("Command", &c.command), ("Args", &c.args)] {
        let words = words.as_deref().unwrap_or(&[]);
        if !words.is_empty() {
            w.line(2, format!("{title}:"));
            for line in words.iter().flat_map(|word| word.split('\n')) {
                w.line(3, line);
            }
        }
    }
}

/// `State:` or `Last State:` with its details (kubectl's `describeStatus`).
fn describe_state(w: &mut Page, name: &str, state: Option<&ContainerState>) {
    let empty = ContainerState::default();
    let state = state.unwrap_or(&empty);
    if let Some(running) = &state.running {
        w.line(2, format!("{name}:\tRunning"));
        w.line(
            3,
            format!("Started:\t{}", rfc1123z(running.started_at.as_ref())),
        );
    } else if let Some(waiting) = &state.waiting {
        w.line(2, format!("{name}:\tWaiting"));
        if let Some(reason) = waiting.reason.as_deref().filter(|r| !r.is_empty()) {
            w.line(3, format!("Reason:\t{reason}"));
        }
    } else if let Some(t) = &state.terminated {
        w.line(2, format!("{name}:\tTerminated"));
        if let Some(reason) = t.reason.as_deref().filter(|r| !r.is_empty()) {
            w.line(3, format!("Reason:\t{reason}"));
        }
        if let Some(message) = t.message.as_deref().filter(|m| !m.is_empty()) {
            w.line(3, format!("Message:\t{message}"));
        }
        // The API's -1 with kubelet's ContainerStatusUnknown: nobody saw the exit.
        let code = if t.exit_code == podrt_sandbox::lifecycle::status::UNKNOWN_EXIT_CODE {
            "unknown".to_string()
        } else {
            t.exit_code.to_string()
        };
        w.line(3, format!("Exit Code:\t{code}"));
        if let Some(signal) = t.signal.filter(|s| *s > 0) {
            w.line(3, format!("Signal:\t{signal}"));
        }
        w.line(3, format!("Started:\t{}", rfc1123z(t.started_at.as_ref())));
        w.line(
            3,
            format!("Finished:\t{}", rfc1123z(t.finished_at.as_ref())),
        );
    } else {
        w.line(2, format!("{name}:\tWaiting"));
    }
}

/// `Limits:` and `Requests:`, resources sorted by name.
pub(super) fn resources(w: &mut Page, res: Option<&ResourceRequirements>, level: usize) {
    let Some(res) = res else { return };
    for (title, list) in [("Limits", &res.limits), ("Requests", &res.requests)] {
        let Some(list) = list.as_ref().filter(|l| !l.is_empty()) else {
            continue;
        };
        w.line(level, format!("{title}:"));
        for (name, quantity) in list {
            w.line(level + 1, format!("{name}:\t{}", quantity.0));
        }
    }
}

/// kubectl's `DescribeProbe`, with the API server's defaults for unset fields.
fn describe_probe(p: &Probe) -> String {
    let attrs = format!(
        "delay={}s timeout={}s period={}s #success={} #failure={}",
        p.initial_delay_seconds.unwrap_or(0),
        p.timeout_seconds.unwrap_or(1),
        p.period_seconds.unwrap_or(10),
        p.success_threshold.unwrap_or(1),
        p.failure_threshold.unwrap_or(3),
    );
    let port = |p: &IntOrString| match p {
        IntOrString::Int(i) => i.to_string(),
        IntOrString::String(s) => s.clone(),
    };
    if let Some(exec) = &p.exec {
        format!(
            "exec [{}] {attrs}",
            exec.command.as_deref().unwrap_or(&[]).join(" ")
        )
    } else if let Some(http) = &p.http_get {
        let scheme = http.scheme.as_deref().unwrap_or("HTTP").to_lowercase();
        let host = http.host.as_deref().unwrap_or("");
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.to_string()
        };
        let path = http.path.as_deref().unwrap_or("");
        let slash = if !path.is_empty() && !path.starts_with('/') {
            "/"
        } else {
            ""
        };
        format!(
            "http-get {scheme}://{host}:{}{slash}{path} {attrs}",
            port(&http.port)
        )
    } else if let Some(tcp) = &p.tcp_socket {
        format!(
            "tcp-socket {}:{} {attrs}",
            tcp.host.as_deref().unwrap_or(""),
            port(&tcp.port)
        )
    } else if let Some(grpc) = &p.grpc {
        format!(
            "grpc <pod>:{} {} {attrs}",
            grpc.port,
            grpc.service.as_deref().unwrap_or("")
        )
    } else {
        format!("unknown {attrs}")
    }
}

fn env_from(w: &mut Page, c: &Container) {
    let sources = c.env_from.as_deref().unwrap_or(&[]);
    if sources.is_empty() {
        return;
    }
    w.line(2, "Environment Variables from:");
    for e in sources {
        let (from, name, optional) = match (&e.config_map_ref, &e.secret_ref) {
            (Some(cm), _) => ("ConfigMap", cm.name.as_str(), cm.optional.unwrap_or(false)),
            (None, Some(s)) => ("Secret", s.name.as_str(), s.optional.unwrap_or(false)),
            (None, None) => ("", "", false),
        };
        match e.prefix.as_deref().filter(|p| !p.is_empty()) {
            None => w.line(3, format!("{name}\t{from}\tOptional: {optional}")),
            Some(prefix) => w.line(
                3,
                format!("{name}\t{from} with prefix '{prefix}'\tOptional: {optional}"),
            ),
        }
    }
}

fn env(w: &mut Page, c: &Container, pod: &Pod) {
    let vars = c.env.as_deref().unwrap_or(&[]);
    w.line(
        2,
        if vars.is_empty() {
            "Environment:\t<none>"
        } else {
            "Environment:"
        },
    );
    for e in vars {
        env_var(w, e, c, pod);
    }
}

fn env_var(w: &mut Page, e: &EnvVar, c: &Container, pod: &Pod) {
    let Some(from) = &e.value_from else {
        for (i, line) in e.value.as_deref().unwrap_or("").split('\n').enumerate() {
            w.line(
                3,
                if i == 0 {
                    format!("{}:\t{line}", e.name)
                } else {
                    format!("\t{line}")
                },
            );
        }
        return;
    };
    if let Some(field) = &from.field_ref {
        let version = field.api_version.as_deref().unwrap_or("v1");
        let value = field_value(pod, &field.field_path);
        w.line(
            3,
            format!("{}:\t{value} ({version}:{})", e.name, field.field_path),
        );
    } else if let Some(res) = &from.resource_field_ref {
        let value = resource_value(c, &res.resource, res.divisor.as_ref().map(|d| d.0.as_str()));
        w.line(3, format!("{}:\t{value} ({})", e.name, res.resource));
    } else if let Some(s) = &from.secret_key_ref {
        let optional = s.optional.unwrap_or(false);
        w.line(
            3,
            format!(
                "{}:\t<set to the key '{}' in secret '{}'>\tOptional: {optional}",
                e.name, s.key, s.name
            ),
        );
    } else if let Some(cm) = &from.config_map_key_ref {
        let optional = cm.optional.unwrap_or(false);
        w.line(
            3,
            format!(
                "{}:\t<set to the key '{}' of config map '{}'>\tOptional: {optional}",
                e.name, cm.key, cm.name
            ),
        );
    }
}

/// The downward-API fields kubectl resolves for `Environment:`; others print empty.
fn field_value(pod: &Pod, path: &str) -> String {
    let meta = &pod.metadata;
    let status = pod.status.as_ref();
    let spec = pod.spec.as_ref();
    let keyed = |prefix: &str| {
        path.strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix("']"))
    };
    let found = match path {
        "metadata.name" => meta.name.clone(),
        "metadata.namespace" => meta.namespace.clone(),
        "metadata.uid" => meta.uid.clone(),
        "spec.nodeName" => spec.and_then(|s| s.node_name.clone()),
        "spec.serviceAccountName" => spec.and_then(|s| s.service_account_name.clone()),
        "status.hostIP" => status.and_then(|s| s.host_ip.clone()),
        "status.podIP" => status.and_then(|s| s.pod_ip.clone()),
        _ => match (keyed("metadata.labels['"), keyed("metadata.annotations['")) {
            (Some(key), _) => meta.labels.as_ref().and_then(|l| l.get(key).cloned()),
            (None, Some(key)) => meta.annotations.as_ref().and_then(|a| a.get(key).cloned()),
            (None, None) => None,
        },
    };
    found.unwrap_or_default()
}

/// A `resourceFieldRef` value: the container's quantity divided by the divisor,
/// rounded up; an unset CPU or memory limit is the node's allocatable.
fn resource_value(c: &Container, resource: &str, divisor: Option<&str>) -> String {
    let res = c.resources.as_ref();
    let (list, name) = match resource.split_once('.') {
        Some(("limits", name)) => (res.and_then(|r| r.limits.as_ref()), name),
        Some(("requests", name)) => (res.and_then(|r| r.requests.as_ref()), name),
        _ => return String::new(),
    };
    let value = list
        .and_then(|l| l.get(name))
        .and_then(|q| parse_quantity(&q.0))
        .unwrap_or(0);
    let divisor = divisor
        .and_then(parse_quantity)
        .filter(|d| *d > 0)
        .unwrap_or(1_000_000_000);
    let result = value / divisor + i128::from(value % divisor > 0);
    if result == 0 && matches!(resource, "limits.cpu" | "limits.memory") {
        return "node allocatable".to_string();
    }
    result.to_string()
}

fn mounts(w: &mut Page, c: &Container) {
    let mut list: Vec<_> = c.volume_mounts.iter().flatten().collect();
    let none = if list.is_empty() { "\t<none>" } else { "" };
    w.line(2, format!("Mounts:{none}"));
    list.sort_by(|a, b| a.mount_path.cmp(&b.mount_path));
    for m in list {
        let mut flags = vec![if m.read_only == Some(true) {
            "ro".to_string()
        } else {
            "rw".to_string()
        }];
        if let Some(sub) = m.sub_path.as_deref().filter(|s| !s.is_empty()) {
            flags.push(format!("path={sub:?}"));
        }
        w.line(
            3,
            format!("{} from {} ({})", m.mount_path, m.name, flags.join(",")),
        );
    }
    let mut devices: Vec<_> = c.volume_devices.iter().flatten().collect();
    if !devices.is_empty() {
        w.line(2, format!("Devices:{none}"));
        devices.sort_by(|a, b| a.device_path.cmp(&b.device_path));
        for d in devices {
            w.line(3, format!("{} from {}", d.device_path, d.name));
        }
    }
}
