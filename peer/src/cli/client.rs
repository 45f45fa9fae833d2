//! The running daemon's local API, as the CLI commands call it (peer.md §11.3 JSON).

use std::time::Duration;

use peer::PeerConfig;
use serde_json::Value;

/// Whole-request deadline: above the MQ API deadline of a chat send (8 s, peer.md §13).
const TIMEOUT: Duration = Duration::from_secs(15);
/// Largest answer read.
const MAX_ANSWER: usize = 16 * 1024 * 1024;

/// A client of the daemon at `http.addr`.
#[derive(Debug)]
pub(super) struct Daemon {
    http: reqwest::Client,
    base: String,
}

/// How a call ended.
#[derive(Debug)]
pub(super) enum Outcome {
    /// The daemon answered: status and JSON body (`Null` when not JSON).
    Answer(u16, Value),
    /// No daemon listens there (or the API is disabled).
    Unreachable,
    /// The call failed midway.
    Failed(String),
}

impl Daemon {
    /// A client of the API configured in `config`.
    pub(super) fn new(config: &PeerConfig) -> Option<Self> {
        config.http.enabled.then(|| Self {
            http: shared::http_client::outbound(
                &shared::protocol::agent_version(peer::SOFTWARE),
                TIMEOUT,
            ),
            base: format!("http://{}", config.http.addr),
        })
    }

    /// The base URL, for messages.
    pub(super) fn base(&self) -> &str {
        &self.base
    }

    /// `GET path?query`.
    pub(super) async fn get(&self, path: &str, query: &[(&str, &str)]) -> Outcome {
        let request = self.http.get(format!("{}{path}", self.base)).query(query);
        Self::finish(request).await
    }

    /// `POST path` with a JSON body.
    pub(super) async fn post(&self, path: &str, body: &Value) -> Outcome {
        let request = self.http.post(format!("{}{path}", self.base)).json(body);
        Self::finish(request).await
    }

    /// `POST path` with a JSON body and a deadline of its own (a join that waits).
    pub(super) async fn post_for(&self, path: &str, body: &Value, timeout: Duration) -> Outcome {
        let request = self
            .http
            .post(format!("{}{path}", self.base))
            .timeout(timeout)
            .json(body);
        Self::finish(request).await
    }

    async fn finish(request: reqwest::RequestBuilder) -> Outcome {
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) if error.is_connect() => {
                return Outcome::Unreachable;
            }
            Err(error) => return Outcome::Failed(shared::http_client::describe(&error)),
        };
        let status = response.status().as_u16();
        match shared::http_client::read_limited(response, MAX_ANSWER).await {
            Ok(body) => {
                Outcome::Answer(status, serde_json::from_slice(&body).unwrap_or(Value::Null))
            }
            Err(error) => Outcome::Failed(error.to_string()),
        }
    }
}

/// The `error.message` (else `error.code`) of an error answer.
pub(super) fn error_text(status: u16, body: &Value) -> String {
    let error = &body["error"];
    let text = error["message"]
        .as_str()
        .filter(|m| !m.is_empty())
        .or_else(|| error["code"].as_str())
        .unwrap_or("no error message");
    format!("HTTP {status}: {text}")
}

/// Exit 1 with what went wrong with a call to `daemon`: its error answer, no daemon, or a
/// transport failure.
pub(super) fn failed(daemon: &Daemon, outcome: Outcome) -> std::process::ExitCode {
    match outcome {
        Outcome::Answer(status, body) => super::fail(super::FAILURE, &error_text(status, &body)),
        Outcome::Unreachable => super::fail(
            super::FAILURE,
            &format!(
                "no daemon answers at {} (start it with `peer run`)",
                daemon.base()
            ),
        ),
        Outcome::Failed(error) => super::fail(super::FAILURE, &error),
    }
}
