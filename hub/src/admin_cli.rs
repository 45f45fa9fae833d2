//! `hub admin …` (hub.md §9): a client of the running hub's admin API, so that the hub stays the
//! only writer of its database. It reads the same layered config as `hub run` for the default URL
//! (`http://127.0.0.1:<http.bind port>`) and the token (`HUB_ADMIN__TOKEN` or `admin.token_file`),
//! prints tables (or the API's JSON with `--json`) and exits 0 ok, 1 API error, 2 usage,
//! 3 hub unreachable.

mod parse;
mod show;

use std::net::IpAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{ArgGroup, Args, Subcommand};
use reqwest::{Method, StatusCode, Url};
use secrecy::ExposeSecret as _;
use serde_json::{Value, json};
use shared::config::LoadConfigError;

use crate::config::Config;
use parse::{Expiry, parse_date, parse_expiry};
use show::{
    show_audit, show_invite, show_invites, show_member, show_member_detail, show_members,
    show_stats, text,
};

/// Exit status: an API error.
const EXIT_API: u8 = 1;
/// Exit status: usage (including a missing token or an unusable config).
const EXIT_USAGE: u8 = 2;
/// Exit status: the hub could not be reached.
const EXIT_UNREACHABLE: u8 = 3;
/// Whole-request timeout.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// `hub admin`: manage the running hub through its admin API.
#[derive(Debug, Args)]
pub struct AdminArgs {
    /// Base URL of the hub [default: http://127.0.0.1:<http.bind port>].
    #[arg(long, global = true)]
    url: Option<String>,
    /// Print the API's JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Accounts: list, show, approve, reject, ban, unban, comp, uncomp.
    #[command(subcommand)]
    Members(MembersCommand),
    /// Invite codes: create, list, revoke.
    #[command(subcommand)]
    Invites(InvitesCommand),
    /// Counts of members, presence, relay and email.
    Stats,
    /// The newest admin actions.
    Audit {
        /// Rows to show (1–200).
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Continue after a previous page.
        #[arg(long)]
        cursor: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum MembersCommand {
    /// Accounts, newest first.
    List {
        /// Only this state (pending_email, pending_approval, active, grace, lapsed, banned).
        #[arg(long)]
        state: Option<String>,
        /// Only this tier (guest, member, paid, comped).
        #[arg(long)]
        tier: Option<String>,
        /// Email substring, or account id or PeerId prefix.
        #[arg(long)]
        query: Option<String>,
        /// Rows per page (1–200).
        #[arg(long)]
        limit: Option<u32>,
        /// Continue after a previous page.
        #[arg(long)]
        cursor: Option<String>,
    },
    /// One account with its peers, application and recent audit rows.
    Show {
        /// Account id or email address.
        id: String,
    },
    /// Approve a pending application.
    Approve {
        /// Account id.
        id: String,
        /// A note kept with the application.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Reject a pending application (deletes the account).
    Reject {
        /// Account id.
        id: String,
        /// Why (required by the hub).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Ban an account: its peers lose every right and voucher at once.
    Ban {
        /// Account id.
        id: String,
        /// Why (required by the hub).
        #[arg(long)]
        reason: Option<String>,
        /// Do not cancel the account's subscription.
        #[arg(long)]
        keep_subscription: bool,
    },
    /// Lift a ban.
    Unban {
        /// Account id.
        id: String,
    },
    /// Grant access without payment.
    #[command(group(ArgGroup::new("end").required(true).args(["until", "forever"])))]
    Comp {
        /// Account id.
        id: String,
        /// Last day of access, YYYY-MM-DD (UTC; access ends at the following midnight).
        #[arg(long, value_parser = parse_date)]
        until: Option<i64>,
        /// No end.
        #[arg(long)]
        forever: bool,
        /// A note kept with the comp.
        #[arg(long)]
        note: Option<String>,
    },
    /// End a comp.
    Uncomp {
        /// Account id.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
enum InvitesCommand {
    /// A new invite code.
    Create {
        /// How many accounts may use it (1–10000).
        #[arg(long, default_value_t = 1)]
        uses: u32,
        /// Lifetime such as 7d, 12h, 30m, 2w, 3600 (seconds) or `never`.
        #[arg(long, default_value = "7d", value_parser = parse_expiry)]
        expires: Expiry,
        /// A note kept with the invite.
        #[arg(long)]
        note: Option<String>,
    },
    /// Invites, newest first.
    List {
        /// Include revoked invites.
        #[arg(long)]
        all: bool,
    },
    /// Revoke an invite code.
    Revoke {
        /// The code (dashes and case do not matter).
        code: String,
    },
}

/// Runs `hub admin` with the config `hub run` would load; returns the exit status.
pub async fn run(args: AdminArgs, config: Result<Config, LoadConfigError>) -> ExitCode {
    let config = match config {
        Ok(config) => config,
        Err(error) => return fail(EXIT_USAGE, &format!("config: {error}")),
    };
    let Some(token) = config.admin.token.as_ref() else {
        return fail(
            EXIT_USAGE,
            "no admin token: set HUB_ADMIN__TOKEN or admin.token_file",
        );
    };
    let base = match args.url.as_deref() {
        Some(url) => url.to_owned(),
        None => default_url(&config),
    };
    let base = match Url::parse(&base) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => url,
        _ => return fail(EXIT_USAGE, &format!("--url: not an http(s) URL: {base}")),
    };
    let client = Client {
        http: reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .unwrap_or_default(),
        base,
        token: token.expose_secret().to_owned(),
        actor: actor(),
    };
    match execute(&client, args.command, args.json).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Api(status, code, message)) => {
            fail(EXIT_API, &format!("{} {code}: {message}", status.as_u16()))
        }
        Err(Failure::Unreachable(detail)) => fail(
            EXIT_UNREACHABLE,
            &format!("hub unreachable at {}: {detail}", client.base),
        ),
    }
}

fn fail(status: u8, message: &str) -> ExitCode {
    eprintln!("hub admin: {message}");
    ExitCode::from(status)
}

/// `http://<bind ip, or 127.0.0.1 when unspecified>:<port>`.
fn default_url(config: &Config) -> String {
    let bind = config.http.bind;
    let ip = match bind.ip() {
        ip if ip.is_unspecified() => IpAddr::from([127, 0, 0, 1]),
        ip => ip,
    };
    match ip {
        IpAddr::V4(v4) => format!("http://{v4}:{}", bind.port()),
        IpAddr::V6(v6) => format!("http://[{v6}]:{}", bind.port()),
    }
}

/// `cli:<$USER>`, cut to the 64 printable ASCII characters the hub accepts.
fn actor() -> String {
    let user: String = std::env::var("USER")
        .unwrap_or_else(|_| "unknown".to_owned())
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .collect();
    let mut actor = format!("cli:{user}");
    actor.truncate(64);
    actor
}

/// Why a command failed.
#[derive(Debug)]
enum Failure {
    /// The hub answered an error: status, code, message.
    Api(StatusCode, String, String),
    /// No answer.
    Unreachable(String),
}

/// An admin API client.
#[derive(Debug)]
struct Client {
    http: reqwest::Client,
    base: Url,
    token: String,
    actor: String,
}

impl Client {
    /// Sends one request to `base` + `/api/v1/admin/` + `path` segments (each escaped) with an
    /// optional query and JSON body; returns the JSON answer (`null` for 204).
    async fn call(
        &self,
        method: Method,
        path: &[&str],
        query: &[(&str, String)],
        body: Option<Value>,
    ) -> Result<Value, Failure> {
        let mut url = self.base.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments
                .pop_if_empty()
                .extend(["api", "v1", "admin"])
                .extend(path);
        }
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        let mut request = self
            .http
            .request(method, url)
            .bearer_auth(&self.token)
            .header("x-goop-admin-actor", &self.actor);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| Failure::Unreachable(e.to_string()))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| Failure::Unreachable(e.to_string()))?;
        let value: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        };
        if status.is_success() {
            return Ok(value);
        }
        let error = &value["error"];
        let code = error["code"].as_str().unwrap_or("error").to_owned();
        let message = error["message"]
            .as_str()
            .map_or_else(|| status.to_string(), str::to_owned);
        Err(Failure::Api(status, code, message))
    }
}

