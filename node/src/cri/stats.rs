//! The CRI's stats calls over podrt's pods: CPU and memory from each
//! container's cgroup and the pod's ([`podrt_sandbox::runtime::cgroup_usage`]),
//! the writable layer's bytes and inodes (the overlay's upper directory), the
//! processes in the pod, and the network counters of the pod's `eth0` as its
//! network namespace sees them (`/proc/<pid>/net/dev` of one of its
//! processes).
//!
//! `usage_nano_cores` needs two samples: the server keeps the last CPU time it
//! read per container and pod ([`Samples`], by container and sandbox id), as
//! containerd does, so the first call for one answers without it.

use std::collections::HashMap;
use std::sync::Mutex;

use k8s_cri::v1;
use podrt_sandbox::runtime::cgroup_usage::{usage, Usage};

use super::containers::{self, Made};
use super::disk_usage::tree_usage;
use super::nanos;
use super::sandboxes::{self, Found};

/// The last CPU time read per container or sandbox id, with when:
/// (nanoseconds since the epoch, CPU nanoseconds).
#[derive(Default)]
pub(crate) struct Samples(Mutex<HashMap<String, (i64, u64)>>);

impl Samples {
    /// CPU use since the last sample of `key`, in nanocores; records this one.
    fn nano_cores(&self, key: &str, now: i64, cpu: u64) -> Option<u64> {
        let mut last = self.0.lock().ok()?;
        let before = last.insert(key.to_string(), (now, cpu))?;
        let wall = u64::try_from(now.checked_sub(before.0)?)
            .ok()
            .filter(|w| *w > 0)?;
        let used = cpu.checked_sub(before.1)?;
        Some((u128::from(used) * 1_000_000_000 / u128::from(wall)) as u64)
    }

    /// Forget the ids not in `keys` (pods and containers gone).
    pub(crate) fn keep_only(&self, keys: &[String]) {
        if let Ok(mut last) = self.0.lock() {
            last.retain(|k, _| keys.contains(k));
        }
    }
}

fn value(v: Option<u64>) -> Option<v1::UInt64Value> {
    v.map(|value| v1::UInt64Value { value })
}

fn cpu(u: &Usage, now: i64, key: &str, samples: &Samples) -> v1::CpuUsage {
    v1::CpuUsage {
        timestamp: now,
        usage_core_nano_seconds: value(u.cpu_nanos),
        usage_nano_cores: value(u.cpu_nanos.and_then(|c| samples.nano_cores(key, now, c))),
    }
}

fn memory(u: &Usage, now: i64) -> v1::MemoryUsage {
    v1::MemoryUsage {
        timestamp: now,
        working_set_bytes: value(u.working_set_bytes),
        available_bytes: value(
            u.memory_limit_bytes
                .zip(u.working_set_bytes)
                .map(|(limit, ws)| limit.saturating_sub(ws)),
        ),
        usage_bytes: value(u.memory_bytes),
        rss_bytes: value(u.rss_bytes),
        page_faults: value(u.page_faults),
        major_page_faults: value(u.major_page_faults),
    }
}

/// One container's stats; `listed` is its `ListContainers` entry.
pub(crate) fn container(
    m: &Made<'_>,
    listed: v1::Container,
    samples: &Samples,
) -> v1::ContainerStats {
    let now = nanos::now();
    let sandbox = &m.pod.sandbox;
    let u = sandbox
        .container_cgroup(&m.status.name)
        .as_deref()
        .map(usage)
        .unwrap_or_default();
    let layer = sandbox.paths.writable_layer(&m.status.name);
    let (bytes, inodes) = tree_usage(&layer);
    v1::ContainerStats {
        attributes: Some(v1::ContainerAttributes {
            id: listed.id,
            metadata: listed.metadata,
            labels: listed.labels,
            annotations: listed.annotations,
        }),
        cpu: Some(cpu(&u, now, &m.id, samples)),
        memory: Some(memory(&u, now)),
        writable_layer: Some(v1::FilesystemUsage {
            timestamp: now,
            fs_id: Some(v1::FilesystemIdentifier {
                mountpoint: layer.display().to_string(),
            }),
            used_bytes: value(Some(bytes)),
            inodes_used: value(Some(inodes)),
        }),
        swap: None,
    }
}

/// Whether `c` passes `filter`.
pub(crate) fn container_matches(
    filter: Option<&v1::ContainerStatsFilter>,
    c: &v1::Container,
) -> bool {
    let Some(f) = filter else {
        return true;
    };
    (f.id.is_empty() || c.id.starts_with(&f.id))
        && (f.pod_sandbox_id.is_empty() || c.pod_sandbox_id.starts_with(&f.pod_sandbox_id))
        && sandboxes::selected(&f.label_selector, &c.labels)
}

