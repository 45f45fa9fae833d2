//! A super hub's registration endpoint on loopback: it keeps every envelope POSTed to
//! `/api/v1/hubs` and answers from a script, then `200 {"state":"listed"}` (records) or
//! `200 {"state":"tombstoned"}` (tombstones) once the script is used up.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use serde_json::{Value, json};
use shared::envelope::Envelope;

/// One POST as received.
#[derive(Debug, Clone)]
pub(crate) struct Post {
    pub(crate) at: Instant,
    pub(crate) content_type: String,
    pub(crate) envelope: Envelope,
}

impl Post {
    /// The `seq` of the payload (record or tombstone).
    pub(crate) fn seq(&self) -> u64 {
        let payload: Value = serde_json::from_str(&self.envelope.payload).unwrap();
        payload["seq"].as_u64().unwrap()
    }
}

/// A scripted answer: status, JSON body, `Retry-After` seconds.
pub(crate) type Answer = (u16, Value, Option<u64>);

/// `409 stale_seq`.
pub(crate) fn stale_seq() -> Answer {
    (
        409,
        json!({"error": {"code": "stale_seq", "message": "a newer record is stored"}}),
        None,
    )
}

#[derive(Default)]
struct Shared {
    posts: Vec<Post>,
    script: VecDeque<Answer>,
}

/// The fake; dropping it stops the server.
pub(crate) struct FakeSuperhub {
    pub(crate) url: String,
    shared: Arc<Mutex<Shared>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeSuperhub {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeSuperhub {
    /// Starts one answering `script` first.
    pub(crate) async fn start(script: Vec<Answer>) -> Self {
        let shared = Arc::new(Mutex::new(Shared {
            posts: Vec::new(),
            script: script.into(),
        }));
        let state = shared.clone();
        let app = axum::Router::new().route(
            "/api/v1/hubs",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let state = state.clone();
                async move { answer(&state, &headers, &body) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            url,
            shared,
            server,
        }
    }

    /// Every POST so far.
    pub(crate) fn posts(&self) -> Vec<Post> {
        self.shared.lock().unwrap().posts.clone()
    }

    /// Waits until at least `n` POSTs arrived; they are returned.
    pub(crate) async fn wait_for_posts(&self, n: usize, deadline: Duration) -> Vec<Post> {
        testkit::eventually(deadline, &format!("{n} POSTs to the super hub"), || async {
            let posts = self.posts();
            (posts.len() >= n).then_some(posts)
        })
        .await
    }
}

fn answer(shared: &Mutex<Shared>, headers: &HeaderMap, body: &[u8]) -> Response {
    let envelope = Envelope::parse(body).expect("the hub posts a well-formed envelope");
    let mut shared = shared.lock().unwrap();
    let tombstone = envelope.kind == "hub-tombstone";
    shared.posts.push(Post {
        at: Instant::now(),
        content_type: headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        envelope,
    });
    let default = if tombstone {
        (200, json!({"state": "tombstoned"}), None)
    } else {
        (200, json!({"state": "listed"}), None)
    };
    let (status, body, retry_after) = shared.script.pop_front().unwrap_or(default);
    let mut response = (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response();
    if let Some(secs) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, secs.to_string().parse().unwrap());
    }
    response
}
