//! `GET /admin` (hub.md §10): the markup of the admin page; `/assets/admin.js` asks for the admin
//! token, keeps it in `sessionStorage` and calls the admin API (§9) with it as a bearer token.
//! There are no admin cookies, so nothing here is reachable through the browser session.

use axum::Router;
use axum::routing::get;

use super::assets::ADMIN_JS_PATH;
use super::html::Page;
use crate::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/admin", get(show_admin))
}

const STATES: &[&str] = &[
    "pending_email",
    "pending_approval",
    "active",
    "grace",
    "lapsed",
    "banned",
];
const TIERS: &[&str] = &["guest", "member", "paid", "comped"];

fn options(values: &[&str]) -> String {
    values
        .iter()
        .map(|v| format!("<option>{v}</option>"))
        .collect()
}

async fn show_admin() -> Page {
    let main = format!(
        r#"<section class="card" id="unlock" aria-labelledby="page-title">
<h1 id="page-title">Administration</h1>
<noscript><div class="alert"><p>The admin page needs JavaScript. The command line offers the same: <code>hub admin --help</code>.</p></div></noscript>
<form id="token-form"><label for="admin-token">Admin token</label>
<input id="admin-token" name="token" type="password" autocomplete="off" required minlength="32" aria-describedby="token-hint">
<p class="hint" id="token-hint">Kept in this tab only (sessionStorage) and sent only to this hub's admin API.</p>
<button type="submit">Unlock</button></form></section>
<div id="admin" hidden>
<div class="toolbar"><h1>Administration</h1><button type="button" id="lock" class="secondary small">Lock</button></div>
<p id="status" role="status" aria-live="polite"></p>
<nav class="tabs" aria-label="Admin sections">
<button type="button" data-tab="members" aria-pressed="true">Members</button>
<button type="button" data-tab="applications" aria-pressed="false">Applications</button>
<button type="button" data-tab="invites" aria-pressed="false">Invites</button>
<button type="button" data-tab="stats" aria-pressed="false">Stats</button>
<button type="button" data-tab="audit" aria-pressed="false">Audit</button></nav>
<section class="card tab" id="tab-members" aria-label="Members">
<form id="member-search" class="row" role="search">
<div><label for="q">Search</label><input id="q" name="q" type="search" placeholder="email, id or PeerId"></div>
<div><label for="state-filter">State</label><select id="state-filter" name="state"><option value="">any</option>{states}</select></div>
<div><label for="tier-filter">Tier</label><select id="tier-filter" name="tier"><option value="">any</option>{tiers}</select></div>
<div><button type="submit">Search</button></div></form>
<div class="table-wrap"><table><thead><tr><th scope="col">Email</th><th scope="col">State</th><th scope="col">Tier</th><th scope="col">Joined</th><th scope="col">Devices</th><th scope="col">Actions</th></tr></thead><tbody id="members-body"></tbody></table></div>
<button type="button" id="members-more" class="secondary" hidden>More</button></section>
<section class="card tab" id="tab-applications" aria-label="Applications" hidden>
<div class="table-wrap"><table><thead><tr><th scope="col">Email</th><th scope="col">Message</th><th scope="col">Sent</th><th scope="col">Actions</th></tr></thead><tbody id="applications-body"></tbody></table></div></section>
<section class="card tab" id="tab-invites" aria-label="Invites" hidden>
<form id="invite-form" class="row">
<div><label for="max-uses">Uses</label><input id="max-uses" name="max_uses" type="number" min="1" max="10000" value="1" required></div>
<div><label for="expires-days">Valid for (days, empty = forever)</label><input id="expires-days" name="days" type="number" min="1" max="365" value="7"></div>
<div><label for="invite-note">Note</label><input id="invite-note" name="note" maxlength="200"></div>
<div><button type="submit">Create invite</button></div></form>
<p><label class="inline"><input type="checkbox" id="include-revoked"> Show revoked invites</label></p>
<div class="table-wrap"><table><thead><tr><th scope="col">Code</th><th scope="col">Uses</th><th scope="col">Expires</th><th scope="col">Note</th><th scope="col">Actions</th></tr></thead><tbody id="invites-body"></tbody></table></div></section>
<section class="card tab" id="tab-stats" aria-label="Stats" hidden><dl class="facts" id="stats"></dl></section>
<section class="card tab" id="tab-audit" aria-label="Audit" hidden>
<div class="table-wrap"><table><thead><tr><th scope="col">When</th><th scope="col">Actor</th><th scope="col">Action</th><th scope="col">Target</th><th scope="col">Details</th></tr></thead><tbody id="audit-body"></tbody></table></div>
<button type="button" id="audit-more" class="secondary" hidden>More</button></section>
</div>"#,
        states = options(STATES),
        tiers = options(TIERS),
    );
    Page::new("Administration", main).script(ADMIN_JS_PATH)
}
