//! Super hub integration tests: one binary; database tests run on SQLite and on Postgres.

mod deploy;
mod directory;
mod federation;
mod http;
mod http_limits;
mod probe;
mod replicas;
mod search;
mod search_scale;
mod search_tiers;
mod store;
