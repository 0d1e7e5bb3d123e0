//! The hidden roles the podrt binary runs as. The supervisor and the pod's PID 1
//! start as forks of `podrt apply`; kept that way, each would hold the creation
//! code's pages resident for the pod's whole life. Re-executing the binary with a
//! hidden first argument leaves only what waiting needs (the supervisor's children
//! stay its children across exec). The CLI reads the arguments first thing in
//! `main`, before any argument parsing, into a [`Role`] and calls the role's
//! function. [`Role::args`] writes the argument list and [`Role::parse`] reads it
//! back, here side by side, so the exec side and the parse side cannot drift; a
//! hidden role with arguments that do not parse is an error, never an ordinary
//! command line. Messages between the processes go over pipes and sockets (the
//! supervisor's protocol), not arguments: these carry only paths, descriptors and
//! numbers.

use std::ffi::OsString;
use std::os::fd::RawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Every hidden role's first argument starts with this; no podrt command does.
const PREFIX: &str = "__podrt-";
/// First argument that makes the binary a pod supervisor.
const SUPERVISE: &str = "__podrt-supervise";
/// Last argument of [`SUPERVISE`] for a supervisor taking a pod over.
const ADOPT: &str = "adopt";
/// First argument that makes the binary a pod's PID 1.
const POD_INIT: &str = "__podrt-pod-init";
/// First argument that makes the binary a supervisor's container creator.
const CREATE: &str = "__podrt-create";
/// First argument that makes the binary a pod's terminator.
const TERMINATE: &str = "__podrt-terminate";

/// Each role's name and its argument list, as errors show it.
const USAGE: [(&str, &str); 4] = [
    (SUPERVISE, "__podrt-supervise POD_DIR REPORT_FD [adopt]"),
    (POD_INIT, "__podrt-pod-init REPORT_FD"),
    (CREATE, "__podrt-create POD_DIR"),
    (TERMINATE, "__podrt-terminate POD_DIR GRACE_MS"),
];

/// A hidden role, with its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// The supervisor of the pod at `pod_dir`, reporting how creation (or the
    /// takeover) went on descriptor `report_fd`.
    Supervise {
        /// The pod's directory.
        pod_dir: PathBuf,
        /// The report pipe's write end, inherited across exec.
        report_fd: RawFd,
        /// Taking the pod over from a supervisor that died.
        adopting: bool,
    },
    /// A pod's PID 1, reporting a failed setup step on `report_fd`.
    PodInit {
        /// The report pipe's write end, inherited across exec.
        report_fd: RawFd,
    },
    /// A supervisor's container creator for the pod at `pod_dir`: its work on
    /// stdin, its outcomes on stdout.
    Create {
        /// The pod's directory.
        pod_dir: PathBuf,
    },
    /// The terminator of the pod at `pod_dir`, with the grace period (whole
    /// milliseconds).
    Terminate {
        /// The pod's directory.
        pod_dir: PathBuf,
        /// The grace period.
        grace: Duration,
    },
}

/// Hidden-role arguments that do not parse. Only podrt writes them, so this is a
/// podrt release mismatch or a hand-made command line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoleError {
    /// The first argument looks like a hidden role this podrt does not have.
    #[error(
        "{name:?} is not a hidden role of this podrt (it has __podrt-supervise, \
         __podrt-pod-init, __podrt-create and __podrt-terminate; they are for podrt's \
         own use when it runs itself)"
    )]
    Unknown {
        /// The first argument.
        name: String,
    },
    /// A known role with arguments that do not fit it.
    #[error("hidden role {role}: {problem}; expected `{usage}` (for podrt's own use when it runs itself)")]
    Arguments {
        /// The role.
        role: &'static str,
        /// What is wrong.
        problem: String,
        /// What it takes.
        usage: &'static str,
    },
}

impl Role {
    /// The role named by the first of `args` (the arguments after the program
    /// name), or `None` for an ordinary command line.
    pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Option<Role>, RoleError> {
        let mut args = args.into_iter();
        let Some(first) = args.next() else {
            return Ok(None);
        };
        let Some(name) = first.to_str().filter(|n| n.starts_with(PREFIX)) else {
            return Ok(None);
        };
        let Some(&(role, usage)) = USAGE.iter().find(|(r, _)| *r == name) else {
            return Err(RoleError::Unknown { name: name.into() });
        };
        let mut a = Arguments {
            role,
            usage,
            rest: args.collect(),
            next: 0,
        };
        let parsed = match role {
            SUPERVISE => Role::Supervise {
                pod_dir: a.path("POD_DIR")?,
                report_fd: a.fd("REPORT_FD")?,
                adopting: a.flag(ADOPT)?,
            },
            POD_INIT => Role::PodInit {
                report_fd: a.fd("REPORT_FD")?,
            },
            CREATE => Role::Create {
                pod_dir: a.path("POD_DIR")?,
            },
            _ => Role::Terminate {
                pod_dir: a.path("POD_DIR")?,
                grace: Duration::from_millis(a.number("GRACE_MS")?),
            },
        };
        a.end()?;
        Ok(Some(parsed))
    }

