//! Joining a community (peer.md §3.6): one flow behind [`crate::Peer::join_hub`],
//! `POST /api/hubs/join`, `POST /api/memberships/verify` and `peer join`. It discovers the hub,
//! reads our membership, joins with exactly what the join mode needs (or binds with a bind code,
//! or consumes a pasted verification token), waits for the email link or an admin's approval,
//! then fetches a voucher, checks it with [`shared::voucher`], stores it and adds the hub to the
//! registry so presence and relay start. At a paid community a guest pays through a checkout
//! (step 6) first.
//!
//! # Layout
//! - `flow`: the steps; `voucher`: step 7; `info`: the parts of `/api/v1/info` and the answers
//!   the flow reads; `payment`: step 6 (checkout); `refresh`: renewing stored vouchers.

mod flow;
mod info;
mod payment;
pub mod refresh;
mod voucher;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use shared::server::Tasks;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::hub_url::HubUrl;
use crate::hubs::HubCallError;
use crate::node::Node;
use crate::store::HubSource;

pub use info::{JoinInfo, token_of};

/// Default and longest wait of a join for a link or an approval (peer.md §13).
pub const MAX_WAIT: Duration = Duration::from_secs(1800);
/// Membership poll period while an email link is pending (§3.6 step 4).
pub const EMAIL_POLL: Duration = Duration::from_secs(3);

/// What the user gave `peer join` (every field optional; the join mode decides what is needed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JoinOptions {
    /// The email address (`--email`).
    pub email: Option<String>,
    /// An invite code (`--invite`).
    pub invite: Option<String>,
    /// The application text (`--message`), 1–2000 characters.
    pub message: Option<String>,
    /// A bind code from the hub's account page (`--bind-code`).
    pub bind_code: Option<String>,
    /// A pasted verification link or its token (`POST /api/memberships/verify`).
    pub token: Option<String>,
    /// The plan to buy at a paid hub (`--plan`); else the hub's only subscription plan.
    pub plan: Option<String>,
    /// Open the checkout URL with the opener (`peer join` unless `--no-browser`).
    pub open_browser: bool,
    /// How long to wait for a link or an approval (at most [`MAX_WAIT`]).
    pub wait: Duration,
    /// The `_hubs` source recorded when the hub is added (`cli` for `peer join` without a
    /// daemon).
    pub source: HubSource,
}

/// A finished join.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Joined {
    /// The hub.
    pub url: HubUrl,
    /// Membership state (`legacy` at a goop2 hub).
    pub state: String,
    /// Tier, at a signed hub.
    pub tier: Option<String>,
    /// The stored voucher's expiry (unix ms), at a signed hub.
    pub voucher_expires_at: Option<i64>,
}

/// What the user has to do while a join waits (`action` of `POST /api/hubs/join`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Open the emailed link (or paste it).
    VerifyEmail,
    /// An admin has to approve.
    AwaitApproval,
    /// The join mode needs an email, invite code or message the request lacked.
    EnterCode,
    /// Pay at the checkout URL.
    Checkout,
}

impl Action {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::AwaitApproval => "await_approval",
            Self::EnterCode => "enter_code",
            Self::Checkout => "checkout",
        }
    }
}

/// Why a join ended without a membership. [`JoinError::exit_code`] is the code of peer.md §1.4.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    /// An option is unusable (e.g. a pasted link without a token).
    #[error("invalid {0}")]
    Invalid(&'static str),
    /// The join mode needs this and the request lacked it (`email`, `invite code`, `message`).
    #[error("this hub's join mode needs {0}")]
    NeedsInput(String),
    /// The hub refused: its error code (`invalid_invite`, `invalid_bind_code`, `banned`,
    /// `application_rejected`, `token_used`, …).
    #[error("refused by the hub: {0}")]
    Refused(String),
    /// The hub sells several subscription plans and none was chosen (`--plan`).
    #[error("choose a plan with --plan (on sale: {})", plans_on_sale(.0))]
    PlanRequired(Vec<String>),
    /// The wait ran out before the checkout at `url` was paid (peer.md §3.6 step 6).
    #[error("payment not completed at {url}")]
    PaymentNotCompleted {
        /// The checkout URL.
        url: String,
    },
    /// The wait ran out (or the emailed link expired) in this state.
    #[error("still {state} when the wait ran out")]
    TimedOut {
        /// The membership state at the end.
        state: String,
        /// What the user still has to do.
        action: Option<Action>,
    },
    /// The hub is unreachable or answered something unusable.
    #[error(transparent)]
    Hub(HubCallError),
    /// The database or the hub registry failed.
    #[error("local failure: {0}")]
    Local(String),
    /// Shut down while joining.
    #[error("the peer is shutting down")]
    Cancelled,
}

