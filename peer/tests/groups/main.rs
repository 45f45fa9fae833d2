//! Groups between real peers on loopback (peer.md §8, §14 group rows): a host and members
//! started as [`peer::Peer`]s, members dialling the host by address.

mod cli;
mod harness;
mod hostile;
mod hosting;
mod lifecycle;
mod rooms;
mod routes;
mod vouchers;
