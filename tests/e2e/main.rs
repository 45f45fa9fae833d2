//! End-to-end tests: hubs, super hubs and peers in one process on loopback.

mod directory;
mod peers;
mod suite;
