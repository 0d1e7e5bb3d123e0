//! Keeping a long-lived podrt process small. Code pages of a binary stay mapped in a
//! process once touched (and the kernel maps up to 64 KiB around each touched page),
//! so a supervisor that ran its start-up code keeps megabytes of it "resident"
//! although it will never run it again. [`drop_clean_file_pages`] unmaps those pages
//! from this process's page tables (`MADV_DONTNEED`); they stay in the page cache
//! and fault back in, unchanged, if used again. Only read-only file mappings with no
//! private (copied) page are touched: their contents are exactly the file's, so
//! dropping them loses nothing. Writable mappings and relocated (RELRO) ones, which
//! hold copied pages, are left alone.
//!
//! [`Schedule`] says when: a while after the process last did some work (answered a
//! request, copied output, restarted a container), so a supervisor that is asked
//! for its status once goes back to its idle size instead of keeping the code that
//! answered resident for as long as the pod runs; and never more often than
//! [`Schedule::MIN_GAP`], so a client polling every second costs one trim per gap.

use std::time::{Duration, Instant};

/// Drop this process's clean, read-only file-backed pages.
pub(crate) fn drop_clean_file_pages() {
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return;
    };
    for (start, end) in droppable(&smaps) {
        // SAFETY: madvise(MADV_DONTNEED) on a read-only, file-backed, unmodified
        // mapping of our own: its pages are refetched from the file on next access.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
        }
    }
}

/// When to trim next: after work, once the process has been quiet for
/// [`Schedule::QUIET`] and the last trim is [`Schedule::MIN_GAP`] old.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Schedule {
    /// The last trim.
    trimmed: Instant,
    /// The last work since then, if any.
    worked: Option<Instant>,
}

impl Schedule {
    /// How long the process must have been idle.
    pub(crate) const QUIET: Duration = Duration::from_secs(1);
    /// The least time between two trims.
    pub(crate) const MIN_GAP: Duration = Duration::from_secs(10);

    /// A schedule whose last trim was at `now`.
    pub(crate) fn trimmed_at(now: Instant) -> Schedule {
        Schedule {
            trimmed: now,
            worked: None,
        }
    }

    /// The process did some work at `now`.
    pub(crate) fn worked(&mut self, now: Instant) {
        self.worked = Some(now);
    }

    /// When the next trim is due; `None` while nothing was done since the last.
    pub(crate) fn due_at(&self) -> Option<Instant> {
        let worked = self.worked?;
        Some((worked + Self::QUIET).max(self.trimmed + Self::MIN_GAP))
    }

    /// Trim now if it is due ([`drop_clean_file_pages`]).
    pub(crate) fn trim_if_due(&mut self, now: Instant) {
        if self.due_at().is_some_and(|due| due <= now) {
            drop_clean_file_pages();
            *self = Schedule::trimmed_at(now);
        }
    }
}

/// The address ranges of read-only file mappings without anonymous pages.
fn droppable(smaps: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, usize)> = None;
    for line in smaps.lines() {
        let mut words = line.split_whitespace();
        let first = words.next().unwrap_or("");
        if let Some((a, b)) = first
            .split_once('-')
            .filter(|(a, _)| !a.is_empty() && a.bytes().all(|c| c.is_ascii_hexdigit()))
        {
            let perms = words.next().unwrap_or("");
            let inode = words.nth(2).unwrap_or("0");
            let path = words.next().unwrap_or("");
            let file = inode != "0" && path.starts_with('/');
            current = match (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16)) {
                (Ok(s), Ok(e)) if file && !perms.contains('w') => Some((s, e)),
                _ => None,
            };
        } else if let Some(rest) = line.strip_prefix("Anonymous:") {
            if let Some(range) = current.take() {
                if rest.trim().trim_end_matches("kB").trim() == "0" {
                    out.push(range);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_clean_read_only_file_mappings_are_dropped() {
        let smaps = "\
5600-5700 r--p 00000000 fd:01 123 /usr/bin/podrt
Anonymous:             0 kB
5700-5800 r-xp 00100000 fd:01 123 /usr/bin/podrt
Anonymous:             0 kB
5800-5900 r--p 00200000 fd:01 123 /usr/bin/podrt
Anonymous:            12 kB
5900-5a00 rw-p 00300000 fd:01 123 /usr/bin/podrt
Anonymous:             4 kB
7f00-7f10 rw-p 00000000 00:00 0 
Anonymous:             8 kB
7ff0-7ff1 r-xp 00000000 00:00 0                          [vdso]
Anonymous:             0 kB
";
        assert_eq!(droppable(smaps), [(0x5600, 0x5700), (0x5700, 0x5800)]);
    }

    #[test]
    fn a_trim_waits_for_work_then_quiet_then_the_gap() {
        let t0 = Instant::now();
        let mut s = Schedule::trimmed_at(t0);
        assert_eq!(s.due_at(), None, "nothing done: nothing to trim");
        // Work right after a trim: due when the gap since that trim is over.
        s.worked(t0 + Duration::from_millis(100));
        assert_eq!(s.due_at(), Some(t0 + Schedule::MIN_GAP));
        // Work long after: due once quiet.
        let late = t0 + Duration::from_secs(60);
        s.worked(late);
        assert_eq!(s.due_at(), Some(late + Schedule::QUIET));
        // Not due yet: nothing happens and it stays due.
        s.trim_if_due(late);
        assert_eq!(s.due_at(), Some(late + Schedule::QUIET));
        // Due: trimmed, and nothing is due until more work.
        s.trim_if_due(late + Schedule::QUIET);
        assert_eq!(s.due_at(), None);
    }

    #[test]
    fn dropping_our_own_pages_keeps_the_process_working() {
        drop_clean_file_pages();
        // Code and constants fault back in unchanged.
        assert_eq!(format!("{}", 6 * 7), "42");
    }
}
