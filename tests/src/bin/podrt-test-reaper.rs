//! A child subreaper for tests, standing in for a host's init that reaps at once:
//! runs its arguments as a command, prints `exit N` when that ends, and from then
//! on reaps every orphan that reaches it (a killed supervisor's containers) the
//! moment it ends, telling nobody how. Ends when killed.

use std::io::Write;

fn main() {
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    let mut args = std::env::args_os().skip(1);
    let Some(program) = args.next() else {
        eprintln!("usage: podrt-test-reaper COMMAND [ARG...]");
        std::process::exit(2);
    };
    let child = match std::process::Command::new(&program).args(args).spawn() {
        Ok(c) => c.id() as i32,
        Err(e) => {
            eprintln!("podrt-test-reaper: running {program:?}: {e}");
            std::process::exit(2);
        }
    };
    loop {
        let mut status = 0;
        // SAFETY: waitpid on any child with a pointer to a local.
        let pid = unsafe { libc::waitpid(-1, &mut status, 0) };
        if pid == child {
            let code = if libc::WIFEXITED(status) {
                libc::WEXITSTATUS(status)
            } else {
                128 + libc::WTERMSIG(status)
            };
            let mut out = std::io::stdout();
            let _ = writeln!(out, "exit {code}");
            let _ = out.flush();
        } else if pid < 0 {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }
}
