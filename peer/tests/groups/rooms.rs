//! Chat rooms (peer.md §8.8): lines through the host, history for joiners, forged authors.

use peer::groups::{member, rooms};
use serde_json::json;

use crate::harness::{connect, create, event, events_before, start, stop};

#[tokio::test]
async fn room_lines_reach_other_members_and_joiners_get_the_history() {
    let mut host = start().await;
    let a = start().await;
    let mut b = start().await;
    let c = start().await;
    for peer in [&a, &b, &c] {
        connect(peer, &host).await;
    }
    let group = create(&host, |g| g.group_type = "chat".into()).await;
    member::join(a.peer.node(), host.peer.peer_id(), &group, None)
        .await
        .unwrap();
    member::join(b.peer.node(), host.peer.peer_id(), &group, None)
        .await
        .unwrap();

    let line = rooms::say(a.peer.node(), &group, "hello room")
        .await
        .unwrap();
    let got = event(&mut b, "msg", &group, |_| true).await;
    assert_eq!(got.payload.as_ref().unwrap()["text"], "hello room");
    assert_eq!(got.payload.unwrap()["id"], line.id.as_str());
    event(&mut host, "msg", &group, |_| true).await;

    // A forges B as author: the host drops it; a later honest line arrives first.
    let forged = json!({"action":"msg","message":{"id":"1-forged","from":b.peer.peer_id().to_base58(),"from_name":"b","text":"forged","timestamp":1}});
    let topic = format!("chat.room:{group}:msg");
    peer::mq::send(a.peer.node(), host.peer.peer_id(), &topic, forged)
        .await
        .unwrap();
    rooms::say(host.peer.node(), &group, "from host")
        .await
        .unwrap();
    let before = events_before(&mut b, "msg", &group, |e| {
        e.payload.as_ref().unwrap()["text"] == "from host"
    })
    .await;
    assert!(before.iter().all(|e| e.kind != "msg"), "{before:?}");

    member::join(c.peer.node(), host.peer.peer_id(), &group, None)
        .await
        .unwrap();
    crate::hosting::peer_testkit_eventually(|| {
        rooms::state(c.peer.node())
            .first()
            .is_some_and(|r| r.messages.len() == 2)
    })
    .await;
    let texts: Vec<String> = rooms::state(c.peer.node())[0]
        .messages
        .iter()
        .map(|l| l.text.clone())
        .collect();
    assert_eq!(texts, ["hello room", "from host"]);
    assert!(rooms::say(a.peer.node(), &group, "").await.is_err());
    stop(vec![a, b, c, host]).await;
}
