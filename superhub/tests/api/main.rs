//! Super hub integration tests: one binary; database tests run on SQLite and on Postgres.

mod http;
mod search;
mod store;