fn plans_on_sale(plans: &[String]) -> String {
    if plans.is_empty() {
        "none".to_owned()
    } else {
        plans.join(", ")
    }
}

impl JoinError {
    /// The exit code of `peer join` (peer.md §1.4): 2 refused, 3 wait ran out, 4 hub
    /// unreachable or invalid, 5 payment not completed, 1 anything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Invalid(_) | Self::NeedsInput(_) | Self::Refused(_) | Self::PlanRequired(_) => 2,
            Self::TimedOut { .. } => 3,
            Self::Hub(_) => 4,
            Self::PaymentNotCompleted { .. } => 5,
            Self::Local(_) | Self::Cancelled => 1,
        }
    }

    pub(crate) fn hub(error: HubCallError) -> Self {
        match error {
            HubCallError::Refused(code) => Self::Refused(code),
            other => Self::Hub(other),
        }
    }
}

/// Where a running join is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Discovering and joining.
    Started,
    /// Waiting for the user or an admin in `state`.
    Waiting {
        /// The membership state.
        state: String,
        /// What has to happen.
        action: Action,
        /// Where (the checkout URL).
        url: Option<String>,
    },
    /// Finished.
    Done(Result<Joined, JoinError>),
}

/// The joins running in the daemon (at most one per hub: a new one replaces the old one).
#[derive(Debug, Default)]
pub struct Memberships {
    running: Mutex<HashMap<HubUrl, (u64, CancellationToken)>>,
    next: AtomicU64,
    tasks: OnceLock<(TaskTracker, CancellationToken)>,
}

/// Lets [`Memberships::start`] run joins on the peer's tasks and starts the voucher refresh.
pub fn spawn(node: &Arc<Node>, tasks: &Tasks) {
    let _ = node
        .memberships
        .tasks
        .set((tasks.tracker().clone(), tasks.token().child_token()));
    tasks.spawn_infallible(
        "voucher refresh",
        refresh::run(node.clone(), tasks.token().child_token()),
    );
}

impl Memberships {
    /// Starts a join of `url` in the background (replacing a running one for the same hub);
    /// the receiver follows its [`Progress`].
    ///
    /// # Errors
    /// [`JoinError::Cancelled`] before `spawn` or after shutdown.
    pub fn start(
        &self,
        node: &Arc<Node>,
        url: HubUrl,
        options: JoinOptions,
    ) -> Result<watch::Receiver<Progress>, JoinError> {
        let (tracker, parent) = self.tasks.get().ok_or(JoinError::Cancelled)?;
        if parent.is_cancelled() {
            return Err(JoinError::Cancelled);
        }
        let token = parent.child_token();
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        if let Some((_, old)) = self
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(url.clone(), (id, token.clone()))
        {
            old.cancel();
        }
        let (progress, receiver) = watch::channel(Progress::Started);
        let node = node.clone();
        tracker.spawn(async move {
            let result = tokio::select! {
                () = token.cancelled() => Err(JoinError::Cancelled),
                result = flow::run(&node, &url, &options, &progress) => result,
            };
            let mut running = node
                .memberships
                .running
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if running.get(&url).is_some_and(|(running, _)| *running == id) {
                running.remove(&url);
            }
            drop(running);
            progress.send_replace(Progress::Done(result));
        });
        Ok(receiver)
    }
}

/// Runs a join to its end (peer.md §3.6): the library form of `peer join`.
///
/// # Errors
/// [`JoinError`].
pub async fn join(
    node: &Arc<Node>,
    url: &HubUrl,
    options: &JoinOptions,
) -> Result<Joined, JoinError> {
    let (progress, _) = watch::channel(Progress::Started);
    flow::run(node, url, options, &progress).await
}

impl crate::Peer {
    /// Joins the hub at `url` (peer.md §3.6): returns once it is a member with a checked voucher
    /// (or it is a legacy hub), or with the reason it is not; waits up to `options.wait` for an
    /// emailed link or an approval. The hub is added to the registry when joined.
    ///
    /// # Errors
    /// [`JoinError`] ([`JoinError::exit_code`] maps it to the CLI's codes).
    pub async fn join_hub(&self, url: &HubUrl, options: JoinOptions) -> Result<Joined, JoinError> {
        join(self.node(), url, &options).await
    }
}
