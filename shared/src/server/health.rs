//! `/healthz` (the process serves HTTP) and `/readyz` (start-up done and every dependency answers),
//! hub.md §12 and superhub.md §12: the handler of the one and the response of the other.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::ser::{Serialize, SerializeMap, Serializer};

/// Set once start-up has finished; `/readyz` answers 503 before.
#[derive(Debug, Clone, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    /// Marks start-up as finished.
    pub fn set(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// Whether start-up has finished.
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// `GET /healthz`: `ok` whenever the process serves HTTP.
pub async fn healthz() -> &'static str {
    "ok"
}

/// The `/readyz` answer: 200 `{"status":"ready","checks":{…}}` when start-up has finished and
/// every named check passed, else 503 with `not_ready`. Each check reads `ok` or `fail`.
pub fn readyz_response(started: bool, checks: &[(&'static str, bool)]) -> Response {
    let ready = started && checks.iter().all(|(_, ok)| *ok);
    let body = Body {
        status: if ready { "ready" } else { "not_ready" },
        checks: Checks(checks),
    };
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

#[derive(serde::Serialize)]
struct Body<'a> {
    status: &'static str,
    checks: Checks<'a>,
}

/// The checks as a JSON object, in the order given.
struct Checks<'a>(&'a [(&'static str, bool)]);

impl Serialize for Checks<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, ok) in self.0 {
            map.serialize_entry(name, if *ok { "ok" } else { "fail" })?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(response: Response) -> (StatusCode, String) {
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn readyz_is_ready_when_started_and_every_check_passes() {
        let response = readyz_response(true, &[("database", true), ("p2p", true)]);

        assert_eq!(
            body_of(response).await,
            (
                StatusCode::OK,
                r#"{"status":"ready","checks":{"database":"ok","p2p":"ok"}}"#.to_owned()
            )
        );
    }

    #[tokio::test]
    async fn readyz_is_not_ready_when_a_check_fails_or_start_up_is_running() {
        let failing = readyz_response(true, &[("database", false)]);
        let starting = readyz_response(false, &[("database", true)]);

        assert_eq!(
            body_of(failing).await,
            (
                StatusCode::SERVICE_UNAVAILABLE,
                r#"{"status":"not_ready","checks":{"database":"fail"}}"#.to_owned()
            )
        );
        assert_eq!(body_of(starting).await.0, StatusCode::SERVICE_UNAVAILABLE);
    }
}
