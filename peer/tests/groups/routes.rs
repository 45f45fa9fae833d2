//! The §11.3 group routes through the real local API listener.

use serde_json::{Value, json};

use crate::harness::{Node, connect, event, start, stop};

async fn post(node: &Node, path: &str, body: Value) -> (u16, Value) {
    let url = format!("http://{}{path}", node.peer.http_addr().unwrap());
    let answer = reqwest::Client::new()
        .post(url)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or(Value::Null))
}

async fn get(node: &Node, path: &str) -> Value {
    let url = format!("http://{}{path}", node.peer.http_addr().unwrap());
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn groups_are_created_joined_used_and_closed_through_the_local_api() {
    let host = start().await;
    let mut a = start().await;
    connect(&a, &host).await;
    let (status, created) = post(
        &host,
        "/api/groups",
        json!({"name": "Room", "group_type": "chat", "host_joined": true}),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    let gid = created["id"].as_str().unwrap().to_owned();
    let group = peer::groups::GroupId::parse(&gid).unwrap();
    let host_id = host.peer.peer_id().to_base58();

    let (status, welcome) = post(
        &a,
        "/api/groups/join",
        json!({"host_peer_id": host_id, "group_id": gid}),
    )
    .await;
    assert_eq!(status, 200, "{welcome}");
    assert_eq!(welcome["group_name"], "Room");
    let hosted = get(&host, "/api/groups").await;
    assert_eq!(hosted[0]["members"].as_array().unwrap().len(), 2);
    let subs = get(&a, "/api/groups/subscriptions").await;
    assert_eq!(subs["subscriptions"][0]["member_count"], 2);
    assert_eq!(subs["subscriptions"][0]["connected"], true);

    let (status, _) = post(
        &a,
        "/api/groups/send",
        json!({"group_id": gid, "payload": {"t": 1}}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = post(
        &a,
        "/api/groups/join",
        json!({"host_peer_id": host_id, "group_id": "nope"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("not_found"))
    );
    let (status, body) = post(
        &host,
        "/api/groups/kick",
        json!({"group_id": gid, "peer_id": "bad"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_peer_id"))
    );
    let (status, body) = post(
        &host,
        "/api/groups",
        json!({"name": "x", "group_type": "Bad"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_field"))
    );
    let (status, body) = post(&host, "/api/groups/leave-own", json!({"group_id": gid})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("members_remain"))
    );

    let (status, _) = post(&host, "/api/groups/close", json!({"group_id": gid})).await;
    assert_eq!(status, 200);
    event(&mut a, "close", &group, |_| true).await;
    assert_eq!(get(&host, "/api/groups").await, json!([]));
    let (status, _) = post(&host, "/api/groups/close", json!({"group_id": gid})).await;
    assert_eq!(status, 404);
    stop(vec![a, host]).await;
}

#[tokio::test]
async fn group_events_stream_carries_group_events_only() {
    let host = start().await;
    let url = format!(
        "http://{}/api/groups/events",
        host.peer.http_addr().unwrap()
    );
    let mut answer = reqwest::get(url).await.unwrap();
    assert_eq!(answer.status(), 200);
    let (status, created) = post(
        &host,
        "/api/groups",
        json!({"name": "R", "group_type": "chat", "host_joined": true}),
    )
    .await;
    assert_eq!(status, 200);
    let gid = created["id"].as_str().unwrap().to_owned();
    post(
        &host,
        "/api/groups/state",
        json!({"group_id": gid, "state": {"board": 1}}),
    )
    .await;
    let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), answer.chunk())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&chunk);
    assert!(
        text.starts_with("event: state\ndata: {\"type\":\"state\""),
        "{text}"
    );
    assert!(text.contains(&gid), "{text}");
    host.peer.shutdown().await;
}
