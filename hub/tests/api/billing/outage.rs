//! The database unavailable while a webhook arrives (issue #10 "Bad input and faults"): the hub
//! answers non-2xx with nothing applied, so Stripe retries, and the retry applies the event once.
//! Postgres is cut behind a [`TcpProxy`] of this test's own; SQLite is held by another writer.
//! The shared cluster is never stopped.

use reqwest::StatusCode;
use testkit::{TcpProxy, TestDb, TestHub};

use super::paid_hub::{
    NO_STRIPE, counted, deliver, event, member, paid_hub, standing, subscription,
};

mod webhook_applies_nothing_while_the_database_is_down_then_the_retry_once {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_postgres() {
        testkit::init_tracing();
        let db = TestDb::postgres().await;
        let (proxy, url) = TcpProxy::in_front_of(&db.url).await;
        let hub = paid_hub(&db, NO_STRIPE, move |c| c.database.url = url).await;

        let down = Outage::arrange(&hub).await;
        proxy.cut();
        let during = deliver(&hub, &down.event).await.status();
        proxy.restore();

        down.assert_retry_applies_once(&db, &hub, during).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_sqlite() {
        testkit::init_tracing();
        let db = TestDb::sqlite();
        let hub = paid_hub(&db, NO_STRIPE, |_| {}).await;

        let down = Outage::arrange(&hub).await;
        let other = db.hub_store().await;
        let writer = other.begin_write().await.unwrap();
        let during = deliver(&hub, &down.event).await.status();
        writer.rollback().await.unwrap();
        other.close().await;

        down.assert_retry_applies_once(&db, &hub, during).await;
    }
}

/// A member and the event that would make it paid.
struct Outage {
    peer: testkit::TestPeer,
    event: serde_json::Value,
}

impl Outage {
    async fn arrange(hub: &TestHub) -> Self {
        let (peer, account) = member(hub).await;
        let event = event(
            "evt_outage",
            "customer.subscription.created",
            testkit::now_ms() / 1000,
            subscription("sub_outage", &account, "active"),
        );
        Self { peer, event }
    }

    async fn assert_retry_applies_once(&self, db: &TestDb, hub: &TestHub, during: StatusCode) {
        let store = db.hub_store().await;
        let after_outage = store.find_stripe_event("evt_outage").await.unwrap();

        let retry = deliver(hub, &self.event).await.status();

        assert!(during.is_server_error(), "during the outage: {during}");
        assert_eq!(after_outage, None, "nothing applied during the outage");
        assert_eq!(retry, StatusCode::OK);
        let row = store
            .find_stripe_event("evt_outage")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.outcome, "processed");
        assert_eq!(standing(hub, &self.peer).await.1, "paid");
        let kind = "customer.subscription.created";
        assert_eq!(counted(hub, kind, "processed").await, 1);
        assert_eq!(counted(hub, kind, "error").await, 1);
        store.close().await;
    }
}
