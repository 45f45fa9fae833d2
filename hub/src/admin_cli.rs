//! `hub admin …` (hub.md §9): a client of the running hub's admin API, so that the hub stays the
//! only writer of its database. It reads the same layered config as `hub run` for the default URL
//! (`http://127.0.0.1:<http.bind port>`) and the token (`HUB_ADMIN__TOKEN` or `admin.token_file`),
//! prints tables (or the API's JSON with `--json`) and exits 0 ok, 1 API error, 2 usage,
//! 3 hub unreachable.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{ArgGroup, Args, Subcommand};
use reqwest::{Method, StatusCode, Url};
use secrecy::ExposeSecret as _;
use serde_json::{Value, json};

use crate::config::Config;
use shared::config::LoadConfigError;

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

/// `--expires`: seconds, or never.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expiry {
    After(u64),
    Never,
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

/// A JSON value as table text: strings bare, null as `-`.
fn text(value: &Value) -> String {
    match value {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A ms timestamp as `YYYY-MM-DD HH:MM` UTC, `-` for null.
fn time(value: &Value) -> String {
    value.as_i64().map_or_else(|| "-".to_owned(), utc_time)
}

/// Left-aligned columns separated by two spaces.
fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
    }
    out
}

fn member_row(m: &Value) -> Vec<String> {
    let peers = m["peers"].as_array().map_or(0, Vec::len);
    vec![
        text(&m["id"]),
        text(&m["email"]),
        text(&m["state"]),
        text(&m["tier"]),
        peers.to_string(),
        time(&m["created_at"]),
    ]
}

const MEMBER_HEADERS: [&str; 6] = ["ID", "EMAIL", "STATE", "TIER", "PEERS", "CREATED"];

fn show_members(page: &Value) -> String {
    let rows: Vec<Vec<String>> = page["items"]
        .as_array()
        .map(|items| items.iter().map(member_row).collect())
        .unwrap_or_default();
    let mut out = table(&MEMBER_HEADERS, &rows);
    if let Some(next) = page["next"].as_str() {
        let _ = writeln!(out, "more: --cursor {next}");
    }
    out
}

fn show_member(member: &Value) -> String {
    table(&MEMBER_HEADERS, &[member_row(member)])
}

fn show_member_detail(detail: &Value) -> String {
    let m = &detail["member"];
    let mut out = String::new();
    for key in [
        "id",
        "email",
        "state",
        "tier",
        "subscription_status",
        "comp_note",
        "ban_reason",
        "joined_via_invite",
    ] {
        let _ = writeln!(out, "{key:<20}{}", text(&m[key]));
    }
    for key in [
        "created_at",
        "email_verified_at",
        "comped_at",
        "comped_until",
        "grace_until",
        "banned_at",
    ] {
        let _ = writeln!(out, "{key:<20}{}", time(&m[key]));
    }
    let peers: Vec<Vec<String>> = detail["peers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            vec![
                text(&p["peer_id"]),
                text(&p["label"]),
                text(&p["bound_via"]),
                time(&p["bound_at"]),
                text(&p["online"]),
            ]
        })
        .collect();
    let _ = writeln!(out, "\npeers");
    out.push_str(&table(&["PEER", "LABEL", "VIA", "BOUND", "ONLINE"], &peers));
    let application = &detail["application"];
    if !application.is_null() {
        let _ = writeln!(
            out,
            "\napplication {} ({}): {}",
            text(&application["status"]),
            time(&application["created_at"]),
            text(&application["message"])
        );
    }
    let _ = writeln!(out, "\naudit");
    out.push_str(&audit_table(&detail["audit"]));
    out
}

fn show_invite(invite: &Value) -> String {
    format!(
        "{}\nuses {}/{}, expires {}\n",
        text(&invite["code"]),
        text(&invite["uses"]),
        text(&invite["max_uses"]),
        match invite["expires_at"] {
            Value::Null => "never".to_owned(),
            ref at => time(at),
        }
    )
}

fn show_invites(list: &Value) -> String {
    let rows: Vec<Vec<String>> = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| {
            vec![
                text(&i["code"]),
                format!("{}/{}", text(&i["uses"]), text(&i["max_uses"])),
                time(&i["expires_at"]),
                time(&i["revoked_at"]),
                text(&i["created_by"]),
                text(&i["note"]),
            ]
        })
        .collect();
    table(&["CODE", "USES", "EXPIRES", "REVOKED", "BY", "NOTE"], &rows)
}

fn audit_table(items: &Value) -> String {
    let rows: Vec<Vec<String>> = items
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            vec![
                time(&e["at"]),
                text(&e["actor"]),
                text(&e["action"]),
                format!("{}:{}", text(&e["target_type"]), text(&e["target_id"])),
                e["details"].to_string(),
            ]
        })
        .collect();
    table(&["AT", "ACTOR", "ACTION", "TARGET", "DETAILS"], &rows)
}

