//! Hostile traffic (peer.md §14 group rows): a member forging `_from` (see `hosting`), a host
//! that lies about members, traffic from a peer that is not our host, malformed and oversize
//! messages.

use peer::groups::member;
use serde_json::json;

use crate::harness::{connect, create, event, events_before, joined_pair, start, stop};
use crate::hosting::peer_send;

#[tokio::test]
async fn member_lists_that_lie_or_come_from_another_peer_are_dropped() {
    let host = start().await;
    let mut a = start().await;
    let impostor = start().await;
    connect(&a, &host).await;
    connect(&impostor, &a).await;
    let group = create(&host, |_| {}).await;
    member::join(a.peer.node(), host.peer.peer_id(), &group, None)
        .await
        .unwrap();
    let members_topic = format!("group:{group}:members");
    let a_id = a.peer.peer_id().to_base58();

    // The impostor is not our host: its list and its close are dropped.
    let fake =
        json!({"members": [{"peer_id": impostor.peer.peer_id().to_base58(), "role": "owner"}]});
    peer::mq::send(impostor.peer.node(), a.peer.peer_id(), &members_topic, fake)
        .await
        .unwrap();
    let close_topic = format!("group:{group}:close");
    peer::mq::send(
        impostor.peer.node(),
        a.peer.peer_id(),
        &close_topic,
        json!({"type":"close","group":group}),
    )
    .await
    .unwrap();
    // Our host lies: a member listed twice, an invalid PeerId.
    let twice =
        json!({"members": [{"peer_id": a_id, "role": "x"}, {"peer_id": a_id, "role": "y"}]});
    peer::mq::send(host.peer.node(), a.peer.peer_id(), &members_topic, twice)
        .await
        .unwrap();
    let bad = json!({"members": [{"peer_id": "nope", "role": "x"}]});
    peer::mq::send(host.peer.node(), a.peer.peer_id(), &members_topic, bad)
        .await
        .unwrap();
    // Then an honest message proves the earlier ones were processed.
    peer::groups::manage::send(host.peer.node(), &group, &json!({"mark": 1}))
        .await
        .unwrap();
    let before = events_before(&mut a, "msg", &group, |_| true).await;
    assert!(
        before
            .iter()
            .all(|e| e.kind != "members" && e.kind != "close"),
        "{before:?}"
    );
    let subscription = &member::subscriptions(a.peer.node())[0];
    assert_eq!(subscription.member_count, 2);
    stop(vec![a, impostor, host]).await;
}

#[tokio::test]
async fn oversize_and_unknown_messages_get_too_large_or_are_dropped() {
    let (mut host, mut a, group) = joined_pair(|_| {}).await;

    let big = json!({"blob": "x".repeat(70 * 1024)});
    assert!(peer_send(&a, host.peer.peer_id(), &group, big).await);
    let error = event(&mut a, "error", &group, |_| true).await;
    assert_eq!(error.payload.unwrap()["code"], "too_large");

    let unknown = format!("group:{group}:dance");
    peer::mq::send(a.peer.node(), host.peer.peer_id(), &unknown, json!({}))
        .await
        .unwrap();
    let malformed = format!("group:{group}:leave");
    peer::mq::send(
        a.peer.node(),
        host.peer.peer_id(),
        &malformed,
        json!("leave"),
    )
    .await
    .unwrap();
    let error = event(&mut a, "error", &group, |_| true).await;
    assert_eq!(error.payload.unwrap()["code"], "bad_request");
    peer_send(&a, host.peer.peer_id(), &group, json!({"ok": 1})).await;
    let before = events_before(&mut host, "msg", &group, |_| true).await;
    assert!(before.iter().all(|e| e.kind != "leave"), "{before:?}");
    stop(vec![a, host]).await;
}

