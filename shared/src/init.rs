//! `<server> init --dir D`: writes a commented config file and a key into a directory. An existing
//! key is never overwritten; an existing config only with `force`.

use std::path::{Path, PathBuf};

use crate::ids::Ed25519PeerId;
use crate::keyfile::KeyFileError;

/// Why `init` failed.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// The config exists and `--force` was not given.
    #[error("{0} exists; pass --force to rewrite the config (the key is never overwritten)")]
    ConfigExists(PathBuf),
    /// A flag value is not acceptable.
    #[error("--{flag}: {reason}")]
    Flag {
        /// The flag without dashes.
        flag: &'static str,
        /// Why.
        reason: String,
    },
    /// Writing failed.
    #[error("{path}: {source}")]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The key file is unusable.
    #[error(transparent)]
    Key(#[from] KeyFileError),
}

/// What `init` produced.
#[derive(Debug)]
pub struct Initialized {
    /// The config file.
    pub config_path: PathBuf,
    /// The node id.
    pub id: Ed25519PeerId,
    /// Whether the key was created now (false: an existing key was kept).
    pub key_created: bool,
}

/// Uncomments `# key = default` lines of an example config: each `(commented line, new line)` pair
/// replaces the first exact match.
pub fn set_lines(example: &str, lines: &[(&str, String)]) -> String {
    lines.iter().fold(example.to_owned(), |text, (from, to)| {
        text.replacen(from, to, 1)
    })
}

/// Checks a value that `init` writes into a TOML basic string.
///
/// # Errors
/// [`InitError::Flag`] for an empty value, more than `max_chars`, quotes, backslashes or line breaks.
pub fn check_toml_text(flag: &'static str, value: &str, max_chars: usize) -> Result<(), InitError> {
    let ok = (1..=max_chars).contains(&value.chars().count())
        && !value.contains(['"', '\\', '\n', '\r']);
    if ok {
        Ok(())
    } else {
        Err(InitError::Flag {
            flag,
            reason: format!("1–{max_chars} characters without quotes, backslashes or line breaks"),
        })
    }
}

/// Writes `dir/<config_name>` with `config_text` and creates `dir/<key_name>` unless present.
///
/// # Errors
/// [`InitError`]; nothing is written when the config exists without `force`.
pub fn write(
    dir: &Path,
    config_name: &str,
    config_text: &str,
    key_name: &str,
    force: bool,
) -> Result<Initialized, InitError> {
    let config_path = dir.join(config_name);
    if config_path.exists() && !force {
        return Err(InitError::ConfigExists(config_path));
    }
    crate::keyfile::create_private_dir(dir).map_err(|source| InitError::Write {
        path: dir.to_owned(),
        source,
    })?;
    let (key, key_created) = crate::keyfile::load_or_create(&dir.join(key_name))?;
    std::fs::write(&config_path, config_text).map_err(|source| InitError::Write {
        path: config_path.clone(),
        source,
    })?;
    Ok(Initialized {
        config_path,
        id: key.public().into(),
        key_created,
    })
}
