//! Our own presence message (peer.md §3.1): what hubs and gossip receive about us.

use libp2p::Multiaddr;
use libp2p::multiaddr::Protocol;
use shared::ids::Ed25519PeerId;
use shared::presence::{MsgType, PresenceMsg};

use crate::node::Node;

/// Addresses announced at most.
pub const MAX_ADDRS: usize = 20;
/// Longest announced address.
pub const MAX_ADDR_LEN: usize = 256;

/// Our message of `kind` (`online`/`update`; `offline` carries only type, peerId and ts).
/// `loopback_ok`: the recipient is a hub on loopback (or the peer runs loopback only), so
/// loopback addresses are useful to it and kept; otherwise they are never announced.
pub async fn own_message(node: &Node, kind: MsgType, loopback_ok: bool) -> PresenceMsg {
    let me = Ed25519PeerId::from(node.key.public());
    let ts = node.clock.now_ms();
    if kind == MsgType::Offline {
        return PresenceMsg::offline(me, ts);
    }
    let status = node.net.status().await.unwrap_or_default();
    let loopback_ok = loopback_ok || node.config.p2p.loopback_only;
    let addrs = announced_addrs(&status.external_addrs, &status.listen_addrs, loopback_ok);
    let profile = &node.config.profile;
    let mut msg = PresenceMsg::offline(me, ts);
    msg.kind = kind;
    msg.content.clone_from(&profile.label);
    msg.email = if profile.publish_email {
        profile.email.clone()
    } else {
        String::new()
    };
    msg.video_disabled = true;
    msg.addrs = addrs;
    msg.goop_client_version = shared::protocol::agent_version(crate::SOFTWARE);
    msg
}

/// The addresses to announce, in the order of peer.md §3.1: confirmed public, circuit (without
/// a trailing `/p2p/<self>`), private LAN; loopback and link-local only when `loopback_ok`;
/// unspecified addresses never; at most [`MAX_ADDRS`], each at most [`MAX_ADDR_LEN`] chars.
pub fn announced_addrs(
    external: &[Multiaddr],
    listen: &[Multiaddr],
    loopback_ok: bool,
) -> Vec<String> {
    let mut public = Vec::new();
    let mut circuit = Vec::new();
    let mut private = Vec::new();
    for addr in external.iter().chain(listen) {
        let addr = strip_own_suffix(addr);
        let class = classify(&addr);
        let list = match class {
            Class::Circuit => &mut circuit,
            Class::Public => &mut public,
            Class::Private => &mut private,
            Class::Loopback if loopback_ok => &mut private,
            Class::Loopback | Class::Unusable => continue,
        };
        let text = addr.to_string();
        if text.len() <= MAX_ADDR_LEN && !list.contains(&text) {
            list.push(text);
        }
    }
    let mut all = public;
    for text in circuit.into_iter().chain(private) {
        if !all.contains(&text) {
            all.push(text);
        }
    }
    all.truncate(MAX_ADDRS);
    all
}

#[derive(Debug, PartialEq, Eq)]
enum Class {
    Public,
    Circuit,
    Private,
    Loopback,
    Unusable,
}

fn classify(addr: &Multiaddr) -> Class {
    if addr.iter().any(|p| matches!(p, Protocol::P2pCircuit)) {
        return match addr.iter().next() {
            Some(Protocol::Ip4(ip)) if ip.is_loopback() => Class::Loopback,
            Some(Protocol::Ip6(ip)) if ip.is_loopback() => Class::Loopback,
            _ => Class::Circuit,
        };
    }
    match addr.iter().next() {
        Some(Protocol::Ip4(ip)) if ip.is_unspecified() => Class::Unusable,
        Some(Protocol::Ip4(ip)) if ip.is_loopback() => Class::Loopback,
        Some(Protocol::Ip4(ip)) if ip.is_link_local() => Class::Unusable,
        Some(Protocol::Ip4(ip)) if ip.is_private() => Class::Private,
        Some(Protocol::Ip6(ip)) if ip.is_unspecified() => Class::Unusable,
        Some(Protocol::Ip6(ip)) if ip.is_loopback() => Class::Loopback,
        Some(Protocol::Ip6(ip)) if ip.is_unicast_link_local() => Class::Unusable,
        Some(Protocol::Ip6(ip)) if ip.is_unique_local() => Class::Private,
        Some(Protocol::Ip4(_) | Protocol::Ip6(_) | Protocol::Dns(_) | Protocol::Dns4(_)) => {
            Class::Public
        }
        Some(Protocol::Dns6(_) | Protocol::Dnsaddr(_)) => Class::Public,
        _ => Class::Unusable,
    }
}

/// A circuit listen address ends in `/p2p-circuit/p2p/<self>`; peers announce it without the
/// final `/p2p/<self>` (goop2 does the same).
fn strip_own_suffix(addr: &Multiaddr) -> Multiaddr {
    let mut addr = addr.clone();
    let circuit = addr.iter().any(|p| matches!(p, Protocol::P2pCircuit));
    if circuit && matches!(addr.iter().last(), Some(Protocol::P2p(_))) {
        addr.pop();
    }
    addr
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(list: &[&str]) -> Vec<Multiaddr> {
        list.iter().map(|a| a.parse().unwrap()).collect()
    }

    #[test]
    fn orders_public_then_circuit_then_private_and_drops_loopback() {
        let relay = libp2p::PeerId::random();
        let me = libp2p::PeerId::random();
        let circuit = format!("/ip4/203.0.113.9/tcp/4001/p2p/{relay}/p2p-circuit");
        let external = addrs(&["/ip4/198.51.100.7/tcp/4001"]);
        let listen = addrs(&[
            "/ip4/127.0.0.1/tcp/4001",
            "/ip4/192.168.1.5/tcp/4001",
            "/ip4/0.0.0.0/tcp/4001",
            "/ip4/169.254.1.1/tcp/4001",
            &format!("{circuit}/p2p/{me}"),
        ]);

        let out = announced_addrs(&external, &listen, false);

        assert_eq!(
            out,
            vec![
                "/ip4/198.51.100.7/tcp/4001".to_owned(),
                circuit,
                "/ip4/192.168.1.5/tcp/4001".to_owned()
            ]
        );
    }

    #[test]
    fn keeps_loopback_only_when_allowed_and_caps_the_count() {
        let listen: Vec<Multiaddr> = (0..30)
            .map(|i| format!("/ip4/127.0.0.1/tcp/{}", 1000 + i).parse().unwrap())
            .collect();
        assert!(announced_addrs(&[], &listen, false).is_empty());
        assert_eq!(announced_addrs(&[], &listen, true).len(), MAX_ADDRS);
    }
}
