//! Membership vouchers (hub.md §7): offline verification, forgeries, and issuance after a timed
//! comp ends.

use hub::config::JoinMode;
use reqwest::StatusCode;
use serde_json::json;
use testkit::{SmtpSink, TestDb, TestPeer, code_of, each_backend, eventually, json_of};

use super::{DEADLINE, admin_hub, admin_post, hub_with, member};

each_backend!(
    voucher_verifies_offline_and_forgeries_are_rejected,
    voucher_is_issued_again_after_a_timed_comp_ends,
);

async fn voucher_verifies_offline_and_forgeries_are_rejected(db: TestDb) {
    use shared::voucher::{Expected, VoucherError};
    let sink = SmtpSink::start().await;
    let hub = hub_with(&db, JoinMode::Email, &sink).await;
    let (peer, _) = member(&hub, &sink, "ann@example.org").await;
    let (_, issued) = json_of(hub.post_signed("/api/v1/vouchers", &json!({}), &peer).await).await;
    let token = issued["voucher"].as_str().unwrap().to_owned();
    let issuers = [hub.hub_id()];
    let expected = Expected {
        subject: Some(&peer.id),
        issuers: &issuers,
        ..Expected::default()
    };
    let claims = shared::voucher::verify(&token, &expected).unwrap();
    let hub_key = shared::keyfile::load(&hub.data_path().join("hub.key")).unwrap();
    let b64 = shared::signing::b64u_encode;
    let parts: Vec<&str> = token.split('.').collect();
    let header = json!({"alg": "HS256", "typ": "JWT", "kid": hub.hub_id().to_string()});
    let hs256 = format!(
        "{}.{}.{}",
        b64(header.to_string().as_bytes()),
        parts[1],
        parts[2]
    );
    let wrong_aud = shared::voucher::sign(
        &hub_key,
        &shared::voucher::Claims {
            aud: "other".to_owned(),
            ..claims.clone()
        },
    )
    .unwrap();
    let other_peer = TestPeer::new().id;

    assert_eq!(claims.iss, hub.hub_id().to_string());
    assert_eq!(claims.exp - claims.iat, 86_400);
    assert_eq!(
        shared::voucher::verify(&hs256, &expected),
        Err(VoucherError::BadSignature)
    );
    assert_eq!(
        shared::voucher::verify(&wrong_aud, &expected),
        Err(VoucherError::WrongAudience)
    );
    assert_eq!(
        shared::voucher::verify(
            &token,
            &Expected {
                subject: Some(&other_peer),
                ..expected.clone()
            }
        ),
        Err(VoucherError::WrongSubject)
    );
    let (status, code) = code_of(
        hub.post_signed("/api/v1/vouchers", &json!({}), &TestPeer::new())
            .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::FORBIDDEN, "not_member")
    );
}

async fn voucher_is_issued_again_after_a_timed_comp_ends(db: TestDb) {
    let sink = SmtpSink::start().await;
    let hub = admin_hub(&db, &sink, |c| {
        c.membership.sweep_interval = std::time::Duration::from_secs(1)
    })
    .await;
    let (peer, _) = member(&hub, &sink, "ann@example.org").await;
    let account = peer.membership(&hub).await["account_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let now = testkit::now_ms();
    let until = now + 2_000;

    assert_eq!(
        admin_post(&hub, &account, "comp", &json!({ "until": until }))
            .await
            .status(),
        StatusCode::OK
    );
    let (_, comped) = json_of(hub.post_signed("/api/v1/vouchers", &json!({}), &peer).await).await;
    eventually(DEADLINE, "the sweep to end the comp", || async {
        (peer.membership(&hub).await["tier"] == "member").then_some(())
    })
    .await;
    let (status, after) =
        json_of(hub.post_signed("/api/v1/vouchers", &json!({}), &peer).await).await;

    assert_eq!(comped["tier"], "comped");
    assert!(
        comped["expires_at"].as_i64().unwrap() <= until,
        "a comp voucher ends with the comp: {comped}"
    );
    assert_eq!(
        status, 201,
        "the old comp end no longer caps vouchers: {after}"
    );
    assert_eq!(after["tier"], "member");
    assert!(after["expires_at"].as_i64().unwrap() > until + 3_600_000);
}
