//! `GET /relay` and `/api/capabilities` (hub.md §5.9): the relay described in goop2's keys.

use serde_json::Value;

use super::open_hub;

#[tokio::test]
async fn relay_endpoint_describes_the_relay_in_goop2_keys() {
    let hub = open_hub(|_| {}).await;

    let relay: Value = hub.get("/relay").await.json().await.unwrap();
    let caps: Value = hub.get("/api/capabilities").await.json().await.unwrap();

    let keys: Vec<&str> = relay
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 7);
    for key in [
        "peer_id",
        "addrs",
        "cleanup_delay_sec",
        "poll_deadline_sec",
        "connect_timeout_sec",
        "refresh_interval_sec",
        "recovery_grace_sec",
    ] {
        assert!(relay.get(key).is_some(), "{key} missing from {relay}");
    }
    assert_eq!(relay["peer_id"], hub.server().peer_id().to_string());
    assert!(
        relay["addrs"][0]
            .as_str()
            .unwrap()
            .ends_with(&format!("/p2p/{}", hub.server().peer_id()))
    );
    assert!(
        caps.as_object().unwrap().values().all(Value::is_boolean),
        "{caps}"
    );
    assert_eq!(caps["relay"], true);
    assert_eq!(caps["registration"], false);
}

#[tokio::test]
async fn relay_endpoint_answers_404_when_relay_is_disabled() {
    let hub = open_hub(|c| c.relay.enabled = false).await;

    let response = hub.get("/relay").await;

    assert_eq!(response.status(), 404);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"]["code"],
        "relay_disabled"
    );
}
