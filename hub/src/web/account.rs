//! `GET /account` and its forms (hub.md §10): the signed-in member's state, tier, address and
//! bound peers, with unbind, bind codes and sign-out, and the billing section ([`billing`]).
//! Every post carries the session cookie, so each passes the CSRF rule of §6.9 first.

mod billing;

use std::fmt::Write as _;
use std::time::Instant;

use axum::Router;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Query, State};
use axum::http::header;
use axum::response::{IntoResponse as _, Redirect, Response};
use axum::routing::{get, post};
use libp2p::PeerId;
use serde::Deserialize;
use serde_json::Value;

use super::forms::WebResult;
use super::html::{Page, esc};
use super::words;
use crate::http::body::form_body;
use crate::http::cookie::session_clear_cookie;
use crate::http::extract::Caller;
use crate::state::AppState;
use crate::utc::now_ms;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/account", get(show_account))
        .route("/account/bind-codes", post(create_bind_code))
        .route("/account/peers/unbind", post(unbind_peer))
        .route("/logout", post(logout))
        .merge(billing::router())
}

/// `?checkout=success|cancel`, where Stripe Checkout returns the member.
#[derive(Debug, Default, Deserialize)]
struct AccountQuery {
    checkout: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct UnbindForm {
    #[serde(default)]
    peer_id: String,
}

/// The signed-in account, or the redirect to `/login` (clearing a stale cookie).
async fn signed_in(state: &AppState, caller: &Caller) -> WebResult<Result<String, Response>> {
    let account = caller.session_account(state).await?;
    Ok(account.ok_or_else(|| {
        let redirect = Redirect::to("/login");
        if caller.session_cookie().is_some() {
            (
                [(header::SET_COOKIE, session_clear_cookie(state))],
                redirect,
            )
                .into_response()
        } else {
            redirect.into_response()
        }
    }))
}

async fn show_account(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<AccountQuery>, QueryRejection>,
) -> WebResult<Response> {
    let account_id = match signed_in(&state, &caller).await? {
        Ok(id) => id,
        Err(redirect) => return Ok(redirect),
    };
    let presence = state.presence.clone();
    let document = state
        .membership
        .account_document(&account_id, move |peer| {
            peer.parse::<PeerId>()
                .is_ok_and(|peer| presence.is_live(&peer))
        })
        .await?;
    let checkout = query.ok().and_then(|q| q.0.checkout);
    let billing = billing::section(&state, &account_id, &document, checkout.as_deref()).await?;
    Ok(Page::new("Your account", render(&document, &billing)).into_response())
}

fn text<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// The page; `billing` is the billing section's HTML (empty when billing is off).
fn render(document: &Value, billing: &str) -> String {
    let now = now_ms();
    let state = text(document, "/account/state");
    let email = text(document, "/account/email");
    let created = document
        .pointer("/account/created_at")
        .and_then(Value::as_i64)
        .unwrap_or(now);
    let mut main = format!(
        "<section class=\"card\" aria-labelledby=\"page-title\">\
         <h1 id=\"page-title\">Your account</h1>\
         <dl class=\"facts\"><dt>Email</dt><dd>{}</dd>\
         <dt>State</dt><dd id=\"state\" data-state=\"{}\">{}</dd>\
         <dt>Tier</dt><dd>{}</dd><dt>Can use</dt><dd>{}</dd><dt>Joined</dt><dd>{}</dd></dl>",
        if email.is_empty() {
            "none".to_owned()
        } else {
            esc(email).to_string()
        },
        esc(state),
        words::state(state),
        words::tier(text(document, "/account/tier")),
        rights(document),
        words::relative(created, now),
    );
    if text(document, "/application/status") == "pending" {
        main.push_str("<p class=\"notice\">Your application waits for an admin.</p>");
    }
    main.push_str("</section>");
    main.push_str(billing);
    main.push_str(&peers(document, now));
    main.push_str(
        "<section class=\"card\" aria-labelledby=\"bind\"><h2 id=\"bind\">Add a device</h2>\
         <p>Create a bind code and enter it in the Goop² app on the device you want to add. \
         Each code works once, for a few minutes.</p>\
         <form method=\"post\" action=\"/account/bind-codes\">\
         <button type=\"submit\">Create a bind code</button></form></section>\
         <section class=\"card\" aria-labelledby=\"session\"><h2 id=\"session\">Session</h2>\
         <form method=\"post\" action=\"/logout\">\
         <button type=\"submit\" class=\"secondary\">Sign out</button></form>\
         <form method=\"post\" action=\"/logout\">\
         <input type=\"hidden\" name=\"all\" value=\"1\">\
         <button type=\"submit\" class=\"secondary\" id=\"logout-all\">Sign out everywhere</button>\
         </form></section>",
    );
    main
}

fn rights(document: &Value) -> &'static str {
    let right = |name: &str| {
        document
            .pointer(&format!("/entitlements/{name}"))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    };
    match (right("presence"), right("relay")) {
        (true, true) => "presence and the relay",
        (true, false) => "presence",
        (false, true) => "the relay",
        (false, false) => "nothing yet",
    }
}

