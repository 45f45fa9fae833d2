//! `peer`: the Goop² peer command line. This slice covers `init` and `id`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "peer", version, about = "Goop² peer")]
struct Cli {
    /// Data directory (default: $PEER_DATA_DIR, else $XDG_DATA_HOME/goop-peer).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the data directory and identity; print the PeerId.
    Init,
    /// Print the PeerId (creating the identity on first use).
    Id,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let Some(dir) = cli
        .data_dir
        .or_else(|| peer::default_data_dir(|name| std::env::var(name).ok()))
    else {
        eprintln!("peer: no data directory: pass --data-dir or set PEER_DATA_DIR");
        return ExitCode::FAILURE;
    };
    match peer::load_or_create_identity(&dir) {
        Ok((_, false)) if matches!(cli.command, Command::Init) => {
            eprintln!("peer: {} is already initialised", dir.display());
            ExitCode::FAILURE
        }
        Ok((id, _)) => {
            println!("{id}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("peer: {error}");
            ExitCode::FAILURE
        }
    }
}
