//! `[billing]` and `[[plans]]` (hub.md §8.1, §16): Stripe keys, reconciliation periods and the
//! plans a community offers. Plans come from the config file only; `stripe_price_id` is never
//! published.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};
use shared::config::{LoadConfigError, is_http_url};

/// `[billing]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BillingConfig {
    /// Billing routes and webhooks answer only when enabled.
    pub enabled: bool,
    /// Base URL of the Stripe API (tests point it at the in-repo double).
    pub api_base: String,
    /// Stripe secret key; a secret: only from `HUB_BILLING__SECRET_KEY` or `secret_key_file`.
    #[serde(default, skip_serializing)]
    pub secret_key: Option<SecretString>,
    /// A file holding the secret key; `""` for none.
    pub secret_key_file: PathBuf,
    /// Webhook signing secrets, comma-separated (several during a rotation); a secret: only from
    /// `HUB_BILLING__WEBHOOK_SECRET` or `webhook_secret_file`.
    #[serde(default, skip_serializing)]
    pub webhook_secret: Option<SecretString>,
    /// A file holding the webhook secrets; `""` for none.
    pub webhook_secret_file: PathBuf,
    /// Days a `past_due`/`unpaid` subscription keeps paid access.
    pub grace_days: u64,
    /// Period of the reconciliation against Stripe's event list (§8.6).
    #[serde(rename = "reconcile_interval_secs", with = "shared::config::secs")]
    pub reconcile_interval: Duration,
    /// How far back the first reconciliation reads (Stripe retries for 3 days).
    #[serde(rename = "reconcile_lookback_secs", with = "shared::config::secs")]
    pub reconcile_lookback: Duration,
    /// The default of a ban's `cancel_subscription`.
    pub cancel_on_ban: bool,
}

impl Default for BillingConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            api_base: "https://api.stripe.com".to_owned(),
            secret_key: None,
            secret_key_file: PathBuf::new(),
            webhook_secret: None,
            webhook_secret_file: PathBuf::new(),
            grace_days: 7,
            reconcile_interval: Duration::from_secs(3600),
            reconcile_lookback: Duration::from_secs(259_200),
            cancel_on_ban: true,
        }
    }
}

impl BillingConfig {
    /// The webhook secrets, each trimmed, empty ones dropped.
    pub fn webhook_secrets(&self) -> Vec<String> {
        self.webhook_secret
            .as_ref()
            .map(|s| {
                s.expose_secret()
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The grace period.
    pub fn grace(&self) -> Duration {
        Duration::from_secs(self.grace_days.saturating_mul(86_400))
    }

    /// Reads `*_file` secrets that the environment did not set, relative to `data_dir`.
    pub(crate) fn read_secret_files(
        &mut self,
        data_dir: &std::path::Path,
    ) -> Result<(), LoadConfigError> {
        for (secret, file) in [
            (&mut self.secret_key, &self.secret_key_file),
            (&mut self.webhook_secret, &self.webhook_secret_file),
        ] {
            if secret.is_none() && !file.as_os_str().is_empty() {
                let path = shared::config::resolve(data_dir, file);
                *secret = Some(shared::config::read_secret_file(&path)?.into());
            }
        }
        Ok(())
    }

    pub(crate) fn validate(
        &self,
        plans: &[Plan],
        external_url: &str,
    ) -> Result<(), LoadConfigError> {
        if !(1..=365).contains(&self.grace_days) {
            return Err(LoadConfigError::rule(
                "billing.grace_days",
                "between 1 and 365",
            ));
        }
        for (key, value) in [
            ("billing.reconcile_interval_secs", self.reconcile_interval),
            ("billing.reconcile_lookback_secs", self.reconcile_lookback),
        ] {
            if value.is_zero() {
                return Err(LoadConfigError::rule(key, "must be at least 1"));
            }
        }
        validate_plans(plans)?;
        if !self.enabled {
            if let Some(plan) = plans.iter().find(|p| p.kind == PlanKind::Subscription) {
                return Err(LoadConfigError::rule(
                    "plans",
                    format!(
                        "plan {:?} is a subscription, which needs billing.enabled = true",
                        plan.id
                    ),
                ));
            }
            return Ok(());
        }
        if !is_http_url(&self.api_base, 512) {
            return Err(LoadConfigError::rule("billing.api_base", "an http(s) URL"));
        }
        if external_url.is_empty() {
            return Err(LoadConfigError::rule(
                "http.external_url",
                "required when billing is enabled (Stripe returns members to it)",
            ));
        }
        if self
            .secret_key
            .as_ref()
            .is_none_or(|k| k.expose_secret().trim().is_empty())
        {
            return Err(LoadConfigError::rule(
                "billing.secret_key",
                "required when billing is enabled (HUB_BILLING__SECRET_KEY or billing.secret_key_file)",
            ));
        }
        if self.webhook_secrets().is_empty() {
            return Err(LoadConfigError::rule(
                "billing.webhook_secret",
                "required when billing is enabled (HUB_BILLING__WEBHOOK_SECRET or billing.webhook_secret_file)",
            ));
        }
        Ok(())
    }
}

/// What a plan sells (hub.md §8.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlanKind {
    /// Free membership: nothing to pay.
    Free,
    /// A recurring Stripe subscription.
    Subscription,
    /// A one-off payment, fixed (`amount`) or chosen by the member (`min_amount`–`max_amount`).
    Donation,
}

/// Billing interval of a subscription plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlanInterval {
    /// Monthly.
    Month,
    /// Yearly.
    Year,
}

/// One `[[plans]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// Slug-like id, unique among the plans.
    pub id: String,
    /// `free`, `subscription` or `donation`.
    pub kind: PlanKind,
    /// Display name.
    pub name: String,
    /// Display description.
    #[serde(default)]
    pub description: String,
    /// Price in the currency's minor unit (subscriptions, fixed donations).
    #[serde(default)]
    pub amount: Option<i64>,
    /// ISO 4217 code, lower-case.
    #[serde(default)]
    pub currency: Option<String>,
    /// `month` or `year` (subscriptions).
    #[serde(default)]
    pub interval: Option<PlanInterval>,
    /// The Stripe price (required for subscriptions, optional for donations); never published.
    #[serde(default)]
    pub stripe_price_id: Option<String>,
    /// Smallest custom donation (minor unit); default 100.
    #[serde(default)]
    pub min_amount: Option<i64>,
    /// Largest custom donation (minor unit); default 100,000.
    #[serde(default)]
    pub max_amount: Option<i64>,
}

