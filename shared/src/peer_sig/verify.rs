//! Verifying PeerSig headers (feature `server`): checks run in the spec's order (hub.md §3) and the
//! first failure decides. Accepted signatures are remembered for twice the window so a captured
//! request cannot be replayed; each client address holds a bounded share of that memory, so fresh
//! keys from one place cannot fill it for everyone.

use std::collections::{HashSet, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;

use axum::http::HeaderMap;
use libp2p::PeerId;

use super::{PEER_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use crate::ids::{Ed25519PeerId, ParsePeerIdError};
use crate::rate_limit::KeyedCount;
use crate::signing::{self, SIGNATURE_LEN};

/// The replay cache holds at most this many signatures; beyond it signed requests get 503.
const REPLAY_CAPACITY: usize = 1_000_000;
/// Entries one client address (IPv6 by /64) may hold; beyond it its signed requests get 429.
const REPLAY_SHARE_PER_IP: usize = 10_000;

/// Why a signed request was refused (hub.md §3, in check order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PeerSigError {
    /// Some but not all of the three headers.
    #[error("incomplete_signature")]
    Incomplete,
    /// The signer is not an Ed25519 PeerId.
    #[error("unsupported_peer_id")]
    UnsupportedPeerId,
    /// The timestamp is malformed or outside the window.
    #[error("stale_timestamp")]
    StaleTimestamp,
    /// The signature is malformed or does not verify.
    #[error("bad_signature")]
    BadSignature,
    /// The same signature was accepted within twice the window.
    #[error("replayed")]
    Replayed,
    /// The replay cache is full: refuse rather than accept unchecked.
    #[error("unavailable")]
    CacheFull,
    /// The client address holds its whole share of the replay cache.
    #[error("too_many_signatures")]
    ShareExceeded,
}

/// Verifies PeerSig headers for one audience (this hub).
#[derive(Debug)]
pub struct PeerSigVerifier {
    audience: Ed25519PeerId,
    window_ms: i64,
    replay: Mutex<ReplayCache>,
}

impl PeerSigVerifier {
    /// A verifier for requests to `audience` whose timestamps may be `window` off.
    pub fn new(audience: Ed25519PeerId, window: std::time::Duration) -> Self {
        Self::with_replay_limits(audience, window, REPLAY_CAPACITY, REPLAY_SHARE_PER_IP)
    }

    /// Like [`Self::new`] with a replay cache of `capacity` entries, `share` per client address.
    pub fn with_replay_limits(
        audience: Ed25519PeerId,
        window: std::time::Duration,
        capacity: usize,
        share: usize,
    ) -> Self {
        let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
        Self {
            audience,
            window_ms,
            replay: Mutex::new(ReplayCache::new(capacity, share)),
        }
    }

    /// The signer of a request from `client`, `None` when it carries none of the headers.
    ///
    /// # Errors
    /// [`PeerSigError`] for the first check that fails.
    pub fn verify(
        &self,
        headers: &HeaderMap,
        method: &str,
        target: &str,
        body: &[u8],
        client: IpAddr,
        now_ms: i64,
    ) -> Result<Option<Ed25519PeerId>, PeerSigError> {
        let get = |name: &str| headers.get(name).map(|v| v.to_str().unwrap_or("\u{0}"));
        let (peer, timestamp, signature) = match (
            get(PEER_ID_HEADER),
            get(TIMESTAMP_HEADER),
            get(SIGNATURE_HEADER),
        ) {
            (None, None, None) => return Ok(None),
            (Some(p), Some(t), Some(s)) => (p, t, s),
            _ => return Err(PeerSigError::Incomplete),
        };
        let peer: Ed25519PeerId = peer.parse().map_err(|e: ParsePeerIdError| match e {
            ParsePeerIdError::Malformed | ParsePeerIdError::NotEd25519 => {
                PeerSigError::UnsupportedPeerId
            }
        })?;
        let ts = parse_timestamp(timestamp).ok_or(PeerSigError::StaleTimestamp)?;
        if (now_ms - ts).abs() > self.window_ms {
            return Err(PeerSigError::StaleTimestamp);
        }
        let input = signing::request_signing_input(&self.audience, timestamp, method, target, body);
        signing::verify_b64u(&peer, &input, signature).map_err(|_| PeerSigError::BadSignature)?;
        let raw: [u8; SIGNATURE_LEN] = signing::b64u_decode(signature)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(PeerSigError::BadSignature)?;
        self.replay
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remember(
                Entry {
                    peer: peer.peer_id(),
                    sig: raw,
                    client: crate::rate_limit::ip_key(client),
                },
                now_ms,
                2 * self.window_ms,
            )?;
        Ok(Some(peer))
    }

    /// Like [`Self::verify`], also returning the timestamp and signature that prove the key (kept
    /// with a peer binding, hub.md §6.1 rule 2).
    ///
    /// # Errors
    /// [`PeerSigError`] for the first check that fails.
    pub fn verify_proof(
        &self,
        headers: &HeaderMap,
        method: &str,
        target: &str,
        body: &[u8],
        client: IpAddr,
        now_ms: i64,
    ) -> Result<Option<(Ed25519PeerId, i64, String)>, PeerSigError> {
        let Some(peer) = self.verify(headers, method, target, body, client, now_ms)? else {
            return Ok(None);
        };
        let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let ts = get(TIMESTAMP_HEADER)
            .and_then(parse_timestamp)
            .ok_or(PeerSigError::StaleTimestamp)?;
        let sig = get(SIGNATURE_HEADER)
            .ok_or(PeerSigError::BadSignature)?
            .to_owned();
        Ok(Some((peer, ts, sig)))
    }

    /// The audience (this server's id).
    pub fn audience(&self) -> &Ed25519PeerId {
        &self.audience
    }
}

/// Decimal ASCII, no sign, no leading zeros (hub.md §3).
fn parse_timestamp(text: &str) -> Option<i64> {
    let canonical = !text.is_empty()
        && text.len() <= 16
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    canonical.then(|| text.parse().ok()).flatten()
}

/// One accepted signature and the client address it came from.
#[derive(Debug, Clone, Copy)]
struct Entry {
    peer: PeerId,
    sig: [u8; SIGNATURE_LEN],
    client: IpAddr,
}

/// Accepted `(peer, signature)` pairs with their expiry, oldest first, and how many each client
/// address holds.
#[derive(Debug)]
struct ReplayCache {
    seen: HashSet<(PeerId, [u8; SIGNATURE_LEN])>,
    order: VecDeque<(i64, Entry)>,
    per_client: KeyedCount<IpAddr>,
    capacity: usize,
    share: usize,
}

impl ReplayCache {
    fn new(capacity: usize, share: usize) -> Self {
        Self {
            seen: HashSet::new(),
            order: VecDeque::new(),
            per_client: KeyedCount::default(),
            capacity,
            share,
        }
    }

    fn remember(&mut self, entry: Entry, now_ms: i64, keep_ms: i64) -> Result<(), PeerSigError> {
        while let Some((expires, old)) = self.order.front().copied() {
            if expires > now_ms {
                break;
            }
            self.order.pop_front();
            self.seen.remove(&(old.peer, old.sig));
            self.per_client.remove_one(&old.client);
        }
        if self.seen.contains(&(entry.peer, entry.sig)) {
            return Err(PeerSigError::Replayed);
        }
        if self.per_client.get(&entry.client) >= self.share {
            return Err(PeerSigError::ShareExceeded);
        }
        if self.seen.len() >= self.capacity {
            return Err(PeerSigError::CacheFull);
        }
        self.seen.insert((entry.peer, entry.sig));
        self.per_client.add(entry.client);
        self.order.push_back((now_ms + keep_ms, entry));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peer_sig::SignedHeaders;
    use libp2p::identity::ed25519::Keypair;
    use std::time::Duration;

    const NOW: i64 = 1_767_225_600_000;
    const CLIENT: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));

    fn sign_headers(
        key: &Keypair,
        audience: &Ed25519PeerId,
        ts: i64,
        method: &str,
        target: &str,
        body: &[u8],
    ) -> HeaderMap {
        SignedHeaders::sign(key, audience, ts, method, target, body)
            .into_pairs()
            .into_iter()
            .map(|(name, value)| (name.parse().unwrap(), value.parse().unwrap()))
            .collect()
    }

    fn setup() -> (Keypair, PeerSigVerifier) {
        let hub = Ed25519PeerId::from(Keypair::generate().public());
        (
            Keypair::generate(),
            PeerSigVerifier::new(hub, std::time::Duration::from_secs(60)),
        )
    }

    #[test]
    fn signed_request_is_accepted_and_names_its_signer() {
        let (key, verifier) = setup();
        let headers = sign_headers(&key, verifier.audience(), NOW, "POST", "/publish", b"{}");

        let signer = verifier
            .verify(&headers, "POST", "/publish", b"{}", CLIENT, NOW)
            .unwrap();

        assert_eq!(signer, Some(Ed25519PeerId::from(key.public())));
    }

    #[test]
    fn unsigned_request_yields_no_signer() {
        let (_, verifier) = setup();

        assert_eq!(
            verifier.verify(&HeaderMap::new(), "GET", "/", b"", CLIENT, NOW),
            Ok(None)
        );
    }

    #[test]
    fn one_flipped_body_byte_is_a_bad_signature() {
        let (key, verifier) = setup();
        let headers = sign_headers(&key, verifier.audience(), NOW, "POST", "/publish", b"{}");

        assert_eq!(
            verifier.verify(&headers, "POST", "/publish", b"{ ", CLIENT, NOW),
            Err(PeerSigError::BadSignature)
        );
    }

    #[test]
    fn timestamp_61_seconds_old_is_stale() {
        let (key, verifier) = setup();
        let headers = sign_headers(
            &key,
            verifier.audience(),
            NOW - 61_000,
            "GET",
            "/events",
            b"",
        );

        assert_eq!(
            verifier.verify(&headers, "GET", "/events", b"", CLIENT, NOW),
            Err(PeerSigError::StaleTimestamp)
        );
    }

    #[test]
    fn same_request_twice_is_replayed() {
        let (key, verifier) = setup();
        let headers = sign_headers(&key, verifier.audience(), NOW, "GET", "/events", b"");

        let first = verifier.verify(&headers, "GET", "/events", b"", CLIENT, NOW);
        let second = verifier.verify(&headers, "GET", "/events", b"", CLIENT, NOW + 1000);

        assert!(first.is_ok());
        assert_eq!(second, Err(PeerSigError::Replayed));
    }

    #[test]
    fn signature_for_another_audience_or_target_is_bad() {
        let (key, verifier) = setup();
        let other_hub = Ed25519PeerId::from(Keypair::generate().public());
        let for_other = sign_headers(&key, &other_hub, NOW, "GET", "/events", b"");
        let for_target = sign_headers(&key, verifier.audience(), NOW, "GET", "/events?v=2", b"");

        assert_eq!(
            verifier.verify(&for_other, "GET", "/events", b"", CLIENT, NOW),
            Err(PeerSigError::BadSignature)
        );
        assert_eq!(
            verifier.verify(&for_target, "GET", "/events", b"", CLIENT, NOW),
            Err(PeerSigError::BadSignature)
        );
    }

    #[test]
    fn partial_or_malformed_headers_are_refused_in_spec_order() {
        let (key, verifier) = setup();
        let good = sign_headers(&key, verifier.audience(), NOW, "GET", "/", b"");
        let mut partial = good.clone();
        partial.remove(SIGNATURE_HEADER);
        let mut rsa = good.clone();
        rsa.insert(
            PEER_ID_HEADER,
            "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"
                .parse()
                .unwrap(),
        );
        let mut leading_zero = good.clone();
        leading_zero.insert(TIMESTAMP_HEADER, format!("0{NOW}").parse().unwrap());
        let mut short_sig = good.clone();
        short_sig.insert(SIGNATURE_HEADER, "abc".parse().unwrap());

        assert_eq!(
            verifier.verify(&partial, "GET", "/", b"", CLIENT, NOW),
            Err(PeerSigError::Incomplete)
        );
        assert_eq!(
            verifier.verify(&rsa, "GET", "/", b"", CLIENT, NOW),
            Err(PeerSigError::UnsupportedPeerId)
        );
        assert_eq!(
            verifier.verify(&leading_zero, "GET", "/", b"", CLIENT, NOW),
            Err(PeerSigError::StaleTimestamp)
        );
        assert_eq!(
            verifier.verify(&short_sig, "GET", "/", b"", CLIENT, NOW),
            Err(PeerSigError::BadSignature)
        );
    }

    fn entry(sig: u8, client: &str) -> Entry {
        Entry {
            peer: PeerId::random(),
            sig: [sig; 64],
            client: crate::rate_limit::ip_key(client.parse().unwrap()),
        }
    }

    #[test]
    fn full_replay_cache_refuses_instead_of_accepting_unchecked() {
        let mut cache = ReplayCache::new(2, 10);

        cache.remember(entry(1, "192.0.2.1"), NOW, 120_000).unwrap();
        cache.remember(entry(2, "192.0.2.2"), NOW, 120_000).unwrap();
        let full = cache.remember(entry(3, "192.0.2.3"), NOW, 120_000);
        let later = cache.remember(entry(3, "192.0.2.3"), NOW + 120_001, 120_000);

        assert_eq!(full, Err(PeerSigError::CacheFull));
        assert_eq!(later, Ok(()));
    }

    #[test]
    fn one_client_beyond_its_share_is_refused_while_others_are_accepted() {
        let mut cache = ReplayCache::new(100, 3);
        for sig in 0..3 {
            cache
                .remember(entry(sig, "2001:db8::1"), NOW, 120_000)
                .unwrap();
        }

        let same_64 = cache.remember(entry(9, "2001:db8::ffff:2"), NOW, 120_000);
        let elsewhere = cache.remember(entry(9, "2001:db8:0:1::1"), NOW, 120_000);
        let after_expiry = cache.remember(entry(10, "2001:db8::1"), NOW + 120_001, 120_000);

        assert_eq!(same_64, Err(PeerSigError::ShareExceeded));
        assert_eq!(elsewhere, Ok(()));
        assert_eq!(after_expiry, Ok(()));
    }

    #[test]
    fn fresh_keys_from_one_address_cannot_fill_the_cache() {
        let hub = Ed25519PeerId::from(Keypair::generate().public());
        let verifier = PeerSigVerifier::with_replay_limits(hub, Duration::from_secs(60), 10, 4);
        let sign_fresh = || {
            let key = Keypair::generate();
            sign_headers(&key, verifier.audience(), NOW, "GET", "/events", b"")
        };
        let attacker: IpAddr = "198.51.100.7".parse().unwrap();

        let results: Vec<_> = (0..6)
            .map(|_| verifier.verify(&sign_fresh(), "GET", "/events", b"", attacker, NOW))
            .collect();
        let member = verifier.verify(&sign_fresh(), "GET", "/events", b"", CLIENT, NOW);

        assert!(results[..4].iter().all(|r| matches!(r, Ok(Some(_)))));
        assert_eq!(results[4], Err(PeerSigError::ShareExceeded));
        assert!(matches!(member, Ok(Some(_))));
    }
}
