//! `GET`/`POST /join` and `GET`/`POST /login` (hub.md §10): an email form whose answer is "check
//! your email" — the same words whether or not the address has an account (§6.8 rule 6).

use std::fmt::Write as _;

use axum::Router;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use serde::Deserialize;

use super::forms::{WebError, WebResult};
use super::html::{Page, esc};
use super::words;
use crate::config::{JoinMode, Plan, PlanKind};
use crate::http::body::form_body;
use crate::http::extract::Caller;
use crate::members::Access;
use crate::membership::{self, JoinRequest, codes};
use crate::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/join", get(show_join).post(join))
        .route("/login", get(show_login).post(login))
}

/// The fields of the join form; which ones are shown depends on the join mode.
#[derive(Debug, Default, Deserialize)]
struct JoinForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    invite_code: String,
    #[serde(default)]
    message: String,
    /// The plan chosen in a paid community; offered on the account page once confirmed.
    #[serde(default)]
    plan: String,
}

#[derive(Debug, Deserialize)]
struct JoinQuery {
    invite: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct LoginForm {
    #[serde(default)]
    email: String,
}

async fn show_join(
    State(state): State<AppState>,
    query: Result<Query<JoinQuery>, QueryRejection>,
) -> Page {
    let values = JoinForm {
        invite_code: query.ok().and_then(|q| q.0.invite).unwrap_or_default(),
        ..JoinForm::default()
    };
    Page::new("Join", join_form(&state, &values, None))
}

async fn join(
    State(state): State<AppState>,
    caller: Caller,
    form: Result<Form<JoinForm>, FormRejection>,
) -> WebResult {
    caller.check_form_origin(&state)?;
    let form = form_body(form)?;
    let refuse = |message: &str| {
        Page::new("Join", join_form(&state, &form, Some(message))).status(StatusCode::BAD_REQUEST)
    };
    let Some(email) = codes::normalize_email(&form.email) else {
        return Ok(refuse(INVALID_EMAIL));
    };
    state.limits.check_email(caller.ip, &email)?;
    let request = JoinRequest {
        email: Some(email.clone()),
        invite_code: Some(form.invite_code.clone()).filter(|c| !c.trim().is_empty()),
        message: Some(form.message.clone()).filter(|m| !m.trim().is_empty()),
        label: None,
    };
    match state
        .membership
        .join(&request, Some(&email), None, &caller.ip.to_string())
        .await
    {
        Ok(_) => Ok(check_email(
            "/join",
            &format!(
                "We have sent a link to <strong>{}</strong>. Open it to confirm your address and \
                 finish joining; it is valid for {}.{}",
                esc(&email),
                words::duration(state.config.email.token_ttl),
                next_payment(&state, &form.plan),
            ),
        )),
        Err(error) => match join_problem(&error) {
            Some(problem) => Ok(refuse(problem)),
            None => Err(WebError::from(error)),
        },
    }
}

const INVALID_EMAIL: &str = "Enter a valid email address, like ann@example.org.";

/// The form's alert for a refused input; `None` for a failure that is not the visitor's input.
fn join_problem(error: &membership::Error) -> Option<&'static str> {
    use membership::Error as E;
    match error {
        E::InviteRequired => Some("Enter your invite code."),
        E::InvalidInvite => Some("This invite code is not valid, has expired or has no uses left."),
        E::MessageRequired => Some("Write a few words about why you want to join."),
        E::MessageTooLong => Some("Your message is longer than this community accepts."),
        E::InvalidEmail | E::EmailRequired | E::InvalidLabel => Some(INVALID_EMAIL),
        _ => None,
    }
}

fn join_form(state: &AppState, values: &JoinForm, problem: Option<&str>) -> String {
    let membership = &state.config.membership;
    let mut main = format!(
        "<section class=\"card\" aria-labelledby=\"page-title\">\
         <h1 id=\"page-title\">Join {}</h1><p>{}</p>{}\
         <form method=\"post\" action=\"/join\">",
        esc(&state.config.hub.name),
        words::join_mode(membership.join_mode),
        alert(problem),
    );
    main.push_str(&email_field(&values.email));
    if membership.join_mode == JoinMode::Invite {
        let _ = write!(
            main,
            "<label for=\"invite_code\">Invite code</label>\
             <input id=\"invite_code\" name=\"invite_code\" autocomplete=\"off\" \
             autocapitalize=\"characters\" spellcheck=\"false\" required maxlength=\"64\" \
             aria-describedby=\"invite-hint\" value=\"{}\">\
             <p class=\"hint\" id=\"invite-hint\">Twelve letters and digits, like 4F7K-2MX9-QH3D.</p>",
            esc(&values.invite_code)
        );
    }
    if membership.join_mode == JoinMode::Application {
        let _ = write!(
            main,
            "<label for=\"message\">Why do you want to join?</label>\
             <textarea id=\"message\" name=\"message\" rows=\"6\" required maxlength=\"{}\" \
             aria-describedby=\"message-hint\">{}</textarea>\
             <p class=\"hint\" id=\"message-hint\">An admin reads this. At most {} characters.</p>",
            membership.application_max_chars,
            esc(&values.message),
            membership.application_max_chars
        );
    }
    if membership.access == Access::Paid {
        main.push_str(&plan_choice(&state.config.plans, &values.plan));
    }
    main.push_str(
        "<button type=\"submit\">Send me a link</button></form>\
         <p>Already a member? <a href=\"/login\">Sign in</a>.</p></section>",
    );
    main
}

