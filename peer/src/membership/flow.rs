//! The steps of peer.md §3.6 (1–5 and 7; step 6, payment, is not served yet): discover, read
//! the membership, join or bind, consume a pasted token, wait for the link or the approval, then
//! fetch, check and store the voucher and add the hub.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::time::Instant;

use super::info::{JoinInfo, token_of};
use super::{Action, EMAIL_POLL, JoinError, JoinOptions, Joined, MAX_WAIT, Progress};
use crate::event::{Event, StateChange};
use crate::hub_url::HubUrl;
use crate::hubs::client::{Answer, HTTP_TIMEOUT, HubClient};
use crate::hubs::discovery::{self, Membership};
use crate::hubs::{HubCallError, HubKind};
use crate::node::Node;

/// Longest 429 wait honoured inside a join.
const MAX_RATE_WAIT: Duration = Duration::from_secs(60);

/// One join in progress.
pub(super) struct Flow<'a> {
    pub(super) node: &'a Arc<Node>,
    pub(super) url: &'a HubUrl,
    pub(super) options: &'a JoinOptions,
    pub(super) client: HubClient,
    pub(super) progress: &'a watch::Sender<Progress>,
    pub(super) deadline: Instant,
    /// The last state emitted as `membership.state`.
    emitted: Option<String>,
}

/// Runs the flow for `url` to its end.
pub(super) async fn run(
    node: &Arc<Node>,
    url: &HubUrl,
    options: &JoinOptions,
    progress: &watch::Sender<Progress>,
) -> Result<Joined, JoinError> {
    let mut flow = Flow {
        node,
        url,
        options,
        client: HubClient::new(url.clone(), node.key.clone(), node.clock.clone()),
        progress,
        deadline: Instant::now() + options.wait.min(MAX_WAIT),
        emitted: None,
    };
    let result = flow.steps().await;
    match &result {
        Ok(joined) => {
            tracing::info!(hub = %url, state = joined.state, tier = ?joined.tier, "joined")
        }
        Err(error) => tracing::warn!(hub = %url, %error, "join ended without a membership"),
    }
    result
}

