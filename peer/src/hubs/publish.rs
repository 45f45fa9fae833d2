//! Presence over HTTP (peer.md §3.3 "No WS up", legacy start and heartbeat): `POST /publish` with
//! our message, signed at signed hubs, unsigned (with `verificationToken` when configured) at
//! legacy hubs; at most one request per 2 s per hub (hub.md §13.2 `publish_peer`).

use std::time::{Duration, Instant};

use reqwest::Method;
use shared::presence::MsgType;

use super::HubKind;
use super::client::{HubCallError, PUBLISH_TIMEOUT};
use super::context::Ctx;

/// At most one publish per this, per hub.
pub(crate) const MIN_INTERVAL: Duration = Duration::from_secs(2);

/// Publishes our `kind` message, waiting first when the last publish was under 2 s ago.
///
/// # Errors
/// [`HubCallError`] (a non-2xx answer included).
pub(crate) async fn publish(ctx: &Ctx, kind: MsgType) -> Result<(), HubCallError> {
    let wait = {
        let last = ctx.last_publish.lock().unwrap_or_else(|e| e.into_inner());
        last.map(|t| (t + MIN_INTERVAL).saturating_duration_since(Instant::now()))
    };
    if let Some(wait) = wait.filter(|w| !w.is_zero()) {
        tokio::time::sleep(wait).await;
    }
    *ctx.last_publish.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
    let body = ctx.own_frame(kind).await.into_bytes();
    let answer = match ctx.kind() {
        Some(HubKind::Signed) => {
            ctx.client
                .signed(
                    "publish",
                    Method::POST,
                    "/publish",
                    Some(body),
                    PUBLISH_TIMEOUT,
                )
                .await?
        }
        Some(HubKind::Legacy) => {
            ctx.client
                .call(Method::POST, "/publish", Some(body), PUBLISH_TIMEOUT)
                .await?
        }
        // Not discovered yet: a hub.md hub must never receive unsigned presence.
        None => {
            return Err(HubCallError::Unreachable(
                "hub kind not known yet".to_owned(),
            ));
        }
    };
    if answer.status.is_success() {
        Ok(())
    } else {
        Err(answer.error())
    }
}