    /// The role's arguments, its name first, as [`Role::parse`] reads them.
    pub(crate) fn args(&self) -> Vec<OsString> {
        let mut args = vec![OsString::from(self.name())];
        match self {
            Role::Supervise {
                pod_dir,
                report_fd,
                adopting,
            } => {
                args.push(pod_dir.as_os_str().to_owned());
                args.push(report_fd.to_string().into());
                if *adopting {
                    args.push(ADOPT.into());
                }
            }
            Role::PodInit { report_fd } => args.push(report_fd.to_string().into()),
            Role::Create { pod_dir } => args.push(pod_dir.as_os_str().to_owned()),
            Role::Terminate { pod_dir, grace } => {
                args.push(pod_dir.as_os_str().to_owned());
                let ms = u64::try_from(grace.as_millis()).unwrap_or(u64::MAX);
                args.push(ms.to_string().into());
            }
        }
        args
    }

    /// The name the process shows (its `argv[0]`).
    pub(crate) fn process_name(&self) -> &'static str {
        match self {
            Role::Supervise { .. } => "podrt-supervisor",
            Role::PodInit { .. } => "podrt-pod-init",
            Role::Create { .. } => "podrt-create",
            Role::Terminate { .. } => "podrt-terminate",
        }
    }

    /// The podrt binary `exe` in this role, ready to exec.
    pub(crate) fn command(&self, exe: &Path) -> Command {
        let mut cmd = Command::new(exe);
        cmd.arg0(self.process_name()).args(self.args());
        cmd
    }

    fn name(&self) -> &'static str {
        match self {
            Role::Supervise { .. } => SUPERVISE,
            Role::PodInit { .. } => POD_INIT,
            Role::Create { .. } => CREATE,
            Role::Terminate { .. } => TERMINATE,
        }
    }
}

/// The arguments after a role's name, read one at a time.
struct Arguments {
    role: &'static str,
    usage: &'static str,
    rest: Vec<OsString>,
    next: usize,
}

impl Arguments {
    fn error(&self, problem: String) -> RoleError {
        RoleError::Arguments {
            role: self.role,
            problem,
            usage: self.usage,
        }
    }

    fn take(&mut self, what: &str) -> Result<&OsString, RoleError> {
        let i = self.next;
        self.next += 1;
        match self.rest.get(i) {
            Some(a) => Ok(a),
            None => Err(self.error(format!("{what} is missing"))),
        }
    }

    fn path(&mut self, what: &str) -> Result<PathBuf, RoleError> {
        let a = self.take(what)?.clone();
        if a.is_empty() {
            return Err(self.error(format!("{what} is empty")));
        }
        Ok(PathBuf::from(a))
    }

    fn number(&mut self, what: &str) -> Result<u64, RoleError> {
        let a = self.take(what)?.clone();
        a.to_str()
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| self.error(format!("{what} is {a:?}, not a whole number")))
    }

    fn fd(&mut self, what: &str) -> Result<RawFd, RoleError> {
        let n = self.number(what)?;
        RawFd::try_from(n).map_err(|_| self.error(format!("{what} {n} is not a descriptor")))
    }

    /// Is the next argument `flag`? Nothing there is `false`; anything else is an
    /// error.
    fn flag(&mut self, flag: &str) -> Result<bool, RoleError> {
        match self.rest.get(self.next) {
            None => Ok(false),
            Some(a) if a == flag => {
                self.next += 1;
                Ok(true)
            }
            Some(a) => Err(self.error(format!("{a:?} where only {flag:?} may follow"))),
        }
    }

    fn end(&self) -> Result<(), RoleError> {
        match self.rest.get(self.next..) {
            Some([]) | None => Ok(()),
            Some(extra) => Err(self.error(format!("unexpected arguments {extra:?}"))),
        }
    }
}

