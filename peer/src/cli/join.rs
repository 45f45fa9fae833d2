//! `peer join <url>` (peer.md §1.4, §3.6): through the daemon's `POST /api/hubs/join` (waiting
//! up to `--wait`), else by starting the peer in this process for the join. Never prompts: the
//! join mode's email, invite code or message come from the flags (exit 2 names the missing one).

use std::process::ExitCode;
use std::time::Duration;

use peer::hub_url::HubUrl;
use peer::membership::{Action, JoinError, JoinOptions, Joined, MAX_WAIT, Progress};
use peer::store::HubSource;
use peer::{Peer, PeerConfig};
use serde_json::{Value, json};

use super::client::{Daemon, Outcome, error_text};
use super::{FAILURE, fail, report};

/// Exit code of a refused join.
const REFUSED: u8 = 2;
/// Exit code of a wait that ran out.
const TIMED_OUT: u8 = 3;
/// Exit code of an unreachable or invalid hub.
const HUB_FAILED: u8 = 4;
/// Exit code of a checkout not paid within the wait.
const NOT_PAID: u8 = 5;
/// Extra time the daemon gets beyond `--wait` to answer.
const ANSWER_SLACK: Duration = Duration::from_secs(30);

/// The flags of `peer join`.
#[derive(Debug, Clone, Default)]
pub(super) struct Flags {
    pub(super) email: Option<String>,
    pub(super) invite: Option<String>,
    pub(super) message: Option<String>,
    pub(super) bind_code: Option<String>,
    pub(super) plan: Option<String>,
    pub(super) no_browser: bool,
    pub(super) wait: Option<u64>,
}

/// `peer join`.
pub(super) async fn join(config: &PeerConfig, raw: &str, flags: Flags) -> ExitCode {
    let url = match HubUrl::parse(raw) {
        Ok(url) => url,
        Err(error) => return fail(FAILURE, &format!("{raw}: {error}")),
    };
    let wait = flags
        .wait
        .map_or(MAX_WAIT, Duration::from_secs)
        .min(MAX_WAIT);
    if let Some(daemon) = Daemon::new(config) {
        let body = json!({
            "url": url.as_str(),
            "email": flags.email,
            "invite": flags.invite,
            "message": flags.message,
            "bind_code": flags.bind_code,
            "plan": flags.plan,
            "open_browser": !flags.no_browser,
            "wait": wait.as_secs(),
        });
        // The event stream is open before the join is sent, so a checkout URL emitted at once
        // is not missed.
        let events = follow_events(daemon.base(), wait + ANSWER_SLACK).await;
        let call = daemon.post_for("/api/hubs/join", &body, wait + ANSWER_SLACK);
        let outcome = tokio::select! {
            outcome = call => outcome,
            () = show_checkout(events, &url) => {
                Outcome::Failed("the daemon's event stream ended".to_owned())
            }
        };
        match outcome {
            Outcome::Answer(status, body) => return answered(status, &body),
            Outcome::Failed(error) => return fail(FAILURE, &error),
            Outcome::Unreachable => {
                eprintln!(
                    "peer: no daemon answers at {}; joining from here",
                    daemon.base()
                );
            }
        }
    }
    in_process(config, &url, flags, wait).await
}

/// The daemon's event stream (`GET /api/events`, its headers read), or `None` when it cannot be
/// opened.
async fn follow_events(base: &str, timeout: Duration) -> Option<reqwest::Response> {
    let http =
        shared::http_client::outbound(&shared::protocol::agent_version(peer::SOFTWARE), timeout);
    http.get(format!("{base}/api/events")).send().await.ok()
}

