//! §15.3 check 6, signed side: a hub.md hub never receives unsigned presence from us; what the
//! peer sends is recorded on the wire.

use testkit::TestPeer;

use super::{hub_view, open_hub, start_peer, url};

/// A TCP relay to `upstream` that records what clients send (at most 4 MiB).
async fn recording_proxy(
    upstream: std::net::SocketAddr,
) -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let record = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let kept = record.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                continue;
            };
            let (mut client_rx, mut client_tx) = client.into_split();
            let (mut server_rx, mut server_tx) = server.into_split();
            tokio::spawn(async move { tokio::io::copy(&mut server_rx, &mut client_tx).await });
            let kept = kept.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                while let Ok(n) = client_rx.read(&mut buf).await {
                    if n == 0 || server_tx.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                    let mut record = kept.lock().unwrap();
                    if record.len() < 4 << 20 {
                        record.extend_from_slice(&buf[..n]);
                    }
                }
            });
        }
    });
    (addr, record)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_hub_never_receives_unsigned_presence() {
    let (hub, _db) = open_hub(|_| {}).await;
    let (addr, record) = recording_proxy(hub.server().http_addr()).await;
    let base = format!("http://{addr}");
    let (a, _d) = start_peer(&[&base], |_| {}).await;
    let h = url(&base);
    hub_view(&a, &h, "online", |v| v.state == "online").await;
    let _ = a.node().hubs.pulse(&h, &TestPeer::new().peer_id()).await;
    a.node().hubs.leave(&h).await.unwrap();

    let sent = String::from_utf8_lossy(&record.lock().unwrap()).into_owned();
    let heads: Vec<&str> = sent
        .split("\r\n\r\n")
        .filter_map(|part| {
            let start = ["GET /", "POST /"]
                .iter()
                .filter_map(|m| part.find(m))
                .min()?;
            Some(&part[start..])
        })
        .collect();
    let ws: Vec<&&str> = heads.iter().filter(|h| h.starts_with("GET /ws")).collect();
    let signed_posts: Vec<&&str> = heads.iter().filter(|h| h.starts_with("POST /")).collect();
    assert!(!ws.is_empty() && !signed_posts.is_empty(), "{heads:?}");
    for head in ws {
        assert!(
            head.starts_with(&format!("GET /ws?peer_id={}&v=2 ", a.peer_id())),
            "{head}"
        );
    }
    for head in signed_posts {
        assert!(
            head.to_ascii_lowercase().contains("x-goop-signature:"),
            "{head}"
        );
    }
    a.shutdown().await;
}
