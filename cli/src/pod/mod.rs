//! `podrt`: the kubectl-like pod command line. Parses arguments, calls
//! `podrt-sandbox`, prints; every failure is one line on stderr and exit status 1.

mod args;
mod commands;
mod exec;
mod logs;
pub mod print;

use clap::Parser;

pub use args::{Cli, Command};

/// Entry point of the `podrt` binary; returns the process exit status.
pub fn main() -> i32 {
    let cli = Cli::parse();
    init_log(cli.debug);
    match commands::dispatch(&cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", crate::error_line(&e));
            1
        }
    }
}

fn init_log(debug: bool) {
    let level = if debug {
        tracing::Level::DEBUG
    } else {
        tracing::Level::WARN
    };
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .without_time()
        .with_target(false)
        .try_init();
}
