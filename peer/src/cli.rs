//! The command line (peer.md §1.4): global flags, the subcommands and their exit codes.
//! `init`, `id` and `run` work on the data directory; `hubs`, `peers`, `send`, `join` and `leave`
//! talk to the running daemon's local API (`http.addr`), and `hubs`, `join` and `leave` fall back
//! to the data directory when no daemon answers.
//!
//! # Layout
//! - `daemon`: `peer run`; `client`: the local API client;
//! - `groups`: `peer groups …`; `hubs`: `peer hubs`, `peer leave`; `join`: `peer join`; `peers`: `peer peers`, `peer send`; `table`: aligned columns.

mod client;
mod daemon;
mod groups;
mod hubs;
mod join;
mod peers;
mod table;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgAction, Parser, Subcommand};
use peer::PeerConfig;
use shared::config::{LoadConfigError, Sources};

/// Exit code of a failed command.
const FAILURE: u8 = 1;
/// Exit code of `send` when the message was not delivered.
const NOT_DELIVERED: u8 = 6;

/// The `peer` command line.
#[derive(Debug, Parser)]
#[command(name = "peer", version, about = "Goop² peer")]
pub(crate) struct Cli {
    /// Data directory (default: $PEER_DATA_DIR, else $XDG_DATA_HOME/goop-peer).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Config file (default: peer.toml in the data directory).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// More log output (-v debug, -vv trace).
    #[arg(short, long, global = true, action = ArgAction::Count, conflicts_with = "quiet")]
    verbose: u8,
    /// Less log output (-q warn, -qq error).
    #[arg(short, long, global = true, action = ArgAction::Count)]
    quiet: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create the data directory, peer.toml and identity.key; print the PeerId.
    Init {
        /// Rewrite peer.toml of an initialised directory (the key is never touched).
        #[arg(long)]
        force_config: bool,
    },
    /// Print the PeerId.
    Id,
    /// Run the daemon until SIGINT or SIGTERM.
    Run,
    /// List the hubs: kind, state, membership, voucher expiry, relay.
    Hubs,
    /// List the merged peer table.
    Peers {
        /// Only peers seen through this hub.
        #[arg(long)]
        hub: Option<String>,
        /// Only online peers.
        #[arg(long)]
        online: bool,
    },
    /// Send a direct chat message (exit 6 when not delivered).
    Send {
        /// The recipient's PeerId.
        peer_id: String,
        /// The text (words are joined by spaces).
        #[arg(required = true, num_args = 1..)]
        text: Vec<String>,
    },
    /// Become a member of a hub (peer.md §3.6): exit 2 refused, 3 wait ran out, 4 hub failed.
    Join {
        /// The hub's base URL.
        url: String,
        /// Email address (email, invite and application modes).
        #[arg(long)]
        email: Option<String>,
        /// Invite code (invite mode).
        #[arg(long)]
        invite: Option<String>,
        /// Application text (application mode).
        #[arg(long)]
        message: Option<String>,
        /// Bind this peer to an existing account with a code from the hub's account page.
        #[arg(long)]
        bind_code: Option<String>,
        /// Plan id at a paid hub (default: its only subscription plan).
        #[arg(long)]
        plan: Option<String>,
        /// Print the checkout URL without opening a browser.
        #[arg(long)]
        no_browser: bool,
        /// Seconds to wait for the email link or an approval (default and most 1800).
        #[arg(long)]
        wait: Option<u64>,
    },
    /// Stop taking part in a hub and forget it (its membership is kept).
    Leave {
        /// The hub's base URL.
        url: String,
    },
    /// Groups: list, create, join, leave, close (needs the daemon).
    Groups {
        /// What to do.
        #[command(subcommand)]
        command: groups::GroupsCommand,
    },
}