/// Reads `events` and prints the checkout URL of a paid join of `hub` (the `detail` of its
/// `membership.state` `pending_payment`, peer.md §3.6 step 6); never ends.
async fn show_checkout(events: Option<reqwest::Response>, hub: &HubUrl) {
    /// Longest event line kept.
    const MAX_LINE: usize = 64 * 1024;
    if let Some(mut events) = events {
        let mut line = Vec::new();
        'read: while let Ok(Some(chunk)) = events.chunk().await {
            for byte in chunk {
                if byte != b'\n' {
                    if line.len() < MAX_LINE {
                        line.push(byte);
                    }
                    continue;
                }
                let data = line.strip_prefix(b"data:").map(<[u8]>::trim_ascii);
                let event: Option<Value> = data.and_then(|d| serde_json::from_slice(d).ok());
                line.clear();
                if let Some(event) = event
                    && event["url"] == hub.as_str()
                    && event["state"] == "pending_payment"
                    && let Some(to) = event["detail"].as_str()
                {
                    eprintln!("peer: pay at {to} to finish joining {hub}");
                    break 'read;
                }
            }
        }
    }
    std::future::pending::<()>().await;
}

/// Maps the daemon's answer to the exit codes of §1.4.
fn answered(status: u16, body: &Value) -> ExitCode {
    match status {
        200 => {
            print_joined(
                body["url"].as_str().unwrap_or("?"),
                body["state"].as_str().unwrap_or("?"),
                body["tier"].as_str(),
                body["voucher_expires_at"].as_i64(),
            );
            ExitCode::SUCCESS
        }
        202 => {
            let action = &body["action"];
            let message = action["message"].as_str().unwrap_or("the join is waiting");
            let state = body["state"].as_str().unwrap_or("?");
            if action["kind"] == "enter_code" {
                fail(REFUSED, message)
            } else if action["kind"] == "checkout" {
                let to = action["url"].as_str().unwrap_or("-");
                fail(NOT_PAID, &format!("payment not completed at {to}"))
            } else {
                fail(TIMED_OUT, &format!("still {state}: {message}"))
            }
        }
        400 | 403 | 404 | 409 => fail(REFUSED, &error_text(status, body)),
        410 => fail(TIMED_OUT, &error_text(status, body)),
        502 | 504 => fail(HUB_FAILED, &error_text(status, body)),
        _ => fail(FAILURE, &error_text(status, body)),
    }
}

/// Starts the peer here (no local API), joins, stops it.
async fn in_process(config: &PeerConfig, url: &HubUrl, flags: Flags, wait: Duration) -> ExitCode {
    let mut config = config.clone();
    config.http.enabled = false;
    let peer = match Peer::start(config).await {
        Ok(peer) => peer,
        Err(error) => return report(&error),
    };
    let options = JoinOptions {
        email: flags.email,
        invite: flags.invite,
        message: flags.message,
        bind_code: flags.bind_code,
        token: None,
        plan: flags.plan,
        open_browser: !flags.no_browser,
        wait,
        source: HubSource::Cli,
    };
    let result = match peer
        .node()
        .memberships
        .start(peer.node(), url.clone(), options)
    {
        Ok(mut progress) => loop {
            let changed = progress.changed().await;
            match &*progress.borrow_and_update() {
                Progress::Waiting {
                    action: Action::Checkout,
                    url: Some(to),
                    ..
                } => eprintln!("peer: pay at {to} to finish joining {url}"),
                Progress::Done(result) => break result.clone(),
                _ if changed.is_err() => break Err(JoinError::Cancelled),
                _ => {}
            }
        },
        Err(error) => Err(error),
    };
    peer.shutdown().await;
    finished(&result)
}

fn finished(result: &Result<Joined, JoinError>) -> ExitCode {
    match result {
        Ok(joined) => {
            print_joined(
                joined.url.as_str(),
                &joined.state,
                joined.tier.as_deref(),
                joined.voucher_expires_at,
            );
            ExitCode::SUCCESS
        }
        Err(error) => fail(error.exit_code(), &error.to_string()),
    }
}

/// `joined <url>: <state> <tier> (voucher expires <unix ms>)` on stdout.
fn print_joined(url: &str, state: &str, tier: Option<&str>, expires_at: Option<i64>) {
    let expires = expires_at.map_or_else(|| "-".to_owned(), |ms| ms.to_string());
    println!(
        "joined {url}: {state} {} (voucher expires {expires})",
        tier.unwrap_or("-")
    );
}
