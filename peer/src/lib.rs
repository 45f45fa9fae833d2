//! The Goop² peer (`docs/spec/peer.md`): a lean client that takes part in several hubs at once.
//! [`Peer`] is the library handle; the `peer` binary and the local HTTP API are thin layers over
//! it.
//!
//! # Layout
//! - `config`: `peer.toml` ([`PeerConfig`]); `hub_url`: a hub's normalised base URL.
//! - `node`: [`Peer`] (start, shutdown) and [`Node`], the context every subsystem shares.
//! - `p2p`: the libp2p node ([`p2p::Net`] handle, event loop).
//! - `peers`: the merged peer table; `event`: the event bus; `hubs`: the hub registry.
//! - `membership`: joining a community (`peer join`, §3.6) and its voucher.
//! - `presence`: our own presence message; `dial`: reaching a peer; `relay`: relay
//!   reservations and `/goop/relay-refresh`.
//! - `gossip`: presence gossip; `content`: the reachability probe protocol.
//! - `groups`: groups and chat rooms (§8).
//! - `mq`: the message bus (`/goop/mq/1.0.0`) and its topic dispatch; `chat`: direct chat;
//!   `identity`: the identity exchange.
//! - `vouchers`: checking other peers' vouchers (group hosts) and revocation polling.
//! - `store`: `peer.db`; `init`: `peer init` (the commented `peer.toml`).
//!
//! ```
//! let dir = tempfile::tempdir().unwrap();
//! let (id, created) = peer::load_or_create_identity(dir.path()).unwrap();
//! assert!(created);
//! assert_eq!(peer::load_or_create_identity(dir.path()).unwrap(), (id, false));
//! ```

#![warn(missing_docs)]

pub mod chat;
pub mod config;
pub mod content;
pub mod dial;
pub mod event;
pub mod gossip;
pub mod groups;
mod http;
pub mod hub_url;
pub mod hubs;
pub mod identity;
pub mod init;
pub mod membership;
pub mod mq;
mod node;
pub mod p2p;
pub mod peers;
pub mod presence;
pub mod relay;
pub mod store;
pub mod vouchers;

use std::path::{Path, PathBuf};

use shared::ids::Ed25519PeerId;
use shared::keyfile::KeyFileError;

pub use config::PeerConfig;
pub use node::{Node, Peer, SHUTDOWN_TIMEOUT, StartError};

/// The peer's software name: identify agent `goop-peer/<version>`, `goopClientVersion`.
pub const SOFTWARE: &str = "goop-peer";

/// File name of the identity key inside the data directory (peer.md §1.2).
pub const IDENTITY_FILE: &str = "identity.key";

/// The data directory: `$PEER_DATA_DIR`, else `$XDG_DATA_HOME/goop-peer`, else
/// `~/.local/share/goop-peer`; `None` when none of these variables is set.
pub fn default_data_dir(env: impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    if let Some(dir) = env("PEER_DATA_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = env("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return Some(Path::new(&dir).join("goop-peer"));
    }
    env("HOME")
        .filter(|d| !d.is_empty())
        .map(|home| Path::new(&home).join(".local/share/goop-peer"))
}

/// Loads the identity in `data_dir`, creating it (mode 0600, directory 0700) when missing.
/// Returns the PeerId and whether the key was created now.
///
/// # Errors
/// [`KeyFileError`] for an unreadable or corrupt key, which is never replaced.
pub fn load_or_create_identity(data_dir: &Path) -> Result<(Ed25519PeerId, bool), KeyFileError> {
    let (key, created) = shared::keyfile::load_or_create(&data_dir.join(IDENTITY_FILE))?;
    Ok((key.public().into(), created))
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_dir_prefers_peer_data_dir_then_xdg_then_home() {
        let vars = |set: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                set.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };

        assert_eq!(
            default_data_dir(vars(&[("PEER_DATA_DIR", "/p"), ("HOME", "/h")])),
            Some("/p".into())
        );
        assert_eq!(
            default_data_dir(vars(&[("XDG_DATA_HOME", "/x"), ("HOME", "/h")])),
            Some("/x/goop-peer".into())
        );
        assert_eq!(
            default_data_dir(vars(&[("HOME", "/h")])),
            Some("/h/.local/share/goop-peer".into())
        );
        assert_eq!(default_data_dir(vars(&[])), None);
    }

    #[test]
    fn identity_is_refused_and_kept_when_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(IDENTITY_FILE), b"junk").unwrap();

        assert!(load_or_create_identity(dir.path()).is_err());
        assert_eq!(
            std::fs::read(dir.path().join(IDENTITY_FILE)).unwrap(),
            b"junk"
        );
    }
}
