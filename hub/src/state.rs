//! Shared state of the HTTP handlers: cheap-to-clone parts only.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::FromRef;
use libp2p::PeerId;
use shared::api::HubInfo;
use shared::ids::Ed25519PeerId;
use shared::peer_sig::PeerSigVerifier;
use shared::rate_limit::{RateLimited, RateLimiter};

use crate::config::Config;
use crate::entitlements::Entitlements;
use crate::membership::Membership;
use crate::p2p::NetworkHandle;
use crate::presence::Presence;
use crate::store::Store;

/// Everything a handler may need; each handler takes only what it uses.
#[derive(Debug, Clone)]
pub(crate) struct AppState {
    pub(crate) config: Arc<Config>,
    pub(crate) hub_id: Ed25519PeerId,
    pub(crate) store: Store,
    pub(crate) network: NetworkHandle,
    pub(crate) info: Arc<HubInfo>,
    pub(crate) ready: shared::server::Readiness,
    pub(crate) presence: Presence,
    pub(crate) entitlements: Entitlements,
    pub(crate) peer_sig: Arc<PeerSigVerifier>,
    pub(crate) limits: Arc<Limiters>,
    pub(crate) membership: Membership,
    /// Signs hub records and tracks the announcements to super hubs.
    pub(crate) directory: crate::directory::Directory,
    /// Present when `billing.enabled`.
    pub(crate) billing: Option<crate::billing::Billing>,
}

/// The HTTP rate limiters (hub.md §13.2).
#[derive(Debug)]
pub(crate) struct Limiters {
    pub(crate) publish_ip: RateLimiter<IpAddr>,
    pub(crate) publish_peer: RateLimiter<PeerId>,
    pub(crate) email_ip: RateLimiter<IpAddr>,
    pub(crate) email_addr: RateLimiter<String>,
    pub(crate) verify_ip: RateLimiter<IpAddr>,
    pub(crate) bind_ip: RateLimiter<IpAddr>,
    pub(crate) voucher_peer: RateLimiter<PeerId>,
    pub(crate) admin_fail_ip: RateLimiter<IpAddr>,
    pub(crate) billing_account: RateLimiter<String>,
}

impl Limiters {
    /// The email buckets of hub.md §13.2 (join, login, resend, email change): per client IP,
    /// then per normalized address. `Err` holds the wait.
    pub(crate) fn check_email(&self, ip: IpAddr, email: &str) -> Result<(), RateLimited> {
        let now = std::time::Instant::now();
        self.email_ip.check(ip, now)?;
        self.email_addr.check(email.to_owned(), now)
    }

    pub(crate) fn new(config: &Config) -> Self {
        Self {
            publish_ip: RateLimiter::new(config.rate_limits.publish_ip),
            publish_peer: RateLimiter::new(config.rate_limits.publish_peer),
            email_ip: RateLimiter::new(config.rate_limits.email_ip),
            email_addr: RateLimiter::new(config.rate_limits.email_addr),
            verify_ip: RateLimiter::new(config.rate_limits.verify_ip),
            bind_ip: RateLimiter::new(config.rate_limits.bind_ip),
            voucher_peer: RateLimiter::new(config.rate_limits.voucher_peer),
            admin_fail_ip: RateLimiter::new(config.rate_limits.admin_fail_ip),
            billing_account: RateLimiter::new(config.rate_limits.billing_account),
        }
    }
}

impl FromRef<AppState> for Store {
    fn from_ref(state: &AppState) -> Self {
        state.store.clone()
    }
}
