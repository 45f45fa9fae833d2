//! `join`: email join flows per second through a hub's HTTP API on Postgres, and voucher
//! verifications per second.
//!
//! A flow is what a new member does (hub.md §6.10): `POST /api/v1/join` signed with PeerSig by a
//! fresh Ed25519 key for a unique address, the verification mail arriving over real SMTP (a
//! [`SmtpSink`]), and `POST /api/v1/verify` with the token from its link, answered 200 with the
//! peer bound. The hub runs in this process on a fresh Postgres database; `IN_FLIGHT` flows run
//! at once. Then one voucher issued to a member is verified offline ([`shared::voucher::verify`])
//! on every core for `VERIFY_TIME`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use hub::config::{MailTransportKind, RateLimit};
use libp2p::PeerId;
use libp2p::identity::ed25519::Keypair;
use serde_json::{Value, json};
use shared::ids::Ed25519PeerId;
use testkit::{SmtpSink, TestDb};
use tokio::sync::oneshot;

/// Flows run, unless `FLOW_TIME` ends first.
const FLOWS: usize = 2_000;
/// Flows in flight at once.
const IN_FLIGHT: usize = 32;
/// Flows run before timing starts (pools, caches), not counted.
const WARMUP: usize = 32;
/// No new flow starts after this long.
const FLOW_TIME: Duration = Duration::from_secs(180);
/// The longest wait for one verification mail.
const MAIL_DEADLINE: Duration = Duration::from_secs(30);
/// How long every core verifies the voucher.
const VERIFY_TIME: Duration = Duration::from_secs(3);
/// Length of a verification token (32 random bytes, base64url without padding).
const TOKEN_LEN: usize = 43;

/// Who waits for the mail to which address.
type Waiting = Arc<Mutex<HashMap<String, oneshot::Sender<String>>>>;

/// What every flow needs.
struct Bench {
    client: reqwest::Client,
    base_url: String,
    hub_id: Ed25519PeerId,
    waiting: Waiting,
}

/// Milliseconds spent in each step of one flow.
struct Timing {
    join: f64,
    mail: f64,
    verify: f64,
    total: f64,
}

pub(crate) async fn run() -> Result<(), String> {
    let db = TestDb::postgres().await;
    let sink = Arc::new(SmtpSink::start().await);
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut config = hub::Config::for_tests(dir.path(), &db.url);
    config.email.transport = MailTransportKind::Smtp;
    config.email.smtp_url = Some(sink.url().into());
    // Every flow comes from 127.0.0.1, and the defaults allow 10 mails and 20 verifications per
    // IP in a burst (hub.md §13.2). The bench measures the flow, not the limiter's refusals:
    // these buckets are raised far above what it sends. The limiter is still consulted per
    // request, so its cost stays in the figure.
    let unlimited = RateLimit {
        burst: 1_000_000,
        refill_secs: 0.001,
    };
    config.rate_limits.email_ip = unlimited;
    config.rate_limits.email_addr = unlimited;
    config.rate_limits.verify_ip = unlimited;
    config.rate_limits.general_ip = unlimited;
    let pool = config.database.max_connections;
    let server = hub::Server::start(config)
        .await
        .map_err(|e| format!("starting the hub: {e}"))?;
    let bench = Arc::new(Bench {
        client: reqwest::Client::new(),
        base_url: format!("http://{}", server.http_addr()),
        hub_id: Ed25519PeerId::try_from(server.peer_id()).map_err(|e| format!("{e:?}"))?,
        waiting: Arc::default(),
    });
    let router = tokio::spawn(route_mail(sink.clone(), bench.waiting.clone()));
    println!(
        "flows {FLOWS} in_flight {IN_FLIGHT} warmup {WARMUP} database postgres pool {pool} mail smtp"
    );

    let outcome = flows(&bench).await;
    router.abort();
    server.shutdown().await;
    let (member, voucher) = outcome?;

    let hub_id = bench.hub_id;
    let subject = Ed25519PeerId::from(member.public());
    let per_s = tokio::task::spawn_blocking(move || verify_on_all_cores(&voucher, hub_id, subject))
        .await
        .map_err(|e| e.to_string())??;
    crate::result("voucher_verifications_per_s", per_s);
    Ok(())
}

/// Runs the warm-up and the timed flows, prints their figures, and returns a member's key with a
/// voucher issued to it.
async fn flows(bench: &Arc<Bench>) -> Result<(Keypair, String), String> {
    let (member, _) = run_flows(bench, 0..WARMUP, None).await?;
    let member = member.ok_or("no warm-up flow")?;
    let started = Instant::now();
    let (_, timings) = run_flows(bench, WARMUP..WARMUP + FLOWS, Some(started)).await?;
    let elapsed = started.elapsed().as_secs_f64();
    let n = timings.len();
    crate::result("join_flows_per_s", n as f64 / elapsed);
    let column = |f: fn(&Timing) -> f64| timings.iter().map(f).collect::<Vec<f64>>();
    let (mut total, join, mail, verify) = (
        column(|t| t.total),
        column(|t| t.join),
        column(|t| t.mail),
        column(|t| t.verify),
    );
    println!(
        "join flows {n} in {elapsed:.3} s; per flow ms: p50 {:.1} p99 {:.1}; medians: join {:.1} mail {:.1} verify {:.1}",
        crate::quantile(&mut total, 0.50),
        crate::quantile(&mut total, 0.99),
        crate::median(join),
        crate::median(mail),
        crate::median(verify),
    );
    let (status, issued) = post(bench, "/api/v1/vouchers", &json!({}), Some(&member)).await?;
    let voucher = issued["voucher"]
        .as_str()
        .filter(|_| status == 201)
        .ok_or_else(|| format!("POST /api/v1/vouchers answered {status}: {issued}"))?;
    Ok((member, voucher.to_owned()))
}

