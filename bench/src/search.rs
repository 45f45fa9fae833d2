//! `search`: `GET /api/v1/hubs` latency over HTTP against a running super hub holding `RECORDS`
//! listed hubs, on SQLite (temp file) and on Postgres (a fresh database in the
//! `TEST_DATABASE_URL` cluster).
//!
//! On Postgres the records go through the store's write path (`put_record`, one key per hub); on
//! SQLite the same rows are written in bulk (see `run`). They are then listed with SQL, as a
//! probe would, with member counts, uptimes and listing times spread out.
//! Names, descriptions and tags draw words from a synthetic vocabulary with a Zipf-like
//! distribution, so some words match tens of thousands of hubs and most match a few. Query words
//! skip the 50 most frequent (stop words, in most descriptions) and follow the same distribution
//! over the rest. The mix: one word, two words of one hub's name, a prefix (a word without its
//! last letter), filters only (each order), two tags (AND), text with filters, and paging five
//! pages deep through cursors. Regions and languages in queries follow the records' distribution
//! (popular values are asked for more), and one region or language query in `ABSENT` asks for a
//! value no hub lists (an empty result). One client sends the queries one after
//! another; each request's latency counts; per-class p50/p95 are printed too.
//!
//! While developing, `GOOP_BENCH_SEARCH_REUSE=<database url>` measures that one database (a
//! Postgres database an earlier run left in the cluster, or a SQLite file such as
//! `sqlite:///tmp/search.db?mode=rwc`): an empty one is loaded and kept; a loaded one is only
//! listed again with fresh expiry times (the sweep expires records an hour after their load), the
//! records being generated again for the query mix but not stored.

use std::time::{Duration, Instant};

use futures::StreamExt as _;
use libp2p::identity::ed25519::Keypair;
use serde_json::Value;
use shared::db::DatabaseConfig;
use shared::envelope::Envelope;
use shared::rate_limit::RateLimit;
use shared::record::HubRecord;
use superhub::store::{Provenance, Store};
use testkit::TestDb;
use testkit::record::{hub_record, sign_record};

/// Hubs stored per backend (override with `GOOP_BENCH_SEARCH_RECORDS` while developing).
const RECORDS: usize = 100_000;
/// Concurrent `put_record` calls while loading on Postgres; SQLite takes one writer at a time
/// (contending writers sleep in SQLite's busy handler).
const PG_LOADERS: usize = 4;
/// Unmeasured requests first.
const WARMUP: usize = 200;
/// Measured requests per backend.
const QUERIES: usize = 2_000;
/// Longest measuring time per backend.
const MAX_MEASURE: Duration = Duration::from_secs(120);
/// Words in the vocabulary; tags use the first `TAGS`.
const WORDS: usize = 4_000;
const TAGS: usize = 300;
/// The most frequent words, in most descriptions (stop words); queries use the rest.
const HEAD: usize = 50;
const REGIONS: [&str; 8] = ["nl", "de", "us", "fr", "jp", "br", "in", "gb"];
const LANGUAGES: [&str; 8] = ["en", "nl", "de", "fr", "ja", "pt-br", "hi", "es"];
const JOIN_MODES: [&str; 4] = ["open", "email", "invite", "application"];
/// A valid region and language that no hub lists: one filter query in `ABSENT` asks for it.
const ABSENT_REGION: &str = "is";
const ABSENT_LANGUAGE: &str = "fi";
const ABSENT: usize = 10;

