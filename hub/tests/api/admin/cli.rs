//! The `hub admin` command line (hub.md §9.4) against a running hub.

use hub::members::{State, Tier};
use serde_json::Value;
use testkit::{TestDb, each_backend};

use super::{Seed, TOKEN, admin_hub, get_json, seed};

each_backend!(
    cli_lists_members_as_json,
    cli_creates_an_invite_with_expiry_and_actor,
);

/// Runs the real `hub` binary with a clean environment holding only the admin token.
async fn cli(args: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    tokio::process::Command::new(env!("CARGO_BIN_EXE_hub"))
        .args(args)
        .env_clear()
        .env("HUB_ADMIN__TOKEN", TOKEN)
        .env("USER", "tester")
        .current_dir(dir.path())
        .output()
        .await
        .unwrap()
}

async fn cli_lists_members_as_json(db: TestDb) {
    let hub = admin_hub(&db).await;
    let store = db.hub_store().await;
    seed(
        &store,
        Seed::new("ann@example.org", State::Active, Tier::Member),
    )
    .await;
    seed(
        &store,
        Seed::new("bob@example.org", State::Banned, Tier::Guest),
    )
    .await;

    let out = cli(&[
        "admin",
        "--url",
        &hub.base_url,
        "members",
        "list",
        "--state",
        "active",
        "--json",
    ])
    .await;

    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["email"], "ann@example.org");
    let table = cli(&["admin", "--url", &hub.base_url, "members", "list"]).await;
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.starts_with("ID"), "{text}");
    assert!(
        text.contains("bob@example.org") && text.contains("banned"),
        "{text}"
    );
    let api_error = cli(&[
        "admin",
        "--url",
        &hub.base_url,
        "members",
        "approve",
        "nope",
    ])
    .await;
    assert_eq!(api_error.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&api_error.stderr).contains("404 not_found"));
}

async fn cli_creates_an_invite_with_expiry_and_actor(db: TestDb) {
    let hub = admin_hub(&db).await;
    let before = testkit::now_ms();

    let out = cli(&[
        "admin",
        "--url",
        &hub.base_url,
        "invites",
        "create",
        "--uses",
        "3",
        "--expires",
        "2d",
        "--note",
        "cli",
    ])
    .await;

    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let code = stdout.lines().next().unwrap().to_owned();
    assert_eq!(code.len(), 14, "{stdout}");
    let listed = get_json(&hub, "/invites").await;
    let invite = &listed["items"][0];
    assert_eq!(invite["code"], code.as_str());
    assert_eq!(invite["max_uses"], 3);
    assert_eq!(invite["created_by"], "cli:tester");
    let expires_at = invite["expires_at"].as_i64().unwrap();
    assert!(
        expires_at >= before + 2 * 86_400_000 && expires_at <= testkit::now_ms() + 2 * 86_400_000
    );
    let usage = cli(&[
        "admin",
        "--url",
        &hub.base_url,
        "invites",
        "create",
        "--expires",
        "soon",
    ])
    .await;
    assert_eq!(usage.status.code(), Some(2));
}

#[tokio::test]
async fn cli_exits_3_when_hub_is_unreachable() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);

    let out = cli(&["admin", "--url", &url, "stats"]).await;

    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unreachable"));
}
