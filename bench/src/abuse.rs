//! `abuse`: a legitimate member's latency and errors while an attacker spread over 127.0.1.0/24
//! tries to take the hub down (issue #12). Three quiet and three attacked phases alternate; the
//! attacker is a child process (`goop-bench abuse-attacker`, see `attacker`) under `nice -n 10`,
//! so the figures measure the hub and not the CPU the attacker takes.
//!
//! The member stays within its own buckets: 5 signed `GET /api/v1/membership` per second and one
//! signed `POST /publish` every 3 s. Figures: the median over the pairs of attacked p99 / quiet
//! p99, the member's refused or failed requests under attack, the attacker's slow-header
//! connections still open 15 s after they were opened, and the hub's RSS at the end.

mod attacker;

use std::time::{Duration, Instant};

use libp2p::identity::ed25519::Keypair;
use serde_json::json;
use shared::ids::Ed25519PeerId;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::Command;
use tokio::task::JoinSet;

pub(crate) use attacker::run as run_attacker;

use crate::hub_process::HubProcess;

/// Length of every phase, quiet or attacked.
const PHASE: Duration = Duration::from_secs(30);
/// Quiet/attacked pairs.
const PAIRS: usize = 3;
/// One signed membership read per this period.
const READ_EVERY: Duration = Duration::from_millis(200);
/// One signed publish per this many reads (every 3 s).
const PUBLISH_EVERY_READS: u64 = 15;
/// A request of the member not answered within this long counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What the member saw in one phase.
#[derive(Default)]
struct PhaseOutcome {
    latencies_ms: Vec<f64>,
    errors: usize,
    first_error: Option<String>,
}

/// The member: its key and where it sends.
struct Member {
    client: reqwest::Client,
    base: String,
    hub_id: Ed25519PeerId,
    key: Keypair,
}

pub(crate) async fn run() -> Result<(), String> {
    let hub = HubProcess::start(&[("HUB_MEMBERSHIP__JOIN_MODE", "open".to_owned())]).await?;
    let hub_id: Ed25519PeerId = hub.info["id"]
        .as_str()
        .unwrap_or_default()
        .parse()
        .map_err(|e| format!("hub id: {e}"))?;
    let member = Member {
        client: reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| e.to_string())?,
        base: format!("http://{}", hub.http),
        hub_id,
        key: Keypair::generate(),
    };
    member.join().await?;
    println!(
        "phases {PAIRS} quiet + {PAIRS} attacked of {} s; member: 5 reads/s, 1 publish/3 s from 127.0.0.1",
        PHASE.as_secs()
    );

    let mut ratios = Vec::new();
    let mut attacked_errors = 0;
    let mut rss_mib = 0.0;
    let mut slow_open: f64 = 0.0;
    for pair in 1..=PAIRS {
        let quiet = member.run_for(PHASE).await;
        let quiet_p99 = p99(&quiet)?;
        println!(
            "pair {pair} quiet: {} requests, p99 {quiet_p99:.2} ms, errors {}",
            quiet.latencies_ms.len(),
            quiet.errors
        );
        let (attacked, report, rss, open) = attacked_phase(&member, &hub).await?;
        let attacked_p99 = p99(&attacked)?;
        println!(
            "pair {pair} attacked: {} requests, p99 {attacked_p99:.2} ms, errors {}{}",
            attacked.latencies_ms.len(),
            attacked.errors,
            attacked
                .first_error
                .as_deref()
                .map(|e| format!(" (first: {e})"))
                .unwrap_or_default()
        );
        println!("pair {pair} attacker: {report}");
        ratios.push(attacked_p99 / quiet_p99);
        attacked_errors += attacked.errors;
        rss_mib = rss;
        slow_open = slow_open.max(open);
    }
    crate::result("abuse_legit_p99_ratio", crate::median(ratios));
    crate::result("abuse_legit_errors", attacked_errors as f64);
    crate::result("abuse_slow_conns_open_after_15s", slow_open);
    crate::result("abuse_hub_rss_mib", rss_mib);
    Ok(())
}

