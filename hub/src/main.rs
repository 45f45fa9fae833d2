//! `hub`: parse the command line, load config, start the server, stop on SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use hub::config::Config;
use shared::config::Overrides;
use shared::config::Sources;

#[derive(Parser)]
#[command(name = "hub", version, about = "Goop² community hub")]
struct Cli {
    /// Config file (TOML); also `HUB_CONFIG`.
    #[arg(long, global = true, env = "HUB_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (key, SQLite database).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// HTTP listen address.
    #[arg(long, global = true)]
    http_bind: Option<SocketAddr>,
    /// Log filter, e.g. `info` or `hub=debug`.
    #[arg(long, global = true)]
    log_level: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the hub (the default).
    Run,
    /// Write a commented config and a key into a directory.
    Init {
        /// Target directory.
        #[arg(long)]
        dir: PathBuf,
        /// Community name.
        #[arg(long)]
        name: Option<String>,
        /// Community slug.
        #[arg(long)]
        slug: Option<String>,
        /// Rewrite an existing config (the key is kept).
        #[arg(long)]
        force: bool,
    },
    /// Print the hub id.
    Id,
    /// Manage the running hub through its admin API (hub.md §9).
    Admin(hub::admin_cli::AdminArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("hub: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let overrides = Overrides {
        data_dir: cli.data_dir,
        http_bind: cli.http_bind,
        log_level: cli.log_level,
    };
    match cli.command.unwrap_or(Command::Run) {
        Command::Init {
            dir,
            name,
            slug,
            force,
        } => {
            let done = hub::init::init(&dir, name.as_deref(), slug.as_deref(), force)?;
            println!("wrote {}", done.config_path.display());
            println!(
                "hub id {}{}",
                done.id,
                if done.key_created {
                    ""
                } else {
                    " (existing key kept)"
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Id => {
            let config = Config::load(&Sources::from_process(cli.config), &overrides)?;
            let key = shared::keyfile::load(&config.key_path())?;
            println!("{}", shared::ids::Ed25519PeerId::from(key.public()));
            Ok(ExitCode::SUCCESS)
        }
        Command::Admin(args) => {
            let config = Config::load(&Sources::from_process(cli.config), &overrides);
            Ok(hub::admin_cli::run(args, config).await)
        }
        Command::Run => {
            let config = Config::load(&Sources::from_process(cli.config), &overrides)?;
            shared::telemetry::init(&config.log)?;
            let mut server = hub::Server::start(config)
                .await
                .context("start-up failed")?;
            let outcome = tokio::select! {
                () = shared::shutdown::shutdown_signal() => Ok(()),
                result = server.join() => result,
            };
            server.shutdown().await;
            outcome.map_err(anyhow::Error::msg)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
