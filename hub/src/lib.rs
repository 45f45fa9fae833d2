//! The Goop² community hub: one community's server. It relays and introduces peers over libp2p
//! and serves the community's HTTP API, backed by SQLite or Postgres (see `docs/spec/hub.md`).
//!
//! # Layout
//! - [`config`]: typed configuration, layered defaults → TOML → `HUB_*` env → CLI.
//! - [`entitlements`]: who may use presence, rendezvous and the relay; every gate asks it.
//! - [`server`]: [`Server::start`] / [`Server::join`] / [`Server::shutdown`]; owns every task.
//! - `routes`: the application — the JSON API and the pages side by side, with the shared layers.
//! - `http`: the JSON routes, one file per concept (join, verify, sessions, account, bindings,
//!   vouchers, admin, presence, `/relay`), the extractors, body readers, session cookie and
//!   `ApiError`, which maps the domain's errors to the spec's codes in one place.
//! - `membership`: join, verification, sessions, bindings, vouchers, administration, and the one
//!   path that turns a committed account change into entitlements and revocations;
//!   [`members`] (`membership/rules.rs`): states, tiers, the pure recompute, what a standing entitles.
//! - [`billing`]: Stripe checkout, portal, the webhook and reconciliation (§8).
//! - `presence`: the live map of online peers and the fan-out to WebSocket and SSE subscribers.
//! - PeerSig verification, token buckets, the presence message and the server frame come from
//!   [`shared`] (`peer_sig`, `rate_limit`, `presence`, `cli`, `server`).
//! - `p2p`: the libp2p swarm in an event loop, reached through a command handle.
//! - `email`: the mailer (SMTP, log, file), the durable outbox worker and the mail texts.
//! - `web`: the server-rendered pages of §10 (landing, join, verify, sign-in, account, admin).
//! - [`store`]: all SQL, one implementation for both databases.
//! - [`directory`]: signed hub records and tombstones, announced to super hubs (§11.3–11.4);
//!   [`directory_cli`]: `hub record` and `hub decommission`.
//! - [`init`]: `hub init`, writing a commented config and a key.
//! - [`admin_cli`]: `hub admin …`, a client of the admin API (`http/admin.rs`, `membership/admin.rs`).
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = hub::Config::for_tests(std::path::Path::new("/tmp/hub"), "sqlite://hub.db?mode=rwc");
//! let server = hub::Server::start(config).await?;
//! println!("HTTP on {}", server.http_addr());
//! server.shutdown().await;
//! # Ok(())
//! # }
//! ```

pub mod admin_cli;
pub mod billing;
pub mod config;
pub mod directory;
pub mod directory_cli;
mod email;
pub mod entitlements;
mod http;
pub mod init;
mod membership;
mod metrics;
mod p2p;
mod presence;
mod routes;
pub mod server;
mod state;
pub mod store;
mod utc;
mod web;

pub use config::Config;
pub use email::MailerError;
pub use members::Rights;
/// The pure membership rules (states, tiers, recompute, rights), also used by tests and the bench.
pub use membership::rules as members;
pub use p2p::StartNetworkError;
pub use server::{Server, StartError};
