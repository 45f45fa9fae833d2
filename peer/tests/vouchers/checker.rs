//! `Checker::check` (peer.md §3.7) on vouchers real hubs issued: every refusal code, the info
//! document cache, and revocations read by the poll and announced to hosts.

use std::time::Duration;

use peer::hub_url::HubUrl;
use peer::vouchers::VoucherRefusal;
use serde_json::json;
use testkit::TestPeer;

use super::{DEADLINE, admin_json, info_reads, member_voucher, open_hub, start_peer, voucher_of};

fn url(base: &str) -> HubUrl {
    HubUrl::parse(base).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_admits_member_vouchers_reading_the_info_document_once() {
    let (hub, _db) = open_hub(|_| {}).await;
    let (host, _dir) = start_peer(|_| {}).await;
    let (member, voucher) = member_voucher(&hub).await;
    let (other, other_voucher) = member_voucher(&hub).await;
    let before = info_reads(&hub).await;

    for _ in 0..3 {
        let admission = host
            .node()
            .vouchers
            .check(member.peer_id(), &voucher, &url(&hub.base_url))
            .await
            .unwrap();
        assert_eq!(admission.tier, "member");
        assert!(
            admission.exp_ms - admission.iat_ms >= 3_600_000,
            "{admission:?}"
        );
    }
    host.node()
        .vouchers
        .check(other.peer_id(), &other_voucher, &url(&hub.base_url))
        .await
        .unwrap();

    assert_eq!(info_reads(&hub).await - before, 1);
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_answers_the_code_of_the_first_failing_row() {
    let (hub, _db) = open_hub(|_| {}).await;
    let (other_hub, _other_db) = open_hub(|_| {}).await;
    let (paid_hub, _paid_db) = open_hub(|c| c.membership.access = hub::members::Access::Paid).await;
    let (future_hub, _future_db) =
        open_hub(|c| c.clock.advance(Duration::from_secs(2 * 86_400))).await;
    let (host, _dir) = start_peer(|_| {}).await;
    let community = url(&hub.base_url);
    let (member, voucher) = member_voucher(&hub).await;
    let (stranger, other_voucher) = member_voucher(&other_hub).await;
    let (guest, guest_voucher) = member_voucher(&paid_hub).await;
    let (early, early_voucher) = member_voucher(&future_hub).await;
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        url(&format!("http://{}", listener.local_addr().unwrap()))
    };
    let checker = &host.node().vouchers;
    let code = |result: Result<_, VoucherRefusal>| result.map(|_| ()).map_err(|r| r.code());

    assert_eq!(
        code(checker.check(member.peer_id(), "a.b.c", &community).await),
        Err("voucher_invalid")
    );
    assert_eq!(
        code(
            checker
                .check(TestPeer::new().peer_id(), &voucher, &community)
                .await
        ),
        Err("voucher_invalid"),
        "presented by another peer"
    );
    assert_eq!(
        code(
            checker
                .check(early.peer_id(), &early_voucher, &community)
                .await
        ),
        Err("voucher_expired"),
        "not valid before two days from now"
    );
    assert_eq!(
        code(checker.check(member.peer_id(), &voucher, &dead).await),
        Err("voucher_unverifiable")
    );
    assert_eq!(
        code(
            checker
                .check(stranger.peer_id(), &other_voucher, &community)
                .await
        ),
        Err("voucher_wrong_community")
    );
    assert_eq!(
        code(
            checker
                .check(guest.peer_id(), &guest_voucher, &url(&paid_hub.base_url))
                .await
        ),
        Err("voucher_guest")
    );
    assert_eq!(
        code(checker.check(member.peer_id(), &voucher, &community).await),
        Ok(())
    );
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_refetches_the_info_document_once_on_a_mismatch() {
    let (hub, _db) = open_hub(|_| {}).await;
    let (other_hub, _other_db) = open_hub(|_| {}).await;
    let clock = shared::clock::Clock::system();
    let host_clock = clock.clone();
    let (host, _dir) = start_peer(move |c| c.clock = host_clock).await;
    let community = url(&hub.base_url);
    let (member, voucher) = member_voucher(&hub).await;
    let (stranger, other_voucher) = member_voucher(&other_hub).await;
    let checker = &host.node().vouchers;
    let reads = || info_reads(&hub);
    let start = reads().await;
    checker
        .check(member.peer_id(), &voucher, &community)
        .await
        .unwrap();
    let wrong = || checker.check(stranger.peer_id(), &other_voucher, &community);

    assert_eq!(wrong().await, Err(VoucherRefusal::WrongCommunity));
    assert_eq!(
        reads().await - start,
        1,
        "a document just read is not read again"
    );
    clock.advance(Duration::from_secs(61));
    assert_eq!(wrong().await, Err(VoucherRefusal::WrongCommunity));
    assert_eq!(
        reads().await - start,
        2,
        "a mismatch reads an older document once more"
    );
    assert_eq!(wrong().await, Err(VoucherRefusal::WrongCommunity));
    assert_eq!(reads().await - start, 2);
    clock.advance(Duration::from_secs(3600));
    checker
        .check(member.peer_id(), &voucher, &community)
        .await
        .unwrap();
    assert_eq!(
        reads().await - start,
        3,
        "an hour later the document is read again"
    );
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_voucher_is_announced_at_the_next_poll_and_refused() {
    let hub_clock = shared::clock::Clock::system();
    let clock = hub_clock.clone();
    let (hub, _db) = open_hub(move |c| c.clock = clock).await;
    let (host, _dir) = start_peer(|c| c.groups.revocation_poll_secs = 1).await;
    let community = url(&hub.base_url);
    let (member, voucher) = member_voucher(&hub).await;
    let (other, other_voucher) = member_voucher(&hub).await;
    let checker = &host.node().vouchers;
    checker
        .check(member.peer_id(), &voucher, &community)
        .await
        .unwrap();
    let mut revoked = checker.revoked();

    admin_json(
        &hub,
        "/vouchers/revoke",
        &json!({"peer_id": member.id.to_string()}),
    )
    .await;

    let notice = tokio::time::timeout(DEADLINE, revoked.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(notice.community, community);
    assert_eq!(notice.peer, member.peer_id());
    assert_eq!(
        checker.check(member.peer_id(), &voucher, &community).await,
        Err(VoucherRefusal::Invalid)
    );
    // Only vouchers issued before the revocation are void.
    checker
        .check(other.peer_id(), &other_voucher, &community)
        .await
        .unwrap();
    hub_clock.advance(Duration::from_secs(2));
    let fresh = voucher_of(&hub, &member).await;
    checker
        .check(member.peer_id(), &fresh, &community)
        .await
        .unwrap();
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_made_before_the_host_started_is_read_at_the_first_check() {
    let (hub, _db) = open_hub(|_| {}).await;
    let (member, voucher) = member_voucher(&hub).await;
    admin_json(
        &hub,
        "/vouchers/revoke",
        &json!({"peer_id": member.id.to_string()}),
    )
    .await;
    let (host, _dir) = start_peer(|_| {}).await;

    assert_eq!(
        host.node()
            .vouchers
            .check(member.peer_id(), &voucher, &url(&hub.base_url))
            .await,
        Err(VoucherRefusal::Invalid)
    );
    host.shutdown().await;
}

/// A community URL whose server answers every request with `body`.
async fn answering(body: &'static [u8]) -> HubUrl {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(move || async move { body });
    tokio::spawn(async move { axum::serve(listener, app).await });
    url(&format!("http://{addr}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_community_answering_garbage_or_oversized_documents_is_unverifiable() {
    static HUGE: std::sync::LazyLock<Vec<u8>> = std::sync::LazyLock::new(|| {
        let mut body = br#"{"slug":"go","pad":""#.to_vec();
        body.resize(400 * 1024, b'x');
        body.extend_from_slice(br#""}"#);
        body
    });
    let (hub, _db) = open_hub(|_| {}).await;
    let (host, _dir) = start_peer(|_| {}).await;
    let (member, voucher) = member_voucher(&hub).await;

    for community in [
        answering(b"<html>not json</html>").await,
        answering(br#"{"id":"x","slug":"go","http_url":"http://h"}"#).await,
        answering(&HUGE).await,
    ] {
        assert_eq!(
            host.node()
                .vouchers
                .check(member.peer_id(), &voucher, &community)
                .await,
            Err(VoucherRefusal::Unverifiable),
            "{community}"
        );
    }
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_garbage_revocation_list_is_skipped_and_admits_by_the_voucher_alone() {
    let (hub, _db) = open_hub(|_| {}).await;
    let (host, _dir) = start_peer(|c| c.groups.revocation_poll_secs = 1).await;
    let (member, voucher) = member_voucher(&hub).await;
    let info: &'static str = hub.get("/api/v1/info").await.text().await.unwrap().leak();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let community = url(&format!("http://{}", listener.local_addr().unwrap()));
    let app = axum::Router::new()
        .route(
            "/api/v1/info",
            axum::routing::get(move || async move { info }),
        )
        .fallback(|| async { r#"{"revocations":"all","now":"soon"}"# });
    tokio::spawn(async move { axum::serve(listener, app).await });

    let admitted = host
        .node()
        .vouchers
        .check(member.peer_id(), &voucher, &community)
        .await;

    assert_eq!(admitted.map(|a| a.tier), Ok("member".to_owned()));
    host.shutdown().await;
}

/// peer.md §15.3 check 5: vouchers the community's own key signed, but with `alg` `HS256`, a
/// wrong `aud` or another hub's `hub_url`, are refused; the untouched one is admitted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_refuses_hs256_a_wrong_audience_and_another_hubs_url_even_when_the_hub_signed_them() {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;

    let mut key_path = None;
    let (hub, _db) = open_hub(|c| key_path = Some(c.key_path())).await;
    let (other_hub, _other_db) = open_hub(|_| {}).await;
    let hub_key = shared::keyfile::load(&key_path.unwrap()).unwrap();
    let (host, _dir) = start_peer(|_| {}).await;
    let community = url(&hub.base_url);
    let (member, voucher) = member_voucher(&hub).await;
    let claims = shared::voucher::verify(&voucher, &Default::default()).unwrap();
    let resigned = |change: &dyn Fn(&mut shared::voucher::Claims)| {
        let mut claims = claims.clone();
        change(&mut claims);
        shared::voucher::sign(&hub_key, &claims).unwrap()
    };
    let payload = voucher.split('.').nth(1).unwrap();
    let header = B64.encode(
        json!({"alg": "HS256", "typ": "JWT", "kid": claims.iss})
            .to_string()
            .as_bytes(),
    );
    let hs256 = format!("{header}.{payload}.{}", B64.encode([7u8; 32]));
    let audience = resigned(&|c| c.aud = "goop-other".to_owned());
    let elsewhere = resigned(&|c| c.hub_url = other_hub.base_url.clone());
    let same = resigned(&|_| {});
    let checker = &host.node().vouchers;
    let code = |result: Result<_, VoucherRefusal>| result.map(|_| ()).map_err(|r| r.code());

    assert_eq!(
        code(checker.check(member.peer_id(), &hs256, &community).await),
        Err("voucher_invalid")
    );
    assert_eq!(
        code(checker.check(member.peer_id(), &audience, &community).await),
        Err("voucher_invalid")
    );
    assert_eq!(
        code(
            checker
                .check(member.peer_id(), &elsewhere, &community)
                .await
        ),
        Err("voucher_wrong_community")
    );
    assert_eq!(
        code(checker.check(member.peer_id(), &same, &community).await),
        Ok(()),
        "re-signed unchanged by the community's key"
    );
    host.shutdown().await;
}
