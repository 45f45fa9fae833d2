//! §11.1: Host and Origin checks, body type and size, JSON errors, no CORS.

use serde_json::json;

use crate::harness::{Api, error_code};

#[tokio::test]
async fn healthz_answers_when_host_is_loopback_and_origin_missing() {
    let api = Api::start().await;
    for host in [
        format!("127.0.0.1:{}", api.addr.port()),
        format!("localhost:{}", api.addr.port()),
        format!("[::1]:{}", api.addr.port()),
    ] {
        let (status, body) = api
            .raw(&format!("GET /healthz HTTP/1.1\r\nHost: {host}"), b"")
            .await;
        assert_eq!((status, body.as_str()), (200, "ok"), "{host}");
    }
    api.stop().await;
}

#[tokio::test]
async fn foreign_host_is_refused_with_403_forbidden_host() {
    let api = Api::start().await;
    for host in [
        "evil.example".to_owned(),
        format!("evil.example:{}", api.addr.port()),
        "127.0.0.1:1".to_owned(),
    ] {
        let (status, body) = api
            .raw(&format!("GET /api/self HTTP/1.1\r\nHost: {host}"), b"")
            .await;
        assert_eq!(status, 403, "{host}");
        assert_eq!(error_code(&body), "forbidden_host");
    }
    api.stop().await;
}

#[tokio::test]
async fn foreign_origin_is_refused_with_403_forbidden_origin_even_on_upgrades() {
    let api = Api::start().await;
    let host = api.host();
    for extra in [
        "Origin: http://evil.example".to_owned(),
        format!("Origin: https://{host}"),
        "Origin: null".to_owned(),
        "Sec-Fetch-Site: cross-site\r\nSec-Fetch-Mode: cors".to_owned(),
        "Origin: http://evil.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="
            .to_owned(),
    ] {
        let (status, body) = api
            .raw(
                &format!("GET /api/events HTTP/1.1\r\nHost: {host}\r\n{extra}"),
                b"",
            )
            .await;
        assert_eq!(status, 403, "{extra}");
        assert_eq!(error_code(&body), "forbidden_origin");
    }
    let (status, _) = api
        .raw(
            &format!("GET /api/self HTTP/1.1\r\nHost: {host}\r\nOrigin: http://{host}"),
            b"",
        )
        .await;
    assert_eq!(status, 200);
    api.stop().await;
}

#[tokio::test]
async fn json_body_without_json_content_type_is_refused_with_415() {
    let api = Api::start().await;
    for content_type in ["text/plain", "application/x-www-form-urlencoded"] {
        let (status, body) = api
            .raw(
                &format!(
                    "POST /api/peers/favorite HTTP/1.1\r\nHost: {}\r\nContent-Type: {content_type}",
                    api.host()
                ),
                br#"{"peer_id":"x","favorite":true}"#,
            )
            .await;
        assert_eq!(status, 415, "{content_type}");
        assert_eq!(error_code(&body), "unsupported_media_type");
    }
    let (status, _) = api
        .raw(
            &format!("POST /api/peers/favorite HTTP/1.1\r\nHost: {}", api.host()),
            br#"{"peer_id":"x","favorite":true}"#,
        )
        .await;
    assert_eq!(status, 415);
    api.stop().await;
}

#[tokio::test]
async fn json_body_over_one_mib_is_refused_with_413() {
    let api = Api::start().await;
    let huge = json!({ "peer_id": "x".repeat(1024 * 1024), "favorite": true });
    let (status, body) = api.post_json("/api/peers/favorite", &huge).await;
    assert_eq!(status, 413);
    assert_eq!(error_code(&body), "payload_too_large");
    api.stop().await;
}

#[tokio::test]
async fn malformed_json_is_refused_with_400_and_unknown_routes_with_json_404_405() {
    let api = Api::start().await;
    let (status, body) = api
        .raw(
            &format!(
                "POST /api/peers/block HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json",
                api.host()
            ),
            b"{not json",
        )
        .await;
    assert_eq!((status, error_code(&body).as_str()), (400, "invalid_json"));
    let (status, body) = api
        .post_json("/api/peers/block", &json!({"peer_id": 5}))
        .await;
    assert_eq!((status, error_code(&body).as_str()), (400, "invalid_field"));
    let (status, body) = api.get("/api/nothing").await;
    assert_eq!((status, error_code(&body).as_str()), (404, "not_found"));
    let (status, body) = api.get("/api/peers/block").await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (405, "method_not_allowed")
    );
    api.stop().await;
}

#[tokio::test]
async fn answers_carry_no_cors_headers_when_origin_is_allowed() {
    let api = Api::start().await;
    let host = api.host();
    let mut stream = tokio::net::TcpStream::connect(api.addr).await.unwrap();
    let request = format!(
        "GET /api/self HTTP/1.1\r\nHost: {host}\r\nOrigin: http://{host}\r\nConnection: close\r\n\r\n"
    );
    tokio::io::AsyncWriteExt::write_all(&mut stream, request.as_bytes())
        .await
        .unwrap();
    let mut answer = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut stream, &mut answer)
        .await
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        !answer.to_ascii_lowercase().contains("access-control-"),
        "{answer}"
    );
    api.stop().await;
}
