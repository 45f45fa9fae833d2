//! A real HTTP server on 127.0.0.1 standing in for a hub's `/api/v1/info`: it answers the way a
//! test tells it to (its id, another id, a status, a redirect, an endless or malformed body, or
//! nothing at all) and counts the requests it receives.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// How the server answers `GET /api/v1/info`.
#[derive(Debug, Clone)]
pub(crate) enum Answer {
    /// 200 `{"id": …}`.
    Id(String),
    /// A bare status.
    Status(StatusCode),
    /// 302 to this URL.
    RedirectTo(String),
    /// 200 with a body that never ends (chunked).
    Endless,
    /// 200 with a body of this many bytes and its `Content-Length`.
    Sized(usize),
    /// 200 with this body.
    Body(&'static str),
    /// Never answers.
    Silence,
}

#[derive(Debug)]
struct Shared {
    answer: Mutex<Answer>,
    requests: AtomicUsize,
    user_agent: Mutex<Option<String>>,
}

/// A running info server; dropping it leaves the server running until the test ends.
#[derive(Debug, Clone)]
pub(crate) struct InfoServer {
    /// `http://127.0.0.1:<port>`.
    pub(crate) url: String,
    shared: Arc<Shared>,
}

impl InfoServer {
    /// Starts a server answering `answer`.
    pub(crate) async fn start(answer: Answer) -> Self {
        let shared = Arc::new(Shared {
            answer: Mutex::new(answer),
            requests: AtomicUsize::new(0),
            user_agent: Mutex::new(None),
        });
        let app = axum::Router::new()
            .route("/api/v1/info", get(info))
            .fallback(count_only)
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, shared }
    }

    /// Answers `answer` from now on.
    pub(crate) fn set(&self, answer: Answer) {
        *self.shared.answer.lock().unwrap() = answer;
    }

    /// Requests received so far (any path).
    pub(crate) fn requests(&self) -> usize {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// The User-Agent of the last request.
    pub(crate) fn user_agent(&self) -> Option<String> {
        self.shared.user_agent.lock().unwrap().clone()
    }
}

async fn info(State(shared): State<Arc<Shared>>, headers: axum::http::HeaderMap) -> Response {
    shared.requests.fetch_add(1, Ordering::SeqCst);
    *shared.user_agent.lock().unwrap() = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let answer = shared.answer.lock().unwrap().clone();
    match answer {
        Answer::Id(id) => {
            axum::Json(serde_json::json!({"id": id, "name": "A hub"})).into_response()
        }
        Answer::Status(status) => status.into_response(),
        Answer::RedirectTo(url) => (StatusCode::FOUND, [(header::LOCATION, url)]).into_response(),
        Answer::Endless => {
            let chunk = bytes_of(&[b'x'; 8192]);
            let stream =
                futures::stream::repeat_with(move || Ok::<_, std::io::Error>(chunk.clone()));
            Body::from_stream(stream).into_response()
        }
        Answer::Sized(n) => vec![b' '; n].into_response(),
        Answer::Body(text) => ([(header::CONTENT_TYPE, "application/json")], text).into_response(),
        Answer::Silence => std::future::pending().await,
    }
}

async fn count_only(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.requests.fetch_add(1, Ordering::SeqCst);
    StatusCode::OK
}

fn bytes_of(slice: &[u8]) -> axum::body::Bytes {
    axum::body::Bytes::copy_from_slice(slice)
}
