//! The test harness shared by every test binary: throwaway databases on both backends
//! ([`TestDb`]), a real SMTP listener that captures mail ([`SmtpSink`]), hubs and super hubs on
//! port 0 ([`TestHub`], [`TestSuperhub`]), a peer that signs its requests ([`TestPeer`]) with
//! its WebSocket sessions ([`ws`]), a Stripe double ([`StripeMock`]), a libp2p test client ([`swarm`]) and waiting under deadlines
//! ([`eventually`]), and readers of JSON answers ([`json_of`], [`code_of`]).
//!
//! Postgres tests never skip: without `TEST_DATABASE_URL` (exported by `scripts/test`) they fail
//! with a message that names `scripts/test`.

mod clock;
mod db;
pub mod deploy;
mod goop2_hub;
mod peer;
mod proxy;
pub mod raw_http;
pub mod record;
mod response;
mod servers;
mod smtp;
mod stripe;
pub mod swarm;
mod wait;
pub mod ws;

pub use clock::now_ms;
pub use db::{Backend, TestDb};
pub use goop2_hub::{Goop2Hub, Goop2Log, Published};
pub use peer::TestPeer;
pub use proxy::TcpProxy;
pub use response::{code_of, json_of};
pub use servers::{Spawn, TestHub, TestServer, TestSuperhub};
pub use smtp::{ReceivedMail, SmtpSink, verify_token};
pub use stripe::{Delivery, RecordedRequest, StripeAccount, StripeMock, sell_yearly_plan};
pub use wait::eventually;

/// PeerSig headers (hub.md §3) for a request by `key` to the server `audience`, signed now.
pub fn signed_headers(
    key: &libp2p::identity::ed25519::Keypair,
    audience: &shared::ids::Ed25519PeerId,
    method: &str,
    target: &str,
    body: &[u8],
) -> Vec<(&'static str, String)> {
    shared::peer_sig::SignedHeaders::sign(key, audience, now_ms(), method, target, body)
        .into_pairs()
        .into()
}

/// Installs a tracing subscriber once per test binary; silent unless `TEST_LOG=1`.
pub fn init_tracing() {
    static ONCE: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    ONCE.get_or_init(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
                .with_test_writer()
                .try_init();
        }
    });
}

/// Emits one `#[tokio::test]` per backend for each named `async fn(TestDb)`: `<name>::on_sqlite`
/// and `<name>::on_postgres`.
#[macro_export]
macro_rules! each_backend {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn on_sqlite() {
                    $crate::init_tracing();
                    super::$name($crate::TestDb::sqlite()).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn on_postgres() {
                    $crate::init_tracing();
                    super::$name($crate::TestDb::postgres().await).await;
                }
            }
        )*
    };
}
