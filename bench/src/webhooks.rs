//! `webhooks`: signed Stripe events through the hub's webhook (verify + dedupe + apply, hub.md
//! §8.4–§8.5) on Postgres, from `SENDERS` concurrent senders.
//!
//! `ACCOUNTS` active accounts each hold one subscription. The event stream is built up front:
//! per subscription a run of `customer.subscription.updated` events with increasing `created`
//! whose status alternates `active` / `past_due` (each one new and state-changing: it moves the
//! subscription and recomputes the account), mixed with exact redeliveries of events already
//! sent (`duplicate`) and events older than the newest one applied (`stale`). Each request is
//! signed like Stripe signs it, at send time. Printed: the mix on a context line, then events per
//! second over the whole run and the p99 latency of one webhook request.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use hub::billing::signature;
use hub::members::{State, Tier};
use hub::store::Account;
use serde_json::{Value, json};
use testkit::TestDb;

/// Accounts, one subscription each.
const ACCOUNTS: usize = 200;
/// New (state-changing) events per subscription.
const NEW_PER_SUB: usize = 20;
/// Concurrent senders.
const SENDERS: usize = 16;
/// The webhook signing secret of the bench hub.
const SECRET: &str = "whsec_bench";

/// One request of the stream.
struct Delivery {
    body: Arc<Vec<u8>>,
    kind: Kind,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    New,
    Duplicate,
    Stale,
}

pub(crate) async fn run() -> Result<(), String> {
    let db = TestDb::postgres().await;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut config = hub::Config::for_tests(dir.path(), &db.url);
    config.membership.access = hub::members::Access::Paid;
    config.billing.enabled = true;
    // Every event here embeds its subscription and is newer or older than the stored row, so the
    // Stripe API is never called; the base points at a closed port to prove it.
    config.billing.api_base = "http://127.0.0.1:9".to_owned();
    config.billing.secret_key = Some("sk_test_bench".into());
    config.billing.webhook_secret = Some(SECRET.into());
    let server = hub::Server::start(config)
        .await
        .map_err(|e| format!("starting the hub: {e}"))?;
    let url = format!(
        "http://{}/api/v1/billing/stripe-webhook",
        server.http_addr()
    );

    let store = db.hub_store().await;
    let accounts = create_accounts(&store).await?;
    let stream = build_stream(&accounts);
    let count = |k: Kind| stream.iter().filter(|d| d.kind == k).count();
    let (new, dup, stale) = (count(Kind::New), count(Kind::Duplicate), count(Kind::Stale));
    println!(
        "mix events {} new {new} ({:.0}%) duplicate {dup} stale {stale} senders {SENDERS} accounts {ACCOUNTS} database postgres",
        stream.len(),
        100.0 * new as f64 / stream.len() as f64
    );

    let client = reqwest::Client::new();
    let started = Instant::now();
    let mut latencies: Vec<f64> = futures::stream::iter(stream)
        .map(|delivery| {
            let client = client.clone();
            let url = url.clone();
            async move { send(&client, &url, &delivery).await }
        })
        .buffered(SENDERS)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    let elapsed = started.elapsed();
    let sent = latencies.len();

    let applied = count_processed(&store).await?;
    if applied != new {
        return Err(format!("{applied} events processed, expected {new}"));
    }
    server.shutdown().await;
    crate::result("webhook_events_per_s", sent as f64 / elapsed.as_secs_f64());
    crate::result("webhook_p99_ms", crate::quantile(&mut latencies, 0.99));
    Ok(())
}

async fn create_accounts(store: &hub::store::Store) -> Result<Vec<String>, String> {
    let now = testkit::now_ms();
    let mut ids = Vec::with_capacity(ACCOUNTS);
    let mut tx = store.begin_write().await.map_err(|e| e.to_string())?;
    for i in 0..ACCOUNTS {
        let account = Account {
            id: uuid_like(i),
            email: Some(format!("payer{i}@example.org")),
            email_verified_at: Some(now),
            state: State::Active,
            tier: Tier::Guest,
            created_at: now,
        };
        hub::store::insert_account(&mut tx, &account, now)
            .await
            .map_err(|e| e.to_string())?;
        ids.push(account.id);
    }
    tx.commit().await.map_err(|e| e.to_string())?;
    Ok(ids)
}

fn uuid_like(i: usize) -> String {
    format!("00000000-0000-7000-8000-{i:012}")
}

/// Every subscription's run of new events, interleaved across subscriptions, with a redelivery
/// after every third event and, after every fifth, an event older than the one applied a round
/// before (so it is stale whatever the concurrency).
fn build_stream(accounts: &[String]) -> Vec<Delivery> {
    let base = testkit::now_ms() / 1000 - 3600;
    let mut stream = Vec::new();
    for step in 0..NEW_PER_SUB {
        for (i, account) in accounts.iter().enumerate() {
            let status = if step % 2 == 0 { "active" } else { "past_due" };
            let created = base + 2 * step as i64;
            let new = event(&format!("evt_{i}_{step}"), account, i, status, created);
            stream.push(Delivery {
                body: Arc::new(new.to_string().into_bytes()),
                kind: Kind::New,
            });
            let n = step * accounts.len() + i;
            if n % 3 == 2 {
                let body = stream[stream.len() - 1].body.clone();
                stream.push(Delivery {
                    body,
                    kind: Kind::Duplicate,
                });
            }
            if n % 5 == 4 && step > 0 {
                // Older than the previous step's event, which went out a whole round earlier.
                let old = event(
                    &format!("evt_{i}_{step}_old"),
                    account,
                    i,
                    "canceled",
                    created - 3,
                );
                stream.push(Delivery {
                    body: Arc::new(old.to_string().into_bytes()),
                    kind: Kind::Stale,
                });
            }
        }
    }
    stream
}

fn event(id: &str, account: &str, i: usize, status: &str, created: i64) -> Value {
    json!({
        "id": id, "object": "event", "type": "customer.subscription.updated", "created": created,
        "api_version": "2025-03-31.basil",
        "data": {"object": {
            "id": format!("sub_bench{i}"), "object": "subscription", "customer": format!("cus_bench{i}"),
            "status": status, "cancel_at_period_end": false, "created": created,
            "items": {"object": "list", "data": [{"id": format!("si_{i}"), "object": "subscription_item",
                      "current_period_end": created + 86_400 * 365, "price": {"id": "price_bench", "object": "price"}}]},
            "metadata": {"account_id": account, "plan": "yearly"}
        }}
    })
}

/// Sends one delivery, signed now; answers the latency in ms.
async fn send(client: &reqwest::Client, url: &str, delivery: &Delivery) -> Result<f64, String> {
    let started = Instant::now();
    let now = testkit::now_ms() / 1000;
    let response = client
        .post(url)
        .header("Content-Type", "application/json")
        .header(
            "Stripe-Signature",
            signature::sign(SECRET, now, &delivery.body),
        )
        .body(delivery.body.as_ref().clone())
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .map_err(|e| format!("webhook request: {e}"))?;
    if response.status() != reqwest::StatusCode::OK {
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        return Err(format!("webhook answered {status}: {text}"));
    }
    Ok(started.elapsed().as_secs_f64() * 1000.0)
}

async fn count_processed(store: &hub::store::Store) -> Result<usize, String> {
    let mut conn = store.acquire().await.map_err(|e| e.to_string())?;
    let (n,): (i64,) = sqlx::query_as(
        "select cast(count(*) as bigint) from stripe_events where outcome = 'processed'",
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| e.to_string())?;
    usize::try_from(n).map_err(|e| e.to_string())
}
