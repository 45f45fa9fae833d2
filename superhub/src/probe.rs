//! Probing (superhub.md §4): a scheduler that takes due hubs from the database queue
//! ([`scheduler`]), the HTTP probe that gates listing ([`http`]) behind the address filter
//! ([`address`]), the libp2p probe that only measures ([`p2p`]), and the state machine that turns
//! a result into a state and a next due time ([`transition`]).
//!
//! The scheduler runs in [`Server::start`](crate::Server::start) as task `probe-scheduler`
//! (plus `probe-p2p`, the libp2p probe's swarm); probes in flight at shutdown are abandoned and
//! not recorded.

pub mod address;
mod http;
pub mod outcome;
mod p2p;
mod scheduler;
mod transition;

pub use outcome::{HttpOutcome, Measured, P2pOutcome};
pub use p2p::BuildSwarmError;
pub(crate) use scheduler::Prober;