pub(crate) async fn run() -> Result<(), String> {
    let records = std::env::var("GOOP_BENCH_SEARCH_RECORDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(RECORDS);
    let words = vocabulary();
    println!("records {records} words {WORDS} tags {TAGS} queries {QUERIES} clients 1 over HTTP");
    crate::result("search_records", records as f64);
    let reuse = std::env::var("GOOP_BENCH_SEARCH_REUSE").ok();
    let backends = match &reuse {
        Some(url) if url.starts_with("sqlite") => vec![("sqlite", url.clone(), None)],
        Some(url) => vec![("postgres", url.clone(), None)],
        None => {
            let (sqlite, postgres) = (TestDb::sqlite(), TestDb::postgres().await);
            vec![
                ("sqlite", sqlite.url.clone(), Some(sqlite)),
                ("postgres", postgres.url.clone(), Some(postgres)),
            ]
        }
    };
    for (label, url, _db) in backends {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let mut config = superhub::Config::for_tests(dir.path(), &url);
        config.rate_limits.search_ip = RateLimit::new(1_000_000, 0.000_001);
        config.rate_limits.general_ip = RateLimit::new(1_000_000, 0.000_001);
        let server = superhub::Server::start(config)
            .await
            .map_err(|e| format!("starting the super hub: {e}"))?;
        let store = Store::open(&DatabaseConfig::with_url(&url), dir.path())
            .await
            .map_err(|e| e.to_string())?;
        let started = Instant::now();
        // SQLite gets the rows `put_record` writes in one bulk transaction: loading is not what
        // this bench measures, and one writer per record would dominate its run time.
        let loaders = if label == "sqlite" { 0 } else { PG_LOADERS };
        let corpus = if reuse.is_some() && refresh(&url).await? {
            generate(&words, records).0
        } else {
            let (corpus, signed) = generate(&words, records);
            load(&store, &url, signed, loaders).await?;
            list_all(&url).await?;
            corpus
        };
        println!(
            "{label}: loaded in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let base = format!("http://{}/api/v1/hubs?", server.http_addr());
        let mut latencies = measure(&base, &words, &corpus).await?;
        crate::result(
            &format!("search_p50_ms_{label}"),
            crate::quantile(&mut latencies, 0.50),
        );
        crate::result(
            &format!("search_p95_ms_{label}"),
            crate::quantile(&mut latencies, 0.95),
        );
        println!(
            "{label}: {} queries, p99 {:.3} ms, max {:.3} ms",
            latencies.len(),
            crate::quantile(&mut latencies, 0.99),
            crate::quantile(&mut latencies, 1.0)
        );
        store.close().await;
        server.shutdown().await;
    }
    Ok(())
}

/// splitmix64: a small deterministic generator, so every run searches the same corpus.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A rank in `0..n`, log-uniform: rank r is drawn with probability about 1/(r+1) (Zipf, s = 1).
    fn zipf(&mut self, n: usize) -> usize {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        (((n + 1) as f64).powf(u) as usize)
            .saturating_sub(1)
            .min(n - 1)
    }
}

/// `WORDS` distinct pronounceable words of two or three syllables.
fn vocabulary() -> Vec<String> {
    const SYLLABLES: [&str; 20] = [
        "ka", "lo", "mi", "ra", "ten", "vos", "du", "pel", "sar", "qui", "zen", "bo", "ti", "nar",
        "gol", "fe", "ush", "ri", "an", "mo",
    ];
    let mut words = Vec::with_capacity(WORDS);
    for a in SYLLABLES {
        for b in SYLLABLES {
            words.push(format!("{a}{b}"));
            for c in SYLLABLES {
                words.push(format!("{a}{b}{c}"));
            }
        }
    }
    let mut rng = Rng(7);
    for i in (1..words.len()).rev() {
        words.swap(i, rng.below(i + 1));
    }
    words.truncate(WORDS);
    words
}

/// What the query mix draws from: each hub's name words and tags.
struct Corpus {
    names: Vec<Vec<usize>>,
    tags: Vec<Vec<usize>>,
}

fn phrase(rng: &mut Rng, words: &[String], count: usize) -> (Vec<usize>, String) {
    let picked: Vec<usize> = (0..count).map(|_| rng.zipf(WORDS)).collect();
    let text = picked
        .iter()
        .map(|&w| words[w].as_str())
        .collect::<Vec<_>>()
        .join(" ");
    (picked, text)
}

/// `count` signed records and what the query mix draws from them (the same every run).
fn generate(words: &[String], count: usize) -> (Corpus, Vec<(Envelope, HubRecord)>) {
    let mut rng = Rng(42);
    let now = shared::clock::unix_ms();
    let mut corpus = Corpus {
        names: Vec::with_capacity(count),
        tags: Vec::with_capacity(count),
    };
    let mut records = Vec::with_capacity(count);
    for i in 0..count {
        let key = Keypair::generate();
        let mut record = hub_record(&key, "https://hub.example.org", now - i as i64);
        let name_len = 2 + rng.below(2);
        let (name_words, name) = phrase(&mut rng, words, name_len);
        let description_len = 15 + rng.below(25);
        let (_, description) = phrase(&mut rng, words, description_len);
        let mut tags: Vec<usize> = (0..1 + rng.below(4)).map(|_| rng.zipf(TAGS)).collect();
        tags.sort_unstable();
        tags.dedup();
        record.name = name;
        record.slug = format!("{}-{i}", words[name_words[0]]);
        record.description = description;
        record.tags = tags.iter().map(|&t| words[t].clone()).collect();
        record.languages = vec![LANGUAGES[rng.zipf(LANGUAGES.len())].to_owned()];
        record.region = REGIONS[rng.zipf(REGIONS.len())].to_owned();
        record.join_mode = JOIN_MODES[rng.below(JOIN_MODES.len())].to_owned();
        record.access = if rng.below(10) < 3 { "paid" } else { "free" }.to_owned();
        record.member_count = (rng.below(10) != 0).then(|| rng.zipf(5_000) as u64);
        corpus.names.push(name_words);
        corpus.tags.push(tags);
        records.push((sign_record(&key, &record), record));
    }
    (corpus, records)
}

/// Stores `records` through `put_record`, `loaders` at a time, or with [`bulk_insert`] when
/// `loaders` is 0.
async fn load(
    store: &Store,
    url: &str,
    records: Vec<(Envelope, HubRecord)>,
    loaders: usize,
) -> Result<(), String> {
    let now = shared::clock::unix_ms();
    if loaders == 0 {
        return bulk_insert(url, &records, now).await;
    }
    let here = Provenance::direct("bench");
    let failures = futures::stream::iter(records)
        .map(|(envelope, record)| {
            let here = &here;
            async move {
                store
                    .put_record(&envelope, &record, here, now)
                    .await
                    .is_err()
            }
        })
        .buffer_unordered(loaders)
        .filter(|failed| std::future::ready(*failed))
        .count()
        .await;
    if failures > 0 {
        return Err(format!("{failures} records were not stored"));
    }
    Ok(())
}

/// A value as the JSON text a column stores.
macro_rules! json {
    ($value:expr) => {
        serde_json::to_string(&$value).unwrap_or_default()
    };
}

/// Writes the rows `put_record` writes for new hubs (`hubs`, the full-text rows through
/// [`superhub::store::index_for_search`], `hub_tags`, `hub_languages`, `slug_claims`) in one
/// transaction.
async fn bulk_insert(url: &str, records: &[(Envelope, HubRecord)], now: i64) -> Result<(), String> {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url)
        .await
        .map_err(|e| e.to_string())?;
    let mut tx = pool.begin().await.map_err(|e| e.to_string())?;
    for (envelope, r) in records {
        let envelope = serde_json::to_string(envelope).map_err(|e| e.to_string())?;
        sqlx::query(
            "insert into hubs (id, envelope, seq, slug, slug_text, name, description, icon_url, tags, \
             tags_text, languages, region, join_mode, access, plans, relay, multiaddrs, http_url, software, \
             member_count, issued_at, expires_at, state, origin, received_from, received_at, first_seen_at, \
             consecutive_failures, updated_at) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
             $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, 'pending_probe', 'bench', 'bench', $23, $23, \
             0, $23)",
        )
        .bind(&r.id)
        .bind(&envelope)
        .bind(r.seq as i64)
        .bind(&r.slug)
        .bind(r.slug.replace('-', " "))
        .bind(&r.name)
        .bind(&r.description)
        .bind(&r.icon_url)
        .bind(json!(r.tags))
        .bind(r.tags.join(" "))
        .bind(json!(r.languages))
        .bind(&r.region)
        .bind(&r.join_mode)
        .bind(&r.access)
        .bind(json!(r.plans))
        .bind(json!(r.relay))
        .bind(json!(r.multiaddrs))
        .bind(&r.http_url)
        .bind(json!(r.software))
        .bind(r.member_count.map_or(-1, |n| n as i64))
        .bind(r.issued_at)
        .bind(r.expires_at)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| e.to_string())?;
        superhub::store::index_for_search(&mut tx, r)
            .await
            .map_err(|e| e.to_string())?;
        let value_rows = [
            (
                "insert into hub_tags (tag, hub_id) values ($1, $2) on conflict do nothing",
                &r.tags,
            ),
            (
                "insert into hub_languages (language, hub_id) values ($1, $2) on conflict do nothing",
                &r.languages,
            ),
        ];
        for (insert, values) in value_rows {
            for value in values {
                sqlx::query(insert)
                    .bind(value)
                    .bind(&r.id)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }
        sqlx::query(
            "insert into slug_claims (slug, hub_id, claimed_at, witnessed_at, envelope, source, updated_at) \
             values ($1, $2, $3, $4, $5, 'local', $4)",
        )
        .bind(&r.slug)
        .bind(&r.id)
        .bind(r.issued_at)
        .bind(now)
        .bind(&envelope)
        .execute(&mut *tx)
        .await
        .map_err(|e| e.to_string())?;
    }
    sqlx::query("update hubs set member_count = null where member_count = -1")
        .execute(&mut *tx)
        .await
        .map_err(|e| e.to_string())?;
    tx.commit().await.map_err(|e| e.to_string())?;
    pool.close().await;
    Ok(())
}

