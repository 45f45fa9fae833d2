//! `superhub`: parse the command line, then run, init, print the id or check health.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use shared::cli::CommonArgs;

#[derive(Parser)]
#[command(
    name = "superhub",
    version,
    about = "Goop² super hub (directory of hubs)"
)]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the super hub (the default).
    Run,
    /// Write a commented config and a key into a directory.
    Init(shared::cli::InitArgs),
    /// Print the super hub id.
    Id,
    /// Exit 0 when the super hub's own /readyz answers 200, else 1 (container health checks).
    Healthcheck,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli: Cli = shared::cli::parse(superhub::config::CONFIG_VAR);
    let outcome = match cli.command.unwrap_or(Command::Run) {
        Command::Run => shared::cli::run::<superhub::Server>(&cli.common)
            .await
            .map_err(Into::into),
        Command::Init(args) => superhub::init::init(&args.dir, args.name.as_deref(), args.force)
            .map(|done| shared::cli::print_initialized("super hub", &done))
            .map_err(Into::into),
        Command::Id => shared::cli::print_id::<superhub::Server>(&cli.common).map_err(Into::into),
        Command::Healthcheck => shared::cli::healthcheck::<superhub::Server>(&cli.common)
            .await
            .map_err(Into::into),
    };
    shared::cli::report("superhub", outcome)
}
