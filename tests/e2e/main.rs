//! End-to-end tests: hubs, super hubs and peers in one process on loopback.

mod directory;
mod memberships;
mod peers;
mod suite;