/// Runs the attacker for one phase while the member keeps going; the member's outcome, the
/// attacker's report line, the hub's RSS (MiB) sampled as the attack ended, and the attacker's
/// slow-header connections still open 15 s after they were opened.
async fn attacked_phase(
    member: &Member,
    hub: &HubProcess,
) -> Result<(PhaseOutcome, String, f64, f64), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut child = Command::new("nice")
        .args(["-n", "10"])
        .arg(exe)
        .args([
            "abuse-attacker",
            &hub.http.to_string(),
            &member.hub_id.to_string(),
            &PHASE.as_secs().to_string(),
        ])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("starting the attacker: {e}"))?;
    let mut lines = BufReader::new(child.stdout.take().ok_or("no attacker stdout")?).lines();
    // The attacker signs its requests before it starts; the phase begins when it says so.
    loop {
        match lines.next_line().await.map_err(|e| e.to_string())? {
            Some(line) if line == attacker::READY => break,
            Some(line) => println!("attacker: {line}"),
            None => return Err("the attacker exited before it was ready".into()),
        }
    }
    let outcome = member.run_for(PHASE).await;
    let mut report = String::new();
    let mut rss = 0.0;
    let mut slow_open = f64::NAN;
    while let Some(line) = lines.next_line().await.map_err(|e| e.to_string())? {
        if line == attacker::ENDING {
            // The attacker still holds everything it opened: this is the end of the attack.
            rss = hub.rss_kib()? / 1024.0;
        } else if let Some(figures) = line.strip_prefix(attacker::REPORT) {
            report = figures.trim().to_owned();
            for figure in figures.split_whitespace() {
                if let Some(open) = figure.strip_prefix("slow_open_after_15s=") {
                    slow_open = open.parse().map_err(|e| format!("{e}"))?;
                }
            }
        } else {
            println!("attacker: {line}");
        }
    }
    let status = child.wait().await.map_err(|e| e.to_string())?;
    if !status.success() || report.is_empty() || slow_open.is_nan() {
        return Err(format!("the attacker failed ({status})"));
    }
    Ok((outcome, report, rss, slow_open))
}

impl Member {
    /// Joins the open community by signature (201 `active`).
    async fn join(&self) -> Result<(), String> {
        let body = json!({}).to_string().into_bytes();
        let response = self
            .send(reqwest::Method::POST, "/api/v1/join", body)
            .await?;
        match response.status().as_u16() {
            201 => Ok(()),
            status => Err(format!(
                "join answered {status}: {}",
                response.text().await.unwrap_or_default()
            )),
        }
    }

    /// The member's requests for `length`, paced by a timer so a slow answer does not slow
    /// the schedule down.
    async fn run_for(&self, length: Duration) -> PhaseOutcome {
        let started = Instant::now();
        let mut ticker = tokio::time::interval(READ_EVERY);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut running = JoinSet::new();
        let mut n = 0u64;
        while started.elapsed() < length {
            ticker.tick().await;
            let (method, path, body) = if n.is_multiple_of(PUBLISH_EVERY_READS) {
                let peer_id = Ed25519PeerId::from(self.key.public()).to_string();
                let msg =
                    json!({"type": "update", "peerId": peer_id, "content": format!("tick {n}")});
                (
                    reqwest::Method::POST,
                    "/publish",
                    msg.to_string().into_bytes(),
                )
            } else {
                (reqwest::Method::GET, "/api/v1/membership", Vec::new())
            };
            n += 1;
            let request = self.request(method, path, body);
            running.spawn(async move {
                let sent = Instant::now();
                let answer = request.send().await;
                let ms = sent.elapsed().as_secs_f64() * 1e3;
                match answer {
                    Ok(response) if response.status().is_success() => Ok(ms),
                    Ok(response) => Err(format!("{path} answered {}", response.status())),
                    Err(error) => Err(format!("{path}: {error}")),
                }
            });
        }
        let mut outcome = PhaseOutcome::default();
        while let Some(done) = running.join_next().await {
            match done {
                Ok(Ok(ms)) => outcome.latencies_ms.push(ms),
                Ok(Err(error)) => {
                    outcome.errors += 1;
                    outcome.first_error.get_or_insert(error);
                }
                Err(error) => {
                    outcome.errors += 1;
                    outcome.first_error.get_or_insert(error.to_string());
                }
            }
        }
        outcome
    }

    /// A request signed now.
    fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Vec<u8>,
    ) -> reqwest::RequestBuilder {
        let headers =
            testkit::signed_headers(&self.key, &self.hub_id, method.as_str(), path, &body);
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        request
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Vec<u8>,
    ) -> Result<reqwest::Response, String> {
        self.request(method, path, body)
            .send()
            .await
            .map_err(|e| format!("{path}: {e}"))
    }
}

/// The p99 of a phase's latencies, in ms.
fn p99(outcome: &PhaseOutcome) -> Result<f64, String> {
    if outcome.latencies_ms.is_empty() {
        return Err("a phase had no successful request".into());
    }
    let mut latencies = outcome.latencies_ms.clone();
    Ok(crate::quantile(&mut latencies, 0.99))
}
