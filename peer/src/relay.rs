//! Relay reservations (peer.md §3.5): the manager watches the hub registry and keeps one
//! reservation worker per hub whose relay admits us, up to `relay.max_reservations` hubs in URL
//! order. Hubs whose relay does not admit us get relay state `not_entitled` and no attempt until
//! the registry changes; a hub beyond the limit stays `none`. The workers (`relay/reservation.rs`)
//! run the reservation state machine; `relay/refresh.rs` serves `/goop/relay-refresh/1.0.0`;
//! `relay/upgrade.rs` closes relayed connections once DCUtR (or any dial) made a direct one;
//! `relay/voucher.rs` presents our vouchers to relays that admit only members as circuit source.

mod refresh;
mod reservation;
mod upgrade;
pub mod voucher;
mod wait;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use shared::server::Tasks;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::hub_url::HubUrl;
use crate::hubs::{HubView, RelayInfo};
use crate::node::Node;

/// Relay state of a hub whose relay does not admit us (peer.md §3.5 admission).
pub const NOT_ENTITLED: &str = "not_entitled";
/// Relay state of a hub without a worker.
const NONE: &str = "none";

/// A running reservation worker.
#[derive(Debug)]
struct Worker {
    /// The relay parameters it was started with; a change restarts it.
    info: RelayInfo,
    /// Stops it (it then releases its listener and relay connection).
    token: CancellationToken,
    /// Starts recovery at once (`/goop/relay-refresh` found no circuit).
    recover: Arc<Notify>,
}

/// The workers by hub, shared by the manager and the relay-refresh server.
#[derive(Debug, Clone, Default)]
struct Workers(Arc<Mutex<HashMap<HubUrl, Worker>>>);

impl Workers {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<HubUrl, Worker>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Asks the worker of `url` to recover now; false when there is none.
    fn recover(&self, url: &HubUrl) -> bool {
        self.lock()
            .get(url)
            .map(|w| w.recover.notify_one())
            .is_some()
    }
}

/// Starts the reservation manager, the `/goop/relay-refresh/1.0.0` server and the closing of
/// relayed connections after a direct upgrade.
pub fn spawn(node: &Arc<Node>, tasks: &Tasks) {
    let workers = Workers::default();
    tasks.spawn_infallible(
        "relay reservations",
        manage(
            node.clone(),
            workers.clone(),
            tasks.tracker().clone(),
            tasks.token().child_token(),
        ),
    );
    tasks.spawn_infallible(
        "relay upgrade",
        upgrade::run(
            node.clone(),
            tasks.tracker().clone(),
            tasks.token().child_token(),
        ),
    );
    tasks.spawn_infallible(
        "relay refresh",
        refresh::serve(
            node.clone(),
            workers,
            tasks.tracker().clone(),
            tasks.token().child_token(),
        ),
    );
}

async fn manage(node: Arc<Node>, workers: Workers, tracker: TaskTracker, token: CancellationToken) {
    let mut changes = node.hubs.subscribe();
    loop {
        reconcile(&node, &workers, &tracker, &token);
        tokio::select! {
            () = token.cancelled() => break,
            changed = changes.changed() => if changed.is_err() { break },
        }
    }
    for (_, worker) in workers.lock().drain() {
        worker.token.cancel();
    }
}

/// What the registry asks of one hub's relay.
#[derive(Debug, PartialEq, Eq)]
enum Want {
    /// Hold a reservation.
    Reserve(RelayInfo),
    /// No worker; show this state.
    Idle(&'static str),
    /// No relay (or the hub is gone): no worker, state left alone.
    Nothing,
}

/// Decides, in URL order, which hubs get a worker (peer.md §3.5 admission).
fn plan(views: &[HubView], max_reservations: usize) -> Vec<(HubUrl, Want)> {
    let mut slots = max_reservations;
    views
        .iter()
        .map(|view| {
            let want = match &view.relay {
                None => Want::Nothing,
                Some(_) if !view.relay_allowed => Want::Idle(NOT_ENTITLED),
                Some(_) if slots == 0 => Want::Idle(NONE),
                Some(info) => {
                    slots -= 1;
                    Want::Reserve(info.clone())
                }
            };
            (view.url.clone(), want)
        })
        .collect()
}

fn reconcile(
    node: &Arc<Node>,
    workers: &Workers,
    tracker: &TaskTracker,
    token: &CancellationToken,
) {
    let views = node.hubs.list();
    let max = usize::try_from(node.config.relay.max_reservations).unwrap_or(usize::MAX);
    let plan = plan(&views, max);
    let mut stopped = Vec::new();
    {
        let mut running = workers.lock();
        running.retain(|url, worker| {
            let keep = plan
                .iter()
                .any(|(u, want)| u == url && *want == Want::Reserve(worker.info.clone()));
            if !keep {
                worker.token.cancel();
                stopped.push(url.clone());
            }
            keep
        });
        for (url, want) in &plan {
            let Want::Reserve(info) = want else { continue };
            if running.contains_key(url) {
                continue;
            }
            let worker = Worker {
                info: info.clone(),
                token: token.child_token(),
                recover: Arc::new(Notify::new()),
            };
            tracker.spawn(reservation::run(
                node.clone(),
                url.clone(),
                info.clone(),
                worker.token.clone(),
                worker.recover.clone(),
            ));
            tracing::info!(hub = %url, relay = %info.peer_id, "relay reservation started");
            running.insert(url.clone(), worker);
        }
    }
    for url in &stopped {
        tracing::info!(hub = %url, "relay reservation stopped");
    }
    for (url, want) in plan {
        if let Want::Idle(state) = want {
            node.hubs.update(&url, |view| {
                view.relay_state = state.to_owned();
                view.circuit_addr = None;
                view.relay_error = None;
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::store::HubSource;

    fn view(url: &str, allowed: bool, relay: bool) -> HubView {
        let mut view = HubView::new(HubUrl::parse(url).unwrap(), HubSource::Config);
        view.relay_allowed = allowed;
        view.relay = relay.then(|| RelayInfo {
            peer_id: libp2p::PeerId::random(),
            addrs: Vec::new(),
            cleanup_delay: Duration::ZERO,
            poll_deadline: Duration::ZERO,
            connect_timeout: Duration::ZERO,
            refresh_interval: Duration::ZERO,
            recovery_grace: Duration::ZERO,
        });
        view
    }

    #[test]
    fn plan_reserves_at_the_first_admitting_hubs_up_to_the_limit() {
        let views = [
            view("http://a", true, true),
            view("http://b", false, true),
            view("http://c", true, false),
            view("http://d", true, true),
            view("http://e", true, true),
        ];

        let plan = plan(&views, 2);

        let kinds: Vec<_> = plan
            .iter()
            .map(|(_, want)| match want {
                Want::Reserve(_) => "reserve",
                Want::Idle(state) => state,
                Want::Nothing => "nothing",
            })
            .collect();
        assert_eq!(kinds, ["reserve", NOT_ENTITLED, "nothing", "reserve", NONE]);
    }
}
