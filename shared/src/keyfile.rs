//! The node key file: an Ed25519 libp2p key in libp2p's protobuf encoding (the format goop2 uses),
//! mode 0600 in a 0700 directory. An existing file is never replaced, whatever its state.

use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use libp2p::identity::{Keypair, ed25519};

/// Why the key file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The file exists but cannot be read.
    #[error("key file {path}: cannot read: {source}")]
    Read {
        /// The key file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The file is not a protobuf-encoded libp2p private key.
    #[error("key file {path}: not a libp2p protobuf private key (corrupt?); it is left untouched")]
    Corrupt {
        /// The key file.
        path: PathBuf,
    },
    /// A valid libp2p key of another type.
    #[error("key file {path}: the key is not Ed25519; it is left untouched")]
    NotEd25519 {
        /// The key file.
        path: PathBuf,
    },
    /// The file (or its directory) could not be created.
    #[error("key file {path}: cannot create: {source}")]
    Write {
        /// The key file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

/// Loads an existing key file.
///
/// # Errors
/// [`KeyFileError::Read`], [`KeyFileError::Corrupt`] or [`KeyFileError::NotEd25519`].
pub fn load(path: &Path) -> Result<ed25519::Keypair, KeyFileError> {
    let bytes = fs::read(path).map_err(|source| KeyFileError::Read {
        path: path.to_owned(),
        source,
    })?;
    let key = Keypair::from_protobuf_encoding(&bytes).map_err(|_| KeyFileError::Corrupt {
        path: path.to_owned(),
    })?;
    key.try_into_ed25519()
        .map_err(|_| KeyFileError::NotEd25519 {
            path: path.to_owned(),
        })
}

/// Loads the key file, or creates a new key there if no file exists. Returns the key and whether it
/// was created.
///
/// # Errors
/// As [`load`] for an existing file; [`KeyFileError::Write`] when creating fails.
pub fn load_or_create(path: &Path) -> Result<(ed25519::Keypair, bool), KeyFileError> {
    match fs::symlink_metadata(path) {
        Ok(_) => load(path).map(|key| (key, false)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => create(path).map(|key| (key, true)),
        Err(source) => Err(KeyFileError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Creates a new key file; fails if one exists.
///
/// The key is written to a temporary file, synced, and hard-linked into place, so a crash never
/// leaves a half-written key under `path` and a racing writer can never be overwritten.
///
/// # Errors
/// [`KeyFileError::Write`], including when `path` already exists.
pub fn create(path: &Path) -> Result<ed25519::Keypair, KeyFileError> {
    let write_err = |source| KeyFileError::Write {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_private_dir(dir).map_err(write_err)?;
    }
    let key = ed25519::Keypair::generate();
    let encoded = Keypair::from(key.clone())
        .to_protobuf_encoding()
        .expect("invariant: ed25519 keys encode");
    let tmp = path.with_extension("key.tmp");
    let _ = fs::remove_file(&tmp);
    let result = (|| {
        let mut file = private_file_options().open(&tmp)?;
        file.write_all(&encoded)?;
        file.sync_all()?;
        fs::hard_link(&tmp, path)
    })();
    let _ = fs::remove_file(&tmp);
    result.map_err(write_err)?;
    Ok(key)
}

/// Creates `dir` and its parents; directories created here get mode 0700.
///
/// # Errors
/// The I/O error of the failing step.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

fn private_file_options() -> fs::OpenOptions {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_created_once_and_reloaded_when_file_missing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/hub.key");

        let (created, was_new) = load_or_create(&path).unwrap();
        let (loaded, again_new) = load_or_create(&path).unwrap();

        assert!(was_new);
        assert!(!again_new);
        assert_eq!(created.public(), loaded.public());
    }

    #[cfg(unix)]
    #[test]
    fn key_file_is_private_when_created() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data/hub.key");

        create(&path).unwrap();

        let file_mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        let dir_mode = fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(file_mode, 0o600);
        assert_eq!(dir_mode, 0o700);
    }

    #[test]
    fn corrupt_key_is_refused_and_left_untouched_when_loading() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub.key");
        fs::write(&path, b"not a key").unwrap();

        let err = load_or_create(&path).unwrap_err();

        assert!(matches!(err, KeyFileError::Corrupt { .. }), "{err}");
        assert_eq!(fs::read(&path).unwrap(), b"not a key");
    }

    #[test]
    fn create_fails_when_key_exists() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub.key");
        let first = create(&path).unwrap();

        let err = create(&path).unwrap_err();

        assert!(matches!(err, KeyFileError::Write { .. }));
        assert_eq!(load(&path).unwrap().public(), first.public());
    }
}
