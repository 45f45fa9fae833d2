//! Vouchers presented to a hub relay as circuit source (peer.md §3.5 rule 8): S is a member of
//! hub A only; X is reachable only through the relay of hub B, which admits only members (or
//! holders of vouchers it trusts) as sources. S reaches X through B after B accepted A's voucher.

use hub::config::{JoinMode, MailTransportKind, Policy};
use libp2p::PeerId;
use peer::hub_url::HubUrl;
use peer::membership::JoinOptions;
use peer::{Peer, PeerConfig};
use tempfile::TempDir;
use testkit::{SmtpSink, TestDb, TestHub};

use super::{DEADLINE, open_hub, start_peer};

fn options() -> JoinOptions {
    JoinOptions {
        wait: DEADLINE,
        ..JoinOptions::default()
    }
}

/// Confirms the link mailed to `to` as its owner would.
async fn confirm(hub: &TestHub, sink: &SmtpSink, to: &str) {
    let mail = testkit::eventually(DEADLINE, "the join mail", || async {
        sink.messages().into_iter().find(|m| m.to == [to])
    })
    .await;
    let (status, body, _) = hub.verify(&testkit::verify_token(mail.body())).await;
    assert_eq!(status, 200, "{body}");
}

/// What the tests need alive.
struct Setup {
    b: TestHub,
    source: Peer,
    target: Peer,
    _keep: (TestHub, TestDb, TestDb, TempDir, TempDir, SmtpSink),
}

/// Hub A (no relay, open), hub B (email join mode, a relay taking `reservations` and only
/// members as circuit sources, trusting A's vouchers when `trust_a`), the target X behind NAT
/// joined to both (reserved at B), the source S joined to A with B in its registry, once S sees
/// X's circuit address through B.
async fn setup(trust_a: bool, reservations: Policy) -> Setup {
    let (a, db_a) = open_hub(|c| c.relay.enabled = false).await;
    let issuer = a.hub_id();
    let sink = SmtpSink::start().await;
    let smtp = sink.url();
    let (b, db_b) = open_hub(move |c| {
        c.membership.join_mode = JoinMode::Email;
        c.email.transport = MailTransportKind::Smtp;
        c.email.smtp_url = Some(smtp.into());
        c.relay.reservations = reservations;
        c.relay.circuit_sources = Policy::Members;
        if trust_a {
            c.relay.trusted_voucher_issuers = vec![issuer];
        }
    })
    .await;
    let (url_a, url_b) = (
        HubUrl::parse(&a.base_url).unwrap(),
        HubUrl::parse(&b.base_url).unwrap(),
    );
    let fast = |c: &mut PeerConfig| c.hubs.membership_reread_secs = 1;
    let (target, dir_x) = start_peer(|c| {
        fast(c);
        c.p2p.listen = false;
    })
    .await;
    let join = target.join_hub(
        &url_b,
        JoinOptions {
            email: Some("x@example.org".to_owned()),
            ..options()
        },
    );
    let (joined, ()) = tokio::join!(join, confirm(&b, &sink, "x@example.org"));
    joined.unwrap();
    testkit::eventually(DEADLINE, "X reserved at B", || async {
        target
            .node()
            .hubs
            .get(&url_b)
            .filter(|v| v.relay_state == "reserved")
    })
    .await;
    target.join_hub(&url_a, options()).await.unwrap();
    let b_text = b.base_url.clone();
    // Neither peer listens, so X cannot dial S either: a connection needs a circuit through B.
    let (source, dir_s) = start_peer(move |c| {
        fast(c);
        c.p2p.listen = false;
        c.hubs.urls = vec![b_text];
    })
    .await;
    source.join_hub(&url_a, options()).await.unwrap();
    let relay_b = b.server().peer_id();
    testkit::eventually(
        DEADLINE,
        "S sees X's circuit through B and B's relay",
        || async {
            let through_b = source
                .node()
                .peers
                .addrs(&target.peer_id())
                .iter()
                .any(|a| a.to_string().contains(&format!("{relay_b}/p2p-circuit")));
            let b_known = source
                .node()
                .hubs
                .get(&url_b)
                .is_some_and(|v| v.relay.is_some() && !v.circuit_source_allowed());
            (through_b && b_known).then_some(())
        },
    )
    .await;
    Setup {
        b,
        source,
        target,
        _keep: (a, db_a, db_b, dir_x, dir_s, sink),
    }
}

fn accepted(peer: &Peer, relay: &PeerId) -> bool {
    peer.node()
        .circuit_vouchers
        .accepted(relay, peer.node().clock.now_ms())
}

/// S reaches X through B's circuit, after B accepted A's voucher (not before).
async fn opens_a_circuit_after_presenting(s: Setup) {
    let relay_b = s.b.server().peer_id();
    assert!(!accepted(&s.source, &relay_b));

    peer::dial::connect(s.source.node(), s.target.peer_id())
        .await
        .unwrap();

    assert!(accepted(&s.source, &relay_b), "B accepted A's voucher");
    s.source.shutdown().await;
    s.target.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_of_another_hub_opens_a_circuit_after_presenting_its_voucher() {
    opens_a_circuit_after_presenting(setup(true, Policy::Members).await).await;
}

/// B takes anyone's reservation, so S may reserve there, but admits only members as sources: S
/// still presents its voucher before the circuit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_open_to_reservations_still_gets_the_voucher_of_a_source() {
    opens_a_circuit_after_presenting(setup(true, Policy::Any).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn circuits_through_a_relay_that_refuses_every_voucher_are_skipped() {
    let s = setup(false, Policy::Members).await;
    let relay_b = s.b.server().peer_id();

    let error = peer::dial::connect(s.source.node(), s.target.peer_id())
        .await
        .unwrap_err();

    assert!(!accepted(&s.source, &relay_b));
    assert!(
        !error.to_string().contains("circuit:"),
        "no circuit was tried: {error}"
    );
    s.source.shutdown().await;
    s.target.shutdown().await;
}
