//! The pod's state on disk, the bottom of what knows a pod: where its files are
//! ([`paths`]), its record `pod.json` and the types it holds ([`record`]), the
//! locks that order changes ([`lock`]), and finding pods again ([`listing`],
//! [`Sandbox`]). Nothing here makes or removes a kernel object.

pub mod events;
pub mod kubelet_meta;
pub mod listing;
pub(crate) mod lock;
pub mod paths;
pub mod record;
mod sandbox;
#[cfg(test)]
pub(crate) mod test_support;

pub use sandbox::Sandbox;