fn peers(document: &Value, now: i64) -> String {
    let peers = document
        .pointer("/peers")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    let mut html = String::from(
        "<section class=\"card\" aria-labelledby=\"devices\"><h2 id=\"devices\">Devices</h2>",
    );
    if peers.is_empty() {
        html.push_str("<p>No device is bound to this account yet.</p></section>");
        return html;
    }
    html.push_str(
        "<div class=\"table-wrap\"><table><caption class=\"visually-hidden\">Bound devices</caption>\
         <thead><tr><th scope=\"col\">Device</th><th scope=\"col\">Peer ID</th>\
         <th scope=\"col\">Bound</th><th scope=\"col\">Online</th>\
         <th scope=\"col\"><span class=\"visually-hidden\">Actions</span></th></tr></thead><tbody>",
    );
    for peer in peers {
        let peer_id = text(peer, "/peer_id");
        let label = text(peer, "/label");
        let bound_at = peer
            .pointer("/bound_at")
            .and_then(Value::as_i64)
            .unwrap_or(now);
        let online = peer.pointer("/online").and_then(Value::as_bool) == Some(true);
        let _ = write!(
            html,
            "<tr><td>{label}</td><td><code class=\"peer\">{peer}</code></td><td>{bound}</td>\
             <td>{online}</td><td><form method=\"post\" action=\"/account/peers/unbind\">\
             <input type=\"hidden\" name=\"peer_id\" value=\"{peer}\">\
             <button type=\"submit\" class=\"danger small\" aria-label=\"Unbind {name}\">Unbind</button>\
             </form></td></tr>",
            label = if label.is_empty() {
                "<span class=\"muted\">unnamed</span>".to_owned()
            } else {
                esc(label).to_string()
            },
            peer = esc(peer_id),
            name = esc(if label.is_empty() { peer_id } else { label }),
            bound = words::relative(bound_at, now),
            online = if online { "yes" } else { "no" },
        );
    }
    html.push_str("</tbody></table></div></section>");
    html
}

async fn create_bind_code(State(state): State<AppState>, caller: Caller) -> WebResult<Response> {
    caller.check_form_origin(&state)?;
    let account_id = match signed_in(&state, &caller).await? {
        Ok(id) => id,
        Err(redirect) => return Ok(redirect),
    };
    state.limits.bind_ip.check(caller.ip, Instant::now())?;
    let (code, expires_at) = state.membership.create_bind_code(&account_id).await?;
    let main = format!(
        "<section class=\"card\" aria-labelledby=\"page-title\">\
         <h1 id=\"page-title\">Your bind code</h1>\
         <p class=\"code\" id=\"bind-code\">{}</p>\
         <p>Enter this code in the Goop² app on the device to add. It works once and expires {}.</p>\
         <p><a href=\"/account\">Back to your account</a></p></section>",
        esc(&code),
        words::relative(expires_at, now_ms()),
    );
    Ok(Page::new("Your bind code", main).into_response())
}

async fn unbind_peer(
    State(state): State<AppState>,
    caller: Caller,
    form: Result<Form<UnbindForm>, FormRejection>,
) -> WebResult<Response> {
    caller.check_form_origin(&state)?;
    let form = form_body(form)?;
    let account_id = match signed_in(&state, &caller).await? {
        Ok(id) => id,
        Err(redirect) => return Ok(redirect),
    };
    state
        .membership
        .unbind(&account_id, form.peer_id.trim())
        .await?;
    Ok(Redirect::to("/account").into_response())
}

/// The sign-out form: `all=1` is "sign out everywhere".
#[derive(Debug, Default, Deserialize)]
struct LogoutFields {
    #[serde(default)]
    all: Option<String>,
}

async fn logout(
    State(state): State<AppState>,
    caller: Caller,
    form: Result<Form<LogoutFields>, FormRejection>,
) -> WebResult<Response> {
    caller.check_form_origin(&state)?;
    let everywhere = form.is_ok_and(|f| f.0.all.as_deref() == Some("1"));
    if let Some(cookie) = caller.session_cookie() {
        state.membership.logout(cookie, everywhere).await?;
    }
    Ok((
        [(header::SET_COOKIE, session_clear_cookie(&state))],
        Redirect::to("/"),
    )
        .into_response())
}
