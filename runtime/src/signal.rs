//! Signal names and numbers as `kill` accepts them: `TERM`, `SIGTERM`, `15`, `RTMIN+3`.

use crate::error::{Error, Result};

/// A validated signal number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signal(pub libc::c_int);

const NAMES: &[(&str, libc::c_int)] = &[
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("IOT", libc::SIGIOT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("STKFLT", libc::SIGSTKFLT),
    ("CHLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("POLL", libc::SIGPOLL),
    ("PWR", libc::SIGPWR),
    ("SYS", libc::SIGSYS),
];

impl std::str::FromStr for Signal {
    type Err = Error;

    fn from_str(s: &str) -> Result<Signal> {
        let bad = || Error::spec("signal", format!("unknown signal {s:?}"));
        let rtmin = libc::SIGRTMIN();
        let rtmax = libc::SIGRTMAX();
        if let Ok(n) = s.parse::<libc::c_int>() {
            return if (1..=rtmax).contains(&n) {
                Ok(Signal(n))
            } else {
                Err(bad())
            };
        }
        let upper = s.to_ascii_uppercase();
        let name = upper.strip_prefix("SIG").unwrap_or(&upper);
        if let Some(&(_, n)) = NAMES.iter().find(|(nm, _)| *nm == name) {
            return Ok(Signal(n));
        }
        let rt = |base: libc::c_int, rest: &str, sign: libc::c_int| -> Result<Signal> {
            let off: libc::c_int = if rest.is_empty() {
                0
            } else {
                rest.parse().map_err(|_| bad())?
            };
            let n = base + sign * off;
            if (rtmin..=rtmax).contains(&n) {
                Ok(Signal(n))
            } else {
                Err(bad())
            }
        };
        if let Some(rest) = name.strip_prefix("RTMIN") {
            return rt(rtmin, rest.trim_start_matches('+'), 1);
        }
        if let Some(rest) = name.strip_prefix("RTMAX") {
            return rt(rtmax, rest.trim_start_matches('-'), -1);
        }
        Err(bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_forms() {
        assert_eq!("TERM".parse::<Signal>().unwrap(), Signal(15));
        assert_eq!("SIGKILL".parse::<Signal>().unwrap(), Signal(9));
        assert_eq!("9".parse::<Signal>().unwrap(), Signal(9));
        assert_eq!("sigusr1".parse::<Signal>().unwrap(), Signal(libc::SIGUSR1));
        assert_eq!(
            "RTMIN+1".parse::<Signal>().unwrap(),
            Signal(libc::SIGRTMIN() + 1)
        );
        assert!("NOPE".parse::<Signal>().is_err());
        assert!("0".parse::<Signal>().is_err());
    }
}
