//! The CRI's `LinuxContainerResources` as OCI `LinuxResources`, what the
//! runtime writes to a container's cgroup. As in protobuf, 0 and "" mean
//! "not given": a value not given is left as it is, never set to zero.

use k8s_cri::v1;
use oci_spec::runtime::{
    LinuxCpuBuilder, LinuxHugepageLimitBuilder, LinuxMemoryBuilder, LinuxResources,
    LinuxResourcesBuilder,
};
use tonic::Status;

/// The OCI resources `r` asks for; `InvalidArgument` naming the field for a
/// value the cgroup cannot take.
pub(crate) fn oci(r: &v1::LinuxContainerResources) -> Result<LinuxResources, Status> {
    let bad = |field: &str, why: String| Status::invalid_argument(format!("linux.{field}: {why}"));
    let non_negative = |field: &str, v: i64| {
        if v < 0 {
            Err(bad(field, format!("{v} is negative")))
        } else {
            Ok(v)
        }
    };
    let mut b = LinuxResourcesBuilder::default();
    let mut cpu = LinuxCpuBuilder::default();
    let mut cpu_given = false;
    if non_negative("cpu_period", r.cpu_period)? > 0 {
        cpu = cpu.period(r.cpu_period as u64);
        cpu_given = true;
    }
    if r.cpu_quota != 0 {
        // -1 is "no quota"; other negatives are not.
        if r.cpu_quota < -1 {
            return Err(bad(
                "cpu_quota",
                format!("{} is neither -1 nor positive", r.cpu_quota),
            ));
        }
        cpu = cpu.quota(r.cpu_quota);
        cpu_given = true;
    }
    if non_negative("cpu_shares", r.cpu_shares)? > 0 {
        cpu = cpu.shares(r.cpu_shares as u64);
        cpu_given = true;
    }
    if !r.cpuset_cpus.is_empty() {
        cpu = cpu.cpus(r.cpuset_cpus.clone());
        cpu_given = true;
    }
    if !r.cpuset_mems.is_empty() {
        cpu = cpu.mems(r.cpuset_mems.clone());
        cpu_given = true;
    }
    if cpu_given {
        b = b.cpu(cpu.build().map_err(|e| bad("cpu", e.to_string()))?);
    }
    let mut memory = LinuxMemoryBuilder::default();
    let mut memory_given = false;
    if non_negative("memory_limit_in_bytes", r.memory_limit_in_bytes)? > 0 {
        memory = memory.limit(r.memory_limit_in_bytes);
        memory_given = true;
    }
    if r.memory_swap_limit_in_bytes != 0 {
        if r.memory_swap_limit_in_bytes < -1 {
            return Err(bad(
                "memory_swap_limit_in_bytes",
                format!(
                    "{} is neither -1 nor positive",
                    r.memory_swap_limit_in_bytes
                ),
            ));
        }
        memory = memory.swap(r.memory_swap_limit_in_bytes);
        memory_given = true;
    }
    if memory_given {
        b = b.memory(memory.build().map_err(|e| bad("memory", e.to_string()))?);
    }
    if !r.hugepage_limits.is_empty() {
        let limits = r
            .hugepage_limits
            .iter()
            .map(|h| {
                LinuxHugepageLimitBuilder::default()
                    .page_size(h.page_size.clone())
                    .limit(i64::try_from(h.limit).unwrap_or(i64::MAX))
                    .build()
                    .map_err(|e| bad("hugepage_limits", e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        b = b.hugepage_limits(limits);
    }
    if !r.unified.is_empty() {
        b = b.unified(r.unified.clone());
    }
    b.build().map_err(|e| bad("resources", e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_values_are_set_and_zeros_left_alone() {
        let r = oci(&v1::LinuxContainerResources {
            cpu_period: 100_000,
            cpu_quota: 50_000,
            memory_limit_in_bytes: 64 << 20,
            ..v1::LinuxContainerResources::default()
        })
        .unwrap();
        let cpu = r.cpu().clone().unwrap();
        assert_eq!(
            (cpu.period(), cpu.quota(), cpu.shares()),
            (Some(100_000), Some(50_000), None)
        );
        assert_eq!(r.memory().unwrap().limit(), Some(64 << 20));
        let none = oci(&v1::LinuxContainerResources::default()).unwrap();
        assert!(none.cpu().is_none() && none.memory().is_none());
    }

    #[test]
    fn impossible_values_name_the_field() {
        let e = oci(&v1::LinuxContainerResources {
            memory_limit_in_bytes: -5,
            ..v1::LinuxContainerResources::default()
        })
        .unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument);
        assert!(
            e.message().contains("memory_limit_in_bytes"),
            "{}",
            e.message()
        );
    }
}
