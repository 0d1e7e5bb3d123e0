//! The Container Network Interface (spec 1.0.0; results of 0.4.0 and 0.3.x
//! accepted): load a network config, run its plugins to attach a pod's network
//! namespace (ADD) and detach it (DEL).
//!
//! This module only speaks the protocol with plugin executables; it never
//! touches the network itself. Pinning the namespace and keeping the ADD result
//! in the pod's state (for DEL's `prevResult`) is the caller's job.

mod config;
mod error;
pub(crate) mod exec;
mod result;
mod runtime;
#[cfg(test)]
pub(crate) mod test_support;
#[cfg(test)]
mod tests;

pub(crate) use config::NetworkList;
pub use error::{Call, Command, Error};
pub use result::{Cidr, CniResult, Dns, Interface, IpConfig, Route, SUPPORTED_VERSIONS};
pub(crate) use runtime::{Attachment, Runtime};