/// Custom donation bounds when a plan sets none (hub.md §8.1).
pub(crate) const DEFAULT_MIN_AMOUNT: i64 = 100;
/// See [`DEFAULT_MIN_AMOUNT`].
pub(crate) const DEFAULT_MAX_AMOUNT: i64 = 100_000;

impl Plan {
    /// The built-in plan list: one free plan.
    pub fn defaults() -> Vec<Self> {
        vec![Self {
            id: "free".to_owned(),
            kind: PlanKind::Free,
            name: "Member".to_owned(),
            description: String::new(),
            amount: None,
            currency: None,
            interval: None,
            stripe_price_id: None,
            min_amount: None,
            max_amount: None,
        }]
    }

    /// A donation whose amount the member chooses (no fixed price, no `amount`).
    pub fn is_custom_donation(&self) -> bool {
        self.kind == PlanKind::Donation && self.amount.is_none() && self.stripe_price_id.is_none()
    }

    /// The accepted range of a custom donation.
    pub fn amount_range(&self) -> std::ops::RangeInclusive<i64> {
        self.min_amount.unwrap_or(DEFAULT_MIN_AMOUNT)
            ..=self.max_amount.unwrap_or(DEFAULT_MAX_AMOUNT)
    }
}

fn validate_plans(plans: &[Plan]) -> Result<(), LoadConfigError> {
    if plans.len() > 32 {
        return Err(LoadConfigError::rule("plans", "at most 32 plans"));
    }
    let mut seen = std::collections::HashSet::new();
    for plan in plans {
        let bad = |why: &str| LoadConfigError::rule("plans", format!("plan {:?}: {why}", plan.id));
        if !shared::ids::Slug::parse(&plan.id).is_ok_and(|s| s.as_str().len() <= 32) {
            return Err(bad(
                "id must be slug-like (a-z, 0-9, '-'), at most 32 characters",
            ));
        }
        if !seen.insert(plan.id.as_str()) {
            return Err(bad("duplicate id"));
        }
        if !(1..=64).contains(&plan.name.chars().count()) || plan.description.chars().count() > 500
        {
            return Err(bad("name 1–64 characters, description at most 500"));
        }
        let currency_ok = plan
            .currency
            .as_deref()
            .is_some_and(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_lowercase()));
        let price_ok = plan.stripe_price_id.as_deref().is_none_or(|p| {
            (1..=255).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_graphic())
        });
        if !price_ok {
            return Err(bad(
                "stripe_price_id must be printable ASCII, at most 255 bytes",
            ));
        }
        let amount_ok = |a: Option<i64>| a.is_none_or(|a| (1..=99_999_999).contains(&a));
        if ![plan.amount, plan.min_amount, plan.max_amount]
            .into_iter()
            .all(amount_ok)
        {
            return Err(bad(
                "amounts must lie between 1 and 99,999,999 (minor units)",
            ));
        }
        match plan.kind {
            PlanKind::Free => {
                if plan.amount.is_some()
                    || plan.stripe_price_id.is_some()
                    || plan.interval.is_some()
                {
                    return Err(bad(
                        "a free plan has no amount, interval or stripe_price_id",
                    ));
                }
            }
            PlanKind::Subscription => {
                if plan.stripe_price_id.is_none()
                    || plan.amount.is_none()
                    || plan.interval.is_none()
                    || !currency_ok
                {
                    return Err(bad(
                        "a subscription needs stripe_price_id, amount, currency and interval",
                    ));
                }
            }
            PlanKind::Donation => {
                if !currency_ok {
                    return Err(bad("a donation needs a lower-case ISO 4217 currency"));
                }
                if plan.interval.is_some() {
                    return Err(bad("a donation has no interval"));
                }
                if plan.amount.is_none() && plan.amount_range().is_empty() {
                    return Err(bad("min_amount must not exceed max_amount"));
                }
            }
        }
    }
    Ok(())
}
