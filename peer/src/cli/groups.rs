//! `peer groups list|create|join|leave|close` (peer.md §1.4): thin wrappers of the §11.3 group
//! routes of the running daemon; exit 0, or 1 on any error.

use std::process::ExitCode;

use clap::Subcommand;
use peer::PeerConfig;
use serde_json::{Value, json};

use super::client::{Daemon, Outcome, failed};
use super::{FAILURE, fail, table};

const HEADERS: [&str; 7] = [
    "GROUP ID", "NAME", "TYPE", "HOST", "ROLE", "MEMBERS", "STATE",
];

/// The `groups` subcommands.
#[derive(Debug, Subcommand)]
pub(super) enum GroupsCommand {
    /// The groups we host and the groups we joined.
    List,
    /// Host a new group; prints its id.
    Create {
        /// Display name.
        name: String,
        /// Group type (chat, template, files, cluster, or any ^[a-z][a-z0-9_-]{0,31}$).
        #[arg(long = "type", default_value = "chat")]
        group_type: String,
        /// Most members (0 = no limit; at most 256).
        #[arg(long)]
        max_members: Option<u32>,
        /// Close the group when the daemon stops.
        #[arg(long)]
        volatile: bool,
        /// open, invite or voucher.
        #[arg(long)]
        policy: Option<String>,
        /// Hub URL whose members may join (policy voucher).
        #[arg(long)]
        community: Option<String>,
        /// Do not make this peer a member (owner) of its group.
        #[arg(long)]
        no_join: bool,
    },
    /// Join a group hosted by another peer.
    Join {
        /// The host's PeerId.
        host_peer_id: String,
        /// The group id.
        group_id: String,
        /// Present our voucher of this hub.
        #[arg(long)]
        community: Option<String>,
    },
    /// Leave a group we joined.
    Leave {
        /// The group id.
        group_id: String,
    },
    /// Close a group we host.
    Close {
        /// The group id.
        group_id: String,
    },
}

/// Runs a `groups` subcommand against the daemon.
pub(super) async fn run(config: &PeerConfig, command: &GroupsCommand) -> ExitCode {
    let Some(daemon) = Daemon::new(config) else {
        return fail(FAILURE, "the local API is disabled (http.enabled = false)");
    };
    let outcome = match command {
        GroupsCommand::List => return list(&daemon).await,
        GroupsCommand::Create {
            name,
            group_type,
            max_members,
            volatile,
            policy,
            community,
            no_join,
        } => {
            let body = json!({
                "name": name, "group_type": group_type, "max_members": max_members,
                "volatile": volatile, "join_policy": policy, "community": community,
                "host_joined": !no_join,
            });
            daemon.post("/api/groups", &body).await
        }
        GroupsCommand::Join {
            host_peer_id,
            group_id,
            community,
        } => {
            let body = json!({ "host_peer_id": host_peer_id, "group_id": group_id, "community": community });
            daemon.post("/api/groups/join", &body).await
        }
        GroupsCommand::Leave { group_id } => {
            daemon
                .post("/api/groups/leave", &json!({ "group_id": group_id }))
                .await
        }
        GroupsCommand::Close { group_id } => {
            daemon
                .post("/api/groups/close", &json!({ "group_id": group_id }))
                .await
        }
    };
    match outcome {
        Outcome::Answer(200..=299, answer) => {
            match command {
                GroupsCommand::Create { .. } => println!("{}", text(&answer["id"])),
                GroupsCommand::Join { group_id, .. } => println!(
                    "joined {group_id} ({}, {} members)",
                    text(&answer["group_name"]),
                    answer["members"].as_array().map_or(0, Vec::len)
                ),
                _ => println!("ok"),
            }
            ExitCode::SUCCESS
        }
        other => failed(&daemon, other),
    }
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

async fn list(daemon: &Daemon) -> ExitCode {
    let hosted = match daemon.get("/api/groups", &[]).await {
        Outcome::Answer(200, Value::Array(groups)) => groups,
        other => return failed(daemon, other),
    };
    let subscriptions = match daemon.get("/api/groups/subscriptions", &[]).await {
        Outcome::Answer(200, body) => body["subscriptions"]
            .as_array()
            .cloned()
            .unwrap_or_default(),
        other => return failed(daemon, other),
    };
    let mut rows: Vec<Vec<String>> = hosted
        .iter()
        .map(|g| {
            vec![
                text(&g["id"]),
                text(&g["name"]),
                text(&g["group_type"]),
                "self".to_owned(),
                "host".to_owned(),
                g["members"].as_array().map_or(0, Vec::len).to_string(),
                if g["volatile"] == true {
                    "hosting, volatile"
                } else {
                    "hosting"
                }
                .to_owned(),
            ]
        })
        .collect();
    let own: Vec<String> = hosted.iter().map(|g| text(&g["id"])).collect();
    rows.extend(
        subscriptions
            .iter()
            .filter(|s| !own.contains(&text(&s["group_id"])))
            .map(|s| {
                vec![
                    text(&s["group_id"]),
                    text(&s["group_name"]),
                    text(&s["group_type"]),
                    text(&s["host_peer_id"]),
                    text(&s["role"]),
                    text(&s["member_count"]),
                    if s["connected"] == true {
                        "joined"
                    } else {
                        "disconnected"
                    }
                    .to_owned(),
                ]
            }),
    );
    print!("{}", table::render(&HEADERS, &rows));
    ExitCode::SUCCESS
}
