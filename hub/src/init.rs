//! `hub init --dir D`: writes `D/hub.toml` (every key present and commented, from
//! `deploy/hub.example.toml`) and `D/hub.key`. An existing key is never overwritten.

use std::path::{Path, PathBuf};

use shared::ids::{Ed25519PeerId, Slug};
use shared::keyfile::KeyFileError;

/// The operator-facing example config; `hub init` fills in a few of its lines.
pub const EXAMPLE_CONFIG: &str = include_str!("../../deploy/hub.example.toml");

/// Why `hub init` failed.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// The config exists and `--force` was not given.
    #[error("{0} exists; pass --force to rewrite the config (the key is never overwritten)")]
    ConfigExists(PathBuf),
    /// The slug is invalid.
    #[error("--slug: {0}")]
    Slug(#[from] shared::ids::ParseSlugError),
    /// The name is empty or longer than 64 characters, or has a quote or newline.
    #[error("--name: 1–64 characters without quotes or line breaks")]
    Name,
    /// Writing failed.
    #[error("{path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The key file is unusable.
    #[error(transparent)]
    Key(#[from] KeyFileError),
}

/// What `hub init` produced.
#[derive(Debug)]
pub struct Initialized {
    /// The config file.
    pub config_path: PathBuf,
    /// The hub id.
    pub id: Ed25519PeerId,
    /// Whether the key was created now (false: an existing key was kept).
    pub key_created: bool,
}

/// Writes the config and key into `dir`.
///
/// # Errors
/// [`InitError`].
pub fn init(dir: &Path, name: Option<&str>, slug: Option<&str>, force: bool) -> Result<Initialized, InitError> {
    let config_path = dir.join("hub.toml");
    if config_path.exists() && !force {
        return Err(InitError::ConfigExists(config_path));
    }
    let mut text = EXAMPLE_CONFIG.replace("# data_dir = \"data/hub\"", "data_dir = \".\"");
    if let Some(name) = name {
        let ok = (1..=64).contains(&name.chars().count()) && !name.contains(['"', '\\', '\n', '\r']);
        if !ok {
            return Err(InitError::Name);
        }
        text = text.replace("# name = \"Goop² community\"", &format!("name = \"{name}\""));
    }
    if let Some(slug) = slug {
        let slug = Slug::parse(slug)?;
        text = text.replace("# slug = \"community\"", &format!("slug = \"{slug}\""));
    }
    shared::keyfile::create_private_dir(dir).map_err(|source| InitError::Write {
        path: dir.to_owned(),
        source,
    })?;
    let (key, key_created) = shared::keyfile::load_or_create(&dir.join("hub.key"))?;
    std::fs::write(&config_path, text).map_err(|source| InitError::Write {
        path: config_path.clone(),
        source,
    })?;
    Ok(Initialized {
        config_path,
        id: key.public().into(),
        key_created,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Overrides};
    use shared::config::Sources;

    #[test]
    fn init_writes_config_that_loads_with_given_name_and_slug() {
        let dir = tempfile::tempdir().unwrap();

        let done = init(dir.path(), Some("Go Developers"), Some("go-developers"), false).unwrap();
        let config = Config::load(&Sources { file: Some(done.config_path), env: vec![] }, &Overrides::default()).unwrap();

        assert!(done.key_created);
        assert_eq!(config.hub.name, "Go Developers");
        assert_eq!(config.hub.slug.as_str(), "go-developers");
        assert_eq!(config.hub.data_dir, dir.path());
        assert_eq!(shared::keyfile::load(&config.key_path()).unwrap().public(), done.id.public_key());
    }

    #[test]
    fn init_keeps_key_when_forced_to_rewrite_config() {
        let dir = tempfile::tempdir().unwrap();
        let first = init(dir.path(), None, None, false).unwrap();

        let refused = init(dir.path(), None, None, false);
        let second = init(dir.path(), Some("Renamed"), None, true).unwrap();

        assert!(matches!(refused, Err(InitError::ConfigExists(_))));
        assert!(!second.key_created);
        assert_eq!(first.id, second.id);
    }

    #[test]
    fn init_refuses_bad_slug_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();

        let err = init(dir.path(), None, Some("Not A Slug"), false);

        assert!(matches!(err, Err(InitError::Slug(_))));
        assert!(!dir.path().join("hub.toml").exists());
        assert!(!dir.path().join("hub.key").exists());
    }
}
