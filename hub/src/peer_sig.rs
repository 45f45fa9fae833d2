//! PeerSig: signed HTTP requests (hub.md §3). A peer proves it holds the key of a PeerId with three
//! headers; checks run in the spec's order and the first failure decides. Accepted signatures are
//! remembered for twice the window so a captured request cannot be replayed.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

use axum::http::HeaderMap;
use libp2p::PeerId;
use shared::ids::{Ed25519PeerId, ParsePeerIdError};
use shared::signing::{self, SIGNATURE_LEN};

/// Signer header.
pub(crate) const PEER_ID_HEADER: &str = "x-goop-peer-id";
/// Timestamp header (unix ms).
pub(crate) const TIMESTAMP_HEADER: &str = "x-goop-timestamp";
/// Signature header (b64u).
pub(crate) const SIGNATURE_HEADER: &str = "x-goop-signature";
/// The replay cache holds at most this many signatures; beyond it signed requests get 503.
const REPLAY_CAPACITY: usize = 1_000_000;

/// Why a signed request was refused (hub.md §3, in check order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PeerSigError {
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
}

/// Verifies PeerSig headers for one audience (this hub).
#[derive(Debug)]
pub(crate) struct PeerSigVerifier {
    audience: Ed25519PeerId,
    window_ms: i64,
    replay: Mutex<ReplayCache>,
}

impl PeerSigVerifier {
    pub(crate) fn new(audience: Ed25519PeerId, window: std::time::Duration) -> Self {
        let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
        Self {
            audience,
            window_ms,
            replay: Mutex::new(ReplayCache::new(REPLAY_CAPACITY)),
        }
    }

    /// The signer of a request, `None` when it carries none of the headers.
    pub(crate) fn verify(
        &self,
        headers: &HeaderMap,
        method: &str,
        target: &str,
        body: &[u8],
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
            .remember(peer.peer_id(), raw, now_ms, 2 * self.window_ms)?;
        Ok(Some(peer))
    }

    /// Like [`Self::verify`], also returning the timestamp and signature that prove the key (kept
    /// with a peer binding, hub.md §6.1 rule 2).
    pub(crate) fn verify_proof(
        &self,
        headers: &HeaderMap,
        method: &str,
        target: &str,
        body: &[u8],
        now_ms: i64,
    ) -> Result<Option<(Ed25519PeerId, i64, String)>, PeerSigError> {
        let Some(peer) = self.verify(headers, method, target, body, now_ms)? else {
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

    /// The audience (this hub's id).
    #[cfg(test)]
    pub(crate) fn audience(&self) -> &Ed25519PeerId {
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

/// Accepted `(peer, signature)` pairs with their expiry, oldest first.
#[derive(Debug)]
struct ReplayCache {
    seen: HashSet<(PeerId, [u8; SIGNATURE_LEN])>,
    order: VecDeque<(i64, PeerId, [u8; SIGNATURE_LEN])>,
    capacity: usize,
}

impl ReplayCache {
    fn new(capacity: usize) -> Self {
        Self {
            seen: HashSet::new(),
            order: VecDeque::new(),
            capacity,
        }
    }

    fn remember(
        &mut self,
        peer: PeerId,
        sig: [u8; SIGNATURE_LEN],
        now_ms: i64,
        keep_ms: i64,
    ) -> Result<(), PeerSigError> {
        while let Some((expires, p, s)) = self.order.front().copied() {
            if expires > now_ms {
                break;
            }
            self.order.pop_front();
            self.seen.remove(&(p, s));
        }
        if self.seen.contains(&(peer, sig)) {
            return Err(PeerSigError::Replayed);
        }
        if self.seen.len() >= self.capacity {
            return Err(PeerSigError::CacheFull);
        }
        self.seen.insert((peer, sig));
        self.order.push_back((now_ms + keep_ms, peer, sig));
        Ok(())
    }
}

/// Signs a request the way peers do; for tests and the hub's own outbound requests.
#[cfg(test)]
pub(crate) fn sign_headers(
    key: &libp2p::identity::ed25519::Keypair,
    audience: &Ed25519PeerId,
    ts: i64,
    method: &str,
    target: &str,
    body: &[u8],
) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let timestamp = ts.to_string();
    let input = signing::request_signing_input(audience, &timestamp, method, target, body);
    let peer = Ed25519PeerId::from(key.public());
    headers.insert(PEER_ID_HEADER, peer.to_string().parse().expect("ascii"));
    headers.insert(TIMESTAMP_HEADER, timestamp.parse().expect("ascii"));
    headers.insert(
        SIGNATURE_HEADER,
        signing::sign_b64u(key, &input).parse().expect("ascii"),
    );
    headers
}

#[cfg(test)]
mod tests {
    use super::*;
    use libp2p::identity::ed25519::Keypair;

    const NOW: i64 = 1_767_225_600_000;

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
            .verify(&headers, "POST", "/publish", b"{}", NOW)
            .unwrap();

        assert_eq!(signer, Some(Ed25519PeerId::from(key.public())));
    }

    #[test]
    fn unsigned_request_yields_no_signer() {
        let (_, verifier) = setup();

        assert_eq!(
            verifier.verify(&HeaderMap::new(), "GET", "/", b"", NOW),
            Ok(None)
        );
    }

    #[test]
    fn one_flipped_body_byte_is_a_bad_signature() {
        let (key, verifier) = setup();
        let headers = sign_headers(&key, verifier.audience(), NOW, "POST", "/publish", b"{}");

        assert_eq!(
            verifier.verify(&headers, "POST", "/publish", b"{ ", NOW),
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
            verifier.verify(&headers, "GET", "/events", b"", NOW),
            Err(PeerSigError::StaleTimestamp)
        );
    }

    #[test]
    fn same_request_twice_is_replayed() {
        let (key, verifier) = setup();
        let headers = sign_headers(&key, verifier.audience(), NOW, "GET", "/events", b"");

        let first = verifier.verify(&headers, "GET", "/events", b"", NOW);
        let second = verifier.verify(&headers, "GET", "/events", b"", NOW + 1000);

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
            verifier.verify(&for_other, "GET", "/events", b"", NOW),
            Err(PeerSigError::BadSignature)
        );
        assert_eq!(
            verifier.verify(&for_target, "GET", "/events", b"", NOW),
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
            verifier.verify(&partial, "GET", "/", b"", NOW),
            Err(PeerSigError::Incomplete)
        );
        assert_eq!(
            verifier.verify(&rsa, "GET", "/", b"", NOW),
            Err(PeerSigError::UnsupportedPeerId)
        );
        assert_eq!(
            verifier.verify(&leading_zero, "GET", "/", b"", NOW),
            Err(PeerSigError::StaleTimestamp)
        );
        assert_eq!(
            verifier.verify(&short_sig, "GET", "/", b"", NOW),
            Err(PeerSigError::BadSignature)
        );
    }

    #[test]
    fn full_replay_cache_refuses_instead_of_accepting_unchecked() {
        let mut cache = ReplayCache::new(2);
        let peer = PeerId::random();

        cache.remember(peer, [1; 64], NOW, 120_000).unwrap();
        cache.remember(peer, [2; 64], NOW, 120_000).unwrap();
        let full = cache.remember(peer, [3; 64], NOW, 120_000);
        let later = cache.remember(peer, [3; 64], NOW + 120_001, 120_000);

        assert_eq!(full, Err(PeerSigError::CacheFull));
        assert_eq!(later, Ok(()));
    }
}
