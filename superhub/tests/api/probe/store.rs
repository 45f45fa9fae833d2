//! The probe queue and recording in the store, on both backends: claim order and exclusivity,
//! the guards against newer records, tombstones and expiry, and the measured values (§4.4).

use libp2p::identity::ed25519::Keypair;
use shared::db::DatabaseConfig;
use shared::record::{HubRecord, Tombstone};
use superhub::store::{
    DueProbe, HubState, ProbeReport, ProbeResult, Provenance, Recorded, Store, Transition,
};
use testkit::record::{hub_record, sign_record, sign_tombstone};
use testkit::{TestDb, each_backend};

const NOW: i64 = 1_800_000_000_000;
const HOUR: i64 = 3_600_000;

async fn open(db: &TestDb, dir: &tempfile::TempDir) -> Store {
    Store::open(&DatabaseConfig::with_url(&db.url), dir.path())
        .await
        .unwrap()
}

async fn put(store: &Store, key: &Keypair, record: &HubRecord, from: &Provenance, now: i64) {
    store
        .put_record(&sign_record(key, record), record, from, now)
        .await
        .unwrap();
}

/// A hub registered at `now` whose record lives until an hour after [`NOW`].
async fn new_hub(store: &Store, from: &Provenance, now: i64) -> (Keypair, HubRecord) {
    let key = Keypair::generate();
    let mut record = hub_record(&key, "https://hub.example.org", now);
    record.expires_at = NOW + HOUR;
    put(store, &key, &record, from, now).await;
    (key, record)
}

/// Stores a tombstone of `key`'s hub that orders after `record`.
pub(super) async fn tombstone(store: &Store, key: &Keypair, record: &HubRecord, now: i64) {
    let envelope = sign_tombstone(key, record.seq + 1, now, "closing");
    let tombstone = Tombstone {
        v: 1,
        id: record.id.clone(),
        seq: record.seq + 1,
        issued_at: now,
        reason: "closing".to_owned(),
    };
    store
        .put_tombstone(&envelope, &tombstone, &Provenance::direct("self"), now)
        .await
        .unwrap();
}

fn http(outcome: &str, rtt_ms: Option<i64>) -> ProbeResult<'_> {
    ProbeResult { outcome, rtt_ms }
}

/// Records `row` at `at`, moving the hub to `state` and due at `next`.
async fn record(
    store: &Store,
    hub: &DueProbe,
    at: i64,
    row: ProbeResult<'_>,
    p2p: Option<ProbeResult<'_>>,
    next: i64,
) -> Recorded {
    let report = ProbeReport {
        hub,
        at,
        http: row,
        p2p,
    };
    let ok = row.outcome == "ok";
    store
        .record_probe(&report, |state, failures| Transition {
            state: if ok { HubState::Listed } else { state },
            consecutive_failures: if ok { 0 } else { failures + 1 },
            next_probe_at: next,
        })
        .await
        .unwrap()
}

fn ids(claimed: &[DueProbe]) -> Vec<&str> {
    claimed.iter().map(|h| h.id.as_str()).collect()
}

each_backend!(claims_follow_the_priority_order_and_are_exclusive);

async fn claims_follow_the_priority_order_and_are_exclusive(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&db, &dir).await;
    let direct = Provenance::direct("self");
    let federated = Provenance {
        origin: "other".to_owned(),
        received_from: "peer".to_owned(),
    };
    let (_, periodic) = new_hub(&store, &direct, NOW - HOUR).await;
    let first = store.claim_due_probes(NOW - HOUR, 1, &[]).await.unwrap();
    record(
        &store,
        &first[0],
        NOW - HOUR,
        http("ok", Some(5)),
        None,
        NOW - 10,
    )
    .await;
    let (_, remote) = new_hub(&store, &federated, NOW - 5).await;
    let (_, local) = new_hub(&store, &direct, NOW - 1).await;

    let due = store.count_due_probes(NOW).await.unwrap();
    let one = store.claim_due_probes(NOW, 1, &[]).await.unwrap();
    let skipping = store
        .claim_due_probes(NOW, 10, std::slice::from_ref(&remote.id))
        .await
        .unwrap();
    let rest = store.claim_due_probes(NOW, 10, &[]).await.unwrap();
    let again = store.claim_due_probes(NOW + 59_000, 10, &[]).await.unwrap();
    let after_gap = store.claim_due_probes(NOW + 60_000, 10, &[]).await.unwrap();

    assert_eq!(due, 3);
    assert_eq!(ids(&first), [periodic.id.as_str()]);
    assert_eq!(ids(&one), [local.id.as_str()], "direct pending_probe first");
    assert_eq!(
        ids(&skipping),
        [periodic.id.as_str()],
        "busy ids are skipped"
    );
    assert_eq!(ids(&rest), [remote.id.as_str()]);
    assert!(again.is_empty(), "a claim holds for 60 s");
    assert_eq!(
        after_gap.len(),
        3,
        "an unrecorded claim is retried after 60 s"
    );
    assert_eq!(store.count_due_probes(NOW + 60_000).await.unwrap(), 0);
}

each_backend!(expired_and_tombstoned_hubs_are_never_due);

