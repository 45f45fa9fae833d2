//! Pieces shared by the goop-hubs servers (`hub`, `superhub`) and the `peer`: identities and their
//! parsing, Ed25519 signing over libp2p keys, key files, layered configuration, telemetry, the
//! shutdown signal and (feature `db`) the one way to the database.
//!
//! # Layout
//! - [`api`]: JSON documents shared between crates (info documents, error body).
//! - [`cli`] (feature `server`): the command-line frame of the servers (`run`, `id`, common flags).
//! - [`ids`]: validated newtypes ([`ids::Ed25519PeerId`], [`ids::Slug`]).
//! - [`signing`]: sign and verify payloads; PeerId ↔ public key; base64url.
//! - [`init`]: `init --dir`: a commented config plus a key.
//! - [`keyfile`]: load or create the libp2p protobuf key file (mode 0600).
//! - [`config`]: defaults → TOML → environment layering with unknown keys refused.
//! - [`clock`]: the wall clock in unix milliseconds, which tests can move forward.
//! - [`cursor`]: keyset-pagination cursors and their opaque text form.
//! - [`envelope`]: signed envelopes (hub records, tombstones, notes): sign, parse, verify.
//! - [`record`]: the hub record and tombstone payloads and their rules (hub.md §11.3).
//! - [`voucher`]: membership vouchers (EdDSA JWTs): sign, verify offline, JWK.
//! - [`telemetry`]: `tracing` subscriber set-up (text or JSON).
//! - [`server`] (feature `server`): task ownership, `/healthz` and `/readyz`, `/metrics`, HTTP
//!   metrics and layers, error bodies, HTML escaping, listeners.
//! - [`peer_sig`]: PeerSig request headers: signing; verifying and replay cache (feature `server`).
//! - [`presence`]: the presence message (hub.md §5.1): parsing, class encodings, fingerprint.
//! - [`protocol`]: identify version, software names, shared stream protocol ids.
//! - [`rate_limit`] (feature `server`): token buckets, alone or one per key.
//! - [`shutdown`]: a future that resolves on ctrl-c or SIGTERM.
//! - [`db`] (feature `db`: SQLite only; feature `postgres` adds the Postgres driver): `sqlx::AnyPool`,
//!   pragmas, write transactions, connection retries, the `<server>_state` tables.
//!
//! ```
//! use shared::{ids::Ed25519PeerId, signing};
//!
//! let key = libp2p::identity::ed25519::Keypair::generate();
//! let signer: Ed25519PeerId = key.public().into();
//! let sig = signing::sign_b64u(&key, b"hello");
//! assert!(signing::verify_b64u(&signer, b"hello", &sig).is_ok());
//! ```

pub mod api;
#[cfg(feature = "server")]
pub mod cli;
pub mod clock;
pub mod config;
pub mod cursor;
#[cfg(feature = "db")]
pub mod db;
pub mod envelope;
pub mod error_code;
#[cfg(test)]
mod hostile;
#[cfg(feature = "client")]
pub mod http_client;
pub mod ids;
pub mod init;
pub mod keyfile;
pub mod peer_sig;
pub mod presence;
pub mod protocol;
#[cfg(feature = "server")]
pub mod rate_limit;
pub mod record;
#[cfg(feature = "server")]
pub mod server;
pub mod shutdown;
pub mod signing;
pub mod telemetry;
pub mod voucher;

/// Version of this workspace, reported in `software.version` and build-info metrics.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
