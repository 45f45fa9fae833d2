//! The command-line frame both servers share (feature `server`): the common flags
//! ([`CommonArgs`]), `run` (start, wait for a shutdown signal or a failed task, stop) and `id`, on
//! top of a small trait each server implements ([`Service`]), and `healthcheck` ([`healthcheck`]). A server's `main.rs` only declares
//! its subcommands.
//!
//! ```no_run
//! # async fn demo<S: shared::cli::Service>() -> std::process::ExitCode {
//! #[derive(clap::Parser)]
//! struct Cli {
//!     #[command(flatten)]
//!     common: shared::cli::CommonArgs,
//! }
//!
//! let cli: Cli = shared::cli::parse("HUB_CONFIG");
//! let outcome = shared::cli::run::<S>(&cli.common).await;
//! shared::cli::report("hub", outcome.map_err(Into::into))
//! # }
//! ```

mod healthcheck;

pub use healthcheck::{HealthcheckError, check_ready, local_addr};

use std::error::Error;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::config::{LoadConfigError, Overrides, Sources};
use crate::keyfile::KeyFileError;
use crate::server::TaskError;
use crate::telemetry::{InitTelemetryError, LogConfig};

/// A server the frame can run: how to load its config, start it, wait on it and stop it.
pub trait Service: Sized {
    /// The server's configuration.
    type Config;
    /// The prefix of its environment variables (`HUB_`).
    const ENV_PREFIX: &'static str;
    /// Why it could not start.
    type StartError: Error + Send + Sync + 'static;

    /// Loads the layered configuration (defaults → file → environment → flags).
    ///
    /// # Errors
    /// [`LoadConfigError`] naming the key or file at fault.
    fn load_config(
        sources: &Sources,
        overrides: &Overrides,
    ) -> Result<Self::Config, LoadConfigError>;

    /// The `[log]` section, for the tracing subscriber.
    fn log_config(config: &Self::Config) -> &LogConfig;

    /// The node key file, absolute.
    fn key_path(config: &Self::Config) -> PathBuf;

    /// `http.bind`, the listener `healthcheck` asks.
    fn http_bind(config: &Self::Config) -> SocketAddr;

    /// Starts the server with every listener bound.
    fn start(config: Self::Config) -> impl Future<Output = Result<Self, Self::StartError>>;

    /// Resolves when a task of the server stops on its own, which is always an error.
    fn join(&mut self) -> impl Future<Output = Result<(), TaskError>>;

    /// Stops every task and closes the database.
    fn shutdown(self) -> impl Future<Output = ()>;
}

/// The flags every server takes, before or after its subcommand.
#[derive(Debug, Clone, clap::Args)]
pub struct CommonArgs {
    /// Config file (TOML).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// Data directory (key, SQLite database).
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    /// HTTP listen address.
    #[arg(long, global = true)]
    pub http_bind: Option<SocketAddr>,
    /// Log filter, e.g. `info` or `hub=debug`.
    #[arg(long, global = true)]
    pub log_level: Option<String>,
}

impl CommonArgs {
    /// Loads `S`'s configuration from the process environment, the config file and these flags.
    ///
    /// # Errors
    /// [`LoadConfigError`] naming the key or file at fault.
    pub fn load<S: Service>(&self) -> Result<S::Config, LoadConfigError> {
        self.load_from::<S>(&self.sources())
    }

    /// The process environment and the `--config` file.
    fn sources(&self) -> Sources {
        Sources::from_process(self.config.clone())
    }

    fn load_from<S: Service>(&self, sources: &Sources) -> Result<S::Config, LoadConfigError> {
        let overrides = Overrides {
            data_dir: self.data_dir.clone(),
            http_bind: self.http_bind,
            log_level: self.log_level.clone(),
        };
        S::load_config(sources, &overrides)
    }
}

/// Parses the command line into `C`, which flattens [`CommonArgs`]; `--config` also reads the
/// environment variable `config_var` (e.g. `HUB_CONFIG`). Exits with clap's message on bad input.
pub fn parse<C: clap::Parser>(config_var: &'static str) -> C {
    let command = C::command().mut_arg("config", |arg| arg.env(config_var));
    C::from_arg_matches(&command.get_matches()).unwrap_or_else(|error| error.exit())
}

