//! `federation`: three super hubs in a chain (C pulls B, B pulls A) on SQLite with a 1 s pull
//! interval and the maximum page limit (superhub.md §7.4), every super hub probing what it
//! stores. `RECORDS` records are registered at A as fast as it takes them;
//! printed is the time from the last registration at A until C holds every record, in seconds
//! and in pull intervals (the spec's bound for two links is 4).

use std::time::{Duration, Instant};

use libp2p::identity::ed25519::Keypair;
use superhub::config::FederationPeer;
use superhub::store::ChangeKind;
use testkit::record::{envelope_bytes, hub_record, sign_record};

/// Records registered at A.
const RECORDS: usize = 10_000;
/// The pull interval of B and C.
const INTERVAL: Duration = Duration::from_secs(1);
/// `federation.page_limit` of B and C: the maximum, as an operator pulling a big directory sets
/// it (at the default 100, a catching-up peer spends the feed's `feed_ip` burst and then pulls at
/// its refill rate of one page a second).
const PAGE_LIMIT: u32 = 500;
/// How long C may take after the last registration before the run gives up.
const GIVE_UP: Duration = Duration::from_secs(300);

pub(crate) async fn run() -> Result<(), String> {
    let dirs = [tempdir()?, tempdir()?, tempdir()?];
    let a = start(&dirs[0], None).await?;
    let b = start(&dirs[1], Some(&a)).await?;
    let c = start(&dirs[2], Some(&b)).await?;
    println!(
        "records {RECORDS}, chain A ← B ← C, pull interval {INTERVAL:?}, page limit {PAGE_LIMIT}, \
         SQLite, probing on (HTTP and libp2p)"
    );

    let bodies: Vec<Vec<u8>> = (0..RECORDS)
        .map(|_| {
            let key = Keypair::generate();
            let record = hub_record(&key, "http://127.0.0.1:9", shared::clock::unix_ms());
            envelope_bytes(&sign_record(&key, &record))
        })
        .collect();
    let started = Instant::now();
    for body in &bodies {
        a.directory()
            .register(body)
            .await
            .map_err(|e| format!("registering at A: {e}"))?;
    }
    let last_registration = Instant::now();
    println!(
        "registered {RECORDS} at A in {:.1} s",
        (last_registration - started).as_secs_f64()
    );

    let held_b = b
        .directory()
        .store()
        .count_changes(ChangeKind::HubRecord)
        .await
        .map_err(|e| format!("counting at B: {e}"))?;
    let store = c.directory().store().clone();
    let held_c = store
        .count_changes(ChangeKind::HubRecord)
        .await
        .map_err(|e| format!("counting at C: {e}"))?;
    println!("then B holds {held_b}, C holds {held_c}");
    loop {
        let held = store
            .count_changes(ChangeKind::HubRecord)
            .await
            .map_err(|e| format!("counting at C: {e}"))?;
        if held >= RECORDS as i64 {
            break;
        }
        if last_registration.elapsed() > GIVE_UP {
            return Err(format!("C holds {held} of {RECORDS} after {GIVE_UP:?}"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let convergence = last_registration.elapsed().as_secs_f64();

    crate::result("federation_records", RECORDS as f64);
    crate::result("federation_convergence_s", convergence);
    crate::result("federation_pull_interval_s", INTERVAL.as_secs_f64());
    crate::result(
        "federation_convergence_intervals",
        convergence / INTERVAL.as_secs_f64(),
    );
    for server in [c, b, a] {
        server.shutdown().await;
    }
    Ok(())
}

fn tempdir() -> Result<tempfile::TempDir, String> {
    tempfile::tempdir().map_err(|e| e.to_string())
}

/// A super hub in `dir` on its own SQLite database, pulling `from` when given.
async fn start(
    dir: &tempfile::TempDir,
    from: Option<&superhub::Server>,
) -> Result<superhub::Server, String> {
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("superhub.db").display()
    );
    let mut config = superhub::Config::for_tests(dir.path(), &url);
    config.directory.require_https = false;
    config.probe.allow_private_addresses = true;
    config.rate_limits.register_hub.burst = u32::MAX;
    config.rate_limits.register_ip.burst = u32::MAX;
    config.rate_limits.general_ip.burst = u32::MAX;
    config.federation.pull_interval = INTERVAL;
    config.federation.page_limit = PAGE_LIMIT;
    if let Some(peer) = from {
        config.federation.peers = vec![FederationPeer {
            url: format!("http://{}", peer.http_addr()),
            id: peer.peer_id().to_string(),
            name: String::new(),
            trust_moderation: false,
            trust_claims: true,
        }];
    }
    superhub::Server::start(config)
        .await
        .map_err(|e| format!("starting a super hub: {e}"))
}
