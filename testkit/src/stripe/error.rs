//! Stripe's error answers: `{"error":{"type":"invalid_request_error","message",…}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An error answer of the double's API, rendered in Stripe's shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct StripeFailure {
    pub(super) status: u16,
    /// `error.type`.
    pub(super) kind: &'static str,
    /// `error.code`, e.g. `resource_missing`.
    pub(super) code: Option<&'static str>,
    /// `error.param`: the parameter at fault.
    pub(super) param: Option<String>,
    pub(super) message: String,
}

impl StripeFailure {
    /// 400 `invalid_request_error` about `param`.
    pub(super) fn invalid(param: &str, message: impl Into<String>) -> Self {
        Self {
            status: 400,
            kind: "invalid_request_error",
            code: Some("parameter_invalid"),
            param: Some(param.to_owned()),
            message: message.into(),
        }
    }

    /// 400 `parameter_missing` for a required `param`.
    pub(super) fn missing(param: &str) -> Self {
        Self {
            code: Some("parameter_missing"),
            ..Self::invalid(param, format!("Missing required param: {param}."))
        }
    }

    /// `resource_missing` (`status` 400 for a parameter naming it, 404 for a path): "No such …".
    pub(super) fn no_such(status: u16, what: &str, id: &str, param: &str) -> Self {
        Self {
            status,
            code: Some("resource_missing"),
            ..Self::invalid(param, format!("No such {what}: '{id}'"))
        }
    }

    /// 401 for a missing or wrong secret key.
    pub(super) fn unauthorized(message: &str) -> Self {
        Self {
            status: 401,
            kind: "invalid_request_error",
            code: None,
            param: None,
            message: message.to_owned(),
        }
    }

    /// An injected failure with `status`.
    pub(super) fn injected(status: u16) -> Self {
        Self {
            status,
            kind: "api_error",
            code: None,
            param: None,
            message: format!("the Stripe double was told to fail with {status}"),
        }
    }

    /// The JSON body.
    pub(super) fn body(&self) -> Value {
        let mut error = json!({"type": self.kind, "message": self.message});
        if let Some(code) = self.code {
            error["code"] = code.into();
        }
        if let Some(param) = &self.param {
            error["param"] = param.clone().into();
        }
        json!({ "error": error })
    }
}

impl IntoResponse for StripeFailure {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        (status, axum::Json(self.body())).into_response()
    }
}