/// Close every descriptor above stderr but `keep`. The long-lived processes
/// would otherwise hold, for the pod's whole life, whatever the command that
/// started them inherited without close-on-exec (a test harness's pipe, make's
/// jobserver), and whoever waits for that to close would wait for the pod.
pub fn close_inherited(keep: Option<i32>) {
    let ranges = match keep {
        Some(k) if k >= 3 => [
            (3, k as libc::c_uint - 1),
            (k as libc::c_uint + 1, libc::c_uint::MAX),
        ],
        _ => [(3, libc::c_uint::MAX), (1, 0)],
    };
    for (first, last) in ranges.into_iter().filter(|(f, l)| f <= l) {
        // SAFETY: close_range with integer arguments: closes only descriptors.
        unsafe { libc::syscall(libc::SYS_close_range, first, last, 0) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Option<Role>, RoleError> {
        Role::parse(args.iter().map(OsString::from))
    }

    fn every_role() -> [Role; 5] {
        [
            Role::Supervise {
                pod_dir: "/var/lib/podrt/pods/a b".into(),
                report_fd: 3,
                adopting: false,
            },
            Role::Supervise {
                pod_dir: "/r/pods/x".into(),
                report_fd: 17,
                adopting: true,
            },
            Role::PodInit { report_fd: 3 },
            Role::Create {
                pod_dir: "/r/pods/x".into(),
            },
            Role::Terminate {
                pod_dir: "/r/pods/x".into(),
                grace: Duration::from_millis(30_500),
            },
        ]
    }

    #[test]
    fn what_exec_writes_parse_reads() {
        for role in every_role() {
            assert_eq!(Role::parse(role.args()), Ok(Some(role.clone())));
            let cmd = role.command(Path::new("/usr/bin/podrt"));
            let args: Vec<OsString> = cmd.get_args().map(OsString::from).collect();
            assert_eq!(args, role.args());
        }
    }

    #[test]
    fn the_argument_lists_are_as_before() {
        // The tests and tools that find podrt's processes by their command line
        // read these: the role's name, then the pod's directory.
        assert_eq!(
            every_role()[1].args(),
            ["__podrt-supervise", "/r/pods/x", "17", "adopt"]
        );
        assert_eq!(every_role()[2].args(), ["__podrt-pod-init", "3"]);
        assert_eq!(every_role()[3].args(), ["__podrt-create", "/r/pods/x"]);
        assert_eq!(
            every_role()[4].args(),
            ["__podrt-terminate", "/r/pods/x", "30500"]
        );
    }

    #[test]
    fn an_ordinary_command_line_is_no_role() {
        assert_eq!(parse(&[]), Ok(None));
        assert_eq!(parse(&["get", "pods"]), Ok(None));
        assert_eq!(parse(&["--root", "/x", "__podrt-create", "/d"]), Ok(None));
        assert_eq!(parse(&["_podrt-create", "/d"]), Ok(None));
    }

    #[test]
    fn bad_arguments_are_errors_that_say_what_is_wrong() {
        let cases: &[(&[&str], &str)] = &[
            (&["__podrt-supervise"], "POD_DIR is missing"),
            (&["__podrt-supervise", "/d"], "REPORT_FD is missing"),
            (
                &["__podrt-supervise", "/d", "x"],
                "REPORT_FD is \"x\", not a whole number",
            ),
            (&["__podrt-supervise", "/d", "-1"], "not a whole number"),
            (
                &["__podrt-supervise", "/d", "99999999999"],
                "is not a descriptor",
            ),
            (
                &["__podrt-supervise", "/d", "3", "adopted"],
                "where only \"adopt\" may follow",
            ),
            (
                &["__podrt-supervise", "/d", "3", "adopt", "x"],
                "unexpected arguments [\"x\"]",
            ),
            (&["__podrt-supervise", "", "3"], "POD_DIR is empty"),
            (&["__podrt-pod-init"], "REPORT_FD is missing"),
            (&["__podrt-pod-init", "3", "4"], "unexpected arguments"),
            (&["__podrt-create"], "POD_DIR is missing"),
            // The old `name:out:err` work items: the work goes on stdin now.
            (
                &["__podrt-create", "/d", "web:5:6"],
                "unexpected arguments [\"web:5:6\"]",
            ),
            (&["__podrt-terminate", "/d"], "GRACE_MS is missing"),
            (
                &["__podrt-terminate", "/d", "1.5"],
                "GRACE_MS is \"1.5\", not a whole number",
            ),
            (&["__podrt-terminate", "/d", "+5"], "not a whole number"),
            (&["__podrt-terminate", "/d", ""], "not a whole number"),
        ];
        for (args, want) in cases {
            let err = parse(args).expect_err(&format!("{args:?}"));
            let text = err.to_string();
            assert!(text.contains(want), "{args:?}: {text}");
            assert!(
                text.starts_with(&format!("hidden role {}: ", args[0])),
                "{text}"
            );
            assert!(text.contains("expected `__podrt-"), "{text}");
        }
    }

    #[test]
    fn an_unknown_role_is_an_error() {
        let err = parse(&["__podrt-exec", "/d"]).unwrap_err();
        assert_eq!(
            err,
            RoleError::Unknown {
                name: "__podrt-exec".into()
            }
        );
        assert!(err
            .to_string()
            .contains("is not a hidden role of this podrt"));
    }
}
