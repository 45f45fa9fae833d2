//! Step 7 of peer.md §3.6: `POST /api/v1/vouchers`, the voucher checked with
//! [`shared::voucher`] as §3.7 (caller = this peer, community = this hub), stored, and the hub
//! added to the registry so presence and relay start.

use serde_json::json;
use shared::ids::Ed25519PeerId;
use shared::voucher::Claims;

use super::flow::{Flow, local};
use super::info::{JoinInfo, VoucherAnswer};
use super::{JoinError, Joined};
use crate::hub_url::HubUrl;
use crate::hubs::{HubCallError, HubsError};
use crate::node::Node;
use crate::store::StoredVoucher;

impl Flow<'_> {
    /// Step 7: fetch the voucher, check it (§3.7), store it, add the hub.
    pub(super) async fn voucher(&mut self, info: &JoinInfo) -> Result<Joined, JoinError> {
        let answer = self
            .signed("vouchers", "/api/v1/vouchers", &json!({}))
            .await?;
        let token = VoucherAnswer::token(&answer).map_err(JoinError::Hub)?;
        let (claims, expires_at) = check_and_store(self.node, self.url, info, &token).await?;
        let (state, tier) = (claims.state.clone(), claims.tier.clone());
        self.node.hubs.update(self.url, |v| {
            v.membership = Some(state);
            v.tier = Some(tier);
        });
        self.add_hub().await?;
        Ok(Joined {
            url: self.url.clone(),
            state: claims.state,
            tier: Some(claims.tier),
            voucher_expires_at: Some(expires_at),
        })
    }
}

/// Checks our own new voucher `token` from the hub `info` describes (§3.7: caller = this peer,
/// community = that hub) and stores it at `url`; its claims and `exp` in ms.
///
/// # Errors
/// [`JoinError::Hub`] for a voucher failing the check (nothing stored), [`JoinError::Local`].
pub(super) async fn check_and_store(
    node: &Node,
    url: &HubUrl,
    info: &JoinInfo,
    token: &str,
) -> Result<(Claims, i64), JoinError> {
    let own = Ed25519PeerId::from(node.key.public());
    let hub_url = shared::voucher::normalize_hub_url(&info.http_url);
    let expected = shared::voucher::Expected {
        subject: Some(&own),
        community: Some(&info.slug),
        hub_url: Some(&hub_url),
        issuers: std::slice::from_ref(&info.id),
    };
    let claims = shared::voucher::verify(token, &expected)
        .map_err(|e| JoinError::Hub(HubCallError::Malformed(format!("voucher refused: {e}"))))?;
    let expires_at = i64::try_from(claims.exp)
        .unwrap_or(i64::MAX / 1000)
        .saturating_mul(1000);
    let hub_id = info.id.to_string();
    let stored = StoredVoucher {
        hub_id: &hub_id,
        community: &info.slug,
        state: &claims.state,
        tier: &claims.tier,
        voucher: token,
        expires_at,
    };
    node.store
        .store_voucher(url, &stored, node.clock.now_ms())
        .await
        .map_err(local)?;
    Ok((claims, expires_at))
}

impl Flow<'_> {
    /// Adds the hub to the registry, or asks its channel to re-read the membership now.
    pub(super) async fn add_hub(&self) -> Result<(), JoinError> {
        match self
            .node
            .hubs
            .add(self.url.clone(), self.options.source)
            .await
        {
            Ok(true) => Ok(()),
            Ok(false) => {
                self.node.hubs.reread_memberships();
                Ok(())
            }
            Err(HubsError::TooMany) => Err(JoinError::Local(HubsError::TooMany.to_string())),
            Err(error) => Err(local(error)),
        }
    }
}
