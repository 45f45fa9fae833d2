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

/// Checks `jwt` as `caller`'s voucher for `community`.
///
/// # Errors
/// The `voucher_*` code of the first failed check. Until the host-side checker exists every
/// voucher is refused with `voucher_unverifiable`.
#[allow(clippy::unused_async, reason = "the checker it will call is async")]
pub async fn check_voucher(
    node: &Node,
    caller: PeerId,
    jwt: &str,
    community: &HubUrl,
) -> Result<Admitted, VoucherCode> {
    // TODO(#14): call `crate::vouchers::Checker::check` (node.vouchers.check(caller, jwt,
    // community)) once the `peer-vouchers` branch lands, mapping `VoucherRefusal::code()`.
    let _ = (node, caller, jwt, community);
    Err(VoucherCode("voucher_unverifiable"))
}