/// Runs the flows numbered `range`, `IN_FLIGHT` at once; after `FLOW_TIME` from `started` no new
/// one starts. Fails on the first failed flow. Returns one member's key and every flow's timing.
async fn run_flows(
    bench: &Arc<Bench>,
    range: std::ops::Range<usize>,
    started: Option<Instant>,
) -> Result<(Option<Keypair>, Vec<Timing>), String> {
    let mut running = futures::stream::iter(range)
        .take_while(|_| std::future::ready(started.is_none_or(|s| s.elapsed() < FLOW_TIME)))
        .map(|i| tokio::spawn(flow(bench.clone(), i)))
        .buffer_unordered(IN_FLIGHT);
    let (mut member, mut timings) = (None, Vec::new());
    while let Some(joined) = running.next().await {
        let (key, timing) = joined.map_err(|e| e.to_string())??;
        member.get_or_insert(key);
        timings.push(timing);
    }
    Ok((member, timings))
}

/// One join → mail → verify flow for address number `i`.
async fn flow(bench: Arc<Bench>, i: usize) -> Result<(Keypair, Timing), String> {
    let key = Keypair::generate();
    let email = format!("bench-{i}@example.org");
    let (tx, rx) = oneshot::channel();
    lock(&bench.waiting).insert(email.clone(), tx);

    let started = Instant::now();
    let (status, joined) = post(
        &bench,
        "/api/v1/join",
        &json!({"email": email, "label": "bench"}),
        Some(&key),
    )
    .await?;
    if status != 202 {
        return Err(format!("join {i} answered {status}: {joined}"));
    }
    let posted = Instant::now();
    let token = tokio::time::timeout(MAIL_DEADLINE, rx)
        .await
        .map_err(|_| format!("no mail to {email} within {MAIL_DEADLINE:?}"))?
        .map_err(|_| "the mail router stopped".to_owned())?;
    let mailed = Instant::now();
    let (status, verified) = post(&bench, "/api/v1/verify", &json!({"token": token}), None).await?;
    let peer = PeerId::from_public_key(&key.public().into()).to_string();
    if status != 200 || verified["bound_peer"] != peer.as_str() {
        return Err(format!("verify {i} answered {status}: {verified}"));
    }
    let done = Instant::now();
    let ms = |from: Instant, to: Instant| to.duration_since(from).as_secs_f64() * 1000.0;
    let timing = Timing {
        join: ms(started, posted),
        mail: ms(posted, mailed),
        verify: ms(mailed, done),
        total: ms(started, done),
    };
    Ok((key, timing))
}

/// Hands the token of each arriving mail to the flow waiting for its recipient. One reader with
/// a cursor copies each message once.
async fn route_mail(sink: Arc<SmtpSink>, waiting: Waiting) {
    let mut seen = 0;
    loop {
        let arrived = sink.wait_for_more(seen).await;
        seen += arrived.len();
        for mail in arrived {
            let Some(token) = token_in(mail.body()) else {
                continue;
            };
            for to in &mail.to {
                if let Some(tx) = lock(&waiting).remove(to) {
                    let _ = tx.send(token.clone());
                }
            }
        }
    }
}

/// The token of the `/verify?token=` link in a mail body.
fn token_in(body: &str) -> Option<String> {
    let (_, rest) = body.split_once("/verify?token=")?;
    let token: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    (token.len() == TOKEN_LEN).then_some(token)
}

/// `POST path` with a JSON body, PeerSig-signed by `key` when given; the status and JSON answer.
async fn post(
    bench: &Bench,
    path: &str,
    body: &Value,
    key: Option<&Keypair>,
) -> Result<(u16, Value), String> {
    let bytes = serde_json::to_vec(body).map_err(|e| e.to_string())?;
    let mut request = bench
        .client
        .post(format!("{}{path}", bench.base_url))
        .header("content-type", "application/json");
    if let Some(key) = key {
        for (name, value) in testkit::signed_headers(key, &bench.hub_id, "POST", path, &bytes) {
            request = request.header(name, value);
        }
    }
    let response = request
        .body(bytes)
        .send()
        .await
        .map_err(|e| format!("POST {path}: {e}"))?;
    let status = response.status().as_u16();
    Ok((status, response.json().await.unwrap_or(Value::Null)))
}

/// Verifies `voucher` in a loop on every core for `VERIFY_TIME`; verifications per second.
fn verify_on_all_cores(
    voucher: &str,
    hub_id: Ed25519PeerId,
    subject: Ed25519PeerId,
) -> Result<f64, String> {
    let issuers = [hub_id];
    let expected = shared::voucher::Expected {
        subject: Some(&subject),
        issuers: &issuers,
        ..Default::default()
    };
    shared::voucher::verify(voucher, &expected)
        .map_err(|e| format!("the issued voucher does not verify: {e}"))?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let failed = AtomicBool::new(false);
    let started = Instant::now();
    let count: u64 = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut n = 0u64;
                    while started.elapsed() < VERIFY_TIME {
                        for _ in 0..64 {
                            if shared::voucher::verify(voucher, &expected).is_err() {
                                failed.store(true, Ordering::Relaxed);
                            }
                        }
                        n += 64;
                    }
                    n
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap_or(0)).sum()
    });
    let elapsed = started.elapsed().as_secs_f64();
    if failed.load(Ordering::Relaxed) {
        return Err("a voucher verification failed".to_owned());
    }
    println!("voucher verifications {count} on {threads} threads in {elapsed:.3} s");
    Ok(count as f64 / elapsed)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