/// A reused database: when it holds hubs, pushes their expiry an hour ahead and lists them again
/// (true); false when it is empty (to be loaded).
async fn refresh(url: &str) -> Result<bool, String> {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url)
        .await
        .map_err(|e| e.to_string())?;
    let expires_at = shared::clock::unix_ms() + 3_600_000;
    let refreshed = sqlx::query("update hubs set expires_at = $1")
        .bind(expires_at)
        .execute(&pool)
        .await
        .map_err(|e| e.to_string())?
        .rows_affected();
    pool.close().await;
    if refreshed == 0 {
        return Ok(false);
    }
    list_all(url).await?;
    Ok(true)
}

/// Lists every stored hub as a passing probe would, with spread-out measured values.
async fn list_all(url: &str) -> Result<(), String> {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url)
        .await
        .map_err(|e| e.to_string())?;
    sqlx::query(
        "update hubs set state = 'listed', next_probe_at = null, first_listed_at = issued_at - 1000 * (issued_at % 977), \
         uptime_30d = case when issued_at % 7 = 0 then null else (issued_at % 1000) / 1000.0 end",
    )
    .execute(&pool)
    .await
    .map_err(|e| e.to_string())?;
    // The listing update left a dead version of every row on Postgres: vacuum, as autovacuum
    // would within minutes, so the search is measured in the steady state rather than while
    // index entries still lead to dead tuples (and autovacuum races the measurement).
    let analyze = if url.starts_with("postgres") {
        "vacuum analyze"
    } else {
        "analyze"
    };
    sqlx::query(analyze)
        .execute(&pool)
        .await
        .map_err(|e| e.to_string())?;
    pool.close().await;
    Ok(())
}

