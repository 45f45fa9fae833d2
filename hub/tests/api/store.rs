//! The hub store on both backends.

use hub::store::Store;
use shared::db::DatabaseConfig;
use testkit::{TestDb, each_backend};

each_backend!(
    find_state_returns_none_when_key_was_never_stored,
    upsert_state_replaces_the_value_when_key_exists,
    migrations_are_idempotent_when_store_reopens,
);

async fn open(db: &TestDb) -> Store {
    let dir = tempfile::tempdir().unwrap();
    Store::open(&DatabaseConfig::with_url(&db.url), dir.path())
        .await
        .unwrap()
}

async fn find_state_returns_none_when_key_was_never_stored(db: TestDb) {
    let store = open(&db).await;

    assert_eq!(store.find_state("record_seq").await.unwrap(), None);
}

async fn upsert_state_replaces_the_value_when_key_exists(db: TestDb) {
    let store = open(&db).await;

    store.upsert_state("record_seq", "1", 1_000).await.unwrap();
    store.upsert_state("record_seq", "2", 2_000).await.unwrap();
    store
        .upsert_state("reconcile_cursor", "c", 2_000)
        .await
        .unwrap();

    assert_eq!(
        store.find_state("record_seq").await.unwrap().as_deref(),
        Some("2")
    );
    assert_eq!(
        store
            .find_state("reconcile_cursor")
            .await
            .unwrap()
            .as_deref(),
        Some("c")
    );
}

async fn migrations_are_idempotent_when_store_reopens(db: TestDb) {
    let first = open(&db).await;
    first.upsert_state("k", "v", 1).await.unwrap();
    first.close().await;

    let second = open(&db).await;

    assert_eq!(second.find_state("k").await.unwrap().as_deref(), Some("v"));
}

mod accounts {
    use hub::members::{State, Tier};
    use hub::store::{
        Account, Binding, StoreError, delete_account, find_account_by_email, get_account,
        insert_account, insert_binding, list_bindings,
    };
    use testkit::{TestDb, each_backend};

    each_backend!(
        account_is_found_by_email_after_insert,
        second_account_for_the_same_email_is_a_conflict,
        binding_a_peer_twice_is_a_conflict_and_changes_nothing,
        deleting_an_account_removes_its_bindings,
    );

    fn account(id: &str, email: &str) -> Account {
        Account {
            id: id.to_owned(),
            email: Some(email.to_owned()),
            email_verified_at: None,
            state: State::PendingEmail,
            tier: Tier::Member,
            created_at: 1_000,
        }
    }

    fn binding(peer: &str, account: &str) -> Binding {
        Binding {
            peer_id: peer.to_owned(),
            account_id: account.to_owned(),
            label: Some("laptop".to_owned()),
            bound_via: "join".to_owned(),
            proof_ts: 1_000,
            proof_sig: "sig".to_owned(),
            bound_at: 1_000,
        }
    }

    async fn insert(store: &hub::store::Store, account: &Account) -> Result<(), StoreError> {
        let mut tx = store.begin_write().await?;
        insert_account(&mut tx, account, 1_000).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn account_is_found_by_email_after_insert(db: TestDb) {
        let store = super::open(&db).await;

        insert(&store, &account("a1", "ann@example.org"))
            .await
            .unwrap();

        let mut conn = store.acquire().await.unwrap();
        let found = find_account_by_email(&mut conn, "ann@example.org")
            .await
            .unwrap()
            .map(|a| Account {
                id: a.id,
                email: a.email,
                email_verified_at: a.email_verified_at,
                state: a.state,
                tier: a.tier,
                created_at: a.created_at,
            });
        assert_eq!(found, Some(account("a1", "ann@example.org")));
        assert_eq!(
            get_account(&mut conn, "a1").await.unwrap().state,
            State::PendingEmail
        );
        assert!(matches!(
            get_account(&mut conn, "nope").await,
            Err(StoreError::NotFound)
        ));
    }

    async fn second_account_for_the_same_email_is_a_conflict(db: TestDb) {
        let store = super::open(&db).await;
        insert(&store, &account("a1", "ann@example.org"))
            .await
            .unwrap();

        let second = insert(&store, &account("a2", "ann@example.org")).await;

        assert!(matches!(second, Err(StoreError::Conflict)), "{second:?}");
        let mut conn = store.acquire().await.unwrap();
        assert!(matches!(
            get_account(&mut conn, "a2").await,
            Err(StoreError::NotFound)
        ));
    }

    async fn binding_a_peer_twice_is_a_conflict_and_changes_nothing(db: TestDb) {
        let store = super::open(&db).await;
        insert(&store, &account("a1", "ann@example.org"))
            .await
            .unwrap();
        insert(&store, &account("a2", "bob@example.org"))
            .await
            .unwrap();
        let mut tx = store.begin_write().await.unwrap();
        insert_binding(&mut tx, &binding("12D3KooWpeer", "a1"))
            .await
            .unwrap();
        tx.commit().await.unwrap();

        let mut tx = store.begin_write().await.unwrap();
        let again = insert_binding(&mut tx, &binding("12D3KooWpeer", "a2")).await;
        drop(tx);

        assert!(matches!(again, Err(StoreError::Conflict)), "{again:?}");
        let bound = store.list_bound_peers().await.unwrap();
        assert_eq!(bound.len(), 1);
        assert_eq!(
            (bound[0].account_id.as_str(), bound[0].state, bound[0].tier),
            ("a1", State::PendingEmail, Tier::Member)
        );
    }

    async fn deleting_an_account_removes_its_bindings(db: TestDb) {
        let store = super::open(&db).await;
        insert(&store, &account("a1", "ann@example.org"))
            .await
            .unwrap();
        let mut tx = store.begin_write().await.unwrap();
        insert_binding(&mut tx, &binding("12D3KooWone", "a1"))
            .await
            .unwrap();
        insert_binding(&mut tx, &binding("12D3KooWtwo", "a1"))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let mut conn = store.acquire().await.unwrap();
        assert_eq!(list_bindings(&mut conn, "a1").await.unwrap().len(), 2);
        drop(conn);

        let mut tx = store.begin_write().await.unwrap();
        let deleted = delete_account(&mut tx, "a1").await.unwrap();
        tx.commit().await.unwrap();

        assert!(deleted);
        let mut conn = store.acquire().await.unwrap();
        assert!(list_bindings(&mut conn, "a1").await.unwrap().is_empty());
        assert!(store.list_bound_peers().await.unwrap().is_empty());
    }
}
