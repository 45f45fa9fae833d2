//! The super hub store on both backends.

use shared::db::DatabaseConfig;
use superhub::store::Store;
use testkit::{TestDb, each_backend};

each_backend!(upsert_state_keeps_the_latest_value_when_written_twice);

async fn upsert_state_keeps_the_latest_value_when_written_twice(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&DatabaseConfig::with_url(&db.url), dir.path())
        .await
        .unwrap();

    let before = store.find_state("change_seq").await.unwrap();
    store.upsert_state("change_seq", "41", 1).await.unwrap();
    store.upsert_state("change_seq", "42", 2).await.unwrap();

    assert_eq!(before, None);
    assert_eq!(
        store.find_state("change_seq").await.unwrap().as_deref(),
        Some("42")
    );
}

mod directory {
    //! The directory's one write path (`put_record`, `put_tombstone`) on both backends.

    use libp2p::identity::ed25519::Keypair;
    use shared::db::DatabaseConfig;
    use superhub::store::{HubState, Provenance, PutRecord, PutTombstone, Store};
    use testkit::record::{hub_record, sign_record, sign_tombstone};
    use testkit::{TestDb, each_backend};

    async fn open(db: &TestDb, dir: &tempfile::TempDir) -> Store {
        Store::open(&DatabaseConfig::with_url(&db.url), dir.path())
            .await
            .unwrap()
    }

    each_backend!(put_record_orders_by_seq_and_repeats_idempotently);

    async fn put_record_orders_by_seq_and_repeats_idempotently(db: TestDb) {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&db, &dir).await;
        let key = Keypair::generate();
        let here = Provenance::direct("self");
        let now = 1_800_000_000_000;
        let first = hub_record(&key, "https://hub.example.org", now);
        let mut second = first.clone();
        second.seq += 1;
        second.name = "Renamed".to_owned();
        let mut rival = first.clone();
        rival.name = "Same seq, other payload".to_owned();

        let stored = store
            .put_record(&sign_record(&key, &first), &first, &here, now)
            .await
            .unwrap();
        let again = store
            .put_record(&sign_record(&key, &first), &first, &here, now)
            .await
            .unwrap();
        let conflicting = store
            .put_record(&sign_record(&key, &rival), &rival, &here, now)
            .await
            .unwrap();
        let newer = store
            .put_record(&sign_record(&key, &second), &second, &here, now)
            .await
            .unwrap();
        let older = store
            .put_record(&sign_record(&key, &first), &first, &here, now)
            .await
            .unwrap();

        assert_eq!(
            stored,
            PutRecord::Stored {
                state: HubState::PendingProbe,
                probe_due: true
            }
        );
        assert_eq!(
            again,
            PutRecord::Unchanged {
                state: HubState::PendingProbe
            }
        );
        assert_eq!(conflicting, PutRecord::Stale);
        assert!(matches!(newer, PutRecord::Stored { .. }));
        assert_eq!(older, PutRecord::Stale);
        assert_eq!(
            store.find_state("change_seq").await.unwrap().as_deref(),
            Some("3"),
            "two stored records and one new slug claim take three change numbers"
        );
    }

    each_backend!(put_tombstone_orders_against_records_and_a_newer_record_revives);

    async fn put_tombstone_orders_against_records_and_a_newer_record_revives(db: TestDb) {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&db, &dir).await;
        let key = Keypair::generate();
        let here = Provenance::direct("self");
        let now = 1_800_000_000_000;
        let record = hub_record(&key, "https://hub.example.org", now);
        store
            .put_record(&sign_record(&key, &record), &record, &here, now)
            .await
            .unwrap();
        let seq = record.seq;
        let stale = sign_tombstone(&key, seq, now, "");
        let tombstone = sign_tombstone(&key, seq + 1, now, "closing");
        let parse = |e: &shared::envelope::Envelope| {
            shared::record::Tombstone::from_verified(&e.verify().unwrap()).unwrap()
        };

        let refused = store
            .put_tombstone(&stale, &parse(&stale), &here, now)
            .await
            .unwrap();
        let stored = store
            .put_tombstone(&tombstone, &parse(&tombstone), &here, now)
            .await
            .unwrap();
        let repeated = store
            .put_tombstone(&tombstone, &parse(&tombstone), &here, now)
            .await
            .unwrap();
        let mut old = record.clone();
        old.seq = seq + 1;
        let buried = store
            .put_record(&sign_record(&key, &old), &old, &here, now)
            .await
            .unwrap();
        let mut revival = record.clone();
        revival.seq = seq + 2;
        let revived = store
            .put_record(&sign_record(&key, &revival), &revival, &here, now)
            .await
            .unwrap();

        assert_eq!(refused, PutTombstone::Stale);
        assert_eq!(stored, PutTombstone::Stored);
        assert_eq!(repeated, PutTombstone::Unchanged);
        assert_eq!(buried, PutRecord::Tombstoned);
        assert_eq!(
            revived,
            PutRecord::Stored {
                state: HubState::PendingProbe,
                probe_due: true
            }
        );
    }
}

mod nulls {
    //! A nullable column bound as null and then as a value on the same pooled connection
    //! (sqlx's Any driver types a null by its Rust type; a cached statement must accept both).

    use libp2p::identity::ed25519::Keypair;
    use shared::db::DatabaseConfig;
    use superhub::store::{Provenance, PutRecord, Store};
    use testkit::record::{hub_record, sign_record};
    use testkit::{TestDb, each_backend};

    each_backend!(member_count_is_stored_after_a_record_without_one);

    async fn member_count_is_stored_after_a_record_without_one(db: TestDb) {
        let dir = tempfile::tempdir().unwrap();
        let mut config = DatabaseConfig::with_url(&db.url);
        config.max_connections = 1;
        let store = Store::open(&config, dir.path()).await.unwrap();
        let here = Provenance::direct("self");
        let now = 1_800_000_000_000;
        let mut outcomes = Vec::new();
        for n in 0..4_u64 {
            let key = Keypair::generate();
            let mut record = hub_record(&key, "https://hub.example.org", now);
            record.member_count = (n % 2 == 1).then_some(n);
            outcomes.push(
                store
                    .put_record(&sign_record(&key, &record), &record, &here, now)
                    .await
                    .unwrap(),
            );
        }

        assert!(
            outcomes
                .iter()
                .all(|o| matches!(o, PutRecord::Stored { .. })),
            "{outcomes:?}"
        );
    }
}
