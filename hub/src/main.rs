//! `hub`: parse the command line, then run, init, print the id, check health, or manage a running
//! hub.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use shared::cli::CommonArgs;

#[derive(Parser)]
#[command(name = "hub", version, about = "Goop² community hub")]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the hub (the default).
    Run,
    /// Write a commented config and a key into a directory.
    Init(hub::init::InitArgs),
    /// Print the hub id.
    Id,
    /// Exit 0 when the hub's own /readyz answers 200, else 1 (container health checks).
    Healthcheck,
    /// Print a freshly signed hub record envelope (hub.md §11.3).
    Record,
    /// Withdraw this community from every configured super hub (hub.md §11.4).
    Decommission(hub::directory_cli::DecommissionArgs),
    /// Manage the running hub through its admin API (hub.md §9).
    Admin(hub::admin_cli::AdminArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli: Cli = shared::cli::parse(hub::config::CONFIG_VAR);
    let outcome = match cli.command.unwrap_or(Command::Run) {
        Command::Run => shared::cli::run::<hub::Server>(&cli.common)
            .await
            .map_err(Into::into),
        Command::Init(args) => args
            .run()
            .map(|done| shared::cli::print_initialized("hub", &done))
            .map_err(Into::into),
        Command::Id => shared::cli::print_id::<hub::Server>(&cli.common).map_err(Into::into),
        Command::Healthcheck => shared::cli::healthcheck::<hub::Server>(&cli.common)
            .await
            .map_err(Into::into),
        Command::Record => hub::directory_cli::print_record(cli.common.load::<hub::Server>())
            .await
            .map_err(Into::into),
        Command::Decommission(args) => {
            return hub::directory_cli::run(args, cli.common.load::<hub::Server>()).await;
        }
        Command::Admin(args) => {
            return hub::admin_cli::run(args, cli.common.load::<hub::Server>()).await;
        }
    };
    shared::cli::report("hub", outcome)
}
