//! What a cgroup has used: CPU time, memory (with the working set kubelet
//! evicts by), page faults, processes. Read for the CRI's stats calls, from
//! the files the kernel keeps: on cgroup v2 the cgroup's own directory
//! (`cpu.stat`, `memory.current`, `memory.stat`, `pids.current`); on v1 the
//! `cpuacct`, `memory` and `pids` hierarchies' directories of the same path.
//! A value the host does not account (a controller not mounted or not
//! enabled) is `None`, never a made-up zero.

use std::path::{Path, PathBuf};

use crate::cgroups::{hierarchies, is_v2, CGROUP_ROOT};

/// A cgroup's usage at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    /// CPU time used, user and system, in nanoseconds.
    pub cpu_nanos: Option<u64>,
    /// Memory charged, page cache included.
    pub memory_bytes: Option<u64>,
    /// Memory charged less inactive file pages: what kubelet evicts by.
    pub working_set_bytes: Option<u64>,
    /// Anonymous memory (v1's `total_rss`, v2's `anon`).
    pub rss_bytes: Option<u64>,
    /// Page faults.
    pub page_faults: Option<u64>,
    /// Major page faults.
    pub major_page_faults: Option<u64>,
    /// The memory limit, when one is set.
    pub memory_limit_bytes: Option<u64>,
}

/// The usage of the cgroup at `path` (relative to the hierarchies' roots).
pub fn usage(path: &str) -> Usage {
    let rel = path.trim_start_matches('/');
    if is_v2() {
        let dir = Path::new(CGROUP_ROOT).join(rel);
        v2(&dir)
    } else {
        let mounted = hierarchies();
        v1(|controller| v1_dir(&mounted, controller).map(|d| d.join(rel)))
    }
}

fn v2(dir: &Path) -> Usage {
    let cpu = read(&dir.join("cpu.stat"));
    let stat = read(&dir.join("memory.stat"));
    let memory = read(&dir.join("memory.current")).and_then(|t| t.trim().parse().ok());
    let inactive = stat.as_deref().and_then(|s| field(s, "inactive_file"));
    Usage {
        cpu_nanos: cpu
            .as_deref()
            .and_then(|s| field(s, "usage_usec"))
            .map(|us| us.saturating_mul(1000)),
        memory_bytes: memory,
        working_set_bytes: memory.map(|m| m.saturating_sub(inactive.unwrap_or(0))),
        rss_bytes: stat.as_deref().and_then(|s| field(s, "anon")),
        page_faults: stat.as_deref().and_then(|s| field(s, "pgfault")),
        major_page_faults: stat.as_deref().and_then(|s| field(s, "pgmajfault")),
        memory_limit_bytes: read(&dir.join("memory.max")).and_then(|t| t.trim().parse().ok()),
    }
}

fn v1(dir_of: impl Fn(&str) -> Option<PathBuf>) -> Usage {
    let cpu = dir_of("cpuacct")
        .and_then(|d| read(&d.join("cpuacct.usage")))
        .and_then(|t| t.trim().parse().ok());
    let mem = dir_of("memory");
    let stat = mem.as_ref().and_then(|d| read(&d.join("memory.stat")));
    let memory: Option<u64> = mem
        .as_ref()
        .and_then(|d| read(&d.join("memory.usage_in_bytes")))
        .and_then(|t| t.trim().parse().ok());
    let inactive = stat
        .as_deref()
        .and_then(|s| field(s, "total_inactive_file"));
    // v1 reports "no limit" as a huge number.
    let limit = stat
        .as_deref()
        .and_then(|s| field(s, "hierarchical_memory_limit"))
        .filter(|l| *l < i64::MAX as u64 / 2);
    Usage {
        cpu_nanos: cpu,
        memory_bytes: memory,
        working_set_bytes: memory.map(|m| m.saturating_sub(inactive.unwrap_or(0))),
        rss_bytes: stat.as_deref().and_then(|s| field(s, "total_rss")),
        page_faults: stat.as_deref().and_then(|s| field(s, "total_pgfault")),
        major_page_faults: stat.as_deref().and_then(|s| field(s, "total_pgmajfault")),
        memory_limit_bytes: limit,
    }
}

/// Where, among the `mounted` hierarchies, the v1 one with `controller` is
/// (its mount point is named for the controllers it holds, as systemd mounts
/// them: `/sys/fs/cgroup/cpu,cpuacct`).
fn v1_dir(mounted: &[(PathBuf, bool)], controller: &str) -> Option<PathBuf> {
    mounted.iter().find_map(|(mount, v2)| {
        let name = mount.file_name()?.to_str()?;
        (!v2 && name.split(',').any(|c| c == controller)).then(|| mount.clone())
    })
}

fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// The value of `key` in a `key value` per line file.
fn field(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_files_are_read_and_the_working_set_excludes_inactive_files() {
        let dir = std::env::temp_dir().join(format!("podrt-usage-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("cpu.stat"), "usage_usec 1500\nuser_usec 1000\n").unwrap();
        std::fs::write(dir.join("memory.current"), "10000\n").unwrap();
        std::fs::write(
            dir.join("memory.stat"),
            "anon 4000\nfile 6000\ninactive_file 2500\npgfault 7\npgmajfault 1\n",
        )
        .unwrap();
        std::fs::write(dir.join("memory.max"), "max\n").unwrap();
        let u = v2(&dir);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(u.cpu_nanos, Some(1_500_000));
        assert_eq!(u.memory_bytes, Some(10000));
        assert_eq!(u.working_set_bytes, Some(7500));
        assert_eq!(u.rss_bytes, Some(4000));
        assert_eq!((u.page_faults, u.major_page_faults), (Some(7), Some(1)));
        assert_eq!(u.memory_limit_bytes, None, "max is no limit");
    }

    #[test]
    fn a_cgroup_that_is_not_there_has_no_usage() {
        let u = v2(Path::new("/nonexistent/podrt"));
        assert_eq!(u, Usage::default());
    }
}
