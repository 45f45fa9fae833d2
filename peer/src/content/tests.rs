//! The content probe: the line rules, the per-peer limit, and two real peers probing each other.

use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::{Peer, PeerConfig};

fn read(bytes: &[u8]) -> Result<String, ProbeError> {
    futures::executor::block_on(read_line(futures::io::Cursor::new(bytes.to_vec())))
}

#[test]
fn label_line_drops_line_breaks_and_cuts_at_256_bytes_on_a_char_boundary() {
    assert_eq!(label_line("a\nb\rc"), "abc\n");
    let long = label_line(&"é".repeat(200));
    assert_eq!(long.len(), 256 + 1);
    assert!(long.ends_with("é\n"));
    assert_eq!(label_line(""), "\n");
}

#[test]
fn client_reads_one_line_with_either_terminator_or_eof() {
    assert_eq!(read(b"alice\n").unwrap(), "alice");
    assert_eq!(read(b"alice\r\nrest").unwrap(), "alice");
    assert_eq!(read(b"alice").unwrap(), "alice");
    assert_eq!(read(b"\n").unwrap(), "");
    assert_eq!(read(b""), Err(ProbeError::Closed));
    assert_eq!(read(b"\xff\n"), Err(ProbeError::NotUtf8));
}

#[test]
fn client_refuses_a_line_over_4_kib() {
    let mut line = vec![b'x'; MAX_LINE - 1];
    line.push(b'\n');
    assert_eq!(read(&line).unwrap().len(), MAX_LINE - 1);

    let mut long = vec![b'x'; MAX_LINE];
    long.push(b'\n');
    assert_eq!(read(&long), Err(ProbeError::TooLong));
    assert_eq!(read(&vec![b'x'; 100_000]), Err(ProbeError::TooLong));
}

#[test]
fn a_remote_gets_at_most_four_streams_at_once() {
    let per_peer = PerPeer::default();
    let peer = PeerId::random();
    let slots: Vec<Slot> = (0..PER_PEER)
        .map(|_| per_peer.take(peer).unwrap())
        .collect();

    assert!(per_peer.take(peer).is_none());
    assert!(per_peer.take(PeerId::random()).is_some());
    drop(slots);
    assert!(per_peer.take(peer).is_some());
}

#[test]
fn only_failures_before_the_stream_opened_count_as_unreachable() {
    assert!(!ProbeError::OpenTimeout.opened());
    assert!(!ProbeError::Dial(DialError::Unreachable("x".to_owned())).opened());
    assert!(ProbeError::Closed.opened());
    assert!(ProbeError::ReadTimeout.opened());
}

proptest! {
    #[test]
    fn hostile_bytes_never_panic_the_client_and_never_yield_more_than_a_line(
        bytes in proptest::collection::vec(any::<u8>(), 0..9000),
    ) {
        if let Ok(line) = read(&bytes) {
            prop_assert!(line.len() < MAX_LINE);
            prop_assert!(!line.contains('\n'));
        }
    }
}

async fn start(dir: &std::path::Path, label: &str) -> Peer {
    let mut config = PeerConfig::for_tests(dir);
    config.http.enabled = false;
    config.presence.gossip = false;
    config.profile.label = label.to_owned();
    Peer::start(config).await.unwrap()
}

/// Connects `a` to `b` over `b`'s listen addresses.
pub(crate) async fn connect(a: &Peer, b: &Peer) {
    a.node()
        .net
        .dial(
            b.peer_id(),
            b.listen_addrs().to_vec(),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn probe_reads_the_remote_label_and_a_blocked_caller_is_reset() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = start(dir_a.path(), "alice").await;
    let b = start(dir_b.path(), "bob").await;
    connect(&a, &b).await;

    assert_eq!(probe(a.node(), b.peer_id()).await.unwrap(), "bob");

    let now = b.node().clock.now_ms();
    b.node().peers.set_blocked(&a.peer_id(), true, now);
    let refused = probe(a.node(), b.peer_id()).await.unwrap_err();
    assert_eq!(refused, ProbeError::Closed);
    assert!(refused.opened(), "an open stream still proves reachability");
    assert_eq!(probe(b.node(), a.peer_id()).await.unwrap(), "alice");
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn probe_of_a_peer_without_addresses_fails_before_opening() {
    let dir = tempfile::tempdir().unwrap();
    let a = start(dir.path(), "alice").await;

    let error = probe(a.node(), PeerId::random()).await.unwrap_err();

    assert!(matches!(error, ProbeError::Dial(_)), "{error}");
    assert!(!error.opened());
    a.shutdown().await;
}
