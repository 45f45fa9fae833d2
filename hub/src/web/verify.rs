//! `GET /verify?token=` shows what an emailed link is for and a confirm button, without consuming
//! it (mail scanners prefetch links, hub.md §6.8 rule 2); `POST /verify` consumes it, starts the
//! browser session and shows the result.

use std::fmt::Write as _;
use std::time::Instant;

use axum::Router;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Query, State};
use axum::http::{StatusCode, header};
use axum::routing::get;
use serde::Deserialize;

use super::forms::{WebError, WebResult};
use super::html::{Page, esc};
use super::words;
use crate::http::body::form_body;
use crate::http::cookie::session_set_cookie;
use crate::http::extract::Caller;
use crate::members::State as AccountState;
use crate::membership::{TokenInfo, TokenPurpose, enum_text};
use crate::state::AppState;
use crate::utc::now_ms;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/verify", get(show_token).post(verify))
}

#[derive(Debug, Default, Deserialize)]
struct TokenFields {
    #[serde(default)]
    token: String,
    /// `1`: add the join's device (the box an owner ticks); `0`: confirm without it; absent: add it
    /// only when this link verifies the address for the first time.
    #[serde(default)]
    bind: Option<String>,
}

fn incomplete() -> WebError {
    WebError::new(
        StatusCode::BAD_REQUEST,
        "This link is incomplete",
        "Copy the whole link from the email into the address bar.",
    )
}

async fn show_token(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<TokenFields>, QueryRejection>,
) -> WebResult {
    state.limits.verify_ip.check(caller.ip, Instant::now())?;
    let token = query.map(|q| q.0.token).unwrap_or_default();
    if token.is_empty() {
        return Err(incomplete());
    }
    let info = state.membership.inspect_token(&token).await?;
    let (title, intro, button) = match info.purpose {
        TokenPurpose::Login => (
            "Sign in",
            format!("Sign in to {} as", esc(&state.config.hub.name)),
            "Sign in",
        ),
        TokenPurpose::ChangeEmail => (
            "Confirm your new address",
            "Use this new address for your account:".to_owned(),
            "Confirm the new address",
        ),
        TokenPurpose::Join => (
            "Confirm your email address",
            format!(
                "Confirm your address to join {}:",
                esc(&state.config.hub.name)
            ),
            "Confirm and join",
        ),
    };
    let main = format!(
        "<section class=\"card\" aria-labelledby=\"page-title\">\
         <h1 id=\"page-title\">{title}</h1>\
         <p>{intro} <strong class=\"address\">{hint}</strong></p>\
         {device}\
         <form method=\"post\" action=\"/verify\">\
         <input type=\"hidden\" name=\"token\" value=\"{token}\">\
         {add_device}\
         <button type=\"submit\" id=\"confirm\">{button}</button></form>\
         {without}\
         <p class=\"hint\">The link expires {expires}. Nothing happens until you press the button.</p>\
         </section>",
        hint = esc(&info.email_hint),
        token = esc(&token),
        expires = words::relative(info.expires_at, now_ms()),
        device = device_notice(&info),
        add_device = add_device_choice(&info),
        without = without_device_form(&info, &token),
    );
    Ok(Page::new(title, main))
}

/// The device a join link would add, named so nobody adds a stranger's device by accident; for an
/// address verified already, the choice below names it instead.
fn device_notice(info: &TokenInfo) -> String {
    match &info.peer_id {
        Some(_) if info.account_verified => String::new(),
        Some(peer) => format!(
            "<p class=\"device\">Confirming also adds the device <strong>{}</strong> \
             (<code>{}</code>) to this account. If you did not start this join on that device, \
             confirm without it.</p>",
            esc(info.peer_label.as_deref().unwrap_or("unnamed device")),
            esc(peer),
        ),
        None => String::new(),
    }
}

