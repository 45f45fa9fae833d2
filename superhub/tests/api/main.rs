//! Super hub integration tests: one binary; database tests run on SQLite and on Postgres.

mod federation;
mod http;
mod replicas;
mod store;