fn show_audit(page: &Value) -> String {
    let mut out = audit_table(&page["items"]);
    if let Some(next) = page["next"].as_str() {
        let _ = writeln!(out, "more: --cursor {next}");
    }
    out
}

fn show_stats(stats: &Value) -> String {
    let counts = |value: &Value| -> String {
        value
            .as_object()
            .map(|map| {
                map.iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    };
    let presence = &stats["presence"];
    let relay = &stats["relay"];
    let email = &stats["email"];
    format!(
        "members    {}\ntiers      {}\npresence   {} peers, {} ws, {} sse subscribers\n\
         relay      {} reservations, {} circuits\nbilling    {}\nemail      {} sent, {} failed (24 h)\n",
        counts(&stats["members"]),
        counts(&stats["tiers"]),
        text(&presence["peers"]),
        text(&presence["subscribers"]["ws"]),
        text(&presence["subscribers"]["sse"]),
        text(&relay["reservations"]),
        text(&relay["circuits"]),
        counts(&stats["billing"]["subscriptions"]),
        text(&email["sent_24h"]),
        text(&email["failed_24h"]),
    )
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `(year, month, day)` of days since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// `YYYY-MM-DD HH:MM` (UTC) of a unix-ms time.
fn utc_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60
    )
}

/// `--until YYYY-MM-DD`: the unix-ms midnight (UTC) that ends that day.
fn parse_date(input: &str) -> Result<i64, String> {
    let invalid = || format!("{input:?} is not a date YYYY-MM-DD");
    let parts: Vec<&str> = input.trim().split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return Err(invalid());
    };
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return Err(invalid());
    }
    let number = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| s.parse::<i64>().ok())
            .flatten()
            .ok_or_else(invalid)
    };
    let (year, month, day) = (number(y)?, number(m)?, number(d)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err(invalid()),
    };
    if !(1..=month_days).contains(&day) {
        return Err(invalid());
    }
    Ok((days_from_civil(year, month, day) + 1) * 86_400_000)
}

/// `--expires`: `never`, or a number with an optional unit `s`, `m`, `h`, `d`, `w`.
fn parse_expiry(input: &str) -> Result<Expiry, String> {
    let input = input.trim();
    if input.eq_ignore_ascii_case("never") {
        return Ok(Expiry::Never);
    }
    let invalid = || format!("{input:?} is not a duration such as 7d, 12h, 30m, 3600 or never");
    let split = input
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(input.len());
    let (number, unit) = input.split_at(split);
    let n: u64 = number.parse().map_err(|_| invalid())?;
    let scale = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(invalid()),
    };
    let secs = n.checked_mul(scale).ok_or_else(invalid)?;
    if secs == 0 {
        return Err(invalid());
    }
    Ok(Expiry::After(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_parses_units_and_never() {
        assert_eq!(parse_expiry("7d"), Ok(Expiry::After(604_800)));
        assert_eq!(parse_expiry("12h"), Ok(Expiry::After(43_200)));
        assert_eq!(parse_expiry("30m"), Ok(Expiry::After(1_800)));
        assert_eq!(parse_expiry("2w"), Ok(Expiry::After(1_209_600)));
        assert_eq!(parse_expiry("3600"), Ok(Expiry::After(3_600)));
        assert_eq!(parse_expiry("45s"), Ok(Expiry::After(45)));
        assert_eq!(parse_expiry("never"), Ok(Expiry::Never));
        for bad in [
            "",
            "d",
            "7x",
            "-1d",
            "0",
            "7 d",
            "1.5h",
            "99999999999999999999w",
        ] {
            assert!(parse_expiry(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn until_date_ends_at_the_following_utc_midnight() {
        assert_eq!(parse_date("1970-01-01"), Ok(86_400_000));
        assert_eq!(parse_date("2024-02-29"), Ok(1_709_251_200_000));
        assert_eq!(parse_date("2026-12-31"), Ok(1_798_761_600_000));
        for bad in [
            "2023-02-29",
            "2026-13-01",
            "2026-00-10",
            "2026-04-31",
            "26-01-01",
            "2026/01/01",
            "2026-1-1",
            "+026-01-01",
        ] {
            assert!(parse_date(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn dates_round_trip_through_day_numbers() {
        for days in [-719_468, -1, 0, 59, 365, 11_016, 19_782, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(utc_time(0), "1970-01-01 00:00");
        assert_eq!(utc_time(1_709_251_199_000), "2024-02-29 23:59");
    }

    #[test]
    fn default_url_uses_loopback_for_an_unspecified_bind() {
        let mut config = Config::default();
        assert_eq!(default_url(&config), "http://127.0.0.1:8787");

        config.http.bind = "10.0.0.5:9000".parse().unwrap();
        assert_eq!(default_url(&config), "http://10.0.0.5:9000");
    }

    #[test]
    fn table_aligns_columns() {
        let out = table(&["A", "BB"], &[vec!["xxx".to_owned(), "y".to_owned()]]);

        assert_eq!(out, "A    BB\nxxx  y\n");
    }
}
