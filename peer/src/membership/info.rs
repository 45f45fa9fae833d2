//! What the join flow reads from a hub: [`JoinInfo`] (the info document's join fields, hub.md
//! §11.1), the voucher answer, and [`token_of`] (the token of a pasted link).

use serde::Deserialize;
use serde_json::Value;
use shared::ids::Ed25519PeerId;

use reqwest::{Method, StatusCode};

use crate::hubs::HubCallError;
use crate::hubs::client::{Answer, HTTP_TIMEOUT, HubClient};

/// Longest token accepted from a pasted link (the hub's are 43 characters).
const MAX_TOKEN: usize = 128;

/// The parts of `/api/v1/info` the join flow needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinInfo {
    /// The hub id: PeerSig audience and voucher issuer.
    pub id: Ed25519PeerId,
    /// The community slug (`_memberships.community`, a voucher's `community`).
    pub slug: String,
    /// The hub's external URL (a voucher's `hub_url`).
    pub http_url: String,
    /// `open`, `email`, `invite` or `application`.
    pub join_mode: String,
    /// `free` or `paid`.
    pub access: String,
    /// The ids of the `subscription` plans on sale (at most [`MAX_PLANS`]).
    pub subscription_plans: Vec<String>,
}

/// Plans read from an info document.
pub(super) const MAX_PLANS: usize = 64;

impl JoinInfo {
    /// Parses an info document.
    ///
    /// # Errors
    /// [`HubCallError::Malformed`] without an Ed25519 `id`, a `slug` or an `http_url`.
    pub fn parse(body: &[u8]) -> Result<Self, HubCallError> {
        let bad = |what: &str| HubCallError::Malformed(format!("info document: {what}"));
        let value: Value = serde_json::from_slice(body).map_err(|_| bad("not JSON"))?;
        let text = |key: &str| value[key].as_str().map(str::to_owned);
        let id = text("id")
            .and_then(|id| id.parse().ok())
            .ok_or_else(|| bad("id is not an Ed25519 PeerId"))?;
        let slug = text("slug")
            .filter(|s| !s.is_empty())
            .ok_or_else(|| bad("no slug"))?;
        let http_url = text("http_url")
            .filter(|s| !s.is_empty())
            .ok_or_else(|| bad("no http_url"))?;
        Ok(Self {
            id,
            slug,
            http_url,
            join_mode: text("join_mode").unwrap_or_else(|| "email".to_owned()),
            access: text("access").unwrap_or_else(|| "free".to_owned()),
            subscription_plans: value["plans"]
                .as_array()
                .map(|plans| {
                    plans
                        .iter()
                        .filter(|p| p["kind"] == "subscription")
                        .filter_map(|p| p["id"].as_str())
                        .filter(|id| !id.is_empty() && id.len() <= 64)
                        .take(MAX_PLANS)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
        })
    }
}

impl JoinInfo {
    /// `GET /api/v1/info` through `client`, whose hub id it then sets.
    ///
    /// # Errors
    /// [`HubCallError`] for an unreachable hub or an unusable document.
    pub(crate) async fn read(client: &HubClient) -> Result<Self, HubCallError> {
        let answer = client
            .call(Method::GET, "/api/v1/info", None, HTTP_TIMEOUT)
            .await?;
        if answer.status != StatusCode::OK {
            return Err(answer.error());
        }
        let info = Self::parse(&answer.body)?;
        client.set_hub_id(Some(info.id));
        Ok(info)
    }
}

/// `201` of `POST /api/v1/vouchers`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct VoucherAnswer {
    /// The compact JWS.
    pub(crate) voucher: String,
}

impl VoucherAnswer {
    /// The voucher of a `POST /api/v1/vouchers` answer (201).
    ///
    /// # Errors
    /// [`HubCallError`] for another status or body.
    pub(crate) fn token(answer: &Answer) -> Result<String, HubCallError> {
        if answer.status != StatusCode::CREATED {
            return Err(answer.error());
        }
        Ok(answer.json::<Self>()?.voucher)
    }
}

/// The token of a pasted verification link (`…/verify?token=<t>`) or a bare token: b64u
/// characters only, at most 128.
///
/// # Errors
/// `None` when there is no usable token.
pub fn token_of(pasted: &str) -> Option<String> {
    let pasted = pasted.trim();
    let token = match pasted.split_once('?') {
        Some((_, query)) => query
            .split(['&', '#'])
            .find_map(|pair| pair.strip_prefix("token="))?,
        None => pasted,
    };
    let ok = !token.is_empty()
        && token.len() <= MAX_TOKEN
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then(|| token.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn info_needs_id_slug_and_http_url() {
        let id = Ed25519PeerId::from(libp2p::identity::ed25519::Keypair::generate().public());
        let body = format!(
            r#"{{"id":"{id}","slug":"go","http_url":"http://h","join_mode":"invite","access":"paid",
                "plans":[{{"id":"yearly","kind":"subscription"}},{{"id":"tip","kind":"donation"}},{{"id":7}}]}}"#
        );
        let info = JoinInfo::parse(body.as_bytes()).unwrap();
        assert_eq!(info.slug, "go");
        assert_eq!(info.join_mode, "invite");
        assert_eq!(info.access, "paid");
        assert_eq!(info.subscription_plans, ["yearly"]);
        let no_slug = format!(r#"{{"id":"{id}","http_url":"http://h"}}"#);
        assert!(JoinInfo::parse(no_slug.as_bytes()).is_err());
        assert!(JoinInfo::parse(br#"{"id":"x","slug":"go","http_url":"h"}"#).is_err());
        assert!(JoinInfo::parse(b"<html>").is_err());
    }

    #[test]
    fn a_pasted_link_or_bare_token_gives_the_token() {
        assert_eq!(
            token_of(" http://h.example/verify?token=abc_DEF-1 ").as_deref(),
            Some("abc_DEF-1")
        );
        assert_eq!(
            token_of("http://h/verify?x=1&token=t0k#frag").as_deref(),
            Some("t0k")
        );
        assert_eq!(token_of("abc").as_deref(), Some("abc"));
        assert_eq!(token_of("http://h/verify?x=1"), None);
        assert_eq!(token_of("a b"), None);
        assert_eq!(token_of(""), None);
        assert_eq!(token_of(&"a".repeat(129)), None);
    }

    proptest! {
        #[test]
        fn hostile_input_never_panics(body in proptest::collection::vec(any::<u8>(), 0..512),
                                      text in ".{0,300}") {
            let _ = JoinInfo::parse(&body);
            if let Some(token) = token_of(&text) {
                prop_assert!(token.len() <= MAX_TOKEN);
            }
        }
    }
}