/// The next query string of the mix: its class, the query and how many pages to follow.
fn next_query(rng: &mut Rng, words: &[String], corpus: &Corpus) -> (&'static str, String, usize) {
    let hub = rng.below(corpus.names.len());
    // Query words skip the stop-word-like head of the distribution (ranks below `HEAD`).
    let word = |rng: &mut Rng| words[HEAD + rng.zipf(WORDS - HEAD)].clone();
    let tag = |i: usize| words[i].clone();
    let (class, query, pages) = match rng.below(20) {
        0..=4 => ("word", format!("q={}", word(rng)), 1),
        5..=7 => {
            let name = &corpus.names[hub];
            let q = format!("q={}+{}", words[name[0]], words[name[1]]);
            ("two_words", q, 1)
        }
        8..=10 => {
            let w = word(rng);
            ("prefix", format!("q={}", &w[..w.len() - 1]), 1)
        }
        11 => {
            let q = format!("tag={}&sort=members", tag(rng.zipf(TAGS)));
            ("filters", q, 1)
        }
        12 => {
            let region = if rng.below(ABSENT) == 0 {
                ABSENT_REGION
            } else {
                REGIONS[rng.zipf(REGIONS.len())]
            };
            ("filters", format!("region={region}&sort=uptime"), 1)
        }
        13 => {
            let language = if rng.below(ABSENT) == 0 {
                ABSENT_LANGUAGE
            } else {
                LANGUAGES[rng.zipf(LANGUAGES.len())]
            };
            let q = format!("language={language}&join_mode=open&join_mode=email&sort=newest");
            ("filters", q, 1)
        }
        14 => {
            let tags = &corpus.tags[hub];
            let second = tags.get(1).copied().unwrap_or(tags[0]);
            let q = format!("tag={}&tag={}", tag(tags[0]), tag(second));
            ("tags_and", q, 1)
        }
        15..=16 => {
            let q = format!(
                "q={}&access=paid&region={}",
                word(rng),
                REGIONS[rng.below(3)]
            );
            ("text_filters", q, 1)
        }
        _ => {
            let sorts = ["relevance", "members", "uptime", "newest"];
            let q = format!("q={}&sort={}", word(rng), sorts[rng.below(4)]);
            ("deep_pages", q, 5)
        }
    };
    (class, query, pages)
}

