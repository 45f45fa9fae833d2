//! `hub init --dir D`: writes `D/hub.toml` (every key present and commented, from
//! `deploy/hub.example.toml`, with `data_dir = "."`) and `D/hub.key`.

use std::path::Path;

use shared::ids::Slug;
use shared::init::{InitError, Initialized};

/// The operator-facing example config; `hub init` fills in a few of its lines.
pub const EXAMPLE_CONFIG: &str = include_str!("../../deploy/hub.example.toml");

/// The flags of `hub init`: those of every server plus the slug.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    #[command(flatten)]
    common: shared::cli::InitArgs,
    /// Community slug.
    #[arg(long)]
    slug: Option<String>,
}

impl InitArgs {
    /// Runs [`init`] with these flags.
    ///
    /// # Errors
    /// [`InitError`]; nothing is written for a bad flag.
    pub fn run(&self) -> Result<Initialized, InitError> {
        let shared::cli::InitArgs { dir, name, force } = &self.common;
        init(dir, name.as_deref(), self.slug.as_deref(), *force)
    }
}

/// Writes the config and key into `dir`.
///
/// # Errors
/// [`InitError`]; nothing is written for a bad flag.
pub fn init(
    dir: &Path,
    name: Option<&str>,
    slug: Option<&str>,
    force: bool,
) -> Result<Initialized, InitError> {
    let mut lines = vec![("# data_dir = \"data/hub\"", "data_dir = \".\"".to_owned())];
    if let Some(name) = name {
        shared::init::check_toml_text("name", name, 64)?;
        lines.push(("# name = \"Goop² community\"", format!("name = \"{name}\"")));
    }
    if let Some(slug) = slug {
        let slug = Slug::parse(slug).map_err(|e| InitError::Flag {
            flag: "slug",
            reason: e.to_string(),
        })?;
        lines.push(("# slug = \"community\"", format!("slug = \"{slug}\"")));
    }
    let text = shared::init::set_lines(EXAMPLE_CONFIG, &lines);
    shared::init::write(dir, "hub.toml", &text, "hub.key", force)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use shared::config::{Overrides, Sources};

    #[test]
    fn init_writes_config_that_loads_with_given_name_and_slug() {
        let dir = tempfile::tempdir().unwrap();

        let done = init(
            dir.path(),
            Some("Go Developers"),
            Some("go-developers"),
            false,
        )
        .unwrap();
        let config = Config::load(
            &Sources {
                file: Some(done.config_path),
                env: vec![],
            },
            &Overrides::default(),
        )
        .unwrap();

        assert!(done.key_created);
        assert_eq!(config.hub.name, "Go Developers");
        assert_eq!(config.hub.slug.as_str(), "go-developers");
        assert_eq!(config.hub.data_dir, dir.path());
        assert_eq!(
            shared::keyfile::load(&config.key_path()).unwrap().public(),
            done.id.public_key()
        );
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
    fn init_refuses_bad_flags_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();

        let bad_slug = init(dir.path(), None, Some("Not A Slug"), false);
        let bad_name = init(dir.path(), Some("say \"hi\""), None, false);

        assert!(matches!(
            bad_slug,
            Err(InitError::Flag { flag: "slug", .. })
        ));
        assert!(matches!(
            bad_name,
            Err(InitError::Flag { flag: "name", .. })
        ));
        assert!(!dir.path().join("hub.toml").exists());
        assert!(!dir.path().join("hub.key").exists());
    }
}
