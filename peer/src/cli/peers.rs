//! `peer peers` (the merged peer table, `GET /api/peers`) and `peer send` (direct chat,
//! `POST /api/chat/send`; exit 6 when not delivered). Both need the running daemon.

use std::process::ExitCode;

use peer::PeerConfig;
use serde_json::{Value, json};

use super::client::{Daemon, Outcome, error_text, failed};
use super::{FAILURE, NOT_DELIVERED, fail, table};

const HEADERS: [&str; 8] = [
    "PEER ID",
    "LABEL",
    "ONLINE",
    "VERIFIED",
    "REACHABLE",
    "FLAGS",
    "LAST SEEN",
    "SOURCES",
];

/// `peer peers [--hub URL] [--online]`.
pub(super) async fn list(config: &PeerConfig, hub: Option<&str>, online: bool) -> ExitCode {
    let Some(daemon) = Daemon::new(config) else {
        return fail(FAILURE, "the local API is disabled (http.enabled = false)");
    };
    let mut query = vec![("online", if online { "true" } else { "false" })];
    if let Some(hub) = hub {
        query.push(("hub", hub));
    }
    match daemon.get("/api/peers", &query).await {
        Outcome::Answer(200, Value::Array(peers)) => {
            let rows: Vec<Vec<String>> = peers.iter().map(row_of).collect();
            print!("{}", table::render(&HEADERS, &rows));
            ExitCode::SUCCESS
        }
        other => failed(&daemon, other),
    }
}

/// `peer send <peer-id> <text…>`.
pub(super) async fn send(config: &PeerConfig, peer_id: &str, text: &str) -> ExitCode {
    let Some(daemon) = Daemon::new(config) else {
        return fail(NOT_DELIVERED, "not delivered: the local API is disabled");
    };
    let body = json!({ "peer_id": peer_id, "content": text });
    match daemon.post("/api/chat/send", &body).await {
        Outcome::Answer(200..=299, answer) => {
            println!(
                "delivered {}",
                answer["msg_id"].as_str().unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Outcome::Answer(status, answer) => fail(
            NOT_DELIVERED,
            &format!("not delivered: {}", error_text(status, &answer)),
        ),
        Outcome::Unreachable => fail(
            NOT_DELIVERED,
            &format!("not delivered: no daemon answers at {}", daemon.base()),
        ),
        Outcome::Failed(error) => fail(NOT_DELIVERED, &format!("not delivered: {error}")),
    }
}

fn row_of(peer: &Value) -> Vec<String> {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let yes_no = |v: &Value| match v.as_bool() {
        Some(true) => "yes".to_owned(),
        Some(false) => "no".to_owned(),
        None => "?".to_owned(),
    };
    let flags: Vec<&str> = [("favorite", "favorite"), ("blocked", "blocked")]
        .into_iter()
        .filter(|(key, _)| peer[*key].as_bool() == Some(true))
        .map(|(_, word)| word)
        .collect();
    // The sources the peer is online at; offline sightings stay in the API's answer only.
    let sources: Vec<String> = peer["sightings"]
        .as_array()
        .map(|s| {
            s.iter()
                .filter(|s| s["offline"].as_bool() != Some(true))
                .map(|s| text(&s["source"]))
                .collect()
        })
        .unwrap_or_default();
    vec![
        text(&peer["peer_id"]),
        text(&peer["label"]),
        yes_no(&peer["online"]),
        yes_no(&peer["verified"]),
        yes_no(&peer["reachable"]),
        flags.join(","),
        peer["last_seen"]
            .as_i64()
            .map(table::relative)
            .unwrap_or_default(),
        sources.join(","),
    ]
}