/// Why `run` ended with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError<E: Error + 'static> {
    /// The configuration could not be loaded.
    #[error(transparent)]
    Config(#[from] LoadConfigError),
    /// The tracing subscriber could not be installed.
    #[error(transparent)]
    Telemetry(#[from] InitTelemetryError),
    /// The server did not start.
    #[error("start-up failed")]
    Start(#[source] E),
    /// A task of the running server stopped on its own.
    #[error(transparent)]
    Task(#[from] TaskError),
}

/// `run`: loads the config, installs tracing, starts `S`, then waits for ctrl-c or SIGTERM or for a
/// task to stop on its own, and shuts the server down either way.
///
/// # Errors
/// [`RunError`]: a config, tracing or start-up failure, or the task that stopped.
pub async fn run<S: Service>(args: &CommonArgs) -> Result<(), RunError<S::StartError>> {
    let sources = args.sources();
    let config = args.load_from::<S>(&sources)?;
    crate::telemetry::init(S::log_config(&config))?;
    for variable in crate::config::foreign_env_vars(S::ENV_PREFIX, &sources.env) {
        tracing::debug!(
            %variable,
            "ignoring environment variable: not of the form {}<SECTION>__<KEY>",
            S::ENV_PREFIX
        );
    }
    let mut server = S::start(config).await.map_err(RunError::Start)?;
    let outcome = tokio::select! {
        () = crate::shutdown::shutdown_signal() => Ok(()),
        result = server.join() => result,
    };
    server.shutdown().await;
    Ok(outcome?)
}

/// Why `id` could not print the node id.
#[derive(Debug, thiserror::Error)]
pub enum PrintIdError {
    /// The configuration could not be loaded.
    #[error(transparent)]
    Config(#[from] LoadConfigError),
    /// The key file is missing or unreadable.
    #[error(transparent)]
    Key(#[from] KeyFileError),
}

/// `id`: prints the PeerId of the configured key file.
///
/// # Errors
/// [`PrintIdError`] when the config or the key cannot be read.
pub fn print_id<S: Service>(args: &CommonArgs) -> Result<(), PrintIdError> {
    let config = args.load::<S>()?;
    let key = crate::keyfile::load(&S::key_path(&config))?;
    println!("{}", crate::ids::Ed25519PeerId::from(key.public()));
    Ok(())
}

/// `healthcheck`: `GET /readyz` on the configured `http.bind` (loopback when it is unspecified);
/// `Ok` when the server answers 200. For container health checks: the image needs no curl.
///
/// # Errors
/// [`HealthcheckError`] when the config cannot be read, nothing answers within 5 s, or the
/// answer is not 200.
pub async fn healthcheck<S: Service>(args: &CommonArgs) -> Result<(), HealthcheckError> {
    let config = args.load::<S>()?;
    check_ready(local_addr(S::http_bind(&config))).await
}

/// The flags of `init` every server takes.
#[derive(Debug, Clone, clap::Args)]
pub struct InitArgs {
    /// Target directory.
    #[arg(long)]
    pub dir: PathBuf,
    /// Display name of the community or directory.
    #[arg(long)]
    pub name: Option<String>,
    /// Rewrite an existing config (the key is kept).
    #[arg(long)]
    pub force: bool,
}

/// `init`: tells what was written; `label` names the id (`hub`, `super hub`).
pub fn print_initialized(label: &str, done: &crate::init::Initialized) {
    println!("wrote {}", done.config_path.display());
    let kept = if done.key_created {
        ""
    } else {
        " (existing key kept)"
    };
    println!("{label} id {}{kept}", done.id);
}

/// The exit code of a command: success, or the error and its causes on stderr as
/// `<program>: error: cause: …` and failure.
pub fn report(program: &str, outcome: Result<(), Box<dyn Error>>) -> ExitCode {
    let Err(error) = outcome else {
        return ExitCode::SUCCESS;
    };
    let mut message = format!("{program}: {error}");
    let mut cause = error.source();
    while let Some(source) = cause {
        message.push_str(&format!(": {source}"));
        cause = source.source();
    }
    eprintln!("{message}");
    ExitCode::FAILURE
}
