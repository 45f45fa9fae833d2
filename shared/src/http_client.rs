//! Outgoing HTTP (feature `client`): one way to build a client that talks to another server of
//! the network or to Stripe — rustls, a whole-request timeout, no redirects followed — and one
//! bounded body reader, so a hostile server can neither redirect a request nor send an endless
//! answer.

use std::time::Duration;

/// A client with `timeout` for connecting and for the whole request, redirects not followed,
/// identifying itself as `user_agent`.
pub fn outbound(user_agent: &str, timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(user_agent)
        .build()
        .expect("invariant: the rustls client builds")
}

/// Why a body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The body is longer than the limit; the rest was not read.
    #[error("answer larger than {0} bytes")]
    TooLarge(usize),
    /// The connection failed or timed out while reading.
    #[error("{}", describe(.0))]
    Transport(#[from] reqwest::Error),
}

/// Reads `response`'s body chunk by chunk, stopping as soon as it would exceed `max` bytes.
///
/// # Errors
/// [`ReadError`].
pub async fn read_limited(
    mut response: reqwest::Response,
    max: usize,
) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > max {
            return Err(ReadError::TooLarge(max));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A reqwest error with its causes, on one line (reqwest's own text omits them: "error sending
/// request" says nothing of a refused connection).
pub fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut cause = std::error::Error::source(error);
    while let Some(source) = cause {
        text.push_str(": ");
        text.push_str(&source.to_string());
        cause = source.source();
    }
    text
}
