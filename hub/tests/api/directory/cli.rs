//! The real `hub` binary: `hub record` prints an envelope that verifies with the hub id, and
//! `hub decommission` without `--yes` refuses with exit 2 and changes nothing.

use std::path::Path;
use std::process::Output;

use shared::envelope::Envelope;
use shared::record::HubRecord;
use tokio::process::Command;

/// `hub <args> --config <dir>/hub.toml` with an empty environment.
async fn hub(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hub"))
        .env_clear()
        .args(args)
        .arg("--config")
        .arg(dir.join("hub.toml"))
        .output()
        .await
        .expect("the hub binary runs")
}

#[tokio::test]
async fn record_command_prints_an_envelope_that_verifies_with_the_hub_id() {
    let dir = tempfile::tempdir().unwrap();
    let done = hub::init::init(dir.path(), None, None, false).unwrap();

    let output = hub(dir.path(), &["record"]).await;

    assert!(output.status.success(), "{output:?}");
    let envelope = Envelope::parse(&output.stdout).unwrap();
    let record = HubRecord::from_verified(&envelope.verify().unwrap()).unwrap();
    assert_eq!(record.id, done.id.to_string());
}

#[tokio::test]
async fn decommission_command_exits_2_without_yes_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    hub::init::init(dir.path(), None, None, false).unwrap();

    let refused = hub(dir.path(), &["decommission"]).await;
    let reverted = hub(dir.path(), &["decommission", "--revert"]).await;

    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--yes"));
    assert_eq!(reverted.status.code(), Some(0), "{reverted:?}");
    assert!(String::from_utf8_lossy(&reverted.stdout).contains("not decommissioned"));
}
