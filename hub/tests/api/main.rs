//! Hub integration tests: one binary; every test that touches a database runs on SQLite and on
//! Postgres (`testkit::each_backend!`).

mod admin;
mod billing;
mod deploy;
mod directory;
mod email;
mod environment;
mod health;
mod http_limits;
mod info;
mod interop;
mod lifecycle;
mod membership;
mod p2p;
mod presence;
mod relay;
mod rendezvous;
mod store;
mod stripe_mock;
mod web;
