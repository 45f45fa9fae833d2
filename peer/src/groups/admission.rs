//! The `voucher` join policy (peer.md §8.3, §3.7): a joiner proves membership of the group's
//! community with a voucher, checked by the node's voucher checker.

use libp2p::PeerId;

use crate::hub_url::HubUrl;
use crate::node::Node;

/// What an admitted voucher says: kept per member so a later revocation can remove it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admitted {
    /// The voucher's `iat` in unix ms.
    pub iat_ms: i64,
    /// Its `exp` in unix ms.
    pub exp_ms: i64,
}

/// A refusal: the §8.2 `voucher_*` code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VoucherCode(pub &'static str);

/// Checks `jwt` as `caller`'s voucher for `community` with the node's checker
/// ([`crate::vouchers::Checker::check`]).
///
/// # Errors
/// The `voucher_*` code of the first failed check.
pub async fn check_voucher(
    node: &Node,
    caller: PeerId,
    jwt: &str,
    community: &HubUrl,
) -> Result<Admitted, VoucherCode> {
    node.vouchers
        .check(caller, jwt, community)
        .await
        .map(|admission| Admitted {
            iat_ms: admission.iat_ms,
            exp_ms: admission.exp_ms,
        })
        .map_err(|refusal| VoucherCode(refusal.code()))
}
