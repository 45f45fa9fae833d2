//! WebSocket slots (hub.md §5.4): a slot is taken before the upgrade and held until the socket is
//! gone, so sockets still in the auth phase count toward `ws_max_per_ip` and `ws_max_total` like
//! sessions do; those still authenticating are also capped on their own (`ws_max_pending`,
//! `ws_max_pending_per_ip`), so sockets that never authenticate cannot crowd out members.

use std::net::IpAddr;

use shared::rate_limit::{KeyedCount, ip_key};

use super::Presence;
use crate::config::PresenceConfig;

/// Why a WebSocket upgrade was refused (429 before the upgrade).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SlotError {
    /// `ws_max_per_ip` or `ws_max_total` reached.
    #[error("too many WebSockets")]
    TooMany,
    /// `ws_max_pending_per_ip` or `ws_max_pending` reached.
    #[error("too many WebSockets still authenticating")]
    TooManyPending,
}

/// Open sockets and those of them still authenticating.
#[derive(Debug, Default, Clone, Copy)]
struct Count {
    open: usize,
    pending: usize,
}

/// The slot counts, per client address (/64 for IPv6) and in total.
#[derive(Debug, Default)]
pub(super) struct Slots {
    open: KeyedCount<IpAddr>,
    pending: KeyedCount<IpAddr>,
    total: Count,
}

impl Slots {
    fn take(&mut self, key: IpAddr, config: &PresenceConfig) -> Result<(), SlotError> {
        if self.open.get(&key) >= config.ws_max_per_ip || self.total.open >= config.ws_max_total {
            return Err(SlotError::TooMany);
        }
        if self.pending.get(&key) >= config.ws_max_pending_per_ip
            || self.total.pending >= config.ws_max_pending
        {
            return Err(SlotError::TooManyPending);
        }
        self.open.add(key);
        self.pending.add(key);
        self.total.open += 1;
        self.total.pending += 1;
        Ok(())
    }

    fn admit(&mut self, key: IpAddr) {
        self.pending.remove_one(&key);
        self.total.pending = self.total.pending.saturating_sub(1);
    }

    fn release(&mut self, key: IpAddr, pending: bool) {
        if pending {
            self.admit(key);
        }
        self.open.remove_one(&key);
        self.total.open = self.total.open.saturating_sub(1);
    }
}

/// A WebSocket's slot, pending until [`WsSlot::admit`]; dropping it gives the slot back.
#[derive(Debug)]
pub(crate) struct WsSlot {
    presence: Presence,
    key: IpAddr,
    pending: bool,
}

impl WsSlot {
    /// The socket left the auth phase (a session began): its pending slot is freed.
    pub(crate) fn admit(&mut self) {
        if std::mem::replace(&mut self.pending, false) {
            self.presence.lock().slots.admit(self.key);
        }
    }
}

impl Drop for WsSlot {
    fn drop(&mut self) {
        self.presence.lock().slots.release(self.key, self.pending);
    }
}

impl Presence {
    /// Takes a pending WebSocket slot for a socket from `ip`, before its upgrade.
    pub(crate) fn reserve_ws(&self, ip: IpAddr) -> Result<WsSlot, SlotError> {
        let key = ip_key(ip);
        self.lock().slots.take(key, &self.config)?;
        Ok(WsSlot {
            presence: self.clone(),
            key,
            pending: true,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(per_ip: usize, pending_per_ip: usize) -> PresenceConfig {
        PresenceConfig {
            ws_max_per_ip: per_ip,
            ws_max_pending_per_ip: pending_per_ip,
            ..PresenceConfig::default()
        }
    }

    #[test]
    fn pending_cap_refuses_beyond_it_and_admitting_frees_the_pending_slot() {
        let (mut slots, config) = (Slots::default(), config(10, 2));
        let ip = IpAddr::from([192, 0, 2, 1]);
        slots.take(ip, &config).unwrap();
        slots.take(ip, &config).unwrap();

        let refused = slots.take(ip, &config);
        slots.admit(ip);
        let after_admit = slots.take(ip, &config);

        assert_eq!(refused, Err(SlotError::TooManyPending));
        assert_eq!(after_admit, Ok(()));
    }

    #[test]
    fn per_ip_cap_counts_pending_and_admitted_sockets_until_released() {
        let (mut slots, config) = (Slots::default(), config(2, 2));
        let ip = IpAddr::from([192, 0, 2, 1]);
        slots.take(ip, &config).unwrap();
        slots.admit(ip);
        slots.take(ip, &config).unwrap();

        let refused = slots.take(ip, &config);
        slots.release(ip, true);
        let after_release = slots.take(ip, &config);

        assert_eq!(refused, Err(SlotError::TooMany));
        assert_eq!(after_release, Ok(()));
        slots.release(ip, true);
        slots.release(ip, false);
        assert_eq!(
            (slots.open.keys(), slots.pending.keys()),
            (0, 0),
            "released addresses leave no entry"
        );
    }
}
