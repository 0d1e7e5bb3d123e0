//! podrt's command-line front ends. Each binary is a thin layer: parse arguments,
//! call `podrt-sandbox`/`podrt-runtime`, print, and map errors to exit codes.

pub mod pod;
pub mod runc;
