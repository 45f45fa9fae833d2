//! `peer hubs` and `peer leave <url>`: through the daemon's `GET /api/hubs` and
//! `POST /api/hubs/leave`, else on the data directory's `_hubs` table (peer.md §1.4).

use std::process::ExitCode;

use peer::PeerConfig;
use peer::hub_url::HubUrl;
use peer::store::{DB_FILE, Store};
use serde_json::{Value, json};

use super::client::{Daemon, Outcome, error_text};
use super::{FAILURE, fail, report, table};

const HEADERS: [&str; 6] = [
    "URL",
    "KIND",
    "STATE",
    "MEMBERSHIP",
    "VOUCHER EXPIRES",
    "RELAY",
];

/// `peer hubs`.
pub(super) async fn list(config: &PeerConfig) -> ExitCode {
    let unreachable = match Daemon::new(config) {
        Some(daemon) => match daemon.get("/api/hubs", &[]).await {
            Outcome::Answer(200, Value::Array(hubs)) => {
                let rows: Vec<Vec<String>> = hubs.iter().map(row_of).collect();
                print!("{}", table::render(&HEADERS, &rows));
                return ExitCode::SUCCESS;
            }
            Outcome::Answer(status, body) => return fail(FAILURE, &error_text(status, &body)),
            Outcome::Failed(error) => return fail(FAILURE, &error),
            Outcome::Unreachable => format!("no daemon answers at {}", daemon.base()),
        },
        None => "the local API is disabled (http.enabled = false)".to_owned(),
    };
    eprintln!(
        "peer: {unreachable}; listing the hubs of {}",
        config.data_dir.display()
    );
    let mut urls = match config.hub_urls() {
        Ok(urls) => urls,
        Err(error) => return report(&error),
    };
    match stored_hubs(config).await {
        Ok(rows) => {
            for row in rows {
                if !urls.contains(&row.url) {
                    urls.push(row.url);
                }
            }
        }
        Err(error) => return fail(FAILURE, &error),
    }
    let rows: Vec<Vec<String>> = urls
        .into_iter()
        .map(|url| {
            let mut row = vec![String::new(); HEADERS.len()];
            row[0] = url.to_string();
            row[2] = "stopped".to_owned();
            row
        })
        .collect();
    print!("{}", table::render(&HEADERS, &rows));
    ExitCode::SUCCESS
}

/// `peer leave <url>`: exit 1 for an unknown hub.
pub(super) async fn leave(config: &PeerConfig, raw: &str) -> ExitCode {
    let url = match HubUrl::parse(raw) {
        Ok(url) => url,
        Err(error) => return fail(FAILURE, &format!("{raw}: {error}")),
    };
    let in_config = config.hub_urls().is_ok_and(|urls| urls.contains(&url));
    let warn_config = || {
        if in_config {
            eprintln!("peer: {url} is in hubs.urls of peer.toml; remove it there too");
        }
    };
    if let Some(daemon) = Daemon::new(config) {
        match daemon
            .post("/api/hubs/leave", &json!({ "url": url.as_str() }))
            .await
        {
            Outcome::Answer(200..=299, _) => {
                warn_config();
                println!("left {url}");
                return ExitCode::SUCCESS;
            }
            Outcome::Answer(404, _) => return fail(FAILURE, &format!("unknown hub {url}")),
            Outcome::Answer(status, body) => return fail(FAILURE, &error_text(status, &body)),
            Outcome::Failed(error) => return fail(FAILURE, &error),
            Outcome::Unreachable => {}
        }
    }
    let removed = match open_store(config).await {
        Ok(Some(store)) => {
            let removed = store.delete_hub(&url).await;
            store.close().await;
            match removed {
                Ok(removed) => removed,
                Err(error) => return report(&error),
            }
        }
        Ok(None) => false,
        Err(error) => return fail(FAILURE, &error),
    };
    warn_config();
    if removed {
        println!("left {url}");
        ExitCode::SUCCESS
    } else {
        fail(FAILURE, &format!("unknown hub {url}"))
    }
}

fn row_of(hub: &Value) -> Vec<String> {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let mut state = text(&hub["state"]);
    if let Some(error) = hub["last_error"].as_str() {
        state = format!("{state} ({error})");
    }
    let membership = match (hub["membership"].as_str(), hub["tier"].as_str()) {
        (Some(m), Some(t)) if !t.is_empty() => format!("{m}/{t}"),
        (Some(m), _) => m.to_owned(),
        (None, _) => String::new(),
    };
    let voucher = hub["voucher_expires_at"]
        .as_i64()
        .map(table::relative)
        .unwrap_or_default();
    let relay = &hub["relay"];
    let relay = match relay["circuit_addr"].as_str() {
        Some(addr) => format!("{} {addr}", text(&relay["state"])),
        None => text(&relay["state"]),
    };
    vec![
        text(&hub["url"]),
        text(&hub["kind"]),
        state,
        membership,
        voucher,
        relay,
    ]
}

async fn stored_hubs(config: &PeerConfig) -> Result<Vec<peer::store::HubRow>, String> {
    let Some(store) = open_store(config).await? else {
        return Ok(Vec::new());
    };
    let rows = store.list_hubs().await.map_err(|e| e.to_string());
    store.close().await;
    rows
}

/// The data directory's database, `None` when it has none yet.
async fn open_store(config: &PeerConfig) -> Result<Option<Store>, String> {
    if !config.data_dir.join(DB_FILE).exists() {
        return Ok(None);
    }
    Store::open(&config.data_dir)
        .await
        .map(Some)
        .map_err(|e| e.to_string())
}
