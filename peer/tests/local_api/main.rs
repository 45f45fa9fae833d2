//! The local HTTP API through its real listener (peer.md §11): a started [`peer::Peer`] on
//! loopback and raw HTTP/1.1 requests, so every header is exactly what the test wrote.

mod events;
mod frame;
mod harness;
mod routes;
