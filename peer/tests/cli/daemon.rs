//! `peer run` and the commands that talk to it: start, SIGTERM, start errors, fallbacks.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use peer::hub_url::HubUrl;
use peer::store::{HubSource, Store};

use crate::{DataDir, stderr, stdout};

/// Configuration for a daemon on loopback with a random API port.
const LOOPBACK: [(&str, &str); 2] = [
    ("PEER_HTTP__ADDR", "127.0.0.1:0"),
    ("PEER_P2P__LOOPBACK_ONLY", "true"),
];

/// An API address nothing listens on.
pub(crate) fn closed_addr() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

fn healthz(addr: SocketAddr) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
        addr.port()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

/// A `peer run` child process and its API address (read from its log).
pub(crate) struct Running {
    child: Child,
    pub(crate) addr: SocketAddr,
}

impl Running {
    pub(crate) fn start(dir: &DataDir) -> Self {
        let mut child = dir
            .command(&["run"], &LOOPBACK)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (lines_tx, lines_rx) = mpsc::channel();
        let stderr_pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr_pipe).lines().map_while(Result::ok) {
                let _ = lines_tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        let addr = loop {
            let line = lines_rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .expect("the daemon logs its API address");
            if let Some((_, rest)) = line.split_once("local API on http://") {
                let addr: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
                    .collect();
                break addr.parse().unwrap();
            }
        };
        Self { child, addr }
    }

    /// Sends SIGTERM; the exit status, which must come within 5 s.
    pub(crate) fn terminate(mut self) -> std::process::ExitStatus {
        let killed = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let stopped = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < stopped, "still running 5 s after SIGTERM");
            // Polling the child: std has no wait with a deadline.
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn run_serves_the_api_and_stops_cleanly_within_5_s_of_sigterm() {
    let dir = DataDir::new();
    assert!(dir.run(&["init"], &[]).status.success());
    let running = Running::start(&dir);

    assert!(healthz(running.addr).ends_with("ok"));

    assert_eq!(running.terminate().code(), Some(0));
}

#[test]
fn peers_prints_the_daemons_table_and_send_exits_6_when_the_daemon_cannot_deliver() {
    let dir = DataDir::new();
    assert!(dir.run(&["init"], &[]).status.success());
    let running = Running::start(&dir);
    let addr = running.addr.to_string();
    let env = [("PEER_HTTP__ADDR", addr.as_str())];

    let peers = dir.run(&["peers", "--online"], &env);
    let id = stdout(&dir.run(&["id"], &[])).trim().to_owned();
    let send = dir.run(&["send", &id, "hi"], &env);

    assert!(peers.status.success(), "{}", stderr(&peers));
    assert_eq!(
        stdout(&peers),
        "PEER ID  LABEL  ONLINE  VERIFIED  REACHABLE  FLAGS  LAST SEEN  SOURCES\n"
    );
    assert_eq!(send.status.code(), Some(6), "{}", stderr(&send));
    assert_eq!(running.terminate().code(), Some(0));
}

#[test]
fn leave_through_the_daemon_warns_when_the_hub_stays_in_hubs_urls() {
    let dir = DataDir::new();
    assert!(dir.run(&["init"], &[]).status.success());
    let hub = format!("http://{}", closed_addr());
    let toml = std::fs::read_to_string(dir.file("peer.toml"))
        .unwrap()
        .replace("# urls = []", &format!("urls = [\"{hub}\"]"));
    std::fs::write(dir.file("peer.toml"), toml).unwrap();
    let running = Running::start(&dir);
    let addr = running.addr.to_string();
    let env = [("PEER_HTTP__ADDR", addr.as_str())];
    let deadline = Instant::now() + Duration::from_secs(10);
    while !stdout(&dir.run(&["hubs"], &env)).contains(&hub) {
        assert!(Instant::now() < deadline, "the daemon never listed {hub}");
    }

    let left = dir.run(&["leave", &hub], &env);

    assert!(left.status.success(), "{}", stderr(&left));
    assert_eq!(stdout(&left), format!("left {hub}\n"));
    assert!(
        stderr(&left).contains("is in hubs.urls of peer.toml; remove it there too"),
        "{}",
        stderr(&left)
    );
    assert_eq!(running.terminate().code(), Some(0));
}

#[test]
fn run_exits_1_and_keeps_the_key_when_the_key_is_corrupt() {
    let dir = DataDir::new();
    std::fs::create_dir_all(&dir.path).unwrap();
    std::fs::write(dir.file("identity.key"), b"not a key").unwrap();

    let output = dir.run(&["run"], &LOOPBACK);

    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(
        std::fs::read(dir.file("identity.key")).unwrap(),
        b"not a key"
    );
}

#[tokio::test]
async fn hubs_and_leave_fall_back_to_the_data_dir_when_no_daemon_runs() {
    let dir = DataDir::new();
    assert!(dir.run(&["init"], &[]).status.success());
    let store = Store::open(&dir.path).await.unwrap();
    let stored = HubUrl::parse("http://stored.example").unwrap();
    store.insert_hub(&stored, HubSource::Cli, 1).await.unwrap();
    store.close().await;
    let addr = closed_addr();
    let env = [
        ("PEER_HTTP__ADDR", addr.as_str()),
        ("PEER_HUBS__URLS", "http://configured.example"),
    ];

    let hubs = dir.run(&["hubs"], &env);

    assert!(hubs.status.success(), "{}", stderr(&hubs));
    let out = stdout(&hubs);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("URL"), "{out}");
    assert!(lines[0].contains("RELAY"), "{out}");
    assert!(out.contains("http://configured.example"), "{out}");
    assert!(out.contains("http://stored.example"), "{out}");
    assert_eq!(lines[1].find("stopped"), lines[0].find("STATE"), "{out}");
    assert!(
        stderr(&hubs).contains("no daemon answers"),
        "{}",
        stderr(&hubs)
    );

    let left = dir.run(&["leave", "http://stored.example/"], &env);
    assert!(left.status.success(), "{}", stderr(&left));
    let again = dir.run(&["leave", "http://stored.example"], &env);
    assert_eq!(again.status.code(), Some(1));
    assert!(!stdout(&dir.run(&["hubs"], &env)).contains("stored.example"));
}

#[test]
fn send_exits_6_and_peers_exits_1_when_no_daemon_runs() {
    let dir = DataDir::new();
    assert!(dir.run(&["init"], &[]).status.success());
    let addr = closed_addr();
    let env = [("PEER_HTTP__ADDR", addr.as_str())];
    let id = stdout(&dir.run(&["id"], &[])).trim().to_owned();

    let send = dir.run(&["send", &id, "hello", "there"], &env);
    let peers = dir.run(&["peers"], &env);

    assert_eq!(send.status.code(), Some(6), "{}", stderr(&send));
    assert!(stderr(&send).contains("not delivered"));
    assert_eq!(peers.status.code(), Some(1), "{}", stderr(&peers));
}

#[test]
fn run_exits_1_when_the_api_address_is_taken() {
    let dir = DataDir::new();
    assert!(dir.run(&["init"], &[]).status.success());
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();

    let output = dir.run(
        &["run"],
        &[
            ("PEER_HTTP__ADDR", &addr),
            ("PEER_P2P__LOOPBACK_ONLY", "true"),
        ],
    );

    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains(&addr), "{}", stderr(&output));
}
