//! `peer`: the Goop² peer command line (peer.md §1.4). The commands live in `cli`.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = <cli::Cli as clap::Parser>::parse();
    cli.run()
}
