//! `peer init` (peer.md §1.2–§1.4): creates the data directory (0700), `peer.toml` with every key
//! commented (from `deploy/peer.example.toml`) and `identity.key` (0600). A data directory that
//! already holds either file is refused unless `force_config`, which rewrites only the config.

use std::path::{Path, PathBuf};

use shared::ids::Ed25519PeerId;

use crate::IDENTITY_FILE;

/// The commented configuration `peer init` writes.
pub const EXAMPLE_CONFIG: &str = include_str!("../../deploy/peer.example.toml");

/// File name of the configuration inside the data directory.
pub const CONFIG_FILE: &str = "peer.toml";

/// Why `peer init` failed.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// The directory already holds an identity or a config.
    #[error(
        "{0} is already initialised; pass --force-config to rewrite peer.toml (the key is never touched)"
    )]
    AlreadyInitialised(PathBuf),
    /// Writing the directory, the config or the key failed.
    #[error(transparent)]
    Write(#[from] shared::init::InitError),
    /// The config could not be made private.
    #[error("{path}: {source}")]
    Permissions {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// What `init` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Initialized {
    /// Our PeerId.
    pub peer_id: Ed25519PeerId,
    /// Whether the identity was created now (false: an existing one was kept).
    pub key_created: bool,
}

/// Initialises `data_dir`; see the module doc.
///
/// # Errors
/// [`InitError`]; nothing is written when the directory is already initialised.
pub fn init(data_dir: &Path, force_config: bool) -> Result<Initialized, InitError> {
    let initialised = data_dir.join(IDENTITY_FILE).exists() || data_dir.join(CONFIG_FILE).exists();
    if initialised && !force_config {
        return Err(InitError::AlreadyInitialised(data_dir.to_owned()));
    }
    let done = shared::init::write(data_dir, CONFIG_FILE, EXAMPLE_CONFIG, IDENTITY_FILE, true)?;
    // The config may hold verification tokens: private like the key.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&done.config_path, std::fs::Permissions::from_mode(0o600))
            .map_err(|source| InitError::Permissions {
                path: done.config_path.clone(),
                source,
            })?;
    }
    Ok(Initialized {
        peer_id: done.id,
        key_created: done.key_created,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::Value;
    use shared::config::Sources;

    use super::*;
    use crate::PeerConfig;

    /// The `key = value` lines of `section` in the example, still commented.
    fn commented_keys(section: &str) -> Vec<String> {
        let mut inside = false;
        let mut keys = Vec::new();
        for line in EXAMPLE_CONFIG.lines() {
            if line.starts_with('[') {
                inside = line == format!("[{section}]");
            } else if inside
                && let Some(rest) = line.strip_prefix("# ")
                && let Some((key, _)) = rest.split_once(" = ")
            {
                keys.push(key.to_owned());
            }
        }
        keys
    }

    #[test]
    fn example_config_lists_every_key_in_its_section() {
        let defaults = serde_json::to_value(PeerConfig::default()).unwrap();
        for (section, keys) in defaults.as_object().unwrap() {
            let listed = commented_keys(section);
            for key in keys.as_object().unwrap().keys() {
                assert!(
                    listed.contains(key),
                    "{section}.{key} is missing from deploy/peer.example.toml"
                );
            }
        }
    }

    #[test]
    fn example_config_loads_to_defaults_when_every_key_is_uncommented() {
        let text: String = EXAMPLE_CONFIG
            .lines()
            .map(|line| match line.strip_prefix("# ") {
                Some(rest) if rest.contains(" = ") => format!("{rest}\n"),
                _ => format!("{line}\n"),
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CONFIG_FILE);
        std::fs::write(&path, text).unwrap();

        let loaded = PeerConfig::load(&Sources {
            file: Some(path),
            env: vec![],
        })
        .unwrap();

        let value = |c: &PeerConfig| serde_json::to_value(c).unwrap();
        assert_eq!(value(&loaded), value(&PeerConfig::default()));
        assert!(matches!(value(&loaded), Value::Object(_)));
    }

    #[test]
    fn init_is_refused_the_second_time_and_force_config_keeps_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let first = init(&data, false).unwrap();
        assert!(first.key_created);
        let key = std::fs::read(data.join(IDENTITY_FILE)).unwrap();
        std::fs::write(data.join(CONFIG_FILE), "[profile]\nlabel = \"x\"\n").unwrap();

        assert!(matches!(
            init(&data, false),
            Err(InitError::AlreadyInitialised(_))
        ));
        let again = init(&data, true).unwrap();

        assert_eq!(again.peer_id, first.peer_id);
        assert!(!again.key_created);
        assert_eq!(std::fs::read(data.join(IDENTITY_FILE)).unwrap(), key);
        assert_eq!(
            std::fs::read_to_string(data.join(CONFIG_FILE)).unwrap(),
            EXAMPLE_CONFIG
        );
    }
}