#[tokio::test]
async fn join_for_an_unknown_group_is_answered_not_found() {
    let host = start().await;
    let a = start().await;
    connect(&a, &host).await;
    let group = peer::groups::GroupId::parse("nosuchgroup").unwrap();
    let refused = member::join(a.peer.node(), host.peer.peer_id(), &group, None)
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, member::JoinError::Refused { code, .. } if code == "not_found"),
        "{refused}"
    );
    stop(vec![a, host]).await;
}

/// A raw libp2p host that is not a goop-peer (rust-libp2p's Identify agent): it answers MQ
/// streams itself, so the test decides every byte it sends.
mod raw {
    use futures::{AsyncReadExt, AsyncWriteExt, StreamExt};
    use libp2p::{Multiaddr, PeerId, Stream, StreamProtocol};
    use serde_json::{Value, json};

    pub(super) const MQ: StreamProtocol = StreamProtocol::new("/goop/mq/1.0.0");

    pub(super) async fn read_line(stream: &mut Stream) -> Value {
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        while stream.read(&mut byte).await.unwrap() == 1 && byte[0] != b'\n' {
            line.push(byte[0]);
        }
        serde_json::from_slice(&line).unwrap()
    }

    /// Sends one MQ message and reads its ack.
    pub(super) async fn send(
        control: &mut libp2p_stream::Control,
        to: PeerId,
        topic: &str,
        payload: Value,
    ) {
        let mut stream = control.open_stream(to, MQ).await.unwrap();
        let id = uuid::Uuid::new_v4().to_string();
        let line = json!({"type":"msg","id":id,"seq":1,"topic":topic,"payload":payload});
        stream
            .write_all(format!("{line}\n").as_bytes())
            .await
            .unwrap();
        stream.flush().await.unwrap();
        let ack = read_line(&mut stream).await;
        assert_eq!(ack["id"], id.as_str());
    }

    /// A listening swarm driven in the background; its stream control and address.
    pub(super) async fn host() -> (PeerId, Multiaddr, libp2p_stream::Control) {
        let mut swarm = testkit::swarm::client();
        swarm
            .listen_on("/ip4/127.0.0.1/tcp/0".parse().unwrap())
            .unwrap();
        let addr = testkit::swarm::pump(
            &mut [&mut swarm],
            std::time::Duration::from_secs(5),
            "listen",
            |_, e| match e {
                libp2p::swarm::SwarmEvent::NewListenAddr { address, .. } => Some(address.clone()),
                _ => None,
            },
        )
        .await;
        let id = *swarm.local_peer_id();
        let control = swarm.behaviour().stream.new_control();
        tokio::spawn(async move {
            loop {
                swarm.select_next_some().await;
            }
        });
        (id, addr, control)
    }
}

