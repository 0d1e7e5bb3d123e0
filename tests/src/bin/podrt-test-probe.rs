//! Tries one access to podrt's state and says how it went, for tests that run it as
//! a user other than root: `podrt-test-probe list|read|connect|open-fifo PATH`
//! prints `ok` or the error's name (`EACCES`, `ENOENT`, …) and exits 0 or 1.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [what, path] = args.as_slice() else {
        eprintln!("usage: podrt-test-probe list|read|connect|open-fifo PATH");
        std::process::exit(2);
    };
    let outcome = match what.as_str() {
        "list" => std::fs::read_dir(path).map(drop),
        "read" => std::fs::File::open(path).and_then(|mut f| f.read(&mut [0u8; 64]).map(drop)),
        "connect" => std::os::unix::net::UnixStream::connect(path).map(drop),
        // Non-blocking: opening a FIFO for reading must not wait for a writer.
        "open-fifo" => std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .map(drop),
        other => {
            eprintln!("podrt-test-probe: unknown probe {other:?}");
            std::process::exit(2);
        }
    };
    match outcome {
        Ok(()) => println!("ok"),
        Err(e) => {
            println!("{}", errno_name(&e));
            std::process::exit(1);
        }
    }
}

fn errno_name(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::EACCES) => "EACCES".into(),
        Some(libc::EPERM) => "EPERM".into(),
        Some(libc::ENOENT) => "ENOENT".into(),
        Some(libc::ECONNREFUSED) => "ECONNREFUSED".into(),
        _ => format!("{e}"),
    }
}
