//! The durable email outbox over real SMTP (hub.md §6.8 rules 3–4, 5a).

use std::time::Duration;

use hub::config::MailTransportKind;
use hub::store::{NewEmail, Store, insert_email};
use shared::db::DatabaseConfig;
use testkit::{SmtpSink, TestDb, TestHub, each_backend, eventually};

each_backend!(
    queued_mail_is_delivered_with_its_message_id_and_the_link_verbatim,
    mail_waits_while_smtp_is_down_and_is_delivered_once_it_returns,
);

const DEADLINE: Duration = Duration::from_secs(15);

fn smtp(url: String) -> impl FnOnce(&mut hub::Config) {
    move |config| {
        config.email.transport = MailTransportKind::Smtp;
        config.email.smtp_url = Some(url.into());
        config.email.retry_base = Duration::from_secs(1);
    }
}

fn new_email(n: u32) -> NewEmail {
    NewEmail {
        id: format!("0190b6a8-0000-7000-8000-00000000000{n}"),
        message_id: format!("<outbox-test-{n}@hub.example.org>"),
        purpose: "join".to_owned(),
        to_addr: "ann@example.org".to_owned(),
        subject: "Confirm your email for Go Developers".to_owned(),
        body: "Open this link to confirm:\nhttps://hub.example.org/verify?token=abc_DEF-123\n"
            .to_owned(),
    }
}

async fn store(db: &TestDb) -> Store {
    let dir = tempfile::tempdir().unwrap();
    Store::open(&DatabaseConfig::with_url(&db.url), dir.path())
        .await
        .unwrap()
}

async fn enqueue(store: &Store, email: &NewEmail) {
    let mut tx = store.begin_write().await.unwrap();
    insert_email(&mut tx, email, now_ms()).await.unwrap();
    tx.commit().await.unwrap();
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn queued_mail_is_delivered_with_its_message_id_and_the_link_verbatim(db: TestDb) {
    let sink = SmtpSink::start().await;
    let _hub = TestHub::spawn_with(&db, smtp(sink.url())).await;
    let store = store(&db).await;

    enqueue(&store, &new_email(1)).await;
    let mail = sink
        .wait_for(DEADLINE, |m| m.to == ["ann@example.org"])
        .await;

    assert_eq!(
        mail.header("message-id").as_deref(),
        Some("<outbox-test-1@hub.example.org>")
    );
    assert_eq!(
        mail.header("content-transfer-encoding").as_deref(),
        Some("8bit")
    );
    assert!(
        mail.body()
            .contains("https://hub.example.org/verify?token=abc_DEF-123\r\n"),
        "{}",
        mail.body()
    );
    eventually(DEADLINE, "the outbox to be empty", || async {
        (store.count_pending_emails().await.ok()? == 0).then_some(())
    })
    .await;
}

async fn mail_waits_while_smtp_is_down_and_is_delivered_once_it_returns(db: TestDb) {
    let down = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = down.local_addr().unwrap();
    drop(down);
    let hub = TestHub::spawn_with(&db, smtp(format!("smtp://{addr}"))).await;
    let store = store(&db).await;

    enqueue(&store, &new_email(2)).await;
    let failed = eventually(DEADLINE, "a failed attempt", || async {
        let due = store.list_due_emails(i64::MAX, 10).await.ok()?;
        due.into_iter().find(|m| m.attempts >= 1)
    })
    .await;
    let ready = hub.get("/readyz").await.status();
    let sink = SmtpSink::start_on(addr).await;
    let mail = sink
        .wait_for(DEADLINE, |m| m.to == ["ann@example.org"])
        .await;

    assert_eq!(ready, 200, "an SMTP outage does not make the hub unready");
    assert_eq!(failed.message_id, "<outbox-test-2@hub.example.org>");
    assert_eq!(
        mail.header("message-id").as_deref(),
        Some("<outbox-test-2@hub.example.org>")
    );
    eventually(DEADLINE, "the outbox to be empty", || async {
        (store.count_pending_emails().await.ok()? == 0).then_some(())
    })
    .await;
}
