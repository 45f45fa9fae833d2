//! Validated identifiers that cross the wire: Ed25519 PeerIds (the only key type the specs accept)
//! and community slugs.

use std::fmt;
use std::str::FromStr;

use libp2p::PeerId;
use libp2p::identity::{PublicKey, ed25519};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest PeerId text accepted (Ed25519 PeerIds are 52 characters; RSA ones 46).
const MAX_PEER_ID_LEN: usize = 128;
/// Multihash code of the identity hash, which inlines small public keys into a PeerId.
const IDENTITY_MULTIHASH: u64 = 0x00;

/// A PeerId whose key is Ed25519, so its public key can be read from the id itself (hub.md §0).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ed25519PeerId(PeerId);

/// Why a string is not an acceptable PeerId; maps to `unsupported_peer_id` at the HTTP boundary.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParsePeerIdError {
    /// Not a base58btc multihash at all.
    #[error("not a PeerId")]
    Malformed,
    /// A valid PeerId of another key type (RSA, secp256k1) or a hashed key.
    #[error("not an Ed25519 PeerId")]
    NotEd25519,
}

impl Ed25519PeerId {
    /// The Ed25519 public key embedded in the id.
    pub fn public_key(&self) -> ed25519::PublicKey {
        embedded_key(&self.0).expect("invariant: checked on construction")
    }

    /// The plain libp2p PeerId.
    pub fn peer_id(&self) -> PeerId {
        self.0
    }
}

fn embedded_key(peer: &PeerId) -> Result<ed25519::PublicKey, ParsePeerIdError> {
    let hash = peer.as_ref();
    if hash.code() != IDENTITY_MULTIHASH {
        return Err(ParsePeerIdError::NotEd25519);
    }
    PublicKey::try_decode_protobuf(hash.digest())
        .ok()
        .and_then(|key| key.try_into_ed25519().ok())
        .ok_or(ParsePeerIdError::NotEd25519)
}

impl TryFrom<PeerId> for Ed25519PeerId {
    type Error = ParsePeerIdError;

    fn try_from(peer: PeerId) -> Result<Self, Self::Error> {
        embedded_key(&peer)?;
        Ok(Self(peer))
    }
}

impl From<ed25519::PublicKey> for Ed25519PeerId {
    fn from(key: ed25519::PublicKey) -> Self {
        Self(PublicKey::from(key).to_peer_id())
    }
}

impl FromStr for Ed25519PeerId {
    type Err = ParsePeerIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Base58 decoding is quadratic in the input length; real PeerIds are about 52 characters,
        // so anything far longer is refused before decoding (hostile input).
        if s.len() > MAX_PEER_ID_LEN {
            return Err(ParsePeerIdError::Malformed);
        }
        // libp2p parses only the base58btc form, so CID encodings are refused here (hub.md §0).
        let peer = PeerId::from_str(s).map_err(|_| ParsePeerIdError::Malformed)?;
        Self::try_from(peer)
    }
}

impl fmt::Display for Ed25519PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for Ed25519PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ed25519PeerId({})", self.0)
    }
}

impl Serialize for Ed25519PeerId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Ed25519PeerId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A community slug: `^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$` (hub.md §0).
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize)]
#[serde(transparent)]
pub struct Slug(String);

/// Why a string is not a slug.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("a slug is 3–63 characters of a-z, 0-9 and '-', not starting or ending with '-'")]
pub struct ParseSlugError;

impl Slug {
    /// Parses and validates a slug.
    ///
    /// # Errors
    /// [`ParseSlugError`] when the string breaks the slug pattern.
    pub fn parse(s: &str) -> Result<Self, ParseSlugError> {
        let bytes = s.as_bytes();
        let allowed = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        let ok = (3..=63).contains(&bytes.len())
            && bytes.iter().all(|b| allowed(b) || *b == b'-')
            && allowed(&bytes[0])
            && allowed(&bytes[bytes.len() - 1]);
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(ParseSlugError)
        }
    }

    /// The slug as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Slug {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Slug::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use libp2p::identity::Keypair;

    #[test]
    fn peer_id_parses_when_key_is_ed25519() {
        let key = Keypair::generate_ed25519();
        let text = key.public().to_peer_id().to_string();

        let parsed: Ed25519PeerId = text.parse().unwrap();

        assert_eq!(parsed.to_string(), text);
        assert_eq!(PublicKey::from(parsed.public_key()), key.public());
    }

    #[test]
    fn peer_id_is_refused_when_key_is_rsa_hash() {
        // A well-formed sha256-multihash PeerId, as RSA keys produce.
        let rsa = "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N";

        assert_eq!(
            rsa.parse::<Ed25519PeerId>(),
            Err(ParsePeerIdError::NotEd25519)
        );
    }

    #[test]
    fn peer_id_is_refused_when_key_is_secp256k1() {
        // protobuf PublicKey{Type=Secp256k1, Data=<33 bytes>} inlined in an identity multihash.
        let mut proto = vec![0x08, 0x02, 0x12, 33, 0x02];
        proto.extend([7u8; 32]);
        let hash = libp2p::multihash::Multihash::<64>::wrap(IDENTITY_MULTIHASH, &proto).unwrap();
        let text = PeerId::from_multihash(hash).unwrap().to_string();

        assert_eq!(
            text.parse::<Ed25519PeerId>(),
            Err(ParsePeerIdError::NotEd25519)
        );
    }

    #[test]
    fn peer_id_is_refused_when_text_is_garbage_or_cid() {
        for bad in [
            "",
            "12D3KooW",
            "12D3KooW!!!!",
            "bafzbeie5745rpv2m6tjyuugywy4d5ewrqgqqhfnf445he3omzpjbx5xqxe",
            &"1".repeat(10_000),
            &"Q".repeat(129),
        ] {
            assert!(
                bad.parse::<Ed25519PeerId>().is_err(),
                "{bad:.40} was accepted"
            );
        }
    }

    #[test]
    fn slug_accepts_when_pattern_matches() {
        for good in ["abc", "go-developers", "a1b", &"a".repeat(63)] {
            assert!(Slug::parse(good).is_ok(), "{good} refused");
        }
    }

    #[test]
    fn slug_is_refused_when_pattern_breaks() {
        for bad in [
            "ab",
            "-abc",
            "abc-",
            "ABC",
            "a_b",
            "ab c",
            &"a".repeat(64),
            "äbc",
        ] {
            assert_eq!(Slug::parse(bad), Err(ParseSlugError), "{bad} accepted");
        }
    }
}
