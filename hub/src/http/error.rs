//! The hub's mappings into [`ApiError`] (`shared::server`), the one error type at the HTTP
//! boundary: each domain error of the hub becomes the spec's status, code and field here.

use shared::error_code::ErrorCode;

use crate::{billing, membership};

pub(crate) use shared::server::{ApiError, ApiResult};

/// A record that cannot be issued: the database, or a bug (a record breaking §11.3).
impl From<crate::directory::IssueError> for ApiError {
    fn from(error: crate::directory::IssueError) -> Self {
        match error {
            crate::directory::IssueError::Store(error) => error.into(),
            invalid @ crate::directory::IssueError::Invalid(_) => {
                Self::Internal(invalid.to_string())
            }
        }
    }
}

/// The one mapping of billing's refusals and failures (hub.md §8.2, §8.4).
impl From<billing::Error> for ApiError {
    fn from(error: billing::Error) -> Self {
        use crate::billing::signature::SignatureError;
        use billing::Error as E;
        let message = error.to_string();
        let bad_request = |code, field| Self::BadRequest {
            code,
            field,
            message: message.clone(),
        };
        match error {
            E::Disabled => Self::NotFound(ErrorCode::BillingDisabled),
            E::UnknownPlan(_) => bad_request(ErrorCode::UnknownPlan, Some("plan")),
            E::InvalidAmount(_) => bad_request(ErrorCode::InvalidAmount, Some("amount")),
            E::AlreadySubscribed => Self::Conflict(ErrorCode::AlreadySubscribed),
            E::NoCustomer => Self::NotFound(ErrorCode::NoCustomer),
            E::Membership(inner) => inner.into(),
            E::Signature(SignatureError::Stale) => bad_request(ErrorCode::StaleSignature, None),
            E::Signature(_) => bad_request(ErrorCode::BadSignature, None),
            E::InvalidEvent(_) => bad_request(ErrorCode::InvalidJson, None),
            E::Stripe(inner) => {
                tracing::warn!(error = %inner, "Stripe call failed");
                Self::Upstream("Stripe")
            }
            E::Store(inner) => inner.into(),
        }
    }
}

/// The one mapping of membership's refusals to the spec's status, code and field (hub.md §0.1).
impl From<membership::Error> for ApiError {
    fn from(error: membership::Error) -> Self {
        use membership::Error as E;
        let message = error.to_string();
        let bad_request = |code, field| Self::BadRequest {
            code,
            field: Some(field),
            message: message.clone(),
        };
        match error {
            E::InvalidLabel => bad_request(ErrorCode::InvalidField, "label"),
            E::InvalidEmail => bad_request(ErrorCode::InvalidField, "email"),
            E::EmailRequired => bad_request(ErrorCode::EmailRequired, "email"),
            E::InviteRequired => bad_request(ErrorCode::InviteRequired, "invite_code"),
            E::InvalidInvite => bad_request(ErrorCode::InvalidInvite, "invite_code"),
            E::MessageRequired => bad_request(ErrorCode::MessageRequired, "message"),
            E::MessageTooLong => bad_request(ErrorCode::InvalidField, "message"),
            E::InvalidBindCode => bad_request(ErrorCode::InvalidBindCode, "bind_code"),
            E::CompEndsInPast => bad_request(ErrorCode::InvalidField, "until"),
            E::PeerAlreadyBound { .. } => Self::Conflict(ErrorCode::PeerAlreadyBound),
            E::TooManyPeers { .. } => Self::Conflict(ErrorCode::TooManyPeers),
            E::EmailTaken => Self::Conflict(ErrorCode::EmailTaken),
            E::InvalidToken => Self::NotFound(ErrorCode::InvalidToken),
            E::TokenUsed => Self::Conflict(ErrorCode::TokenUsed),
            E::TokenExpired => Self::Gone(ErrorCode::TokenExpired),
            E::Banned { .. } => Self::Forbidden(ErrorCode::Banned),
            E::SessionRequired => Self::Forbidden(ErrorCode::SessionRequired),
            E::Refused { code } => Self::Forbidden(code),
            E::NotBound { .. } => Self::NotFound(ErrorCode::NotBound),
            E::NotFound { .. } => Self::NotFound(ErrorCode::NotFound),
            E::WrongState { .. } => Self::Conflict(ErrorCode::Conflict),
            E::Enforce(_) | E::SignVoucher(_) | E::UnknownPurpose(_) | E::InviteCodesExhausted => {
                Self::Internal(error.to_string())
            }
            E::Store(error) => error.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;

    use super::*;
    use crate::store::StoreError;

    async fn answer(error: impl Into<ApiError>) -> (StatusCode, serde_json::Value) {
        let response = error.into().into_response();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn membership_errors_answer_the_spec_status_code_and_field_when_mapped() {
        let (status, body) = answer(membership::Error::InvalidBindCode).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["code"], "invalid_bind_code");
        assert_eq!(body["error"]["field"], "bind_code");
        assert_eq!(body["error"]["message"], "bind_code: not valid or expired");

        let (status, body) = answer(membership::Error::TokenExpired).await;
        assert_eq!(status, StatusCode::GONE);
        assert_eq!(body["error"]["code"], "token_expired");

        let refused = membership::Error::Refused {
            code: ErrorCode::MembershipLapsed,
        };
        let (status, body) = answer(refused).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(body["error"]["code"], "membership_lapsed");

        let (status, body) = answer(membership::Error::Store(StoreError::NotFound)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["error"]["code"], "not_found");
    }
}
