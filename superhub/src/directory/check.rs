//! Rows 1–10 of superhub.md §3.1, in order, the first failure deciding: what makes an envelope a
//! record or tombstone this directory may store. Registration and federation both pass through
//! [`check`], so a record pulled from a peer meets exactly the rules of a direct registration.

use shared::envelope::{Envelope, EnvelopeError, EnvelopeType, Verified};
use shared::error_code::ErrorCode;
use shared::record::{HubRecord, Tombstone};

use crate::config::DirectoryConfig;

/// A refused envelope: the §3.1 code, the payload field for `invalid_field`, and a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Refusal {
    /// The error code of the row that failed.
    pub code: ErrorCode,
    /// The payload field at fault (`invalid_field`, `expired` on lifetime).
    pub field: Option<&'static str>,
    /// What was wrong, for the error body and the log.
    pub message: String,
}

impl Refusal {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            field: None,
            message: message.into(),
        }
    }

    fn field(code: ErrorCode, field: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            field: Some(field),
            message: message.into(),
        }
    }
}

/// A checked envelope and what it carries.
// One lives per request or feed item and moves once: boxing the record would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Checked {
    /// A hub record.
    Record(Envelope, HubRecord),
    /// A hub's tombstone.
    Tombstone(Envelope, Tombstone),
}

impl Checked {
    /// The hub the item is about.
    pub fn hub_id(&self) -> &str {
        match self {
            Self::Record(_, r) => &r.id,
            Self::Tombstone(_, t) => &t.id,
        }
    }

    /// The envelope as received.
    pub fn envelope(&self) -> &Envelope {
        match self {
            Self::Record(e, _) | Self::Tombstone(e, _) => e,
        }
    }

    /// `hub-record` or `hub-tombstone`.
    pub fn type_label(&self) -> &'static str {
        match self {
            Self::Record(..) => EnvelopeType::HubRecord.as_str(),
            Self::Tombstone(..) => EnvelopeType::HubTombstone.as_str(),
        }
    }
}

/// Runs rows 1–10 of §3.1 over the JSON bytes of an envelope at `now_ms`.
///
/// # Errors
/// [`Refusal`] of the first row that fails.
pub fn check(bytes: &[u8], policy: &DirectoryConfig, now_ms: i64) -> Result<Checked, Refusal> {
    let envelope = Envelope::parse(bytes).map_err(|e| match e {
        EnvelopeError::TooLarge => Refusal::new(ErrorCode::PayloadTooLarge, e.to_string()),
        _ => Refusal::new(ErrorCode::InvalidEnvelope, e.to_string()),
    })?;
    check_envelope(envelope, policy, now_ms)
}

/// Rows 2–10 for an envelope that already parsed (a federation item carries it as a JSON value).
///
/// # Errors
/// [`Refusal`] of the first row that fails.
pub fn check_envelope(
    envelope: Envelope,
    policy: &DirectoryConfig,
    now_ms: i64,
) -> Result<Checked, Refusal> {
    match EnvelopeType::parse(&envelope.kind) {
        Some(EnvelopeType::HubRecord | EnvelopeType::HubTombstone) => {}
        _ => {
            return Err(Refusal::new(
                ErrorCode::UnsupportedType,
                "type must be hub-record or hub-tombstone",
            ));
        }
    }
    let verified = envelope.verify().map_err(|e| match e {
        EnvelopeError::BadSigner => Refusal::new(ErrorCode::UnsupportedPeerId, e.to_string()),
        _ => Refusal::new(ErrorCode::BadSignature, e.to_string()),
    })?;
    check_payload_head(&verified)?;
    let checked = match verified.kind {
        EnvelopeType::HubRecord => {
            let record = HubRecord::from_verified(&verified).map_err(invalid_field)?;
            check_times(record.issued_at, Some(record.expires_at), policy, now_ms)?;
            if policy.require_https && !record.http_url.starts_with("https://") {
                return Err(Refusal::new(
                    ErrorCode::HttpsRequired,
                    "this directory lists only https hubs",
                ));
            }
            Checked::Record(envelope.clone(), record)
        }
        _ => {
            let tombstone = Tombstone::from_verified(&verified).map_err(invalid_field)?;
            check_times(tombstone.issued_at, None, policy, now_ms)?;
            Checked::Tombstone(envelope.clone(), tombstone)
        }
    };
    Ok(checked)
}

/// Rows 5 and 6: a JSON object with `"v":1` whose `id` is the signer.
fn check_payload_head(verified: &Verified<'_>) -> Result<(), Refusal> {
    let value: serde_json::Value = serde_json::from_str(verified.payload)
        .map_err(|e| Refusal::new(ErrorCode::InvalidPayload, format!("payload: {e}")))?;
    let object = value
        .as_object()
        .ok_or_else(|| Refusal::new(ErrorCode::InvalidPayload, "payload must be a JSON object"))?;
    if object.get("v").and_then(serde_json::Value::as_u64) != Some(1) {
        return Err(Refusal::new(
            ErrorCode::InvalidPayload,
            "payload must carry \"v\":1",
        ));
    }
    if object.get("id").and_then(serde_json::Value::as_str) != Some(&verified.signer.to_string()) {
        return Err(Refusal::new(
            ErrorCode::IdMismatch,
            "payload.id must equal the envelope's signer",
        ));
    }
    Ok(())
}

/// Row 7.
fn invalid_field(e: shared::record::InvalidRecord) -> Refusal {
    Refusal::field(ErrorCode::InvalidField, e.field, e.to_string())
}

/// Rows 8 and 9.
fn check_times(
    issued_at: i64,
    expires_at: Option<i64>,
    policy: &DirectoryConfig,
    now_ms: i64,
) -> Result<(), Refusal> {
    let skew = i64::try_from(policy.max_future_skew.as_millis()).unwrap_or(i64::MAX);
    if issued_at > now_ms.saturating_add(skew) {
        return Err(Refusal::field(
            ErrorCode::FutureIssuedAt,
            "issued_at",
            "issued_at lies too far in the future",
        ));
    }
    let Some(expires_at) = expires_at else {
        return Ok(());
    };
    if expires_at <= now_ms {
        return Err(Refusal::field(
            ErrorCode::Expired,
            "expires_at",
            "the record has expired",
        ));
    }
    let max = i64::try_from(policy.record_max_lifetime.as_millis()).unwrap_or(i64::MAX);
    let lifetime = expires_at.saturating_sub(issued_at);
    if lifetime <= 0 || lifetime > max {
        return Err(Refusal::field(
            ErrorCode::InvalidField,
            "expires_at",
            format!("a record lives at most {} s", max / 1000),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
