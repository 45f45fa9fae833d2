//! `peer groups list|create|join|leave|close` (peer.md §1.4) against running peers' local APIs.

use std::process::Output;

use crate::harness::{Node, connect, start, stop};

/// Runs `peer groups <args>` against `node`'s local API.
async fn groups(node: &Node, args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_peer"));
    command
        .arg("--data-dir")
        .arg(dir.path())
        .arg("groups")
        .args(args);
    for (name, _) in std::env::vars() {
        if name.starts_with("PEER_") || name == "RUST_LOG" {
            command.env_remove(name);
        }
    }
    command.env(
        "PEER_HTTP__ADDR",
        node.peer.http_addr().unwrap().to_string(),
    );
    tokio::task::spawn_blocking(move || {
        let output = command.output().unwrap();
        drop(dir);
        output
    })
    .await
    .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn groups_commands_create_list_join_leave_and_close() {
    let host = start().await;
    let member = start().await;
    connect(&member, &host).await;

    let created = groups(&host, &["create", "Chess", "--type", "template"]).await;
    assert!(created.status.success(), "{created:?}");
    let gid = stdout(&created).trim().to_owned();
    assert_eq!(gid.len(), 16, "{gid}");

    let host_id = host.peer.peer_id().to_base58();
    let joined = groups(&member, &["join", &host_id, &gid]).await;
    assert!(joined.status.success(), "{joined:?}");
    assert!(stdout(&joined).contains("joined"), "{}", stdout(&joined));

    let listed = stdout(&groups(&host, &["list"]).await);
    let header = listed.lines().next().unwrap();
    assert!(
        header.starts_with("GROUP ID")
            && header.contains("  NAME ")
            && header.ends_with("MEMBERS  STATE"),
        "{listed}"
    );
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with(&gid) && l.contains("hosting")),
        "{listed}"
    );
    let listed = stdout(&groups(&member, &["list"]).await);
    assert!(
        listed
            .lines()
            .any(|l| l.contains(&host_id) && l.contains("joined")),
        "{listed}"
    );

    assert!(groups(&member, &["leave", &gid]).await.status.success());
    assert!(groups(&host, &["close", &gid]).await.status.success());
    let again = groups(&host, &["close", &gid]).await;
    assert_eq!(again.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("HTTP 404"),
        "{again:?}"
    );
    let refused = groups(&host, &["create", "x", "--type", "Bad"]).await;
    assert_eq!(refused.status.code(), Some(1));
    stop(vec![member, host]).await;
}
