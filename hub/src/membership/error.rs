//! [`Error`]: why a membership operation refused or failed. The domain names the problem; the HTTP
//! layer maps it to the spec's status, code and field (`http/error.rs`), the pages to an HTML page.

use shared::error_code::ErrorCode;

use crate::store::StoreError;

/// The result of a membership operation.
pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

/// A membership operation that did not complete. The `Display` text of an input variant is the
/// message shown with its field.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// A device label that is too long or has control characters.
    #[error("label: at most 64 characters, no control characters")]
    InvalidLabel,
    /// An email field that is not an address (hub.md §6.1 rule 1).
    #[error("email: not a valid address")]
    InvalidEmail,
    /// A join without an address where the join mode needs one.
    #[error("email: required to join")]
    EmailRequired,
    /// An invite-mode join without an invite code.
    #[error("invite_code: required")]
    InviteRequired,
    /// An invite code that is malformed, unknown, used up, revoked or expired.
    #[error("invite_code: not valid")]
    InvalidInvite,
    /// An application-mode join without a message.
    #[error("message: required")]
    MessageRequired,
    /// An application message over `membership.application_max_chars`.
    #[error("message: longer than this community accepts")]
    MessageTooLong,
    /// A bind code that is malformed, unknown, used or expired.
    #[error("bind_code: not valid or expired")]
    InvalidBindCode,
    /// A comp whose end is not in the future.
    #[error("until: must lie in the future (ms) or be null")]
    CompEndsInPast,
    /// The PeerId is bound to an account already.
    #[error("peer {peer} is bound to an account already")]
    PeerAlreadyBound {
        /// The PeerId.
        peer: String,
    },
    /// The account binds `membership.max_peers_per_account` peers already.
    #[error("account {account_id} binds as many peers as allowed")]
    TooManyPeers {
        /// The account.
        account_id: String,
    },
    /// Another verified account uses the address.
    #[error("another account uses the address")]
    EmailTaken,
    /// An email link that is malformed, unknown, or no longer fits its account.
    #[error("the link is not valid")]
    InvalidToken,
    /// An email link consumed already.
    #[error("the link was used already")]
    TokenUsed,
    /// An email link past its expiry.
    #[error("the link has expired")]
    TokenExpired,
    /// An account with an address changes it only from a browser session (hub.md §6.10).
    #[error("changing an address needs a browser session")]
    SessionRequired,
    /// The account is banned.
    #[error("account {account_id} is banned")]
    Banned {
        /// The account.
        account_id: String,
    },
    /// The peer's standing gives no voucher; the code names why (hub.md §6.5).
    #[error("membership refused: {code}")]
    Refused {
        /// `not_member`, `membership_pending`, `membership_lapsed` or `banned`.
        code: ErrorCode,
    },
    /// The caller's account is gone (its session outlived it).
    #[error("the account {account_id} does not exist")]
    NotBound {
        /// The account.
        account_id: String,
    },
    /// The account, binding or invite does not exist.
    #[error("no such {what}: {id}")]
    NotFound {
        /// What was looked up: `account`, `binding`, `invite`.
        what: &'static str,
        /// Its id.
        id: String,
    },
    /// The change does not apply to the account or invite in its current state.
    #[error("{what} {id} is not in a state this change applies to")]
    WrongState {
        /// `account` or `invite`.
        what: &'static str,
        /// Its id.
        id: String,
    },
    /// Applying entitlements after a commit did not finish (the sweep repairs the table).
    #[error("entitlement update: {0}")]
    Enforce(#[source] tokio::task::JoinError),
    /// The hub key did not sign a voucher.
    #[error("voucher signing: {0}")]
    SignVoucher(#[source] shared::voucher::VoucherError),
    /// A stored email token names a purpose this hub does not know.
    #[error(transparent)]
    UnknownPurpose(#[from] super::verify::UnknownPurpose),
    /// Every drawn invite code was taken.
    #[error("no unused invite code found")]
    InviteCodesExhausted,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}