impl Cli {
    /// Runs the command; the exit code of §1.4.
    pub(crate) fn run(self) -> ExitCode {
        let dir = match self.data_dir() {
            Ok(dir) => dir,
            Err(message) => return fail(FAILURE, &message),
        };
        match &self.command {
            Command::Init { force_config } => init(&dir, *force_config),
            Command::Id => match shared::keyfile::load(&dir.join(peer::IDENTITY_FILE)) {
                Ok(key) => {
                    println!("{}", shared::ids::Ed25519PeerId::from(key.public()));
                    ExitCode::SUCCESS
                }
                Err(error) => fail(FAILURE, &format!("{error} (run `peer init` first)")),
            },
            command => {
                let config = match self.load_config(dir) {
                    Ok(config) => config,
                    Err(error) => return report(&error),
                };
                let runtime = match tokio::runtime::Runtime::new() {
                    Ok(runtime) => runtime,
                    Err(error) => return report(&error),
                };
                runtime.block_on(dispatch(command, config))
            }
        }
    }

    fn data_dir(&self) -> Result<PathBuf, String> {
        let dir = self
            .data_dir
            .clone()
            .or_else(|| peer::default_data_dir(|name| std::env::var(name).ok()))
            .ok_or("no data directory: pass --data-dir or set PEER_DATA_DIR")?;
        std::path::absolute(&dir).map_err(|e| format!("{}: {e}", dir.display()))
    }

    /// Defaults → `--config` or the data directory's `peer.toml` → `PEER_<SECTION>__<KEY>` → flags.
    fn load_config(&self, dir: PathBuf) -> Result<PeerConfig, LoadConfigError> {
        let file = self.config.clone().or_else(|| {
            let path = dir.join(peer::init::CONFIG_FILE);
            path.exists().then_some(path)
        });
        let mut config = PeerConfig::load(&Sources::from_process(file))?;
        config.data_dir = dir;
        let level = match (self.verbose, self.quiet) {
            (0, 0) => None,
            (1, _) => Some("debug"),
            (_, 0) => Some("trace"),
            (_, 1) => Some("warn"),
            _ => Some("error"),
        };
        if let Some(level) = level {
            config.log.level = level.to_owned();
        }
        Ok(config)
    }
}

async fn dispatch(command: &Command, config: PeerConfig) -> ExitCode {
    match command {
        Command::Run => daemon::run(config).await,
        Command::Hubs => hubs::list(&config).await,
        Command::Leave { url } => hubs::leave(&config, url).await,
        Command::Join {
            url,
            email,
            invite,
            message,
            bind_code,
            plan,
            no_browser,
            wait,
        } => {
            let flags = join::Flags {
                email: email.clone(),
                invite: invite.clone(),
                message: message.clone(),
                bind_code: bind_code.clone(),
                plan: plan.clone(),
                no_browser: *no_browser,
                wait: *wait,
            };
            join::join(&config, url, flags).await
        }
        Command::Groups { command } => groups::run(&config, command).await,
        Command::Peers { hub, online } => peers::list(&config, hub.as_deref(), *online).await,
        Command::Send { peer_id, text } => peers::send(&config, peer_id, &text.join(" ")).await,
        Command::Init { .. } | Command::Id => unreachable!("handled without a runtime"),
    }
}

fn init(dir: &std::path::Path, force_config: bool) -> ExitCode {
    match peer::init::init(dir, force_config) {
        Ok(done) => {
            eprintln!("wrote {}", dir.join(peer::init::CONFIG_FILE).display());
            if !done.key_created {
                eprintln!("kept the existing {}", peer::IDENTITY_FILE);
            }
            println!("{}", done.peer_id);
            ExitCode::SUCCESS
        }
        Err(error) => report(&error),
    }
}

/// `peer: <message>` on stderr and `code`.
fn fail(code: u8, message: &str) -> ExitCode {
    eprintln!("peer: {message}");
    ExitCode::from(code)
}

/// The error and its causes on stderr, exit 1.
fn report(error: &dyn std::error::Error) -> ExitCode {
    let mut message = error.to_string();
    let mut cause = error.source();
    while let Some(source) = cause {
        message.push_str(&format!(": {source}"));
        cause = source.source();
    }
    fail(FAILURE, &message)
}
