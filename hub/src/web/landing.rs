//! `GET /`: what this community is, how to join it and its plans with their prices; the member
//! count counts accounts as `/api/v1/info` does (hub.md §11.1): `active` or `grace`, tier other
//! than `guest`.

use std::fmt::Write as _;

use axum::Router;
use axum::extract::State;
use axum::routing::get;

use super::forms::WebResult;
use super::html::{Page, esc};
use super::words;
use crate::config::{Plan, PlanKind};
use crate::members;
use crate::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/", get(show_landing))
}

async fn show_landing(State(state): State<AppState>) -> WebResult {
    let hub = &state.config.hub;
    let membership = &state.config.membership;
    let mut main = String::from("<section class=\"hero\" aria-labelledby=\"page-title\">");
    if !hub.icon_url.is_empty() {
        let _ = write!(
            main,
            "<img class=\"icon\" src=\"{}\" alt=\"\" width=\"72\" height=\"72\">",
            esc(&hub.icon_url)
        );
    }
    let _ = write!(main, "<h1 id=\"page-title\">{}</h1>", esc(&hub.name));
    for paragraph in hub
        .description
        .split("\n\n")
        .filter(|p| !p.trim().is_empty())
    {
        let _ = write!(main, "<p class=\"lead\">{}</p>", esc(paragraph.trim()));
    }
    main.push_str("</section><section class=\"card\" aria-labelledby=\"how\">");
    let _ = write!(
        main,
        "<h2 id=\"how\">Membership</h2><p>{}</p><p>{}</p>",
        words::join_mode(membership.join_mode),
        words::access(membership.access)
    );
    main.push_str(&plans(&state.config.plans));
    if hub.publish_member_count {
        let counts = state
            .store
            .count_members()
            .await
            .map_err(crate::http::ApiError::from)?;
        let count = members::published_member_count(&counts);
        let _ = write!(
            main,
            "<p class=\"count\"><strong>{count}</strong> {}</p>",
            if count == 1 { "member" } else { "members" }
        );
    }
    main.push_str(
        "<p class=\"cta\"><a class=\"button\" href=\"/join\">Join</a> \
         <a class=\"button secondary\" href=\"/login\">Sign in</a> \
         <a class=\"button secondary\" href=\"/account\">Account</a></p></section>",
    );
    Ok(Page::new("Welcome", main))
}

/// The plans with their prices, when there is more than the built-in free plan.
fn plans(plans: &[Plan]) -> String {
    if plans.iter().all(|p| p.kind == PlanKind::Free) {
        return String::new();
    }
    let mut html = String::from("<ul class=\"plans\" id=\"plans\">");
    for plan in plans {
        let _ = write!(
            html,
            "<li data-plan=\"{}\"><strong>{}</strong>: {}",
            esc(&plan.id),
            esc(&plan.name),
            esc(&words::price(plan)),
        );
        if !plan.description.is_empty() {
            let _ = write!(
                html,
                "<br><span class=\"muted\">{}</span>",
                esc(&plan.description)
            );
        }
        html.push_str("</li>");
    }
    html.push_str("</ul>");
    html
}
