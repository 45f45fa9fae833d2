//! The names the Goop² network speaks on libp2p (hub.md §4): the identify protocol version, the
//! software names in agent strings and info documents, and the stream protocols of more than one
//! crate.

use libp2p::StreamProtocol;

/// identify protocol version every Goop² node announces (hub.md §4.1).
pub const IDENTIFY_PROTOCOL_VERSION: &str = "goop/1.0.0";

/// The hub's software name: identify agent `goop-hub/<version>` and `software.name`.
pub const HUB_SOFTWARE: &str = "goop-hub";

/// The super hub's software name in `software.name`.
pub const SUPERHUB_SOFTWARE: &str = "goop-superhub";

/// `/goop/hub/voucher/1.0.0`: a peer presents its membership voucher to the hub (hub.md §4.5).
pub const VOUCHER: StreamProtocol = StreamProtocol::new("/goop/hub/voucher/1.0.0");

/// `/goop/relay-refresh/1.0.0`: the hub asks a peer to refresh its relay reservation (outbound
/// from the hub only).
pub const RELAY_REFRESH: StreamProtocol = StreamProtocol::new("/goop/relay-refresh/1.0.0");

/// The identify agent version of `software` at this workspace's version, e.g. `goop-hub/0.1.0`.
pub fn agent_version(software: &str) -> String {
    format!("{software}/{}", crate::VERSION)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_version_joins_software_and_version_with_a_slash() {
        assert_eq!(
            agent_version(HUB_SOFTWARE),
            format!("goop-hub/{}", env!("CARGO_PKG_VERSION"))
        );
    }
}
