//! `GET /api/v1/info`: the public description of this hub (hub.md §11.1), and
//! `GET /.well-known/jwks.json`: the key that signs its vouchers (hub.md §2 rule 4).

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse as _, Response};
use axum::routing::get;

use libp2p::Multiaddr;
use shared::api::{
    HubInfo, PlanSummary, PresenceSummary, RelaySummary, RendezvousSummary, Software,
    VoucherSummary,
};
use shared::ids::Ed25519PeerId;

use crate::config::{Config, Plan};
use crate::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/info", get(get_info))
        .route("/.well-known/jwks.json", get(get_jwks))
}

/// The info document (hub.md §11.1) of this configuration; `member_count` is filled per request.
pub(crate) fn info_document(
    config: &Config,
    id: &Ed25519PeerId,
    p2p_addrs: &[Multiaddr],
    http_url: &str,
) -> HubInfo {
    let relay = &config.relay;
    let base = http_url.trim_end_matches('/');
    HubInfo {
        id: id.to_string(),
        name: config.hub.name.clone(),
        slug: config.hub.slug.to_string(),
        description: config.hub.description.clone(),
        icon_url: config.hub.icon_url.clone(),
        tags: config.hub.tags.clone(),
        languages: config.hub.languages.clone(),
        region: config.hub.region.clone(),
        contact_email: config.hub.contact_email.clone(),
        multiaddrs: p2p_addrs.iter().map(ToString::to_string).collect(),
        http_url: http_url.to_owned(),
        join_mode: crate::membership::enum_text(&config.membership.join_mode),
        access: crate::membership::enum_text(&config.membership.access),
        plans: config.plans.iter().map(plan_summary).collect(),
        relay: Some(RelaySummary {
            enabled: relay.enabled,
            reservations: crate::membership::enum_text(&relay.reservations),
            circuit_sources: crate::membership::enum_text(&relay.circuit_sources),
            max_reservations: relay.max_reservations as u64,
            max_reservations_per_peer: relay.max_reservations_per_peer as u64,
            reservation_ttl_secs: relay.reservation_ttl.as_secs(),
            max_circuits: relay.max_circuits as u64,
            max_circuits_per_peer: relay.max_circuits_per_peer as u64,
            circuit_max_duration_secs: relay.circuit_max_duration.as_secs(),
            circuit_max_bytes: relay.circuit_max_bytes,
        }),
        rendezvous: Some(RendezvousSummary {
            enabled: config.rendezvous.enabled,
            namespace: config.hub.slug.to_string(),
        }),
        presence: Some(PresenceSummary {
            signed: true,
            allow_unsigned: config.presence.allow_unsigned,
            public_read: config.presence.public_read,
            peer_ttl_secs: config.presence.peer_ttl.as_secs(),
        }),
        voucher: Some(VoucherSummary {
            alg: "EdDSA".to_owned(),
            aud: shared::voucher::AUDIENCE.to_owned(),
            ttl_secs: config.vouchers.ttl.as_secs(),
            jwks_url: format!("{base}/.well-known/jwks.json"),
            keys: vec![shared::voucher::jwk(&id.public_key())],
        }),
        superhubs: Vec::new(),
        software: Software::this(shared::protocol::HUB_SOFTWARE),
        member_count: None,
    }
}

/// A plan as published: everything but its Stripe price; the range only for custom donations.
fn plan_summary(plan: &Plan) -> PlanSummary {
    let range = plan.is_custom_donation().then(|| plan.amount_range());
    PlanSummary {
        id: plan.id.clone(),
        kind: crate::membership::enum_text(&plan.kind),
        name: plan.name.clone(),
        description: plan.description.clone(),
        amount: plan.amount,
        currency: plan.currency.clone(),
        interval: plan.interval.map(|i| crate::membership::enum_text(&i)),
        min_amount: range.as_ref().map(|r| *r.start()),
        max_amount: range.map(|r| *r.end()),
    }
}

async fn get_info(State(state): State<AppState>) -> Response {
    let superhubs = state.directory.statuses();
    if state.config.hub.publish_member_count || !superhubs.is_empty() {
        let mut info = state.info.as_ref().clone();
        if state.config.hub.publish_member_count {
            info.member_count = Some(state.membership.member_count());
        }
        info.superhubs = superhubs;
        shared::server::public_document(&info)
    } else {
        shared::server::public_document(state.info.as_ref())
    }
}

async fn get_jwks(State(state): State<AppState>) -> Response {
    let jwks = serde_json::json!({ "keys": [shared::voucher::jwk(&state.hub_id.public_key())] });
    (
        [
            (axum::http::header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            (axum::http::header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        axum::Json(jwks),
    )
        .into_response()
}
