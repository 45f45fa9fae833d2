//! The real `hub` binary and its environment (hub.md §16): only `HUB_<SECTION>__<KEY>` variables
//! are configuration. Kubernetes' service variables for a Service named `hub` must not stop it,
//! while a misspelt key of the right shape still does.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{ExitStatus, Output, Stdio};
use std::time::Duration;

use testkit::eventually;
use tokio::process::Command;

/// Start-up of a fresh hub (key, SQLite migrations, listeners) on a loaded CI machine.
const START_DEADLINE: Duration = Duration::from_secs(60);

/// What Kubernetes sets in every pod of the namespace for a Service named `hub`.
const KUBERNETES_VARS: [(&str, &str); 3] = [
    ("HUB_SERVICE_HOST", "10.0.0.1"),
    ("HUB_PORT", "tcp://10.0.0.1:8787"),
    ("HUB_PORT_8787_TCP", "tcp://10.0.0.1:8787"),
];

/// A loopback port that was free a moment ago.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("bound address").port()
}

/// `hub run` on `data_dir` with nothing but `vars` in its environment: HTTP on `http`, libp2p on
/// a free loopback port, metrics off.
fn hub_run(data_dir: &Path, http: SocketAddr, vars: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hub"));
    command
        .env_clear()
        .arg("run")
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--http-bind")
        .arg(http.to_string())
        .env(
            "HUB_P2P__LISTEN_ADDRS",
            format!("/ip4/127.0.0.1/tcp/{}", free_port()),
        )
        .env("HUB_METRICS__ENABLED", "false")
        .envs(vars.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .kill_on_drop(true);
    command
}

/// `Some` once `/healthz` answers 200; panics when the hub has exited instead.
async fn healthz(client: &reqwest::Client, url: &str, exited: Option<ExitStatus>) -> Option<()> {
    if let Some(status) = exited {
        panic!("hub exited before answering /healthz: {status}");
    }
    let response = client.get(url).send().await.ok()?;
    (response.status() == 200).then_some(())
}

/// Spawns `command` and waits until its `/healthz` on `http` answers 200.
async fn until_healthy(mut command: Command, http: SocketAddr) -> tokio::process::Child {
    let mut child = command.spawn().expect("spawn the hub binary");
    let client = reqwest::Client::new();
    let url = format!("http://{http}/healthz");
    eventually(START_DEADLINE, "the hub binary to answer /healthz", || {
        let exited = child.try_wait().expect("poll the hub process");
        healthz(&client, &url, exited)
    })
    .await;
    child
}

/// Runs the hub to its exit (a config error), with its stderr.
async fn run_to_exit(data_dir: &Path, http: SocketAddr, vars: &[(&str, &str)]) -> Output {
    tokio::time::timeout(
        START_DEADLINE,
        hub_run(data_dir, http, vars)
            .stderr(Stdio::piped())
            .output(),
    )
    .await
    .expect("the hub exits on a config error")
    .expect("run the hub binary")
}

#[tokio::test]
async fn hub_starts_when_kubernetes_service_variables_are_set() {
    let dir = tempfile::tempdir().unwrap();
    let http = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let mut command = hub_run(dir.path(), http, &KUBERNETES_VARS);
    command.stderr(Stdio::null());

    let mut child = until_healthy(command, http).await;

    child.kill().await.expect("stop the hub");
}

#[tokio::test]
async fn hub_exits_naming_the_key_when_env_key_is_misspelt() {
    let dir = tempfile::tempdir().unwrap();
    let http = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let mut vars = KUBERNETES_VARS.to_vec();
    vars.push(("HUB_HTTP__TYPO", "1"));

    let output = run_to_exit(dir.path(), http, &vars).await;

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "exit status {}", output.status);
    assert!(stderr.contains("typo"), "stderr: {stderr}");
}

#[tokio::test]
async fn hub_logs_each_ignored_variable_when_debug_logging_is_on() {
    let dir = tempfile::tempdir().unwrap();
    let http = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let mut vars = KUBERNETES_VARS.to_vec();
    vars.push(("RUST_LOG", "shared=debug"));
    let mut command = hub_run(dir.path(), http, &vars);
    command.stderr(Stdio::piped());

    let mut child = until_healthy(command, http).await;
    child.start_kill().expect("stop the hub");
    let output = child.wait_with_output().await.expect("the hub's output");

    let stderr = String::from_utf8_lossy(&output.stderr);
    for (name, _) in KUBERNETES_VARS {
        let line = stderr
            .lines()
            .filter(|line| line.contains("ignoring environment variable"))
            .find(|line| line.split_whitespace().any(|word| word.ends_with(name)));
        assert!(line.is_some(), "no debug line for {name} in: {stderr}");
    }
}

#[tokio::test]
async fn hub_warns_at_start_that_links_go_to_the_log_when_transport_is_log() {
    let dir = tempfile::tempdir().unwrap();
    let http = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let mut command = hub_run(dir.path(), http, &[]);
    command.stderr(Stdio::piped());

    let mut child = until_healthy(command, http).await;
    child.start_kill().expect("stop the hub");
    let output = child.wait_with_output().await.expect("the hub's output");

    let stderr = String::from_utf8_lossy(&output.stderr);
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains("WARN") && line.contains("links are written to this log"))
        .collect();
    assert_eq!(warnings.len(), 1, "one warning in: {stderr}");
}

#[tokio::test]
async fn hub_refuses_the_default_log_transport_when_external_url_is_public() {
    let dir = tempfile::tempdir().unwrap();
    let http = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let public = [("HUB_HTTP__EXTERNAL_URL", "https://hub.example.org")];

    let output = run_to_exit(dir.path(), http, &public).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "exit status {}", output.status);
    assert!(stderr.contains("email.transport"), "stderr: {stderr}");

    let explicit = [public[0], ("HUB_EMAIL__TRANSPORT", "log")];
    let mut command = hub_run(dir.path(), http, &explicit);
    command.stderr(Stdio::null());
    let mut child = until_healthy(command, http).await;
    child.kill().await.expect("stop the hub");
}
