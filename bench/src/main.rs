//! `goop-bench <scenario>`: the benchmarks run by `scripts/bench`. Each scenario runs on loopback,
//! bounds its work, and prints `RESULT <name> <value>` lines (names in BENCHMARKS.md).
//!
//! # Layout
//! - `store`: store throughput on SQLite and Postgres.
//! - `relay`: stream throughput through the hub relay, a bare rust-libp2p relay, and directly;
//!   the two peers run as child processes (`goop-bench relay-peer …`, see `relay_peer`).
//! - `presence`: fan-out latency of one change to N WebSocket subscribers; hub RSS per subscriber.
//! - `reservations`: concurrent relay reservations held by one hub; hub RSS per reservation.
//! - `join`: email join → verify flows per second through a hub's HTTP API on Postgres, and
//!   offline voucher verifications per second.
//! - `webhooks`: signed Stripe events through the hub's webhook on Postgres: events per second
//!   and p99 latency, with duplicates and out-of-order events in the mix.
//! - `federation`: three super hubs in a chain with a 1 s pull interval; convergence of 10,000
//!   records registered at the first, in seconds and in intervals.
//! - `search`: `GET /api/v1/hubs` p50/p95 latency over HTTP against a super hub holding 100,000
//!   listed hubs, on SQLite and on Postgres, with a mix of text, filters and deep pages.
//! - `abuse`: a member's p99 and errors on a hub process while an attacker (a niced child
//!   process, `goop-bench abuse-attacker …`) opens slow-header connections, sends requests signed
//!   by fresh keys and holds unauthenticated WebSocket upgrades from 127.0.1.0/24.
//! - `peer`: the `peer` binary as its own process joined to three hub processes: time from spawn
//!   until all three are online, and its resident memory when idle (`peer_daemon`).
//! - `mq`: acked messages per second and p99 send → ack latency between two library peers,
//!   directly and through a hub relay.
//! - `hub_process`: starts the `hub` binary as a separate process and reads its RSS.

mod abuse;
mod federation;
mod hub_process;
mod join;
mod mq;
mod peer_daemon;
mod presence;
mod relay;
mod relay_peer;
mod reservations;
mod search;
mod store;
mod webhooks;

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let scenario = args.first().cloned().unwrap_or_default();
    if scenario != "relay-peer" && scenario != "abuse-attacker" {
        println!(
            "cpus {}",
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
    }
    let outcome = match scenario.as_str() {
        "store" => store::run().await,
        "relay" => relay::run().await,
        "relay-peer" => relay_peer::run(&args[1..]).await,
        "presence" => presence::run().await,
        "reservations" => reservations::run().await,
        "join" => join::run().await,
        "webhooks" => webhooks::run().await,
        "federation" => federation::run().await,
        "search" => search::run().await,
        "abuse" => abuse::run().await,
        "abuse-attacker" => abuse::run_attacker(&args[1..]).await,
        "peer" => peer_daemon::run().await,
        "mq" => mq::run().await,
        other => Err(format!(
            "unknown scenario {other:?}; known: store, relay, presence, reservations, join, webhooks, search, federation, abuse, peer, mq"
        )),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("goop-bench: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Prints one figure in the format tools read.
fn result(name: &str, value: f64) {
    println!("RESULT {name} {value:.3}");
}

/// The median of a non-empty sample.
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    }
}

/// The `q` quantile (0..=1) of a non-empty sample, nearest rank.
fn quantile(values: &mut [f64], q: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
    values[rank - 1]
}