/// Runs one command and prints its outcome.
async fn execute(client: &Client, command: AdminCommand, json: bool) -> Result<(), Failure> {
    let (value, show): (Value, fn(&Value) -> String) = match command {
        AdminCommand::Members(command) => members(client, command).await?,
        AdminCommand::Invites(command) => invites(client, command).await?,
        AdminCommand::Stats => (
            client.call(Method::GET, &["stats"], &[], None).await?,
            show_stats,
        ),
        AdminCommand::Audit { limit, cursor } => {
            let mut query = vec![("limit", limit.to_string())];
            query.extend(cursor.map(|c| ("cursor", c)));
            (
                client.call(Method::GET, &["audit"], &query, None).await?,
                show_audit,
            )
        }
    };
    if json {
        if !value.is_null() {
            println!(
                "{}",
                serde_json::to_string_pretty(&value).unwrap_or_default()
            );
        }
    } else {
        print!("{}", show(&value));
    }
    Ok(())
}

type Outcome = Result<(Value, fn(&Value) -> String), Failure>;

async fn members(client: &Client, command: MembersCommand) -> Outcome {
    let post = |id: String, action: &'static str, body: Value| async move {
        client
            .call(Method::POST, &["members", &id, action], &[], Some(body))
            .await
    };
    Ok(match command {
        MembersCommand::List {
            state,
            tier,
            query,
            limit,
            cursor,
        } => {
            let params: Vec<(&str, String)> = [
                ("state", state),
                ("tier", tier),
                ("q", query),
                ("limit", limit.map(|l| l.to_string())),
                ("cursor", cursor),
            ]
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect();
            let page = client
                .call(Method::GET, &["members"], &params, None)
                .await?;
            (page, show_members)
        }
        MembersCommand::Show { id } => (
            client
                .call(Method::GET, &["members", &id], &[], None)
                .await?,
            show_member_detail,
        ),
        MembersCommand::Approve { id, reason } => (
            post(id, "approve", json!({ "note": reason })).await?,
            show_member,
        ),
        MembersCommand::Reject { id, reason } => {
            post(id.clone(), "reject", json!({ "reason": reason })).await?;
            (json!({ "rejected": id }), |v| {
                format!("rejected {} (account deleted)\n", text(&v["rejected"]))
            })
        }
        MembersCommand::Ban {
            id,
            reason,
            keep_subscription,
        } => {
            let body = json!({ "reason": reason, "cancel_subscription": !keep_subscription });
            (post(id, "ban", body).await?, show_member)
        }
        MembersCommand::Unban { id } => (post(id, "unban", json!({})).await?, show_member),
        MembersCommand::Comp {
            id, until, note, ..
        } => (
            post(id, "comp", json!({ "until": until, "note": note })).await?,
            show_member,
        ),
        MembersCommand::Uncomp { id } => (
            client
                .call(Method::DELETE, &["members", &id, "comp"], &[], None)
                .await?,
            show_member,
        ),
    })
}

