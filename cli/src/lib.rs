//! podrt's command-line front ends. Each binary is a thin layer: parse arguments,
//! call `podrt-sandbox`/`podrt-runtime`, print, and map errors to exit codes.

pub mod pod;
pub mod runc;

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
