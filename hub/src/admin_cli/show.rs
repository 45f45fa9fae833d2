//! What `hub admin` prints without `--json`: aligned tables and short summaries of the API's
//! answers, times in UTC.

use std::fmt::Write as _;

use serde_json::Value;

/// A JSON value as table text: strings bare, null as `-`.
pub(super) fn text(value: &Value) -> String {
    match value {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A ms timestamp as `YYYY-MM-DD HH:MM` UTC, `-` for null.
fn time(value: &Value) -> String {
    value
        .as_i64()
        .map_or_else(|| "-".to_owned(), crate::utc::format)
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

/// The columns of [`MEMBER_HEADERS`] for one member.
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

/// Columns of member tables.
const MEMBER_HEADERS: [&str; 6] = ["ID", "EMAIL", "STATE", "TIER", "PEERS", "CREATED"];

/// `members list`: one row per member, and the cursor of the next page if there is one.
pub(super) fn show_members(page: &Value) -> String {
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

/// The member an action returns, as one table row.
pub(super) fn show_member(member: &Value) -> String {
    table(&MEMBER_HEADERS, &[member_row(member)])
}

/// `members show`: the account's fields, its peers, its application and its recent audit rows.
pub(super) fn show_member_detail(detail: &Value) -> String {
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

/// `invites create`: the code on its own line (easy to copy), then uses and expiry.
pub(super) fn show_invite(invite: &Value) -> String {
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

/// `invites list`.
pub(super) fn show_invites(list: &Value) -> String {
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

/// Audit rows as a table.
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

/// `audit`: one row per change, and the cursor of the next page if there is one.
pub(super) fn show_audit(page: &Value) -> String {
    let mut out = audit_table(&page["items"]);
    if let Some(next) = page["next"].as_str() {
        let _ = writeln!(out, "more: --cursor {next}");
    }
    out
}

/// `stats`: one line per section of the stats document.
pub(super) fn show_stats(stats: &Value) -> String {
    let counts = |value: &Value| -> String {
        value
            .as_object()
            .map(|map| {
                map.iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .filter(|line| !line.is_empty())
            .unwrap_or_else(|| "-".to_owned())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns() {
        let out = table(&["A", "BB"], &[vec!["xxx".to_owned(), "y".to_owned()]]);

        assert_eq!(out, "A    BB\nxxx  y\n");
    }
}
