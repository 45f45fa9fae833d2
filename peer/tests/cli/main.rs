//! The `peer` binary (peer.md §1.4): `init`, `id`, `run`, and the daemon commands' fallbacks,
//! each run as its own process.

mod daemon;
mod init;
mod join;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A data directory under a temporary root (not created yet).
pub(crate) struct DataDir {
    _root: tempfile::TempDir,
    pub(crate) path: PathBuf,
}

impl DataDir {
    pub(crate) fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("data");
        Self { _root: root, path }
    }

    /// `peer --data-dir <dir> <args>`, with no `PEER_*` configuration from the environment
    /// except `env`.
    pub(crate) fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_peer"));
        command.arg("--data-dir").arg(&self.path).args(args);
        for (name, _) in std::env::vars() {
            if name.starts_with("PEER_") || name == "RUST_LOG" {
                command.env_remove(name);
            }
        }
        command.envs(env.iter().copied());
        command
    }

    pub(crate) fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        self.command(args, env).output().unwrap()
    }

    pub(crate) fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[cfg(unix)]
pub(crate) fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}
