//! JSON documents that more than one crate reads or writes (snake_case, hub.md §11, superhub.md §2).

use serde::{Deserialize, Serialize};

/// `software` of an info document or hub record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Software {
    /// `goop-hub` or `goop-superhub`.
    pub name: String,
    /// Crate version.
    pub version: String,
}

impl Software {
    /// This build, under `name`.
    pub fn this(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            version: crate::VERSION.to_owned(),
        }
    }
}

/// `GET /api/v1/info` of a hub (hub.md §11.1). Fields of features not yet configured are absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HubInfo {
    /// Hub id (PeerId of the hub key).
    pub id: String,
    /// Community name.
    pub name: String,
    /// Community slug.
    pub slug: String,
    /// Description.
    pub description: String,
    /// `""` or an icon URL.
    pub icon_url: String,
    /// Topic tags.
    pub tags: Vec<String>,
    /// BCP 47 language tags.
    pub languages: Vec<String>,
    /// `""` or an ISO 3166-1 alpha-2 code.
    pub region: String,
    /// `""` or the operator's contact address.
    pub contact_email: String,
    /// libp2p addresses ending in `/p2p/<id>`.
    pub multiaddrs: Vec<String>,
    /// Public base URL.
    pub http_url: String,
    /// Implementation.
    pub software: Software,
}

/// `GET /api/v1/info` of a super hub (superhub.md §2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuperhubInfo {
    /// Super hub id.
    pub id: String,
    /// Directory name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Public base URL.
    pub http_url: String,
    /// `""` or the operator's contact address.
    pub contact_email: String,
    /// Implementation.
    pub software: Software,
}

/// The error body of every JSON route (hub.md §0.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// `error` of [`ErrorBody`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable snake_case code.
    pub code: String,
    /// Human-readable, at most 200 characters.
    pub message: String,
    /// The offending field, when one is to blame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}
