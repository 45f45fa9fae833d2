//! Presence over HTTP, WebSocket and SSE (hub.md §5, §18 checks 1–8), split by channel.

mod lock;
mod offline;
mod publish;
mod relay_info;
mod sse;
mod ws;

use std::time::Duration;

use futures::StreamExt as _;
use hub::config::JoinMode;
use serde_json::Value;
use testkit::{TestDb, TestHub};

/// How long a test waits for an SSE event or a WebSocket frame.
const DEADLINE: Duration = Duration::from_secs(10);

/// A hub in open mode on SQLite, after `adjust`.
async fn open_hub(adjust: impl FnOnce(&mut hub::Config)) -> TestHub {
    TestHub::spawn_with(&TestDb::sqlite(), |config| {
        config.membership.join_mode = JoinMode::Open;
        adjust(config);
    })
    .await
}

/// `POST /publish` of `msg` without a signature.
async fn publish_unsigned(hub: &TestHub, msg: &Value) -> reqwest::Response {
    hub.client
        .post(hub.url("/publish"))
        .body(msg.to_string())
        .send()
        .await
        .unwrap()
}

/// Collects SSE `data:` payloads from a streaming response.
struct Sse {
    body: std::pin::Pin<Box<dyn futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    buffer: String,
}

impl Sse {
    async fn open(
        hub: &TestHub,
        path: &str,
        headers: &[(&str, String)],
    ) -> reqwest::Result<(reqwest::StatusCode, Self)> {
        let mut request = hub.client.get(hub.url(path));
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request.send().await?;
        let status = response.status();
        Ok((
            status,
            Self {
                body: Box::pin(response.bytes_stream()),
                buffer: String::new(),
            },
        ))
    }

    /// The next event's data, or `None` when the stream ended.
    async fn next(&mut self) -> Option<Value> {
        tokio::time::timeout(DEADLINE, async {
            loop {
                while let Some(end) = self.buffer.find("\n\n") {
                    let event: String = self.buffer.drain(..end + 2).collect();
                    if let Some(data) = event.lines().find_map(|l| l.strip_prefix("data: "))
                        && !event.contains("event: snapshot-end")
                    {
                        return Some(serde_json::from_str(data).unwrap());
                    }
                }
                match self.body.next().await {
                    Some(Ok(chunk)) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                    _ => return None,
                }
            }
        })
        .await
        .expect("an SSE event in time")
    }
}
