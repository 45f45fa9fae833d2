//! The bus between real peers and against a raw libp2p client: goop2 golden lines, duplicates,
//! hostile input, admission, dispatch.

mod chat;
mod harness;
mod http;

use serde_json::json;

use self::harness::{Raw, WAIT, line, pair, start, wait_for};
use crate::event::Event;

/// peer.md §15.1 item 2, exactly.
const GOLDEN_MSG: &str = "{\"type\":\"msg\",\"id\":\"6b0f3a2e-3f7c-4a54-9d8e-2b1f4c9a7e10\",\"seq\":1,\"topic\":\"chat\",\"payload\":{\"content\":\"hello from js\"}}\n";
const GOLDEN_ACK: &str =
    "{\"type\":\"ack\",\"id\":\"6b0f3a2e-3f7c-4a54-9d8e-2b1f4c9a7e10\",\"seq\":1}";

#[tokio::test]
async fn golden_goop2_line_is_acked_exactly_and_stored_as_chat() {
    let b = start("bob").await;
    let node = b.peer.node();
    let mut events = b.peer.events();
    let raw = Raw::connect(&b.peer).await;

    let answer = raw.exchange(GOLDEN_MSG.as_bytes()).await;

    assert_eq!(answer.as_deref(), Some(GOLDEN_ACK.as_bytes()));
    let chat = wait_for(&mut events, |e| match e {
        Event::ChatMessage(c) => Some(c.clone()),
        _ => None,
    })
    .await;
    assert_eq!(
        (chat.content.as_str(), chat.from.as_str()),
        ("hello from js", raw.id.to_base58().as_str())
    );
    let rows = node
        .store
        .list_chat_messages(&raw.id.to_base58(), 50, None)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].msg_id.as_deref(),
        Some("6b0f3a2e-3f7c-4a54-9d8e-2b1f4c9a7e10")
    );
    b.peer.shutdown().await;
}

#[tokio::test]
async fn crlf_terminated_line_is_acked() {
    let b = start("bob").await;
    let raw = Raw::connect(&b.peer).await;
    let crlf = GOLDEN_MSG.replace('\n', "\r\n");

    assert_eq!(
        raw.exchange(crlf.as_bytes()).await.as_deref(),
        Some(GOLDEN_ACK.as_bytes())
    );
    b.peer.shutdown().await;
}

#[tokio::test]
async fn same_id_twice_is_acked_twice_and_dispatched_once() {
    let b = start("bob").await;
    let raw = Raw::connect(&b.peer).await;
    let (_, bytes) = line("app:move", json!({"x": 1}));

    assert!(raw.exchange(&bytes).await.is_some());
    assert!(raw.exchange(&bytes).await.is_some());

    // The duplicate was judged before its ack; only the first dispatch may still be under way.
    let inbox = b.peer.node().mq.inbox();
    testkit::eventually(WAIT, "one queued message", || async {
        (inbox.queued() == 1).then_some(())
    })
    .await;
    assert_eq!(inbox.queued(), 1);
    b.peer.shutdown().await;
}

#[tokio::test]
async fn hostile_lines_are_reset_without_ack_and_store_nothing() {
    let b = start("bob").await;
    let node = b.peer.node();
    let raw = Raw::connect(&b.peer).await;
    let id = "6b0f3a2e-3f7c-4a54-9d8e-2b1f4c9a7e10";
    let mut oversize =
        format!("{{\"type\":\"msg\",\"id\":\"{id}\",\"topic\":\"chat\",\"payload\":\"");
    oversize.push_str(&"x".repeat(crate::mq::wire::MAX_LINE));
    let cases: Vec<Vec<u8>> = vec![
        b"not json\n".to_vec(),
        format!("{{\"type\":\"ack\",\"id\":\"{id}\",\"topic\":\"chat\",\"payload\":{{\"content\":\"a\"}}}}\n").into_bytes(),
        b"{\"type\":\"msg\",\"topic\":\"chat\",\"payload\":{\"content\":\"a\"}}\n".to_vec(),
        format!("{{\"type\":\"msg\",\"id\":\"{id}\",\"payload\":{{\"content\":\"a\"}}}}\n").into_bytes(),
        format!("{{\"type\":\"msg\",\"id\":\"{id}\",\"topic\":\"chat\",\"topic\":\"chat\",\"payload\":{{\"content\":\"a\"}}}}\n").into_bytes(),
        format!("\u{feff}{{\"type\":\"msg\",\"id\":\"{id}\",\"topic\":\"chat\",\"payload\":{{\"content\":\"a\"}}}}\n").into_bytes(),
        oversize.into_bytes(),
    ];

    for case in &cases {
        assert_eq!(
            raw.exchange(case).await,
            None,
            "acked {:.60}",
            String::from_utf8_lossy(case)
        );
    }

    let rows = node
        .store
        .list_chat_messages(&raw.id.to_base58(), 50, None)
        .await
        .unwrap();
    assert!(rows.is_empty());
    assert_eq!(node.mq.inbox().queued(), 0);
    b.peer.shutdown().await;
}

