//! Request extractors of the super hub's routes: the client IP behind trusted proxies
//! (superhub.md §10) and the per-IP buckets it is charged to.

use std::net::IpAddr;
use std::time::Instant;

use shared::rate_limit::{RateLimited, RateLimiter};

use crate::config::RateLimits;
use crate::state::AppState;

pub(crate) use shared::server::ClientIp;

impl shared::server::HttpState for AppState {
    fn http(&self) -> &shared::config::HttpConfig {
        &self.config.http
    }
}

/// The per-IP token buckets of §10 (per replica).
#[derive(Debug)]
pub(crate) struct IpLimiters {
    /// `POST /api/v1/hubs`, before anything else.
    pub(crate) register: RateLimiter<IpAddr>,
    /// The federation feed.
    pub(crate) feed: RateLimiter<IpAddr>,
    /// Search, resolve, detail and the public pages.
    pub(crate) search: RateLimiter<IpAddr>,
}

impl IpLimiters {
    pub(crate) fn new(limits: &RateLimits) -> Self {
        Self {
            register: RateLimiter::new(limits.register_ip),
            feed: RateLimiter::new(limits.feed_ip),
            search: RateLimiter::new(limits.search_ip),
        }
    }
}

/// Takes a token for `ip` from `limiter`.
///
/// # Errors
/// [`RateLimited`], answered as 429 with `Retry-After`.
pub(crate) fn charge(limiter: &RateLimiter<IpAddr>, ip: IpAddr) -> Result<(), RateLimited> {
    limiter.check(ip, Instant::now())
}
