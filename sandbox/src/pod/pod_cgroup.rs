//! The pod's own cgroup, parent of its containers' cgroups, with the pod-level
//! limits kubelet gives it: when every app container has a memory (or cpu) limit, the
//! pod's limit is their sum, or the largest init container's if that is more (init
//! containers run alone, before the app containers); cpu shares are the sum of the
//! requests. A pod with an unlimited container gets no pod-level limit of that kind.
//! The pids limit is the installation's (`--pod-max-pids`), as kubelet's is.

use oci_spec::runtime::{
    LinuxCpuBuilder, LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResources, LinuxResourcesBuilder,
};
use podrt_runtime::cgroups::Cgroup;

use crate::error::{Error, Result};
use crate::manifest::ContainerResources;

/// kubelet's CFS period.
const CPU_PERIOD: u64 = 100_000;

/// The pod-level resources from the containers' (`init` says which are init
/// containers) and the installation's pids limit.
pub(crate) fn pod_resources(
    containers: &[(bool, &ContainerResources)],
    max_pids: Option<i64>,
) -> LinuxResources {
    let apps: Vec<&ContainerResources> = containers
        .iter()
        .filter(|(init, _)| !init)
        .map(|(_, r)| *r)
        .collect();
    let inits: Vec<&ContainerResources> = containers
        .iter()
        .filter(|(init, _)| *init)
        .map(|(_, r)| *r)
        .collect();
    let limit = |get: fn(&ContainerResources) -> Option<u64>| -> Option<u64> {
        let sum = apps.iter().map(|r| get(r)).sum::<Option<u64>>()?;
        let init_max = inits.iter().map(|r| get(r)).collect::<Option<Vec<u64>>>()?;
        Some(init_max.into_iter().fold(sum, u64::max))
    };
    let mut b = LinuxResourcesBuilder::default();
    if let Some(mem) = limit(|r| r.memory_limit).filter(|m| *m > 0) {
        if let Ok(m) = LinuxMemoryBuilder::default().limit(mem as i64).build() {
            b = b.memory(m);
        }
    }
    let mut cpu = LinuxCpuBuilder::default();
    if let Some(millis) = limit(|r| r.cpu_limit_millis).filter(|m| *m > 0) {
        cpu = cpu
            .quota((millis * CPU_PERIOD / 1000).max(1000) as i64)
            .period(CPU_PERIOD);
    }
    let requests: u64 = apps
        .iter()
        .map(|r| r.cpu_request_millis.or(r.cpu_limit_millis).unwrap_or(0))
        .sum();
    cpu = cpu.shares((requests * 1024 / 1000).max(2));
    if let Ok(c) = cpu.build() {
        b = b.cpu(c);
    }
    if let Some(n) = max_pids.filter(|n| *n > 0) {
        if let Ok(p) = LinuxPidsBuilder::default().limit(n).build() {
            b = b.pids(p);
        }
    }
    b.build().unwrap_or_default()
}

/// Create the pod's cgroup at `path` with `resources`.
pub(crate) fn create(path: &str, resources: &LinuxResources) -> Result<()> {
    let mut cg = Cgroup::open(path)?;
    cg.create_parent(resources).map_err(Error::Runtime)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(mem: Option<u64>, cpu: Option<u64>, req: Option<u64>) -> ContainerResources {
        ContainerResources {
            name: "c".into(),
            memory_limit: mem,
            memory_request: None,
            cpu_limit_millis: cpu,
            cpu_request_millis: req,
        }
    }

    #[test]
    fn limits_are_summed_only_when_every_container_has_one() {
        let a = res(Some(64 << 20), Some(500), Some(250));
        let b = res(Some(32 << 20), None, Some(100));
        let r = pod_resources(&[(false, &a), (false, &b)], Some(100));
        assert_eq!(r.memory().as_ref().unwrap().limit(), Some(96 << 20));
        let cpu = r.cpu().as_ref().unwrap();
        assert_eq!(cpu.quota(), None, "b has no cpu limit, so the pod has none");
        assert_eq!(cpu.shares(), Some(358));
        assert_eq!(r.pids().as_ref().map(|p| p.limit()), Some(100));
    }

    #[test]
    fn a_larger_init_container_sets_the_pod_limit() {
        let init = res(Some(256 << 20), Some(2000), None);
        let app = res(Some(64 << 20), Some(500), None);
        let r = pod_resources(&[(true, &init), (false, &app)], None);
        assert_eq!(r.memory().as_ref().unwrap().limit(), Some(256 << 20));
        assert_eq!(r.cpu().as_ref().unwrap().quota(), Some(200_000));
        assert!(r.pids().is_none());
    }
}
