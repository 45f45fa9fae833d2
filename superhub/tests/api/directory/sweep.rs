//! The expiry sweep (superhub.md §3.5, §14 check 5, expiry half): records past `expires_at`
//! expire and stop resolving; expired records, tombstones and probe rows go after their retention.

use std::time::Duration;

use libp2p::identity::ed25519::Keypair;
use superhub::directory::sweep::{Swept, sweep_once};
use superhub::store::{HubState, ProbeRow, Provenance};
use testkit::record::{hub_id, sign_record, sign_tombstone};
use testkit::{TestDb, each_backend, eventually};

use super::Fixture;

const DAY_MS: i64 = 86_400_000;

each_backend!(
    sweep_task_expires_a_record_an_hour_after_its_last_refresh,
    sweep_deletes_expired_hubs_tombstones_and_probes_after_their_retention,
);

async fn sweep_task_expires_a_record_an_hour_after_its_last_refresh(db: TestDb) {
    let fixture = Fixture::spawn_with(&db, |c| {
        c.directory.sweep_interval = Duration::from_millis(50);
    })
    .await;
    let (key, gone_key) = (Keypair::generate(), Keypair::generate());
    let id = hub_id(&key);
    fixture.register_record(&key, &fixture.record(&key)).await;
    fixture.list(&id).await;
    let gone = fixture.record(&gone_key);
    fixture.register_record(&gone_key, &gone).await;
    let tombstone = sign_tombstone(&gone_key, gone.seq + 1, fixture.now(), "");
    assert_eq!(fixture.register(&tombstone).await.status(), 200);
    let (status, _) = fixture.get_json("/api/v1/resolve/community").await;
    assert_eq!(status, 200);

    fixture.clock.advance(Duration::from_secs(3_601));

    eventually(Duration::from_secs(10), "the record to expire", || async {
        let (_, detail) = fixture.get_json(&format!("/api/v1/hubs/{id}")).await;
        (detail["state"] == "expired").then_some(())
    })
    .await;
    let (_, detail) = fixture.get_json(&format!("/api/v1/hubs/{id}")).await;
    assert_eq!(detail["listed"], false);
    let (status, _) = fixture.get_json("/api/v1/resolve/community").await;
    assert_eq!(status, 404, "an expired hub does not resolve");
    let (status, _) = fixture
        .get_json(&format!("/api/v1/hubs/{}", hub_id(&gone_key)))
        .await;
    assert_eq!(status, 410, "a tombstoned hub stays tombstoned");
    // The sweep counts the hubs after its commit: the gauges follow within a tick.
    let metrics = eventually(Duration::from_secs(10), "the hub gauges", || async {
        let metrics = fixture.metrics().await;
        (metrics.contains(r#"superhub_hubs{state="expired"} 1"#)
            && metrics.contains(r#"superhub_hubs{state="tombstoned"} 1"#))
        .then_some(metrics)
    })
    .await;
    assert!(metrics.contains("superhub_hubs_hidden 0"), "{metrics}");
}

async fn sweep_deletes_expired_hubs_tombstones_and_probes_after_their_retention(db: TestDb) {
    let fixture = Fixture::spawn(&db).await;
    let config = superhub::Config::for_tests(fixture.superhub.data_path(), &db.url);
    let store = &fixture.store;
    let here = Provenance::direct("self");
    let t0 = fixture.now();
    let (old_key, fresh_key, gone_key) = (
        Keypair::generate(),
        Keypair::generate(),
        Keypair::generate(),
    );
    let old = fixture.record(&old_key);
    store
        .put_record(&sign_record(&old_key, &old), &old, &here, t0)
        .await
        .unwrap();
    let gone = fixture.record(&gone_key);
    store
        .put_record(&sign_record(&gone_key, &gone), &gone, &here, t0)
        .await
        .unwrap();
    let tombstone = sign_tombstone(&gone_key, gone.seq + 1, t0, "");
    let parsed = shared::record::Tombstone::from_verified(&tombstone.verify().unwrap()).unwrap();
    store
        .put_tombstone(&tombstone, &parsed, &here, t0)
        .await
        .unwrap();
    let probe = |at| ProbeRow {
        at,
        kind: "http".into(),
        outcome: "ok".into(),
        rtt_ms: Some(5),
    };
    store
        .insert_probe_row("old-probe", &hub_id(&old_key), &probe(t0))
        .await
        .unwrap();

    let first = sweep_once(store, &config, t0 + 2 * 3_600_000)
        .await
        .unwrap();
    let later = t0 + 31 * DAY_MS;
    let mut fresh = hub_record_at(&fresh_key, later);
    fresh.slug = "community".into();
    store
        .put_record(&sign_record(&fresh_key, &fresh), &fresh, &here, later)
        .await
        .unwrap();
    store
        .insert_probe_row("new-probe", &hub_id(&fresh_key), &probe(later))
        .await
        .unwrap();
    store
        .insert_probe_row("stale-probe", &hub_id(&fresh_key), &probe(t0))
        .await
        .unwrap();
    let second = sweep_once(store, &config, later).await.unwrap();
    let third = sweep_once(store, &config, later).await.unwrap();

    assert_eq!(
        first,
        Swept {
            expired: 1,
            ..Swept::default()
        }
    );
    assert_eq!(
        second,
        Swept {
            expired: 0,
            deleted_expired: 1,
            deleted_tombstones: 1,
            deleted_probes: 1
        }
    );
    assert_eq!(third, Swept::default());
    assert_eq!(
        store.find_hub_detail(&hub_id(&old_key)).await.unwrap(),
        None
    );
    assert_eq!(
        store.find_hub_detail(&hub_id(&gone_key)).await.unwrap(),
        None
    );
    assert_eq!(
        store.find_tombstone(&hub_id(&gone_key)).await.unwrap(),
        None
    );
    assert!(
        store
            .probe_history(&hub_id(&old_key), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .probe_history(&hub_id(&fresh_key), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    let fresh_row = store
        .find_hub_detail(&hub_id(&fresh_key))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(fresh_row.listing.state, HubState::PendingProbe.as_str());
    let held = store
        .list_held_claims(&["community"], later - 30 * DAY_MS)
        .await
        .unwrap();
    assert_eq!(held.len(), 1, "the deleted hub's claim went with it");
    assert_eq!(held[0].hub_id, hub_id(&fresh_key));
}

fn hub_record_at(key: &Keypair, now_ms: i64) -> shared::record::HubRecord {
    testkit::record::hub_record(key, "https://hub.example.org", now_ms)
}
