//! The stylesheet and the admin script, compiled into the binary and served with a year-long
//! cache; pages link them with a content hash (`?v=`), so a new build is fetched at once.

use std::sync::LazyLock;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use sha2::{Digest as _, Sha256};

use crate::state::AppState;

/// The stylesheet's route.
pub(crate) const CSS_PATH: &str = "/assets/hub.css";
/// The admin script's route.
pub(crate) const ADMIN_JS_PATH: &str = "/assets/admin.js";

const CSS: &str = include_str!("../../assets/hub.css");
const ADMIN_JS: &str = include_str!("../../assets/admin.js");
const CACHE: &str = "public, max-age=31536000, immutable";

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(
            CSS_PATH,
            get(|| async {
                (
                    [
                        (header::CONTENT_TYPE, "text/css; charset=utf-8"),
                        (header::CACHE_CONTROL, CACHE),
                    ],
                    CSS,
                )
                    .into_response()
            }),
        )
        .route(
            ADMIN_JS_PATH,
            get(|| async {
                (
                    [
                        (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
                        (header::CACHE_CONTROL, CACHE),
                    ],
                    ADMIN_JS,
                )
                    .into_response()
            }),
        )
}

/// `path?v=<first 12 hex digits of the asset's SHA-256>`.
pub(crate) fn versioned(path: &'static str) -> &'static str {
    static CSS_URL: LazyLock<String> = LazyLock::new(|| with_hash(CSS_PATH, CSS));
    static ADMIN_JS_URL: LazyLock<String> = LazyLock::new(|| with_hash(ADMIN_JS_PATH, ADMIN_JS));
    match path {
        CSS_PATH => &CSS_URL,
        ADMIN_JS_PATH => &ADMIN_JS_URL,
        other => other,
    }
}

fn with_hash(path: &str, content: &str) -> String {
    let digest = Sha256::digest(content.as_bytes());
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("{path}?v={hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// hub.md §10: at most 20 KiB of first-party JavaScript in total.
    #[test]
    fn first_party_javascript_stays_within_20_kib() {
        assert!(ADMIN_JS.len() <= 20 * 1024, "{} bytes", ADMIN_JS.len());
    }

    #[test]
    fn versioned_urls_carry_a_content_hash() {
        let url = versioned(CSS_PATH);

        assert!(url.starts_with("/assets/hub.css?v="), "{url}");
        assert_eq!(url.len(), CSS_PATH.len() + 3 + 12);
    }
}
