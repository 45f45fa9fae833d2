//! Signing a `reqwest` request (feature `client`): the PeerSig headers over exactly the method,
//! target and body that will be sent, so a caller cannot sign one thing and send another.

use libp2p::identity::ed25519::Keypair;

use super::SignedHeaders;
use crate::ids::Ed25519PeerId;

/// Why a request could not be signed.
#[derive(Debug, thiserror::Error)]
pub enum SignRequestError {
    /// The request does not build (an invalid URL or header).
    #[error("the request does not build")]
    Build(#[from] reqwest::Error),
    /// The body is a stream: PeerSig covers the whole body, so it must be in memory.
    #[error("a streaming body cannot be signed")]
    StreamingBody,
}

/// Adds the three PeerSig headers (hub.md §3) to `request`, signed by `key` for the server
/// `audience` at `ts_ms` (unix milliseconds), over the request's method, path with query and body.
///
/// # Errors
/// [`SignRequestError`] when the request does not build or its body is a stream.
pub fn sign_request(
    request: reqwest::RequestBuilder,
    key: &Keypair,
    audience: &Ed25519PeerId,
    ts_ms: i64,
) -> Result<reqwest::RequestBuilder, SignRequestError> {
    // `try_clone` fails for a stream body and for a builder that already holds an error.
    let Some(probe) = request.try_clone() else {
        request.build()?;
        return Err(SignRequestError::StreamingBody);
    };
    let probe = probe.build()?;
    let url = probe.url();
    let target = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    };
    let body = match probe.body() {
        None => &[][..],
        Some(body) => body.as_bytes().ok_or(SignRequestError::StreamingBody)?,
    };
    let headers = SignedHeaders::sign(key, audience, ts_ms, probe.method().as_str(), &target, body);
    Ok(headers
        .into_pairs()
        .into_iter()
        .fold(request, |request, (name, value)| {
            request.header(name, value)
        }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peer_sig::{PEER_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER};
    use crate::signing;

    const TS: i64 = 1_767_225_600_000;

    /// A peer's key and the id of the hub it signs for.
    fn signer_and_audience() -> (Keypair, Ed25519PeerId) {
        let hub = Keypair::generate();
        (Keypair::generate(), Ed25519PeerId::from(hub.public()))
    }

    fn header(request: &reqwest::Request, name: &str) -> String {
        request.headers()[name].to_str().unwrap().to_owned()
    }

    /// Whether the request's signature verifies, for its signer header, over this input.
    fn signature_covers(
        signed: &reqwest::Request,
        audience: &Ed25519PeerId,
        method: &str,
        target: &str,
        body: &[u8],
    ) -> bool {
        let input = signing::request_signing_input(
            audience,
            &header(signed, TIMESTAMP_HEADER),
            method,
            target,
            body,
        );
        let signer: Ed25519PeerId = header(signed, PEER_ID_HEADER).parse().unwrap();
        signing::verify_b64u(&signer, &input, &header(signed, SIGNATURE_HEADER)).is_ok()
    }

    #[test]
    fn signed_request_verifies_over_its_method_target_and_body() {
        let (key, audience) = signer_and_audience();
        let request = reqwest::Client::new()
            .post("http://127.0.0.1:8787/api/v1/join?x=1")
            .body(r#"{"email":"ann@example.org"}"#);

        let signed = sign_request(request, &key, &audience, TS)
            .unwrap()
            .build()
            .unwrap();

        let signer: Ed25519PeerId = header(&signed, PEER_ID_HEADER).parse().unwrap();
        assert_eq!(signer, Ed25519PeerId::from(key.public()));
        assert_eq!(header(&signed, TIMESTAMP_HEADER), TS.to_string());
        assert!(signature_covers(
            &signed,
            &audience,
            "POST",
            "/api/v1/join?x=1",
            br#"{"email":"ann@example.org"}"#
        ));
    }

    #[test]
    fn request_without_body_is_signed_over_the_empty_body() {
        let (key, audience) = signer_and_audience();
        let request = reqwest::Client::new().get("http://127.0.0.1:8787/api/v1/membership");

        let signed = sign_request(request, &key, &audience, TS)
            .unwrap()
            .build()
            .unwrap();

        assert!(signature_covers(
            &signed,
            &audience,
            "GET",
            "/api/v1/membership",
            b""
        ));
    }

    #[test]
    fn streaming_body_is_refused() {
        let (key, audience) = signer_and_audience();
        let stream = futures::stream::iter([Ok::<_, std::io::Error>(b"{}".to_vec())]);
        let request = reqwest::Client::new()
            .post("http://127.0.0.1:8787/publish")
            .body(reqwest::Body::wrap_stream(stream));

        let outcome = sign_request(request, &key, &audience, TS);

        assert!(matches!(outcome, Err(SignRequestError::StreamingBody)));
    }

    #[test]
    fn invalid_url_is_a_build_error() {
        let (key, audience) = signer_and_audience();
        let request = reqwest::Client::new().get("not a url");

        let outcome = sign_request(request, &key, &audience, TS);

        assert!(matches!(outcome, Err(SignRequestError::Build(_))));
    }
}
