//! The Goop² super hub: a directory of community hubs ("DNS for communities"), backed by SQLite
//! or Postgres (see `docs/spec/superhub.md`).
//!
//! # Layout
//! - [`config`]: typed configuration, layered defaults → TOML → `SUPERHUB_*` env → CLI.
//! - [`server`]: [`Server::start`] / [`Server::join`] / [`Server::shutdown`]; owns every task.
//! - `http`: the axum router (`/healthz`, `/readyz`, `/api/v1/info`, registration, detail, resolve).
//! - [`directory`]: the directory's rules: registration checks and ordering, detail, resolve, the sweep.
//! - [`probe`]: the probe scheduler and the HTTP and libp2p probes (§4).
//! - [`store`]: all SQL, one implementation for both databases.
//! - [`init`]: `superhub init`, writing a commented config and a key.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = superhub::Config::for_tests(std::path::Path::new("/tmp/superhub"), "sqlite://superhub.db?mode=rwc");
//! let server = superhub::Server::start(config).await?;
//! println!("HTTP on {}", server.http_addr());
//! server.shutdown().await;
//! # Ok(())
//! # }
//! ```

pub mod config;
pub mod directory;
pub mod federation;
mod http;
pub mod init;
pub mod lease;
mod metrics;
pub mod probe;
pub mod server;
mod state;
pub mod store;

pub use config::Config;
pub use server::{Server, StartError};
