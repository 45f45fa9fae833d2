//! `peer join` as a process (peer.md §1.4 exit codes): through a running daemon against real
//! hubs, and in its own process when no daemon runs.

use std::process::Output;

use hub::config::JoinMode;
use peer::store::{HubSource, Store};
use testkit::{TestDb, TestHub};

use crate::daemon::{Running, closed_addr};
use crate::{DataDir, stderr, stdout};

/// A hub in `mode`.
async fn hub_in(mode: JoinMode) -> (TestHub, TestDb) {
    let db = TestDb::sqlite();
    let hub = TestHub::spawn_with(&db, |c| c.membership.join_mode = mode).await;
    (hub, db)
}

/// `peer <args>` with `env`, off the runtime's threads (the hubs keep serving meanwhile).
async fn peer(dir: &DataDir, args: &[&str], env: &[(&str, &str)]) -> Output {
    let child = dir
        .command(args, env)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_through_the_daemon_exits_0_2_3_and_4_as_the_spec_says() {
    let (open, _a) = hub_in(JoinMode::Open).await;
    let (invite, _b) = hub_in(JoinMode::Invite).await;
    let (email, _c) = hub_in(JoinMode::Email).await;
    let dir = DataDir::new();
    assert!(dir.run(&["init"], &[]).status.success());
    let running = Running::start(&dir);
    let addr = running.addr.to_string();
    let env = [("PEER_HTTP__ADDR", addr.as_str())];
    let closed = format!("http://{}", closed_addr());

    let joined = peer(&dir, &["join", &open.base_url], &env).await;
    let wrong_invite = peer(
        &dir,
        &[
            "join",
            &invite.base_url,
            "--email",
            "a@example.org",
            "--invite",
            "NOPE-NOPE",
        ],
        &env,
    )
    .await;
    let no_email = peer(&dir, &["join", &email.base_url], &env).await;
    let waiting = peer(
        &dir,
        &[
            "join",
            &email.base_url,
            "--email",
            "b@example.org",
            "--wait",
            "1",
        ],
        &env,
    )
    .await;
    let unreachable = peer(&dir, &["join", &closed], &env).await;

    assert!(joined.status.success(), "{}", stderr(&joined));
    assert!(
        stdout(&joined).contains("active member"),
        "{}",
        stdout(&joined)
    );
    assert_eq!(
        wrong_invite.status.code(),
        Some(2),
        "{}",
        stderr(&wrong_invite)
    );
    assert!(
        stderr(&wrong_invite).contains("invalid"),
        "{}",
        stderr(&wrong_invite)
    );
    assert_eq!(no_email.status.code(), Some(2), "{}", stderr(&no_email));
    assert!(
        stderr(&no_email).contains("--email"),
        "{}",
        stderr(&no_email)
    );
    assert_eq!(waiting.status.code(), Some(3), "{}", stderr(&waiting));
    assert!(
        stderr(&waiting).contains("pending_email"),
        "{}",
        stderr(&waiting)
    );
    assert_eq!(
        unreachable.status.code(),
        Some(4),
        "{}",
        stderr(&unreachable)
    );
    let hubs = peer(&dir, &["hubs"], &env).await;
    assert!(stdout(&hubs).contains(&open.base_url), "{}", stdout(&hubs));
    assert!(
        !stdout(&hubs).contains(&invite.base_url),
        "{}",
        stdout(&hubs)
    );
    assert_eq!(running.terminate().code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_without_a_daemon_joins_in_its_own_process() {
    let (open, _db) = hub_in(JoinMode::Open).await;
    let dir = DataDir::new();
    assert!(dir.run(&["init"], &[]).status.success());
    let addr = closed_addr();
    let env = [
        ("PEER_HTTP__ADDR", addr.as_str()),
        ("PEER_P2P__LOOPBACK_ONLY", "true"),
    ];

    let joined = peer(&dir, &["join", &open.base_url], &env).await;

    assert!(joined.status.success(), "{}", stderr(&joined));
    assert!(
        stderr(&joined).contains("no daemon answers"),
        "{}",
        stderr(&joined)
    );
    let hubs = peer(&dir, &["hubs"], &env).await;
    assert!(stdout(&hubs).contains(&open.base_url), "{}", stdout(&hubs));
    let store = Store::open(&dir.path).await.unwrap();
    let rows = store.list_hubs().await.unwrap();
    store.close().await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].source, HubSource::Cli);
}