/// For an address verified already (anyone can start a join for it, hub.md §6.8 rule 8): an
/// unchecked box that names the device; the button adds it only when the owner ticks it.
fn add_device_choice(info: &TokenInfo) -> String {
    match &info.peer_id {
        Some(peer) if info.account_verified => format!(
            "<p class=\"device\">Someone asked to add a device to this account. Add it only if you \
             started this on that device.</p>\
             <p><label><input type=\"checkbox\" name=\"bind\" value=\"1\" id=\"add-device\"> \
             Also add the device <strong>{}</strong> (<code>{}</code>) to my account</label></p>",
            esc(info.peer_label.as_deref().unwrap_or("unnamed device")),
            esc(peer),
        ),
        _ => String::new(),
    }
}

/// A second form that confirms the address without binding the join's device (first
/// verification, where the main button adds it).
fn without_device_form(info: &TokenInfo, token: &str) -> String {
    if info.peer_id.is_none() || info.account_verified {
        return String::new();
    }
    format!(
        "<form method=\"post\" action=\"/verify\">\
         <input type=\"hidden\" name=\"token\" value=\"{}\">\
         <input type=\"hidden\" name=\"bind\" value=\"0\">\
         <button type=\"submit\" class=\"secondary\" id=\"confirm-without-device\">Confirm without this device</button></form>",
        esc(token)
    )
}

async fn verify(
    State(state): State<AppState>,
    caller: Caller,
    form: Result<Form<TokenFields>, FormRejection>,
) -> WebResult {
    caller.check_form_origin(&state)?;
    let form = form_body(form)?;
    state.limits.verify_ip.check(caller.ip, Instant::now())?;
    if form.token.is_empty() {
        return Err(incomplete());
    }
    let bind = match form.bind.as_deref() {
        Some("1") => Some(true),
        Some("0") => Some(false),
        _ => None,
    };
    let verified = state
        .membership
        .verify(
            &form.token,
            &caller.ip.to_string(),
            caller.user_agent(),
            bind,
        )
        .await?;
    let state_text = enum_text(&verified.state);
    let tier_text = enum_text(&verified.tier);
    let (title, lead) = match (verified.purpose, verified.state) {
        (TokenPurpose::Login, _) => ("You are signed in", String::new()),
        (TokenPurpose::ChangeEmail, _) => (
            "Your address is changed",
            "Your account now uses the new address.".to_owned(),
        ),
        (_, AccountState::Active) => (
            "Welcome",
            format!(
                "Your membership of {} is active.",
                esc(&state.config.hub.name)
            ),
        ),
        (_, AccountState::PendingApproval) => (
            "Your address is confirmed",
            "An admin reviews your request to join; you can use the community once it is approved."
                .to_owned(),
        ),
        _ => ("Your address is confirmed", String::new()),
    };
    let mut main = format!(
        "<section class=\"card\" aria-labelledby=\"page-title\">\
         <h1 id=\"page-title\">{}</h1>",
        esc(title)
    );
    if !lead.is_empty() {
        let _ = write!(main, "<p class=\"lead\">{lead}</p>");
    }
    let _ = write!(
        main,
        "<dl class=\"facts\"><dt>State</dt><dd id=\"state\" data-state=\"{}\">{}</dd>\
         <dt>Tier</dt><dd>{}</dd></dl>",
        esc(&state_text),
        words::state(&state_text),
        words::tier(&tier_text)
    );
    match &verified.bound_peer {
        Some(peer) => {
            let _ = write!(
                main,
                "<p>Your device <code>{}</code> is now bound to this account.</p>",
                esc(peer)
            );
        }
        None => main.push_str(
            "<h2>Use the Goop² app</h2>\
             <p>To use this membership in the app, create a bind code and enter it there.</p>\
             <form method=\"post\" action=\"/account/bind-codes\">\
             <button type=\"submit\">Create a bind code</button></form>",
        ),
    }
    main.push_str("<p><a href=\"/account\">Go to your account</a></p></section>");
    Ok(Page::new(title, main).header(
        header::SET_COOKIE,
        session_set_cookie(&state, &verified.session),
    ))
}
