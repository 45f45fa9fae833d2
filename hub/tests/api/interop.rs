//! Interoperability with js-libp2p 3.x (hub.md §18 check 10): a Node peer reserves on the hub relay
//! and pings a Rust peer through the circuit. The Node side lives in `tests/js` and is installed
//! by `scripts/test` (`npm ci`).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use hub::config::Policy;
use libp2p::Multiaddr;
use serde_json::Value;
use testkit::swarm::{circuit_addr, client, pump};
use testkit::{TestDb, TestHub};
use tokio::io::{AsyncBufReadExt as _, BufReader};

fn js_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/js")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_libp2p_node_reserves_and_pings_a_rust_peer_through_the_hub_relay() {
    let dir = js_dir();
    assert!(
        dir.join("node_modules/libp2p").is_dir(),
        "tests/js/node_modules is missing: run the suite with `scripts/test`, which runs `npm ci --prefix tests/js`"
    );
    let hub = TestHub::spawn_with(&TestDb::sqlite(), |config| {
        config.relay.reservations = Policy::Any;
        config.relay.circuit_sources = Policy::Any;
    })
    .await;
    let hub_addr: Multiaddr = hub.p2p_addr();
    let mut rust_peer = client();
    let rust_id = *rust_peer.local_peer_id();
    testkit::swarm::reserve(&mut rust_peer, &hub)
        .await
        .expect("Rust peer reserves");

    let mut node = tokio::process::Command::new("node")
        .current_dir(&dir)
        .args(["--import", "./polyfill.mjs", "relay-ping.mjs"])
        .arg(hub_addr.to_string())
        .arg(circuit_addr(&hub_addr, rust_id).to_string())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node is installed (Node 20)");
    let mut lines = BufReader::new(node.stdout.take().unwrap()).lines();
    let mut events = Vec::new();
    let read_all = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let event: Value =
                serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line}"));
            let done = event["event"] != "reserved";
            events.push(event);
            if done {
                break;
            }
        }
    };
    // The Rust peer must keep being polled to answer the ping that arrives through the circuit.
    let mut swarms = [&mut rust_peer];
    let drive = pump(
        &mut swarms,
        Duration::from_secs(40),
        "the js ping",
        |_, _| None::<()>,
    );
    tokio::select! {
        () = read_all => {}
        () = drive => {}
    }

    assert_eq!(
        events.first().map(|e| e["event"].clone()),
        Some("reserved".into()),
        "{events:?}"
    );
    assert_eq!(
        events.last().map(|e| e["event"].clone()),
        Some("ping".into()),
        "{events:?}"
    );
    assert!(
        events[0]["addrs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a.as_str().unwrap().contains("/p2p-circuit"))
    );
    assert_eq!(node.wait().await.unwrap().code(), Some(0));
}
