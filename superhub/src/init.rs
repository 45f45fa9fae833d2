//! `superhub init --dir D`: writes `D/superhub.toml` (from `deploy/superhub.example.toml`, with
//! `data_dir = "."`) and `D/superhub.key`.

use std::path::Path;

use shared::init::{InitError, Initialized};

/// The operator-facing example config; `superhub init` fills in a few of its lines.
pub const EXAMPLE_CONFIG: &str = include_str!("../../deploy/superhub.example.toml");

/// Writes the config and key into `dir`.
///
/// # Errors
/// [`InitError`]; nothing is written for a bad flag.
pub fn init(dir: &Path, name: Option<&str>, force: bool) -> Result<Initialized, InitError> {
    let mut lines = vec![(
        "# data_dir = \"data/superhub\"",
        "data_dir = \".\"".to_owned(),
    )];
    if let Some(name) = name {
        shared::init::check_toml_text("name", name, 64)?;
        lines.push(("# name = \"Goop² directory\"", format!("name = \"{name}\"")));
    }
    let text = shared::init::set_lines(EXAMPLE_CONFIG, &lines);
    shared::init::write(dir, "superhub.toml", &text, "superhub.key", force)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use shared::config::{Overrides, Sources};

    #[test]
    fn init_writes_config_that_loads_with_given_name() {
        let dir = tempfile::tempdir().unwrap();

        let done = init(dir.path(), Some("Example Directory"), false).unwrap();
        let config = Config::load(
            &Sources {
                file: Some(done.config_path),
                env: vec![],
            },
            &Overrides::default(),
        )
        .unwrap();

        assert_eq!(config.superhub.name, "Example Directory");
        assert_eq!(config.superhub.data_dir, dir.path());
        assert_eq!(
            shared::keyfile::load(&config.key_path()).unwrap().public(),
            done.id.public_key()
        );
    }
}
