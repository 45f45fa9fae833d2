//! Step 6 of peer.md §3.6, payment: the plan (`--plan`, else the only subscription plan),
//! `POST /api/v1/billing/checkout`, the checkout URL shown (and opened unless `--no-browser`),
//! then the membership polled every `hubs.payment_poll_secs` until the tier is no longer
//! `guest`. The local state is `pending_payment` meanwhile.

use std::time::Duration;

use serde_json::json;
use tokio::time::Instant;

use super::flow::Flow;
use super::info::JoinInfo;
use super::{Action, JoinError, Progress};
use crate::event::{Event, StateChange};
use crate::hubs::HubCallError;
use crate::hubs::discovery::{self, Membership};

/// Longest checkout URL accepted.
const MAX_URL: usize = 2048;
/// Deadline of the opener.
const OPENER_TIMEOUT: Duration = Duration::from_secs(10);

/// The plan to buy: `chosen`, else the only subscription plan.
///
/// # Errors
/// [`JoinError::PlanRequired`] listing the plans when there is no single one.
pub(super) fn plan_of(chosen: Option<&str>, plans: &[String]) -> Result<String, JoinError> {
    match (chosen, plans) {
        (Some(plan), _) => Ok(plan.to_owned()),
        (None, [only]) => Ok(only.clone()),
        (None, plans) => Err(JoinError::PlanRequired(plans.to_vec())),
    }
}

impl Flow<'_> {
    /// Step 6: returns once the tier is no longer `guest`.
    pub(super) async fn payment(&mut self, info: &JoinInfo) -> Result<(), JoinError> {
        let plan = plan_of(self.options.plan.as_deref(), &info.subscription_plans)?;
        self.record(&pending()).await?;
        let answer = self
            .signed(
                "checkout",
                "/api/v1/billing/checkout",
                &json!({ "plan": plan }),
            )
            .await?;
        let checkout = match (answer.status.as_u16(), answer.code().as_str()) {
            (200, _) => Some(checkout_url(&answer.body)?),
            (409, "already_subscribed") => None,
            (400 | 404, code) if !code.is_empty() => {
                return Err(JoinError::Refused(code.to_owned()));
            }
            _ => return Err(JoinError::Hub(answer.error())),
        };
        if let Some(url) = &checkout {
            tracing::info!(hub = %self.url, plan, url, "pay at the checkout to finish joining");
            self.node.events.emit(Event::MembershipState(StateChange {
                url: self.url.to_string(),
                state: "pending_payment".to_owned(),
                detail: Some(url.clone()),
            }));
            if self.options.open_browser {
                open(&self.node.config.hubs.checkout_opener, url).await;
            }
        }
        self.progress.send_replace(Progress::Waiting {
            state: "pending_payment".to_owned(),
            action: Action::Checkout,
            url: checkout.clone(),
        });
        let poll = Duration::from_secs(self.node.config.hubs.payment_poll_secs.max(1));
        loop {
            let client = &self.client;
            let membership = self.retrying(|| discovery::read_membership(client)).await?;
            let still_guest = membership.tier.as_deref() == Some("guest")
                && matches!(membership.state.as_str(), "active" | "grace" | "lapsed");
            if !still_guest {
                // Paid, or the membership changed otherwise (banned, deleted): step 2 decides.
                return Ok(());
            }
            let now = Instant::now();
            if now >= self.deadline {
                self.record(&membership).await?;
                return Err(JoinError::PaymentNotCompleted {
                    url: checkout.unwrap_or_default(),
                });
            }
            tokio::time::sleep_until(self.deadline.min(now + poll)).await;
        }
    }
}

/// `pending_payment` as the flow records it.
fn pending() -> Membership {
    Membership {
        state: "pending_payment".to_owned(),
        tier: Some("guest".to_owned()),
        entitlements: Default::default(),
    }
}

/// The `url` of a checkout answer: http(s), at most [`MAX_URL`] bytes, no spaces or controls.
fn checkout_url(body: &[u8]) -> Result<String, JoinError> {
    let bad = || {
        JoinError::Hub(HubCallError::Malformed(
            "checkout answer without a URL".to_owned(),
        ))
    };
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|_| bad())?;
    let url = value["url"].as_str().ok_or_else(bad)?;
    let usable = (url.starts_with("https://") || url.starts_with("http://"))
        && url.len() <= MAX_URL
        && !url.chars().any(|c| c.is_whitespace() || c.is_control());
    usable.then(|| url.to_owned()).ok_or_else(bad)
}

/// Opens `url` with `opener` (empty: the platform opener); failures are logged.
async fn open(opener: &str, url: &str) {
    let mut command = match (opener, std::env::consts::OS) {
        ("", "macos") => tokio::process::Command::new("open"),
        ("", "windows") => {
            let mut command = tokio::process::Command::new("cmd");
            command.args(["/c", "start", ""]);
            command
        }
        ("", _) => tokio::process::Command::new("xdg-open"),
        (program, _) => tokio::process::Command::new(program),
    };
    command
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true);
    match tokio::time::timeout(OPENER_TIMEOUT, command.status()).await {
        Ok(Ok(status)) if status.success() => {}
        Ok(Ok(status)) => tracing::warn!(%status, "the browser opener failed"),
        Ok(Err(error)) => tracing::warn!(%error, "the browser opener did not start"),
        Err(_) => tracing::warn!("the browser opener did not finish in time"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_plan_is_the_chosen_one_or_the_only_subscription() {
        let plans = ["monthly".to_owned(), "yearly".to_owned()];
        assert_eq!(plan_of(Some("yearly"), &plans).unwrap(), "yearly");
        assert_eq!(plan_of(None, &plans[..1]).unwrap(), "monthly");
        assert_eq!(
            plan_of(None, &plans),
            Err(JoinError::PlanRequired(plans.to_vec()))
        );
        assert_eq!(plan_of(None, &[]), Err(JoinError::PlanRequired(Vec::new())));
    }

    #[test]
    fn checkout_urls_must_be_http_without_spaces() {
        let url = |body: &str| checkout_url(body.as_bytes()).ok();
        assert_eq!(
            url(r#"{"id":"cs_1","url":"https://pay.example/c/1"}"#).as_deref(),
            Some("https://pay.example/c/1")
        );
        for bad in [
            r#"{"url":"--help"}"#,
            r#"{"url":"file:///etc/passwd"}"#,
            r#"{"url":"https://a b"}"#,
            r#"{"id":"cs_1"}"#,
            "nope",
        ] {
            assert_eq!(url(bad), None, "{bad}");
        }
    }

    proptest! {
        #[test]
        fn hostile_checkout_answers_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512),
                                                text in "(?s).{0,3000}") {
            let _ = checkout_url(&body);
            let doc = serde_json::json!({"url": text}).to_string();
            if let Ok(url) = checkout_url(doc.as_bytes()) {
                prop_assert!(url.len() <= MAX_URL && url.starts_with("http"));
            }
        }
    }
}
