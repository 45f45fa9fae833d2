//! `peer run`: start the daemon, log where it listens, run until SIGINT/SIGTERM or a task failure,
//! then shut down. Exit 0 after a signal, 1 when it could not start or a task failed.

use std::process::ExitCode;

use peer::{Peer, PeerConfig};

use super::{FAILURE, fail, report};

/// Runs the daemon with `config`.
pub(super) async fn run(config: PeerConfig) -> ExitCode {
    if let Err(error) = shared::telemetry::init(&config.log) {
        return report(&error);
    }
    let mut peer = match Peer::start(config).await {
        Ok(peer) => peer,
        Err(error) => {
            tracing::error!(%error, "the peer could not start");
            return report(&error);
        }
    };
    for addr in peer.listen_addrs() {
        tracing::info!(%addr, "listening for libp2p connections");
    }
    if let Some(addr) = peer.http_addr() {
        tracing::info!("local API on http://{addr}");
    }
    let outcome = tokio::select! {
        () = shared::shutdown::shutdown_signal() => ExitCode::SUCCESS,
        error = peer.stopped() => {
            tracing::error!(%error, "a task of the peer stopped; shutting down");
            fail(FAILURE, &error.to_string())
        }
    };
    peer.shutdown().await;
    tracing::info!("peer stopped");
    outcome
}
