//! What the MQ tests share: two real peers connected over loopback, a raw libp2p client
//! (`testkit::swarm`) that writes lines of its choice, and waiting on events.

use std::sync::Arc;
use std::time::Duration;

use futures::{AsyncWriteExt as _, StreamExt as _};
use libp2p::PeerId;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::SwarmEvent;
use tokio::sync::broadcast;

use crate::event::{Event, Numbered};
use crate::mq::wire::{self, PROTOCOL};
use crate::{Peer, PeerConfig};

pub(crate) const WAIT: Duration = Duration::from_secs(10);

/// A started peer and its data directory.
pub(crate) struct Started {
    pub(crate) peer: Peer,
    _dir: tempfile::TempDir,
}

pub(crate) async fn start(label: &str) -> Started {
    let dir = tempfile::tempdir().unwrap();
    let mut config = PeerConfig::for_tests(dir.path());
    config.profile.label = label.to_owned();
    Started {
        peer: Peer::start(config).await.unwrap(),
        _dir: dir,
    }
}

/// Two peers with a connection between them.
pub(crate) async fn pair() -> (Started, Started) {
    let (a, b) = (start("alice").await, start("bob").await);
    a.peer
        .node()
        .net
        .dial(b.peer.peer_id(), b.peer.listen_addrs().to_vec(), WAIT)
        .await
        .unwrap();
    (a, b)
}

/// The first event matching `pick` within [`WAIT`].
pub(crate) async fn wait_for<T>(
    rx: &mut broadcast::Receiver<Arc<Numbered>>,
    mut pick: impl FnMut(&Event) -> Option<T>,
) -> T {
    tokio::time::timeout(WAIT, async {
        loop {
            if let Ok(numbered) = rx.recv().await
                && let Some(value) = pick(&numbered.event)
            {
                return value;
            }
        }
    })
    .await
    .expect("event within the deadline")
}

/// A raw libp2p client connected to a peer; its swarm is driven by a test task.
pub(crate) struct Raw {
    pub(crate) id: PeerId,
    pub(crate) control: libp2p_stream::Control,
    target: PeerId,
    driver: tokio::task::JoinHandle<()>,
}

impl Drop for Raw {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

impl Raw {
    pub(crate) async fn connect(target: &Peer) -> Self {
        let mut swarm = testkit::swarm::client();
        let id = *swarm.local_peer_id();
        let control = swarm.behaviour().stream.new_control();
        let addr = target.listen_addrs()[0]
            .clone()
            .with(Protocol::P2p(target.peer_id()));
        swarm.dial(addr).unwrap();
        let want = target.peer_id();
        testkit::swarm::pump(&mut [&mut swarm], WAIT, "connection", |_, event| {
            matches!(event, SwarmEvent::ConnectionEstablished { peer_id, .. } if *peer_id == want)
                .then_some(())
        })
        .await;
        let driver = tokio::spawn(async move {
            loop {
                swarm.select_next_some().await;
            }
        });
        let net = &target.node().net;
        testkit::eventually(WAIT, "the peer sees the raw client", || async {
            net.is_connected(id).await.ok().filter(|up| *up)
        })
        .await;
        Self {
            id,
            control,
            target: want,
            driver,
        }
    }

    /// Writes `bytes` on a new MQ stream and returns the answer line, or `None` when the peer
    /// reset or closed the stream without one.
    pub(crate) async fn exchange(&self, bytes: &[u8]) -> Option<Vec<u8>> {
        let mut stream = self
            .control
            .clone()
            .open_stream(self.target, PROTOCOL)
            .await
            .ok()?;
        // An oversize write may fail half way once the peer resets: the answer decides.
        let _ = stream.write_all(bytes).await;
        let _ = stream.flush().await;
        let answer = tokio::time::timeout(WAIT, wire::read_line(&mut stream, 4096))
            .await
            .expect("answer or reset within the deadline");
        answer.ok()
    }
}

/// A `msg` line with a fresh id, `\n` included.
pub(crate) fn line(topic: &str, payload: serde_json::Value) -> (String, Vec<u8>) {
    let msg = wire::Msg {
        id: wire::MsgId::new(),
        seq: 1,
        topic: topic.to_owned(),
        payload,
    };
    (msg.id.to_string(), msg.to_line())
}

/// A PeerId nobody uses (Ed25519, as the local API requires).
pub(crate) fn random_peer() -> PeerId {
    libp2p::identity::Keypair::generate_ed25519()
        .public()
        .to_peer_id()
}
