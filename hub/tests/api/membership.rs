//! Membership end to end (hub.md §6, §7, §18 checks 11–13), split by concept: signed joins in
//! every mode, the verification mail through a real SMTP listener (and the file transport),
//! single-use tokens, binds proven by the peer's key, relay admission, vouchers that verify
//! offline, bind codes, sessions with the CSRF rule, and revocation when a peer is unbound.

mod bindings;
mod email_change;
mod enforcement;
mod faults;
mod join;
mod labels;
mod sessions;
mod verify;
mod vouchers;

use std::time::Duration;

use hub::config::{JoinMode, MailTransportKind};
use reqwest::Response;
use serde_json::{Value, json};
use testkit::{SmtpSink, TestDb, TestHub, TestPeer, eventually, verify_token};

/// How long a test waits for mail, an outbox file or a stream event.
const DEADLINE: Duration = Duration::from_secs(15);

/// A hub in `mode` whose mail goes to `sink`.
async fn hub_with(db: &TestDb, mode: JoinMode, sink: &SmtpSink) -> TestHub {
    let url = sink.url();
    TestHub::spawn_with(db, move |config| {
        config.membership.join_mode = mode;
        config.email.transport = MailTransportKind::Smtp;
        config.email.smtp_url = Some(url.into());
    })
    .await
}

/// The token of the newest link mailed to `to` that is not in `seen`.
async fn link_token(sink: &SmtpSink, to: &str, seen: usize) -> String {
    let mail = eventually(
        DEADLINE,
        &format!("mail number {} to {to}", seen + 1),
        || async {
            sink.messages()
                .into_iter()
                .filter(|m| m.to == [to])
                .nth(seen)
        },
    )
    .await;
    verify_token(mail.body())
}

/// A member bound through the email flow on `hub`.
async fn member(hub: &TestHub, sink: &SmtpSink, email: &str) -> (TestPeer, Option<String>) {
    let peer = TestPeer::new();
    let seen = sink.messages().iter().filter(|m| m.to == [email]).count();
    peer.join(hub, &json!({ "email": email })).await;
    let (status, body, cookie) = hub.verify(&link_token(sink, email, seen).await).await;
    assert_eq!(status, 200, "{body}");
    (peer, cookie)
}

/// Creates an invite with `max_uses` directly in the database; returns its code as shown.
async fn invite(db: &TestDb, max_uses: i64) -> String {
    let store = db.hub_store().await;
    let code: String =
        ["4F7K2MX9QH3D", "7K2QF9XM3DAB", "0123456789AB"][max_uses as usize % 3].to_owned();
    let mut tx = store.begin_write().await.unwrap();
    hub::store::insert_invite(
        &mut tx,
        &hub::store::Invite {
            code: code.clone(),
            note: None,
            max_uses,
            uses: 0,
            created_by: "test".to_owned(),
            created_at: 1,
            expires_at: None,
            revoked_at: None,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    format!("{}-{}-{}", &code[..4], &code[4..8], &code[8..]).to_lowercase()
}

/// The admin token of [`admin_hub`].
const ADMIN_TOKEN: &str = "admin-token-0123456789abcdefghijklmnop";

/// A hub in `email` mode with mail to `sink`, an admin token, and `adjust` applied.
async fn admin_hub(db: &TestDb, sink: &SmtpSink, adjust: impl FnOnce(&mut hub::Config)) -> TestHub {
    let url = sink.url();
    TestHub::spawn_with(db, move |c| {
        c.email.transport = MailTransportKind::Smtp;
        c.email.smtp_url = Some(url.into());
        c.admin.token = Some(ADMIN_TOKEN.to_owned().into());
        adjust(c);
    })
    .await
}

/// `POST /api/v1/admin/members/{account}/{action}` with `body`.
async fn admin_post(hub: &TestHub, account: &str, action: &str, body: &Value) -> Response {
    hub.client
        .post(hub.url(&format!("/api/v1/admin/members/{account}/{action}")))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}