/// Sends the mix; returns each measured request's latency in ms.
async fn measure(base: &str, words: &[String], corpus: &Corpus) -> Result<Vec<f64>, String> {
    let client = reqwest::Client::new();
    let mut rng = Rng(99);
    let mut latencies = Vec::with_capacity(QUERIES);
    let mut by_class: std::collections::BTreeMap<&str, Vec<f64>> = Default::default();
    // The slowest request of each class, with its query and page, to tell where a tail comes from.
    let mut slowest: std::collections::BTreeMap<&str, (f64, String)> = Default::default();
    let mut sent = 0;
    let started = Instant::now();
    while latencies.len() < QUERIES && started.elapsed() < MAX_MEASURE {
        let (class, query, pages) = next_query(&mut rng, words, corpus);
        let mut cursor: Option<String> = None;
        for page in 1..=pages {
            let url = match &cursor {
                Some(c) => format!("{base}{query}&cursor={c}"),
                None => format!("{base}{query}"),
            };
            let t = Instant::now();
            let response = client.get(&url).send().await.map_err(|e| e.to_string())?;
            let status = response.status();
            let body: Value = response.json().await.map_err(|e| e.to_string())?;
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            if !status.is_success() {
                return Err(format!("{query}: {status} {body}"));
            }
            sent += 1;
            if sent > WARMUP {
                latencies.push(ms);
                by_class.entry(class).or_default().push(ms);
                let worst = slowest.entry(class).or_insert((0.0, String::new()));
                if ms > worst.0 {
                    *worst = (ms, format!("{query} (page {page})"));
                }
            }
            match body["next"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
    }
    if latencies.is_empty() {
        return Err("no query was measured".to_owned());
    }
    for (class, mut ms) in by_class {
        let (worst, query) = &slowest[class];
        let over = ms.iter().filter(|&&ms| ms > 10.0).count();
        println!(
            "  {class}: n {} p50 {:.2} ms p95 {:.2} ms, {over} over 10 ms, slowest {worst:.2} ms: {query}",
            ms.len(),
            crate::quantile(&mut ms, 0.5),
            crate::quantile(&mut ms, 0.95)
        );
    }
    Ok(latencies)
}
