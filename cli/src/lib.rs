//! podrt's command-line front ends. Each binary is a thin layer: parse arguments,
//! call `podrt-sandbox`/`podrt-runtime`, print, and map errors to exit codes.

pub mod pod;
pub mod roles;
pub mod runc;

/// The exit status of a bug (sysexits' EX_SOFTWARE), never a user's mistake.
pub const EXIT_BUG: i32 = 70;

/// A panic is a bug in podrt: say so on one line of stderr (where, and what)
/// and exit with [`EXIT_BUG`], instead of Rust's multi-line report and 101.
pub fn install_panic_hook(program: &'static str) {
    std::panic::set_hook(Box::new(move |info| {
        let line = panic_line(program, info);
        if is_closed_stdout(&line) {
            // `podrt get pods | head -1`: the reader left, as with any Unix tool
            // killed by SIGPIPE; nothing to report.
            std::process::exit(EXIT_CLOSED_PIPE);
        }
        eprintln!("{line}");
        std::process::exit(EXIT_BUG);
    }));
}

/// The status of a process killed by SIGPIPE, as a shell reports it.
const EXIT_CLOSED_PIPE: i32 = 128 + libc::SIGPIPE;

/// Whether a panic is `println!` failing because stdout's reader went away.
fn is_closed_stdout(line: &str) -> bool {
    line.contains("failed printing to stdout") && line.contains("Broken pipe")
}

fn panic_line(program: &str, info: &std::panic::PanicHookInfo<'_>) -> String {
    let what = info
        .payload()
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| info.payload().downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    let at = info
        .location()
        .map(|l| format!(" at {}:{}", l.file(), l.line()))
        .unwrap_or_default();
    format!(
        "{program}: internal error (a bug, please report it): {}{at}",
        what.replace('\n', " ")
    )
}

/// The error and its causes on one line, skipping a cause whose text the message
/// before it already contains (runtime errors print their own source).
pub(crate) fn one_line(e: &anyhow::Error) -> String {
    let mut msg = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !msg.contains(&text) {
            if !msg.is_empty() {
                msg.push_str(": ");
            }
            msg.push_str(&text);
        }
    }
    msg
}

/// What to do about `e` when it is podrt's state being closed to a user other than
/// root (its directories are 0700): `None` for any other error, or for root.
pub(crate) fn not_root_hint(e: &anyhow::Error) -> Option<&'static str> {
    let denied = e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::PermissionDenied)
    });
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    (denied && !root).then_some("podrt's state is root's alone: run podrt as root")
}

/// [`one_line`] with [`not_root_hint`] after it.
pub(crate) fn error_line(e: &anyhow::Error) -> String {
    match not_root_hint(e) {
        Some(hint) => format!("{}; {hint}", one_line(e)),
        None => one_line(e),
    }
}
