//! Process helpers, below the pod's state: a process known by PID and start time
//! ([`identity`]), watched through a pidfd ([`pidfd`]) or polled ([`ready`]);
//! starting a detached process ([`detach`]); the hidden roles the podrt binary
//! runs as ([`roles`]); keeping long-lived processes small ([`trim`]); the clock
//! as Kubernetes writes it ([`clock`]). Nothing here knows what a pod is.

pub(crate) mod clock;
pub mod detach;
pub(crate) mod identity;
pub(crate) mod pidfd;
pub(crate) mod ready;
pub mod roles;
pub(crate) mod trim;
