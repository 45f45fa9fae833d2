//! The composed libp2p behaviour of the hub.

use libp2p::identity::Keypair;
use libp2p::swarm::NetworkBehaviour;
use libp2p::{identify, ping};

use crate::config::Config;

/// identify protocol version (hub.md §4.1).
const PROTOCOL_VERSION: &str = "goop/1.0.0";

/// Everything the hub speaks over libp2p.
#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    pub(crate) identify: identify::Behaviour,
    pub(crate) ping: ping::Behaviour,
}

impl Behaviour {
    pub(crate) fn new(key: &Keypair, _config: &Config) -> Self {
        let identify = identify::Behaviour::new(
            identify::Config::new(PROTOCOL_VERSION.to_owned(), key.public())
                .with_agent_version(format!("goop-hub/{}", shared::VERSION)),
        );
        Self {
            identify,
            ping: ping::Behaviour::default(),
        }
    }
}
