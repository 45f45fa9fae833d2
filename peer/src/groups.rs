//! Groups (peer.md §8): host-relayed groups over MQ topics `group:<gid>:<type>`.
//!
//! # Layout
//! - `wire`: the messages of §8.2 and `group.invite`.

pub mod wire;