async fn invites(client: &Client, command: InvitesCommand) -> Outcome {
    Ok(match command {
        InvitesCommand::Create {
            uses,
            expires,
            note,
        } => {
            let expires_in_secs = match expires {
                Expiry::After(secs) => json!(secs),
                Expiry::Never => Value::Null,
            };
            let body =
                json!({ "max_uses": uses, "expires_in_secs": expires_in_secs, "note": note });
            let invite = client
                .call(Method::POST, &["invites"], &[], Some(body))
                .await?;
            (invite, show_invite)
        }
        InvitesCommand::List { all } => {
            let query = [("include_revoked", all.to_string())];
            (
                client.call(Method::GET, &["invites"], &query, None).await?,
                show_invites,
            )
        }
        InvitesCommand::Revoke { code } => {
            client
                .call(Method::DELETE, &["invites", &code], &[], None)
                .await?;
            (json!({ "revoked": code }), |v| {
                format!("revoked {}\n", text(&v["revoked"]))
            })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_url_uses_loopback_for_an_unspecified_bind() {
        let mut config = Config::default();
        assert_eq!(default_url(&config), "http://127.0.0.1:8787");

        config.http.bind = "10.0.0.5:9000".parse().unwrap();
        assert_eq!(default_url(&config), "http://10.0.0.5:9000");
    }
}