#[tokio::test]
async fn known_namespaces_without_handler_are_acked_and_dropped() {
    let b = start("bob").await;
    let raw = Raw::connect(&b.peer).await;

    for topic in [
        "group:g1:msg",
        "call:abc",
        "realtime:invite",
        "chat.room:g:msg",
        "cluster:g:a:b",
    ] {
        let (_, bytes) = line(topic, json!({}));
        assert!(raw.exchange(&bytes).await.is_some(), "{topic}");
    }

    assert_eq!(b.peer.node().mq.inbox().queued(), 0);
    b.peer.shutdown().await;
}

#[tokio::test]
async fn a_sealed_message_is_acked_dropped_and_reported_undecryptable() {
    let b = start("bob").await;
    let mut events = b.peer.events();
    let raw = Raw::connect(&b.peer).await;
    let (id, bytes) = line("chat", json!({"enc": "c2VhbGVk"}));

    assert!(raw.exchange(&bytes).await.is_some());

    let reported = wait_for(&mut events, |e| match e {
        Event::MqUndecryptable(u) => Some(u.clone()),
        _ => None,
    })
    .await;
    assert_eq!((reported.id, reported.from), (id, raw.id.to_base58()));
    let rows = b
        .peer
        .node()
        .store
        .list_chat_messages(&raw.id.to_base58(), 50, None)
        .await
        .unwrap();
    assert!(rows.is_empty());
    b.peer.shutdown().await;
}

#[tokio::test]
async fn a_burst_beyond_the_rate_limit_is_reset() {
    let b = start("bob").await;
    let raw = Raw::connect(&b.peer).await;
    let started = std::time::Instant::now();

    let mut acked = 0u32;
    for _ in 0..300 {
        let (_, bytes) = line("app", json!(null));
        if raw.exchange(&bytes).await.is_some() {
            acked += 1;
        }
    }

    let refilled = (started.elapsed().as_secs_f64() * 50.0).ceil() as u32;
    assert!(acked >= 100, "only {acked} acked");
    assert!(
        acked <= 100 + refilled,
        "{acked} acked, allowance {}",
        100 + refilled
    );
    assert!(acked < 300, "nothing was rate limited");
    b.peer.shutdown().await;
}

#[tokio::test]
async fn app_messages_flow_both_ways_into_the_listening_inbox() {
    let (a, b) = pair().await;
    let (na, nb) = (a.peer.node(), b.peer.node());
    let (mut ea, mut eb) = (a.peer.events(), b.peer.events());
    let _la = na.mq.inbox().listen(&na.events);
    let _lb = nb.mq.inbox().listen(&nb.events);

    let id = a
        .peer
        .send(b.peer.peer_id(), "app:hello", json!({"n": 1}))
        .await
        .unwrap();
    crate::mq::send(nb, a.peer.peer_id(), "app:hello", json!({"n": 2}))
        .await
        .unwrap();

    let got_b = wait_for(&mut eb, |e| match e {
        Event::MqMessage(m) => Some(m.clone()),
        _ => None,
    })
    .await;
    assert_eq!(got_b.from, a.peer.peer_id().to_base58());
    assert_eq!(got_b.msg["id"], id.as_str());
    assert_eq!(got_b.msg["payload"], json!({"n": 1}));
    let got_a = wait_for(&mut ea, |e| match e {
        Event::MqMessage(m) => Some(m.msg["payload"].clone()),
        _ => None,
    })
    .await;
    assert_eq!(got_a, json!({"n": 2}));
    a.peer.shutdown().await;
    b.peer.shutdown().await;
}

#[tokio::test]
async fn inbox_queues_without_listener_and_replays_on_subscription() {
    let (a, b) = pair().await;
    let nb = b.peer.node();
    for n in 0..3 {
        crate::mq::send(a.peer.node(), b.peer.peer_id(), "app", json!(n))
            .await
            .unwrap();
    }
    testkit::eventually(WAIT, "three queued messages", || async {
        (nb.mq.inbox().queued() == 3).then_some(())
    })
    .await;
    let mut events = b.peer.events();

    let _listening = nb.mq.inbox().listen(&nb.events);

    for n in 0..3 {
        let payload = wait_for(&mut events, |e| match e {
            Event::MqMessage(m) => Some(m.msg["payload"].clone()),
            _ => None,
        })
        .await;
        assert_eq!(payload, json!(n));
    }
    a.peer.shutdown().await;
    b.peer.shutdown().await;
}