/// Whether `sandbox` passes `filter`.
pub(crate) fn pod_matches(filter: Option<&v1::PodSandboxStatsFilter>, s: &v1::PodSandbox) -> bool {
    let Some(f) = filter else {
        return true;
    };
    (f.id.is_empty() || s.id.starts_with(&f.id))
        && sandboxes::selected(&f.label_selector, &s.labels)
}

/// One pod's stats, its containers' included; `listed` is its
/// `ListPodSandbox` entry.
pub(crate) fn pod(f: &Found, listed: v1::PodSandbox, samples: &Samples) -> v1::PodSandboxStats {
    let now = nanos::now();
    let u = usage(f.sandbox.cgroup());
    let made = containers::of(f);
    let names: Vec<&str> = made.iter().map(|m| m.status.name.as_str()).collect();
    let runtime: Vec<_> = names
        .iter()
        .filter_map(|n| f.sandbox.runtime_container(n))
        .collect();
    let processes: usize = runtime
        .iter()
        .map(|c| c.pids().map_or(0, |p| p.len()))
        .sum();
    let host_network = f.pod.spec.as_ref().and_then(|s| s.host_network) == Some(true);
    let network = runtime
        .iter()
        .map(|c| c.oci_state().pid)
        .find(|pid| *pid > 0)
        .filter(|_| !host_network)
        .and_then(|pid| std::fs::read_to_string(format!("/proc/{pid}/net/dev")).ok())
        .map(|text| network(&text, now));
    v1::PodSandboxStats {
        attributes: Some(v1::PodSandboxAttributes {
            id: listed.id,
            metadata: listed.metadata,
            labels: listed.labels,
            annotations: listed.annotations,
        }),
        linux: Some(v1::LinuxPodSandboxStats {
            cpu: Some(cpu(&u, now, f.id(), samples)),
            memory: Some(memory(&u, now)),
            network,
            process: Some(v1::ProcessUsage {
                timestamp: now,
                process_count: value(u64::try_from(processes).ok()),
            }),
            containers: made
                .iter()
                .map(|m| container(m, containers::container(m), samples))
                .collect(),
        }),
        windows: None,
    }
}

/// The interfaces of a `/proc/net/dev` text but loopback; `eth0` (the one
/// CNI made) is the default.
fn network(text: &str, now: i64) -> v1::NetworkUsage {
    let interfaces: Vec<v1::NetworkInterfaceUsage> = text
        .lines()
        .skip(2)
        .filter_map(|line| {
            let (name, counters) = line.split_once(':')?;
            let name = name.trim();
            let n: Vec<u64> = counters
                .split_whitespace()
                .filter_map(|c| c.parse().ok())
                .collect();
            (name != "lo" && n.len() >= 16).then(|| v1::NetworkInterfaceUsage {
                name: name.to_string(),
                rx_bytes: value(Some(n[0])),
                rx_errors: value(Some(n[2])),
                tx_bytes: value(Some(n[8])),
                tx_errors: value(Some(n[10])),
            })
        })
        .collect();
    v1::NetworkUsage {
        timestamp: now,
        default_interface: interfaces.iter().find(|i| i.name == "eth0").cloned(),
        interfaces,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NET_DEV: &str = "Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     100       1    0    0    0     0          0         0      100       1    0    0    0     0       0          0
  eth0:    5000      40    2    0    0     0          0         0     3000      30    1    0    0     0       0          0
";

    #[test]
    fn net_dev_counters_of_eth0() {
        let usage = network(NET_DEV, 7);
        assert_eq!(usage.interfaces.len(), 1, "loopback is left out");
        let eth0 = usage.default_interface.unwrap();
        assert_eq!(eth0.rx_bytes.unwrap().value, 5000);
        assert_eq!(eth0.rx_errors.unwrap().value, 2);
        assert_eq!(eth0.tx_bytes.unwrap().value, 3000);
        assert_eq!(eth0.tx_errors.unwrap().value, 1);
    }

    #[test]
    fn nano_cores_need_two_samples() {
        let s = Samples::default();
        assert_eq!(s.nano_cores("a", 1_000_000_000, 0), None);
        // Half a CPU over one second.
        assert_eq!(
            s.nano_cores("a", 2_000_000_000, 500_000_000),
            Some(500_000_000)
        );
        s.keep_only(&[]);
        assert_eq!(s.nano_cores("a", 3_000_000_000, 600_000_000), None);
    }
}
