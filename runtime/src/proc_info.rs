//! Facts about a process read from `/proc/<pid>/stat`: its state letter and start
//! time, which together tell "still our container's init" from a reused PID.

/// The fields of `/proc/<pid>/stat` the runtime needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// The state letter (`R`, `S`, `Z`...).
    pub state: char,
    /// Parent PID.
    pub ppid: i32,
    /// Start time in clock ticks after boot (field 22).
    pub start_time: u64,
    /// The exit status in `waitpid` form (field 52, Linux 3.5+): meaningful only
    /// while the process is a zombie, which is how a process that is not our child
    /// can still tell us how it ended, until its parent reaps it.
    pub exit_status: Option<i32>,
}

/// Read and parse `/proc/<pid>/stat`; `None` if the process is gone.
pub fn stat(pid: i32) -> Option<ProcStat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

/// Parse the text of a stat file. The command name may contain spaces and
/// parentheses, so fields are counted from the last `)`.
pub(crate) fn parse_stat(text: &str) -> Option<ProcStat> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the comm, field 3 (state) is index 0; field 22 (starttime) is index 19.
    Some(ProcStat {
        state: fields.first()?.chars().next()?,
        ppid: fields.get(1)?.parse().ok()?,
        start_time: fields.get(19)?.parse().ok()?,
        exit_status: fields.get(49).and_then(|f| f.parse().ok()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_with_parens() {
        let s = "42 (a (b) c) S 1 42 42 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 12345 1000 10";
        let st = parse_stat(s).unwrap();
        assert_eq!(st.state, 'S');
        assert_eq!(st.ppid, 1);
        assert_eq!(st.start_time, 12345);
        assert_eq!(st.exit_status, None);
    }

    #[test]
    fn reads_a_zombies_exit_status() {
        let fields: Vec<String> = (3..=52)
            .map(|i| if i == 52 { "256".into() } else { "0".into() })
            .collect();
        let s = format!("7 (sh) Z {}", fields[1..].join(" "));
        let st = parse_stat(&s).unwrap();
        assert_eq!(st.state, 'Z');
        assert_eq!(st.exit_status, Some(256));
    }

    #[test]
    fn reads_self() {
        let st = stat(std::process::id() as i32).unwrap();
        assert!(st.start_time > 0);
    }
}