#[tokio::test]
async fn author_is_absent_from_a_host_that_is_not_a_goop_peer_and_foreign_to_is_dropped() {
    use futures::{AsyncWriteExt, StreamExt};
    let mut a = start().await;
    let (host, addr, mut control) = raw::host().await;
    let mut incoming = control.accept(raw::MQ).unwrap();
    a.peer
        .node()
        .net
        .dial(host, vec![addr], std::time::Duration::from_secs(5))
        .await
        .unwrap();
    let group = peer::groups::GroupId::parse("g2host").unwrap();
    let node = a.peer.node().clone();
    let joining = {
        let group = group.clone();
        tokio::spawn(async move { member::join(&node, host, &group, None).await })
    };

    let (from, mut stream) = incoming.next().await.unwrap();
    assert_eq!(from, a.peer.peer_id());
    let join = raw::read_line(&mut stream).await;
    assert_eq!(join["topic"], format!("group:{group}:join"));
    assert_eq!(join["payload"], json!({"type":"join","group":"g2host"}));
    let ack = json!({"type":"ack","id":join["id"],"seq":join["seq"]});
    stream
        .write_all(format!("{ack}\n").as_bytes())
        .await
        .unwrap();
    stream.close().await.unwrap();
    let me = a.peer.peer_id().to_base58();
    let welcome = json!({"group_name":"Chess","group_type":"template","max_members":0,"volatile":false,
        "members":[{"peer_id":host.to_base58(),"role":"owner","joined_at":1767225600000_i64},{"peer_id":me,"role":"viewer","joined_at":1767225605000_i64}]});
    raw::send(
        &mut control,
        a.peer.peer_id(),
        &format!("group:{group}:welcome"),
        welcome,
    )
    .await;
    let welcome = joining.await.unwrap().unwrap();
    assert_eq!(welcome.members[1].role, "viewer");
    assert_eq!(member::subscriptions(a.peer.node())[0].row.role, "viewer");

    // goop2 relays a sender-supplied `_from` unchecked: no author from such a host.
    let other = libp2p::PeerId::random().to_base58();
    raw::send(
        &mut control,
        a.peer.peer_id(),
        &format!("group:{group}:msg"),
        json!({"move":"e2e4","_from":other}),
    )
    .await;
    let got = event(&mut a, "msg", &group, |_| true).await;
    assert_eq!(got.author, None);
    assert_eq!(got.from.as_deref(), Some(host.to_base58().as_str()));

    raw::send(
        &mut control,
        a.peer.peer_id(),
        &format!("group:{group}:msg"),
        json!({"secret":1,"_to":other}),
    )
    .await;
    raw::send(
        &mut control,
        a.peer.peer_id(),
        &format!("group:{group}:msg"),
        json!({"last":1}),
    )
    .await;
    let before = events_before(&mut a, "msg", &group, |e| {
        e.payload.as_ref().unwrap().get("last").is_some()
    })
    .await;
    assert!(before.iter().all(|e| e.kind != "msg"), "{before:?}");

    // Our pong answers its ping, in goop2's shape.
    raw::send(
        &mut control,
        a.peer.peer_id(),
        &format!("group:{group}:ping"),
        json!({"type":"ping","group":"g2host"}),
    )
    .await;
    // (The peer also asks the unknown host for its identity: skipped.)
    let pong = loop {
        let (_, mut stream) = incoming.next().await.unwrap();
        let line = raw::read_line(&mut stream).await;
        let ack = json!({"type":"ack","id":line["id"],"seq":line["seq"]});
        let _ = stream.write_all(format!("{ack}\n").as_bytes()).await;
        if line["topic"] != "identity" {
            break line;
        }
    };
    assert_eq!(pong["topic"], format!("group:{group}:pong"));
    assert_eq!(pong["payload"], json!({"type":"pong","group":"g2host"}));
    a.peer.shutdown().await;
}

#[tokio::test]
async fn invitation_naming_another_host_is_dropped() {
    let host = start().await;
    let mut a = start().await;
    let stranger = start().await;
    connect(&a, &host).await;
    connect(&stranger, &a).await;
    let group = create(&host, |g| g.join_policy = Some("invite".into())).await;
    let forged = json!({"group_id": group, "group_name": "Fake",
        "host_peer_id": host.peer.peer_id().to_base58(), "group_type": "chat", "volatile": false});
    peer::mq::send(
        stranger.peer.node(),
        a.peer.peer_id(),
        "group.invite",
        forged,
    )
    .await
    .unwrap();
    peer::mq::send(
        stranger.peer.node(),
        a.peer.peer_id(),
        "group.invite",
        json!("junk"),
    )
    .await
    .unwrap();

    peer::groups::manage::invite(host.peer.node(), &group, a.peer.peer_id())
        .await
        .unwrap();
    let before = events_before(&mut a, "invite", &group, |e| {
        e.from.as_deref() == Some(host.peer.peer_id().to_base58().as_str())
    })
    .await;
    assert!(before.iter().all(|e| e.kind != "invite"), "{before:?}");
    let invites = member::invites(a.peer.node());
    assert_eq!(invites.len(), 1);
    assert_eq!(invites[0].invite.group_name, "Chess");
    stop(vec![a, stranger, host]).await;
}
