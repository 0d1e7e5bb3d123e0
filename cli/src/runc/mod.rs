//! The runc-compatible command line: global flags, one function per verb.
//!
//! Errors are printed as one line on stderr and, when `--log` is given, written to
//! that file as runc does (containerd's shim reads the last line to report why a
//! container failed); `--log-format json` writes `{"level","msg","time"}` records.

mod args;
mod commands;
mod log;

use clap::Parser;

pub use args::{Cli, Command};

/// Parse the command line, run it, and return the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    log::init(&cli);
    match commands::dispatch(&cli) {
        Ok(code) => code,
        Err(e) => {
            let msg = crate::error_line(&e);
            log::error(&cli, &msg);
            eprintln!("podrt-runc: {msg}");
            1
        }
    }
}
