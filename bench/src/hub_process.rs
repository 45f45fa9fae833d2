//! The `hub` binary as a separate process, so its memory can be measured on its own; reading a
//! process's resident memory; picking a free loopback port.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

/// A hub process on loopback; killed on drop.
pub(crate) struct HubProcess {
    child: Child,
    pub(crate) http: SocketAddr,
    pub(crate) metrics: SocketAddr,
    pub(crate) info: serde_json::Value,
    _dir: tempfile::TempDir,
}

impl HubProcess {
    /// Starts `target/release/hub` (next to this binary) with `HUB_*` settings in `env` on top of
    /// a loopback test setup, and waits until `/readyz` answers 200.
    pub(crate) async fn start(env: &[(&str, String)]) -> Result<Self, String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let hub = exe.with_file_name("hub");
        if !hub.exists() {
            return Err(format!(
                "{} is missing: build it with `cargo build --release -p goop-hub`",
                hub.display()
            ));
        }
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let (http, metrics) = (free_port()?, free_port()?);
        let mut command = Command::new(hub);
        command
            .env("HUB_HUB__DATA_DIR", dir.path())
            .env("HUB_HTTP__BIND", http.to_string())
            .env("HUB_METRICS__BIND", metrics.to_string())
            .env("HUB_P2P__LISTEN_ADDRS", "/ip4/127.0.0.1/tcp/0")
            .env("HUB_LOG__LEVEL", "warn")
            .stdout(Stdio::null())
            .kill_on_drop(true);
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command
            .spawn()
            .map_err(|e| format!("starting the hub: {e}"))?;
        let client = reqwest::Client::new();
        let ready = async {
            loop {
                if let Ok(response) = client.get(format!("http://{http}/readyz")).send().await
                    && response.status() == 200
                {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(30), ready)
            .await
            .map_err(|_| "the hub did not become ready within 30 s".to_owned())?;
        let info = client
            .get(format!("http://{http}/api/v1/info"))
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        Ok(Self {
            child,
            http,
            metrics,
            info,
            _dir: dir,
        })
    }

    /// Resident memory of the hub process in KiB.
    pub(crate) fn rss_kib(&self) -> Result<f64, String> {
        rss_kib(self.child.id().ok_or("the hub exited")?)
    }

    /// One sample of the hub's Prometheus text.
    pub(crate) async fn metric(&self, line_prefix: &str) -> Result<f64, String> {
        let text = reqwest::get(format!("http://{}/metrics", self.metrics))
            .await
            .map_err(|e| e.to_string())?
            .text()
            .await
            .map_err(|e| e.to_string())?;
        Ok(text
            .lines()
            .find_map(|l| l.strip_prefix(line_prefix))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0))
    }
}

/// Resident memory of process `pid` in KiB.
pub(crate) fn rss_kib(pid: u32) -> Result<f64, String> {
    status_kib(pid, "VmRSS")
}

/// A `kB` field of `/proc/<pid>/status` (`VmRSS`, `RssAnon`, `RssFile`).
pub(crate) fn status_kib(pid: u32, field: &str) -> Result<f64, String> {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| e.to_string())?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("no {field} in /proc/{pid}/status"))
}

/// A loopback address with a port that was free a moment ago.
pub(crate) fn free_port() -> Result<SocketAddr, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    listener.local_addr().map_err(|e| e.to_string())
}

/// This process's open-file limit (soft), as set by `scripts/bench`.
pub(crate) fn fd_limit() -> usize {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(1024)
}
