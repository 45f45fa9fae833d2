//! [`ErrorCode`]: the stable `code` of an error body (hub.md §0.1). Servers answer with it and
//! clients match on it, so the words live in one table that both directions read.

/// Declares [`ErrorCode`] from one table of `Variant => "word"` rows.
macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident => $text:literal,)+) => {
        /// The stable code of an error answer (hub.md §0.1); `as_str` is the word on the wire.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)+
        }

        impl ErrorCode {
            /// The word on the wire (`ErrorCode::InvalidField` → `invalid_field`).
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }

            /// The code a word names; `None` for a word not in the table.
            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

error_codes! {
    /// 400: the body is not (valid) JSON.
    InvalidJson => "invalid_json",
    /// 400: a field has a value the route does not accept.
    InvalidField => "invalid_field",
    /// 400: a PeerId that is not Ed25519.
    UnsupportedPeerId => "unsupported_peer_id",
    /// 400: the body names another peer than the signer.
    PeerIdMismatch => "peer_id_mismatch",
    /// 400: a PeerSig without all three headers.
    IncompleteSignature => "incomplete_signature",
    /// 400: the join mode needs an address.
    EmailRequired => "email_required",
    /// 400: the join mode needs an invite code.
    InviteRequired => "invite_required",
    /// 400: the invite code is unknown, used up, revoked or expired.
    InvalidInvite => "invalid_invite",
    /// 400: the join mode needs an application message.
    MessageRequired => "message_required",
    /// 400: the bind code is unknown, used or expired.
    InvalidBindCode => "invalid_bind_code",
    /// 401: authentication required.
    Unauthorized => "unauthorized",
    /// 401/403: the route needs a PeerSig.
    SignatureRequired => "signature_required",
    /// 401: the PeerSig timestamp is outside the window.
    StaleTimestamp => "stale_timestamp",
    /// 401: the PeerSig does not verify.
    BadSignature => "bad_signature",
    /// 401: the PeerSig was seen already.
    Replayed => "replayed",
    /// 401: the voucher does not verify.
    InvalidVoucher => "invalid_voucher",
    /// 403: the peer is not a member.
    NotMember => "not_member",
    /// 403: the membership waits for verification or approval.
    MembershipPending => "membership_pending",
    /// 403: the membership has lapsed.
    MembershipLapsed => "membership_lapsed",
    /// 403: the account is banned.
    Banned => "banned",
    /// 403: an unsafe request that did not come from the hub's own pages.
    Csrf => "csrf",
    /// 403: not allowed.
    Forbidden => "forbidden",
    /// 404: no such resource.
    NotFound => "not_found",
    /// 404: the email link is not valid.
    InvalidToken => "invalid_token",
    /// 404: the peer is not bound to an account.
    NotBound => "not_bound",
    /// 404: the relay is switched off.
    RelayDisabled => "relay_disabled",
    /// 405: the route does not take this method.
    MethodNotAllowed => "method_not_allowed",
    /// 409: the request conflicts with the current state.
    Conflict => "conflict",
    /// 409: the peer is bound to an account already.
    PeerAlreadyBound => "peer_already_bound",
    /// 409: the account binds as many peers as allowed.
    TooManyPeers => "too_many_peers",
    /// 409: another account uses the address.
    EmailTaken => "email_taken",
    /// 409: the email link was used already.
    TokenUsed => "token_used",
    /// 410: the email link has expired.
    TokenExpired => "token_expired",
    /// 413: the body is larger than the route accepts.
    PayloadTooLarge => "payload_too_large",
    /// 415: the body has the wrong content type.
    UnsupportedMediaType => "unsupported_media_type",
    /// 425: publish presence before opening a legacy WebSocket.
    PublishFirst => "publish_first",
    /// 429: a rate limit; `Retry-After` says when to come back.
    RateLimited => "rate_limited",
    /// 500: an internal error, described only in the server's log.
    Internal => "internal",
    /// 404: billing is not enabled on this hub.
    BillingDisabled => "billing_disabled",
    /// 400: no plan with that id (or not a plan that can be bought).
    UnknownPlan => "unknown_plan",
    /// 400: a custom donation outside the plan's range, or an amount where none is allowed.
    InvalidAmount => "invalid_amount",
    /// 409: the account already has a live subscription.
    AlreadySubscribed => "already_subscribed",
    /// 404: the account has no Stripe customer yet (nothing to manage in the portal).
    NoCustomer => "no_customer",
    /// 400: a webhook signature whose timestamp is more than 300 s away.
    StaleSignature => "stale_signature",
    /// 502: a peer stream or an upstream service failed.
    UpstreamError => "upstream_error",
    /// 503: not ready, database down, or at capacity.
    Unavailable => "unavailable",
    /// 400: not a signed envelope of exactly `type`, `signer`, `payload`, `sig` (superhub.md §3.1).
    InvalidEnvelope => "invalid_envelope",
    /// 400: an envelope type the route does not take.
    UnsupportedType => "unsupported_type",
    /// 400: the envelope's payload is not a JSON object with `"v":1`.
    InvalidPayload => "invalid_payload",
    /// 400: the payload names another id than the envelope's signer.
    IdMismatch => "id_mismatch",
    /// 400: issued further in the future than the allowed clock skew.
    FutureIssuedAt => "future_issued_at",
    /// 400: the record has expired.
    Expired => "expired",
    /// 400: the directory lists only `https` hubs.
    HttpsRequired => "https_required",
    /// 400: a paging cursor that does not decode or belongs to another query.
    BadCursor => "bad_cursor",
    /// 400: the record carries no contact email to attest.
    NoContactEmail => "no_contact_email",
    /// 409: a record or tombstone older than (or as old as, but different from) the stored one.
    StaleSeq => "stale_seq",
    /// 409: the hub's tombstone is newer than this record.
    Tombstoned => "tombstoned",
    /// 410: the hub was decommissioned by its operator.
    Gone => "gone",
    /// 408: the request body did not arrive within `http.body_read_timeout_secs`.
    RequestTimeout => "request_timeout",
    /// 429: the client address holds its whole share of the PeerSig replay cache (hub.md §3 rule 5).
    TooManySignatures => "too_many_signatures",
    /// 403: the change needs a browser session (an address change of an account that has one).
    SessionRequired => "session_required",
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_returns_the_code_when_given_its_word() {
        for code in [
            ErrorCode::InvalidField,
            ErrorCode::NotMember,
            ErrorCode::TokenExpired,
            ErrorCode::Unavailable,
        ] {
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
        }
        assert_eq!(ErrorCode::InvalidBindCode.as_str(), "invalid_bind_code");
        assert_eq!(ErrorCode::parse("no_such_code"), None);
    }
}
