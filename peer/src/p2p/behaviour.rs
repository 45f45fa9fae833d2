//! The peer's libp2p behaviour (peer.md §2): connection limits, relay client, Identify, Ping,
//! DCUtR, AutoNAT (client), GossipSub and raw streams for the `/goop/*` protocols.

use std::time::Duration;

use libp2p::identity::Keypair;
use libp2p::swarm::NetworkBehaviour;
use libp2p::{autonat, connection_limits, dcutr, gossipsub, identify, ping, relay};

use crate::config::P2pConfig;

/// GossipSub topic of presence gossip (peer.md §6).
pub const PRESENCE_TOPIC: &str = "goop.presence.v1";
/// Largest gossip message sent or received (peer.md §6).
const GOSSIP_MAX_TRANSMIT: usize = 64 * 1024;
/// Connections per remote peer (peer.md §2).
const MAX_PER_PEER: u32 = 4;
/// Connections being set up, each direction (peer.md §2).
const MAX_PENDING: u32 = 64;

/// Everything the peer's swarm runs.
#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    pub(crate) limits: connection_limits::Behaviour,
    pub(crate) relay: relay::client::Behaviour,
    pub(crate) identify: identify::Behaviour,
    pub(crate) ping: ping::Behaviour,
    pub(crate) dcutr: dcutr::Behaviour,
    pub(crate) autonat: autonat::Behaviour,
    pub(crate) gossipsub: gossipsub::Behaviour,
    pub(crate) stream: libp2p_stream::Behaviour,
    pub(crate) inbound: super::inbound::Behaviour,
}

impl Behaviour {
    /// Builds the behaviour for `key`.
    ///
    /// # Errors
    /// The GossipSub configuration error (never with these constants).
    pub(crate) fn new(
        key: &Keypair,
        relay: relay::client::Behaviour,
        config: &P2pConfig,
        inbound: super::Inbound,
    ) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let peer_id = key.public().to_peer_id();
        let limits = connection_limits::ConnectionLimits::default()
            .with_max_established(Some(config.max_connections))
            .with_max_established_per_peer(Some(MAX_PER_PEER))
            .with_max_pending_incoming(Some(MAX_PENDING))
            .with_max_pending_outgoing(Some(MAX_PENDING));
        let identify = identify::Behaviour::new(
            identify::Config::new(
                shared::protocol::IDENTIFY_PROTOCOL_VERSION.to_owned(),
                key.public(),
            )
            .with_agent_version(shared::protocol::agent_version(crate::SOFTWARE))
            .with_push_listen_addr_updates(true),
        );
        let ping = ping::Behaviour::new(
            ping::Config::new()
                .with_interval(Duration::from_secs(15))
                .with_timeout(Duration::from_secs(20)),
        );
        // Client only: serving dial-backs to others is not the peer's job (peer.md §2).
        let autonat = autonat::Behaviour::new(
            peer_id,
            autonat::Config {
                throttle_clients_global_max: 0,
                throttle_clients_peer_max: 0,
                ..autonat::Config::default()
            },
        );
        let gossip_config = gossipsub::ConfigBuilder::default()
            .validation_mode(gossipsub::ValidationMode::Strict)
            .max_transmit_size(GOSSIP_MAX_TRANSMIT)
            .message_id_fn(go_message_id)
            .build()?;
        let gossipsub = gossipsub::Behaviour::new(
            gossipsub::MessageAuthenticity::Signed(key.clone()),
            gossip_config,
        )?;
        Ok(Self {
            limits: connection_limits::Behaviour::new(limits),
            relay,
            identify,
            ping,
            dcutr: dcutr::Behaviour::new(peer_id),
            autonat,
            gossipsub,
            stream: libp2p_stream::Behaviour::new(),
            inbound: super::inbound::Behaviour::new(inbound),
        })
    }
}

/// go-libp2p-pubsub's default message id: the source's raw PeerId bytes followed by the 8-byte
/// big-endian sequence number (peer.md §6), so IHAVE/IWANT with goop2 match.
pub(crate) fn go_message_id(message: &gossipsub::Message) -> gossipsub::MessageId {
    let mut id = message.source.map(|p| p.to_bytes()).unwrap_or_default();
    id.extend_from_slice(&message.sequence_number.unwrap_or(0).to_be_bytes());
    gossipsub::MessageId::new(&id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_id_is_source_bytes_then_big_endian_seqno() {
        let source = libp2p::PeerId::random();
        let message = gossipsub::Message {
            source: Some(source),
            data: b"x".to_vec(),
            sequence_number: Some(0x0102_0304_0506_0708),
            topic: gossipsub::IdentTopic::new(PRESENCE_TOPIC).hash(),
        };
        let mut expected = source.to_bytes();
        expected.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(go_message_id(&message).0, expected);
    }
}
