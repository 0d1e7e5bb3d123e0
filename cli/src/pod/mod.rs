//! `podrt`: the kubectl-like pod command line. Parses arguments, calls
//! `podrt-sandbox`, prints; every failure is one line on stderr and exit status 1.

mod args;
mod commands;
mod edit;
mod exec;
mod images;
mod label;
mod logs;
mod namespaces;
pub mod print;
mod psps;
mod pull_progress;
mod pulls;
mod revisions;
mod scope;
mod secrets;
mod services;
mod stored;
mod wait;
mod watch;
mod workloads;

use clap::Parser;

pub use args::{Cli, Command};

/// Entry point of the `podrt` binary; returns the process exit status.
pub fn main() -> i32 {
    let cli = Cli::parse();
    init_log(cli.debug, matches!(cli.command, Command::Serve(_)));
    match commands::dispatch(&cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", crate::error_line(&e));
            1
        }
    }
}

/// Warnings only for a command; the agent (`serve`) also tells what it does,
/// with the time.
fn init_log(debug: bool, agent: bool) {
    let level = if debug {
        tracing::Level::DEBUG
    } else if agent {
        tracing::Level::INFO
    } else {
        tracing::Level::WARN
    };
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = if agent {
        builder.try_init()
    } else {
        builder.without_time().try_init()
    };
}