/// After a paid community's join: where the chosen plan is paid for (already escaped).
fn next_payment(state: &AppState, chosen: &str) -> String {
    if state.config.membership.access != Access::Paid {
        return String::new();
    }
    state
        .config
        .plans
        .iter()
        .find(|p| p.id == chosen && p.kind != PlanKind::Free)
        .map_or_else(String::new, |plan| {
            format!(
                " Then choose <strong>{}</strong> ({}) on your account page.",
                esc(&plan.name),
                esc(&words::price(plan))
            )
        })
}

/// The plans for sale as a choice (hub.md §10): joining comes first; once the address is
/// confirmed, the account page offers the checkout of the chosen plan.
fn plan_choice(plans: &[Plan], chosen: &str) -> String {
    let mut for_sale = plans.iter().filter(|p| p.kind != PlanKind::Free).peekable();
    let Some(first) = for_sale.peek().map(|p| p.id.clone()) else {
        return String::new();
    };
    let chosen = if plans.iter().any(|p| p.id == chosen) {
        chosen
    } else {
        &first
    };
    let mut html = String::from(
        "<fieldset id=\"plan-choice\"><legend>Plan</legend>\
         <p class=\"hint\">After you confirm your email address, your account page takes you to \
         the payment.</p>",
    );
    for plan in for_sale {
        let _ = write!(
            html,
            "<label><input type=\"radio\" name=\"plan\" value=\"{id}\"{checked}> {name}: {price}</label>",
            id = esc(&plan.id),
            checked = if plan.id == chosen { " checked" } else { "" },
            name = esc(&plan.name),
            price = esc(&words::price(plan)),
        );
    }
    html.push_str("</fieldset>");
    html
}

async fn show_login() -> Page {
    Page::new("Sign in", login_form("", None))
}

async fn login(
    State(state): State<AppState>,
    caller: Caller,
    form: Result<Form<LoginForm>, FormRejection>,
) -> WebResult {
    caller.check_form_origin(&state)?;
    let form = form_body(form)?;
    let Some(email) = codes::normalize_email(&form.email) else {
        return Ok(
            Page::new("Sign in", login_form(&form.email, Some(INVALID_EMAIL)))
                .status(StatusCode::BAD_REQUEST),
        );
    };
    state.limits.check_email(caller.ip, &email)?;
    state
        .membership
        .login(&email, &caller.ip.to_string())
        .await?;
    Ok(check_email(
        "/login",
        &format!(
            "If <strong>{}</strong> belongs to a member, we have sent a sign-in link to it. \
             Open the link on this device to sign in.",
            esc(&email)
        ),
    ))
}

fn login_form(email: &str, problem: Option<&str>) -> String {
    format!(
        "<section class=\"card\" aria-labelledby=\"page-title\">\
         <h1 id=\"page-title\">Sign in</h1>\
         <p>There are no passwords here: we email you a link that signs you in.</p>{}\
         <form method=\"post\" action=\"/login\">{}\
         <button type=\"submit\">Email me a sign-in link</button></form>\
         <p>Not a member yet? <a href=\"/join\">Join</a>.</p></section>",
        alert(problem),
        email_field(email)
    )
}

fn email_field(value: &str) -> String {
    format!(
        "<label for=\"email\">Email address</label>\
         <input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"email\" required \
         maxlength=\"254\" value=\"{}\">",
        esc(value)
    )
}

fn alert(problem: Option<&str>) -> String {
    problem.map_or_else(String::new, |p| {
        format!(
            "<div class=\"alert\" role=\"alert\"><p>{}</p></div>",
            esc(p)
        )
    })
}

/// The "check your email" page; `message_html` is already escaped, `again` is the form to retry.
fn check_email(again: &str, message_html: &str) -> Page {
    Page::new(
        "Check your email",
        format!(
            "<section class=\"card\" aria-labelledby=\"page-title\">\
             <h1 id=\"page-title\">Check your email</h1>\
             <p class=\"check-email\">{message_html}</p>\
             <p class=\"hint\">Nothing arrived after a few minutes? Look in your spam folder, or \
             <a href=\"{again}\">try again</a>.</p></section>"
        ),
    )
}
