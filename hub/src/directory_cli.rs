//! `hub record` and `hub decommission` (hub.md §11.3–11.4, §16): offline commands on the data
//! directory's key and database. `record` prints a freshly signed record envelope; `decommission`
//! marks the hub decommissioned (so it announces itself nowhere), then posts a signed tombstone
//! to every configured super hub; `--revert` clears the mark. Exit codes: 0 ok, 1 error (also a
//! super hub that refused the tombstone on every try: the local mark stays set), 2 usage.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use shared::config::LoadConfigError;
use shared::db::{ConnectError, StoreError};
use shared::envelope::Envelope;
use shared::ids::Ed25519PeerId;
use shared::keyfile::KeyFileError;

use crate::config::Config;
use crate::directory::{DECOMMISSIONED_AT, Directory, IssueError, MAX_REASON_CHARS, Withdrawal};
use crate::store::Store;

/// Exit status: usage (no `--yes`, a reason too long).
const EXIT_USAGE: u8 = 2;

/// `hub decommission`: leave every configured super hub.
#[derive(Debug, Clone, clap::Args)]
pub struct DecommissionArgs {
    /// Confirm that the community leaves every configured super hub.
    #[arg(long)]
    pub yes: bool,
    /// Why, published in the tombstone (at most 200 characters).
    #[arg(long, default_value = "")]
    pub reason: String,
    /// Undo: clear the mark, so the hub announces itself again at its next start.
    #[arg(long, conflicts_with_all = ["yes", "reason"])]
    pub revert: bool,
    /// The first retry delay in milliseconds (tests shorten it).
    #[arg(long, hide = true, default_value_t = 2000)]
    pub retry_base_ms: u64,
}

/// Why a directory command failed.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryCliError {
    /// The configuration could not be loaded.
    #[error(transparent)]
    Config(#[from] LoadConfigError),
    /// The hub key is missing or unreadable.
    #[error(transparent)]
    Key(#[from] KeyFileError),
    /// The database could not be opened.
    #[error(transparent)]
    Database(#[from] ConnectError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No record or tombstone could be signed.
    #[error(transparent)]
    Issue(#[from] IssueError),
    /// Bad input: nothing was changed.
    #[error("{0}")]
    Usage(String),
}

/// The hub's directory as seen from the data dir: its key, database and configured addresses.
async fn open(config: &Config) -> Result<(Directory, Store), DirectoryCliError> {
    let key = shared::keyfile::load(&config.key_path())?;
    let id = Ed25519PeerId::from(key.public());
    let configured = config.external_addrs_for(&id.peer_id())?;
    let addrs = if configured.is_empty() {
        config.p2p.listen_addrs.clone()
    } else {
        configured
    };
    let addrs: Vec<_> = addrs
        .iter()
        .map(|a| crate::p2p::with_peer_id(a, id.peer_id()))
        .collect();
    let http_url = config.http.external_url(config.http.bind);
    let info = crate::http::info_document(config, &id, &addrs, &http_url);
    let store = Store::open(&config.database, &config.hub.data_dir).await?;
    let directory = Directory::new(Arc::new(config.clone()), store.clone(), key, Arc::new(info));
    Ok((directory, store))
}

/// Signs a new record envelope (`hub record`).
///
/// # Errors
/// [`DirectoryCliError`].
pub async fn record(config: &Config) -> Result<Envelope, DirectoryCliError> {
    let (directory, store) = open(config).await?;
    let envelope = directory.current_record().await;
    store.close().await;
    Ok(envelope?)
}

/// Marks the hub decommissioned, then posts a tombstone with `reason` to every configured super
/// hub, retrying after `retry_base`, twice that and four times that.
///
/// # Errors
/// [`DirectoryCliError`]; `Usage` for a reason over 200 characters (nothing changed then).
pub async fn decommission(
    config: &Config,
    reason: &str,
    retry_base: Duration,
) -> Result<Withdrawal, DirectoryCliError> {
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(DirectoryCliError::Usage(format!(
            "--reason: at most {MAX_REASON_CHARS} characters"
        )));
    }
    let (directory, store) = open(config).await?;
    let outcome = async {
        let now = directory.now_ms();
        store
            .upsert_state(DECOMMISSIONED_AT, &now.to_string(), now)
            .await?;
        Ok(directory.withdraw(reason, retry_base).await?)
    }
    .await;
    store.close().await;
    outcome
}

/// Clears the decommissioned mark; whether it was set.
///
/// # Errors
/// [`DirectoryCliError`].
pub async fn revert(config: &Config) -> Result<bool, DirectoryCliError> {
    let store = Store::open(&config.database, &config.hub.data_dir).await?;
    let cleared = store.delete_state(DECOMMISSIONED_AT).await;
    store.close().await;
    Ok(cleared?)
}

/// `hub record`: prints the envelope as JSON.
///
/// # Errors
/// [`DirectoryCliError`].
pub async fn print_record(
    config: Result<Config, LoadConfigError>,
) -> Result<(), DirectoryCliError> {
    let envelope = record(&config?).await?;
    println!(
        "{}",
        serde_json::to_string_pretty(&envelope).expect("invariant: an envelope serializes")
    );
    Ok(())
}

/// `hub decommission`: runs [`decommission`] or [`revert`] and reports; the exit code of §16.
pub async fn run(args: DecommissionArgs, config: Result<Config, LoadConfigError>) -> ExitCode {
    if !args.yes && !args.revert {
        eprintln!(
            "hub: decommissioning withdraws this community from every configured super hub; \
             run again with --yes to confirm (or --revert to undo)"
        );
        return ExitCode::from(EXIT_USAGE);
    }
    let config = match config {
        Ok(config) => config,
        Err(error) => return shared::cli::report("hub", Err(error.into())),
    };
    if args.revert {
        return match revert(&config).await {
            Ok(true) => {
                println!(
                    "decommissioning reverted: the hub announces itself again at its next start"
                );
                ExitCode::SUCCESS
            }
            Ok(false) => {
                println!("the hub was not decommissioned");
                ExitCode::SUCCESS
            }
            Err(error) => shared::cli::report("hub", Err(error.into())),
        };
    }
    let retry_base = Duration::from_millis(args.retry_base_ms);
    match decommission(&config, &args.reason, retry_base).await {
        Ok(withdrawal) => {
            println!("decommissioned (tombstone seq {})", withdrawal.seq);
            for url in &withdrawal.accepted {
                println!("withdrawn from {url}");
            }
            for refusal in &withdrawal.refused {
                eprintln!(
                    "hub: {} did not accept the tombstone: {}",
                    refusal.url, refusal.error
                );
            }
            if withdrawal.refused.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(DirectoryCliError::Usage(message)) => {
            eprintln!("hub: {message}");
            ExitCode::from(EXIT_USAGE)
        }
        Err(error) => shared::cli::report("hub", Err(error.into())),
    }
}
