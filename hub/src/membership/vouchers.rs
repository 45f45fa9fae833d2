//! Voucher issuance (hub.md §7.2): EdDSA JWTs signed with the hub key for bound peers whose
//! standing allows one.

use libp2p::PeerId;
use serde::Serialize;
use shared::voucher::{self, Claims};

use shared::error_code::ErrorCode;

use super::{Error, Membership, Result, enum_text};
use crate::members::{self, Standing};
use crate::metrics::TierLabel;
use crate::store;

/// The answer of `POST /api/v1/vouchers`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct IssuedVoucher {
    pub(crate) voucher: String,
    pub(crate) expires_at: i64,
    pub(crate) tier: members::Tier,
    pub(crate) state: members::State,
}

impl Membership {
    /// Issues a voucher to a bound peer (403 with the membership code otherwise).
    pub(crate) async fn issue_voucher(&self, peer: &PeerId) -> Result<IssuedVoucher> {
        // The issue time is taken before the standing is read, so a revocation committed in
        // between (revoked_before ≥ its time) still covers this voucher.
        let now = self.now_ms();
        let mut conn = self.store().acquire().await?;
        let binding = store::find_binding(&mut conn, &peer.to_string())
            .await?
            .ok_or(Error::Refused {
                code: ErrorCode::NotMember,
            })?;
        let account = store::get_account(&mut conn, &binding.account_id).await?;
        drop(conn);
        let standing = Standing {
            state: account.state,
            tier: account.tier,
            grace_until: account.grace_until,
        };
        let guest_presence = self.config().membership.guest_presence;
        let tier = members::voucher_tier(&standing).ok_or_else(|| Error::Refused {
            code: members::refusal_code(Some(&standing), guest_presence),
        })?;
        let iat = u64::try_from(now / 1000).unwrap_or(0);
        // A comp end caps the voucher only while the comp is what entitles, a grace end only
        // in grace: older values stay in the row after the comp or grace is over.
        let comp_end = account
            .comped_until
            .filter(|_| standing.tier == members::Tier::Comped);
        let grace_end = standing
            .grace_until
            .filter(|_| standing.state == members::State::Grace);
        let caps = [comp_end, grace_end]
            .into_iter()
            .flatten()
            .filter_map(|ms| u64::try_from(ms / 1000).ok());
        let exp = caps
            .chain([iat + self.config().vouchers.ttl.as_secs()])
            .min()
            .unwrap_or(iat);
        if exp <= iat {
            return Err(Error::Refused {
                code: ErrorCode::MembershipLapsed,
            });
        }
        let claims = Claims {
            iss: self.inner.hub_id.to_string(),
            sub: peer.to_string(),
            aud: voucher::AUDIENCE.to_owned(),
            community: self.config().hub.slug.to_string(),
            hub_url: voucher::normalize_hub_url(self.external_url()),
            tier: enum_text(&tier),
            state: enum_text(&standing.state),
            iat,
            nbf: iat,
            exp,
            jti: uuid::Uuid::now_v7().to_string(),
        };
        let token = voucher::sign(&self.inner.key, &claims).map_err(Error::SignVoucher)?;
        let label = tier.label();
        self.inner
            .metrics
            .vouchers_issued
            .get_or_create(&TierLabel { tier: label })
            .inc();
        Ok(IssuedVoucher {
            voucher: token,
            expires_at: i64::try_from(exp * 1000).unwrap_or(i64::MAX),
            tier,
            state: standing.state,
        })
    }
}