impl Flow<'_> {
    async fn steps(&mut self) -> Result<Joined, JoinError> {
        let pasted = match &self.options.token {
            Some(text) => Some(token_of(text).ok_or(JoinError::Invalid("token"))?),
            None => None,
        };
        // Step 1: discover.
        let kind = discovery::read_kind(&self.client)
            .await
            .map_err(JoinError::Hub)?;
        if kind == HubKind::Legacy {
            return self.legacy().await;
        }
        let info = JoinInfo::read(&self.client).await.map_err(JoinError::Hub)?;
        if shared::voucher::normalize_hub_url(&info.http_url)
            != shared::voucher::normalize_hub_url(self.url.as_str())
        {
            tracing::warn!(hub = %self.url, http_url = info.http_url, "the hub names another URL; its vouchers carry that one");
        }
        if let Some(token) = pasted {
            self.verify(&token).await?;
        }
        let mut joined = false;
        let mut waited: Option<&'static str> = None;
        let mut paid = false;
        loop {
            // Step 2: current state.
            let membership = self.membership().await?;
            match membership.state.as_str() {
                "none" => match waited {
                    Some("pending_email") => {
                        return Err(JoinError::TimedOut {
                            state: "none".to_owned(),
                            action: None,
                        });
                    }
                    Some(_) => return Err(JoinError::Refused("application_rejected".to_owned())),
                    None if !joined => {
                        self.join(&info).await?;
                        joined = true;
                    }
                    None => {
                        return Err(JoinError::Hub(HubCallError::Malformed(
                            "no membership after a successful join".to_owned(),
                        )));
                    }
                },
                "pending_email" => {
                    waited = Some("pending_email");
                    self.wait("pending_email", Action::VerifyEmail, EMAIL_POLL)
                        .await?;
                }
                "pending_approval" => {
                    waited = Some("pending_approval");
                    let poll = self.node.config.hubs.approval_poll_secs.max(1);
                    self.wait(
                        "pending_approval",
                        Action::AwaitApproval,
                        Duration::from_secs(poll),
                    )
                    .await?;
                }
                "banned" => return Err(JoinError::Refused("banned".to_owned())),
                "active" | "grace" | "lapsed" => {
                    if info.access == "paid" && membership.tier.as_deref() == Some("guest") {
                        if paid {
                            // The poll saw a paid tier that the hub no longer reports.
                            return Err(JoinError::Hub(HubCallError::Malformed(
                                "still a guest after the checkout".to_owned(),
                            )));
                        }
                        self.payment(&info).await?;
                        paid = true;
                        continue;
                    }
                    return self.voucher(&info).await;
                }
                other => {
                    return Err(JoinError::Hub(HubCallError::Malformed(format!(
                        "unknown membership state {:?}",
                        other.chars().take(32).collect::<String>()
                    ))));
                }
            }
        }
    }

    /// A goop2 hub: no membership; add it.
    async fn legacy(&mut self) -> Result<Joined, JoinError> {
        let o = self.options;
        if o.email.is_some() || o.invite.is_some() || o.message.is_some() || o.bind_code.is_some() {
            tracing::warn!(hub = %self.url, "a legacy hub has no membership: join options ignored");
        }
        self.add_hub().await?;
        Ok(Joined {
            url: self.url.clone(),
            state: "legacy".to_owned(),
            tier: None,
            voucher_expires_at: None,
        })
    }

    /// `GET /api/v1/membership`; records and announces a changed state.
    pub(super) async fn membership(&mut self) -> Result<Membership, JoinError> {
        let client = &self.client;
        let membership = self.retrying(|| discovery::read_membership(client)).await?;
        self.record(&membership).await?;
        Ok(membership)
    }

    /// Stores the state where a row exists already or the flow waits in it (so a join that
    /// fails before a voucher is stored leaves no new row) and emits `membership.state` when it
    /// changed.
    pub(super) async fn record(&mut self, membership: &Membership) -> Result<(), JoinError> {
        let store = &self.node.store;
        let known = store.membership(self.url).await.map_err(local)?.is_some();
        let waiting = matches!(
            membership.state.as_str(),
            "pending_email" | "pending_approval" | "pending_payment"
        );
        if known || waiting {
            let hub_id = self.client.hub_id().map(|id| id.to_string());
            store
                .set_membership(
                    self.url,
                    &hub_id.unwrap_or_default(),
                    &membership.state,
                    membership.tier.as_deref(),
                    self.node.clock.now_ms(),
                )
                .await
                .map_err(local)?;
        }
        if self.emitted.as_deref() != Some(&membership.state) {
            self.emitted = Some(membership.state.clone());
            let (state, tier) = (membership.state.clone(), membership.tier.clone());
            let in_registry = self.node.hubs.update(self.url, |v| {
                v.membership = Some(state);
                v.tier = tier;
            });
            if !in_registry {
                self.node.events.emit(Event::MembershipState(StateChange {
                    url: self.url.to_string(),
                    state: membership.state.clone(),
                    detail: None,
                }));
            }
        }
        Ok(())
    }

    /// Step 3: bind with a bind code, or join with what the join mode needs.
    async fn join(&mut self, info: &JoinInfo) -> Result<(), JoinError> {
        let label = self.node.config.profile.label.clone();
        if let Some(code) = &self.options.bind_code {
            let body = json!({ "bind_code": code, "label": label });
            let answer = self.signed("bind", "/api/v1/peers", &body).await?;
            return match (answer.status.as_u16(), answer.code().as_str()) {
                (201, _) | (409, "peer_already_bound") => Ok(()),
                (400 | 409, code) if !code.is_empty() => Err(JoinError::Refused(code.to_owned())),
                _ => Err(JoinError::Hub(answer.error())),
            };
        }
        let o = self.options;
        let (needs_email, needs_invite, needs_message) = match info.join_mode.as_str() {
            "open" => (false, false, false),
            "invite" => (true, true, false),
            "application" => (true, false, true),
            _ => (true, false, false),
        };
        let missing = [
            (
                needs_email && o.email.is_none(),
                "an email address (--email)",
            ),
            (
                needs_invite && o.invite.is_none(),
                "an invite code (--invite)",
            ),
            (
                needs_message && o.message.is_none(),
                "an application message (--message)",
            ),
        ];
        if let Some((_, what)) = missing.iter().find(|(missing, _)| *missing) {
            return Err(JoinError::NeedsInput((*what).to_owned()));
        }
        let mut body = json!({ "label": label });
        for (key, value) in [
            ("email", &o.email),
            ("invite_code", &o.invite),
            ("message", &o.message),
        ] {
            if let Some(value) = value {
                body[key] = Value::String(value.clone());
            }
        }
        let answer = self.signed("join", "/api/v1/join", &body).await?;
        match (answer.status.as_u16(), answer.code().as_str()) {
            (201 | 202, _) | (409, "peer_already_bound") => Ok(()),
            (400, code @ ("email_required" | "invite_required" | "message_required")) => {
                Err(JoinError::NeedsInput(code.replace('_', " ")))
            }
            (400, code) if !code.is_empty() => Err(JoinError::Refused(code.to_owned())),
            _ => Err(JoinError::Hub(answer.error())),
        }
    }

    /// Step 4, pasted: public `POST /api/v1/verify {"token","bind":true}`.
    async fn verify(&mut self, token: &str) -> Result<(), JoinError> {
        let body = json!({ "token": token, "bind": true })
            .to_string()
            .into_bytes();
        let answer = self
            .client
            .call(Method::POST, "/api/v1/verify", Some(body), HTTP_TIMEOUT)
            .await
            .map_err(JoinError::Hub)?;
        match (answer.status.as_u16(), answer.code()) {
            (200, _) => Ok(()),
            (404 | 409 | 410, code) if !code.is_empty() => Err(JoinError::Refused(code)),
            _ => Err(JoinError::Hub(answer.error())),
        }
    }

    /// Steps 4 and 5: tell what has to happen, then sleep `poll` unless the wait runs out.
    async fn wait(&mut self, state: &str, action: Action, poll: Duration) -> Result<(), JoinError> {
        self.progress.send_replace(Progress::Waiting {
            state: state.to_owned(),
            action,
            url: None,
        });
        let now = Instant::now();
        if now >= self.deadline {
            return Err(JoinError::TimedOut {
                state: state.to_owned(),
                action: Some(action),
            });
        }
        tokio::time::sleep_until(self.deadline.min(now + poll)).await;
        Ok(())
    }

    /// A signed POST of `body`, waiting out 429 within the deadline.
    pub(super) async fn signed(
        &self,
        kind: &'static str,
        target: &str,
        body: &Value,
    ) -> Result<Answer, JoinError> {
        let bytes = body.to_string().into_bytes();
        let client = &self.client;
        self.retrying(|| {
            client.signed(
                kind,
                Method::POST,
                target,
                Some(bytes.clone()),
                HTTP_TIMEOUT,
            )
        })
        .await
    }

    pub(super) async fn retrying<T, F, Fut>(&self, call: F) -> Result<T, JoinError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, HubCallError>>,
    {
        loop {
            match call().await {
                Err(HubCallError::RateLimited(wait))
                    if Instant::now() + wait.min(MAX_RATE_WAIT) < self.deadline =>
                {
                    tokio::time::sleep(wait.min(MAX_RATE_WAIT)).await;
                }
                Err(error) => return Err(JoinError::hub(error)),
                Ok(value) => return Ok(value),
            }
        }
    }
}

pub(super) fn local(error: impl std::fmt::Display) -> JoinError {
    JoinError::Local(error.to_string())
}