async fn expired_and_tombstoned_hubs_are_never_due(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&db, &dir).await;
    let here = Provenance::direct("self");
    let (_, expiring) = new_hub(&store, &here, NOW).await;
    let (key, gone) = new_hub(&store, &here, NOW).await;
    tombstone(&store, &key, &gone, NOW).await;

    let before_expiry = store
        .claim_due_probes(NOW + HOUR - 1, 10, &[])
        .await
        .unwrap();
    let at_expiry = store.count_due_probes(NOW + HOUR).await.unwrap();

    assert_eq!(ids(&before_expiry), [expiring.id.as_str()]);
    assert_eq!(at_expiry, 0);
}

each_backend!(a_result_is_dropped_after_a_new_address_or_a_tombstone);

async fn a_result_is_dropped_after_a_new_address_or_a_tombstone(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&db, &dir).await;
    let here = Provenance::direct("self");
    let (moving_key, moving) = new_hub(&store, &here, NOW).await;
    let (closing_key, closing) = new_hub(&store, &here, NOW).await;
    let claimed = store.claim_due_probes(NOW, 10, &[]).await.unwrap();
    let mut moved = moving.clone();
    moved.seq += 1;
    moved.http_url = "https://elsewhere.example.org".to_owned();
    put(&store, &moving_key, &moved, &here, NOW + 1).await;
    tombstone(&store, &closing_key, &closing, NOW + 1).await;

    for hub in &claimed {
        let recorded = record(&store, hub, NOW + 2, http("ok", Some(3)), None, NOW + HOUR).await;

        assert_eq!(recorded, Recorded::Superseded);
        assert!(store.probe_history(&hub.id, 10).await.unwrap().is_empty());
    }
    assert_eq!(
        store.probe_status(&moving.id).await.unwrap().unwrap().state,
        "pending_probe"
    );
    assert_eq!(
        store
            .probe_status(&closing.id)
            .await
            .unwrap()
            .unwrap()
            .state,
        "tombstoned"
    );
}

each_backend!(uptime_needs_ten_probes_and_rtt_is_the_median_of_a_day);

async fn uptime_needs_ten_probes_and_rtt_is_the_median_of_a_day(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&db, &dir).await;
    let (_, hub) = new_hub(&store, &Provenance::direct("self"), NOW - 3 * 86_400_000).await;
    let claimed = store
        .claim_due_probes(NOW - 3 * 86_400_000, 1, &[])
        .await
        .unwrap();
    let due = &claimed[0];
    let mut rows = vec![(NOW - 2 * 86_400_000, "ok", Some(1000))];
    rows.extend([10, 20, 30, 40, 50, 60].map(|rtt| (NOW - 7 * HOUR + rtt, "ok", Some(rtt))));
    rows.extend([
        (NOW - 2 * HOUR, "timeout", None),
        (NOW - HOUR, "http_status", None),
    ]);

    for (at, outcome, rtt) in &rows {
        record(&store, due, *at, http(outcome, *rtt), None, NOW).await;
    }
    let nine = store.probe_status(&hub.id).await.unwrap().unwrap();
    let p2p_ok = http("ok", Some(7));
    record(&store, due, NOW, http("ok", Some(80)), Some(p2p_ok), NOW).await;
    let ten = store.probe_status(&hub.id).await.unwrap().unwrap();
    let p2p_failed = http("dial_failed", None);
    record(
        &store,
        due,
        NOW + 1,
        http("ok", Some(70)),
        Some(p2p_failed),
        NOW,
    )
    .await;
    let eleven = store.probe_status(&hub.id).await.unwrap().unwrap();

    assert_eq!(nine.uptime_30d, None);
    assert_eq!(
        nine.rtt_ms,
        Some(35),
        "the day's ok RTTs 10–60; the older 1000 is out"
    );
    assert_eq!(ten.uptime_30d, Some(0.8));
    assert_eq!(ten.rtt_ms, Some(40), "median of 10, 20, 30, 40, 50, 60, 80");
    assert_eq!((ten.p2p_ok_at, ten.p2p_rtt_ms), (Some(NOW), Some(7)));
    assert_eq!(
        eleven.p2p_ok_at,
        Some(NOW),
        "kept after a failed libp2p probe"
    );
    assert_eq!(eleven.p2p_rtt_ms, None, "the last libp2p probe failed");
    assert_eq!(store.probe_history(&hub.id, 100).await.unwrap().len(), 13);
}

each_backend!(old_probe_rows_are_deleted_before_a_time);

async fn old_probe_rows_are_deleted_before_a_time(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&db, &dir).await;
    let (_, hub) = new_hub(&store, &Provenance::direct("self"), NOW - HOUR).await;
    let claimed = store.claim_due_probes(NOW - HOUR, 1, &[]).await.unwrap();
    for at in [NOW - 3, NOW - 2, NOW - 1] {
        record(&store, &claimed[0], at, http("ok", Some(1)), None, NOW).await;
    }

    let deleted = store.delete_old_probes(NOW - 1).await.unwrap();

    assert_eq!(deleted, 2);
    let left = store.probe_history(&hub.id, 10).await.unwrap();
    assert_eq!(left.iter().map(|r| r.at).collect::<Vec<_>>(), [NOW - 1]);
}
