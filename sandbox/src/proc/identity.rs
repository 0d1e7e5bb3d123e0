//! A process found again by PID and start time, never by PID alone: a recycled PID
//! has another start time.

use serde::{Deserialize, Serialize};

/// A process found again by PID and start time, never by name: a recycled PID has
/// another start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ProcRef {
    /// Host PID.
    pub(crate) pid: i32,
    /// Start time in clock ticks since boot (`/proc/<pid>/stat` field 22).
    pub(crate) start_time: u64,
}

impl ProcRef {
    /// The live process `pid`, if it exists.
    pub(crate) fn of(pid: i32) -> Option<ProcRef> {
        podrt_runtime::proc_info::stat(pid).map(|s| ProcRef {
            pid,
            start_time: s.start_time,
        })
    }

    /// Is it still the same live (not zombie) process?
    pub(crate) fn alive(&self) -> bool {
        podrt_runtime::proc_info::stat(self.pid)
            .is_some_and(|s| s.start_time == self.start_time && s.state != 'Z')
    }
}

/// This process's own reference (a supervisor records itself).
pub(crate) fn this_process() -> Option<ProcRef> {
    ProcRef::of(std::process::id() as i32)
}