#[tokio::test]
async fn send_to_a_peer_without_address_is_unreachable() {
    let a = start("alice").await;

    let error = crate::mq::send(a.peer.node(), libp2p::PeerId::random(), "app", json!(1))
        .await
        .unwrap_err();

    assert!(
        matches!(error, crate::mq::SendError::Unreachable(_)),
        "{error}"
    );
    a.peer.shutdown().await;
}

#[tokio::test]
async fn a_stream_without_a_line_is_reset_after_the_read_deadline() {
    let b = start("bob").await;
    let raw = Raw::connect(&b.peer).await;
    let started = std::time::Instant::now();

    assert_eq!(raw.exchange(b"{\"type\":\"msg\"").await, None);

    assert!(
        started.elapsed() >= crate::mq::READ_TIMEOUT,
        "{:?}",
        started.elapsed()
    );
    b.peer.shutdown().await;
}

/// A raw MQ server answering each of the first `answers.len()` streams: `Some(true)` with the
/// right ack, `Some(false)` with an ack for another id, `None` with a reset. Returns the ids read.
fn serve(raw: &Raw, answers: Vec<Option<bool>>) -> tokio::task::JoinHandle<Vec<crate::mq::MsgId>> {
    use futures::{AsyncWriteExt as _, StreamExt as _};
    let mut incoming = raw.control.clone().accept(crate::mq::PROTOCOL).unwrap();
    tokio::spawn(async move {
        let mut ids = Vec::new();
        for answer in answers {
            let (_, mut stream) = incoming.next().await.unwrap();
            let line = crate::mq::wire::read_line(&mut stream, 4096).await.unwrap();
            let mut msg = crate::mq::wire::parse_msg(&line).unwrap();
            ids.push(msg.id.clone());
            if let Some(right) = answer {
                if !right {
                    msg.id = crate::mq::MsgId::new();
                }
                stream.write_all(&msg.ack_line()).await.unwrap();
                stream.close().await.unwrap();
            }
        }
        ids
    })
}

#[tokio::test]
async fn a_failed_attempt_is_retried_once_with_the_same_id() {
    let a = start("alice").await;
    let raw = Raw::connect(&a.peer).await;
    let server = serve(&raw, vec![None, Some(true)]);

    let id = crate::mq::send(a.peer.node(), raw.id, "app", json!(1))
        .await
        .unwrap();

    assert_eq!(server.await.unwrap(), vec![id.clone(), id]);
    a.peer.shutdown().await;
}

#[tokio::test]
async fn an_ack_for_another_id_is_a_failure() {
    let a = start("alice").await;
    let raw = Raw::connect(&a.peer).await;
    let server = serve(&raw, vec![Some(false), Some(false)]);

    let error = crate::mq::send(a.peer.node(), raw.id, "app", json!(1))
        .await
        .unwrap_err();

    assert!(matches!(error, crate::mq::SendError::Failed(_)), "{error}");
    let ids = server.await.unwrap();
    assert_eq!(ids[0], ids[1]);
    a.peer.shutdown().await;
}

#[tokio::test]
async fn a_remote_beyond_32_open_streams_is_reset() {
    let b = start("bob").await;
    let raw = Raw::connect(&b.peer).await;
    let mut held = Vec::new();
    for _ in 0..crate::mq::PER_REMOTE {
        let stream = raw
            .control
            .clone()
            .open_stream(b.peer.peer_id(), crate::mq::PROTOCOL)
            .await
            .unwrap();
        held.push(stream);
    }
    let (_, bytes) = line("app", json!(1));

    assert_eq!(raw.exchange(&bytes).await, None);

    drop(held);
    testkit::eventually(WAIT, "a free slot", || async {
        let (_, bytes) = line("app", json!(2));
        raw.exchange(&bytes).await
    })
    .await;
    b.peer.shutdown().await;
}

#[tokio::test]
async fn a_caller_without_table_entry_is_asked_for_its_identity() {
    let (a, b) = pair().await;
    let nb = b.peer.node();
    assert!(nb.peers.get(&a.peer.peer_id()).is_none());

    a.peer
        .send(b.peer.peer_id(), "app", json!(1))
        .await
        .unwrap();

    let view = testkit::eventually(WAIT, "alice in bob's table", || async {
        nb.peers.get(&a.peer.peer_id())
    })
    .await;
    assert_eq!(view.label, "alice");
    a.peer.shutdown().await;
    b.peer.shutdown().await;
}
