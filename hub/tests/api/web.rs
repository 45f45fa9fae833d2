//! The web pages (hub.md §10): security headers, escaping, the no-JavaScript join/verify/account
//! flow over plain HTTP, the CSRF rule for forms, HTML error pages, and one walk through the pages
//! in headless Chromium (`tests/js/browser-join.mjs`, driven by `playwright-core`).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use hub::config::{JoinMode, MailTransportKind};
use reqwest::header::{self, HeaderMap};
use reqwest::{Response, StatusCode, redirect};
use serde_json::Value;
use testkit::{Backend, ReceivedMail, SmtpSink, TestDb, TestHub, each_backend};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};

each_backend!(
    pages_carry_the_security_headers_when_served,
    landing_escapes_the_community_name_and_description_when_hostile,
    verify_page_does_not_consume_the_token_when_fetched,
    account_forms_return_403_when_origin_is_missing_or_foreign,
    verify_form_returns_403_when_posted_from_another_site,
    account_redirects_to_login_when_signed_out,
    bind_code_unbind_and_logout_work_when_javascript_is_off,
    unknown_route_returns_a_404_html_page_when_outside_the_api,
    join_returns_413_when_the_form_exceeds_16_kib,
    join_and_login_read_the_same_when_the_address_is_unknown,
    join_returns_429_with_retry_after_when_the_address_is_over_its_limit,
    join_form_asks_for_an_invite_when_mode_is_invite,
    browser_joins_confirms_and_reads_an_active_account,
    browser_admin_approves_an_application_and_creates_an_invite,
);

const DEADLINE: Duration = Duration::from_secs(15);
const CSP: &str = "default-src 'self'; img-src 'self' https: data:; object-src 'none'; \
                   frame-ancestors 'none'; base-uri 'none'";

/// A hub whose mail goes to `sink` over real SMTP.
async fn spawn(db: &TestDb, sink: &SmtpSink, adjust: impl FnOnce(&mut hub::Config)) -> TestHub {
    let url = sink.url();
    TestHub::spawn_with(db, move |config| {
        config.email.transport = MailTransportKind::Smtp;
        config.email.smtp_url = Some(url.into());
        config.email.retry_base = Duration::from_secs(1);
        adjust(config);
    })
    .await
}

/// A client that shows redirects instead of following them.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap()
}

/// Posts a form as a browser on the hub's own pages would (`Origin` of the hub).
async fn post_form(
    hub: &TestHub,
    path: &str,
    fields: &[(&str, &str)],
    cookie: Option<&str>,
) -> Response {
    let mut request = client()
        .post(hub.url(path))
        .header(header::ORIGIN, &hub.base_url)
        .form(fields);
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, format!("goop_hub_session={cookie}"));
    }
    request.send().await.unwrap()
}

fn link_in(mail: &ReceivedMail) -> String {
    mail.body()
        .lines()
        .find(|line| line.contains("/verify?token="))
        .unwrap_or_else(|| panic!("no link in {}", mail.body()))
        .trim()
        .to_owned()
}

/// Joins through the form and returns the emailed link.
async fn join_link(hub: &TestHub, sink: &SmtpSink, email: &str) -> String {
    let answer = post_form(hub, "/join", &[("email", email)], None).await;
    assert_eq!(answer.status(), 200, "{}", answer.text().await.unwrap());
    let mail = sink.wait_for(DEADLINE, |m| m.to == [email]).await;
    link_in(&mail)
}

fn token_of(link: &str) -> &str {
    link.split_once("token=").unwrap().1
}

fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("goop_hub_session="))
        .map(|v| v.split(';').next().unwrap().to_owned())
}

/// Joins and confirms `email`; the session cookie value.
async fn member_session(hub: &TestHub, sink: &SmtpSink, email: &str) -> String {
    let link = join_link(hub, sink, email).await;
    let answer = post_form(hub, "/verify", &[("token", token_of(&link))], None).await;
    assert_eq!(answer.status(), 200);
    session_cookie(answer.headers()).expect("a session cookie")
}

fn assert_security_headers(response: &Response) {
    let headers = response.headers();
    let url = response.url().clone();
    assert_eq!(headers[header::CONTENT_SECURITY_POLICY], CSP, "{url}");
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{url}");
    assert_eq!(headers["referrer-policy"], "same-origin", "{url}");
}

async fn pages_carry_the_security_headers_when_served(db: TestDb) {
    let hub = TestHub::spawn(&db).await;

    for path in [
        "/",
        "/join",
        "/login",
        "/admin",
        "/verify?token=x",
        "/no-such-page",
    ] {
        let page = client().get(hub.url(path)).send().await.unwrap();
        assert!(
            page.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{path}"
        );
        assert_security_headers(&page);
        let html = page.text().await.unwrap();
        assert!(html.starts_with("<!doctype html>"), "{path}: {html}");
        assert!(html.contains("<html lang=\"en\">") && html.contains("name=\"viewport\""));
        assert!(
            !html.contains("<script>") && !html.contains("style="),
            "{path}"
        );
    }
    for (path, kind) in [
        ("/assets/hub.css", "text/css"),
        ("/assets/admin.js", "text/javascript"),
    ] {
        let asset = hub.get(path).await;
        assert_eq!(asset.status(), 200);
        assert!(
            asset.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with(kind)
        );
        assert!(
            asset.headers()[header::CACHE_CONTROL]
                .to_str()
                .unwrap()
                .contains("max-age=31536000")
        );
        assert_security_headers(&asset);
    }
}

async fn landing_escapes_the_community_name_and_description_when_hostile(db: TestDb) {
    let hub = TestHub::spawn_with(&db, |config| {
        config.hub.name = "<script>alert(\"n\")</script> & 'Co'".to_owned();
        config.hub.description = "<img src=x onerror=alert(1)>\n\n\"quoted\"".to_owned();
        config.hub.icon_url = "https://example.org/i.png\"onload=\"alert(2)".to_owned();
    })
    .await;

    let html = hub.get("/").await.text().await.unwrap();

    assert!(!html.contains("<script>alert"), "{html}");
    assert!(!html.contains("<img src=x"), "{html}");
    assert!(!html.contains("\"onload=\""), "{html}");
    assert!(html.contains("&lt;script&gt;alert(&quot;n&quot;)&lt;/script&gt; &amp; &#39;Co&#39;"));
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
    assert!(html.contains("&quot;quoted&quot;"));
}

async fn verify_page_does_not_consume_the_token_when_fetched(db: TestDb) {
    let sink = SmtpSink::start().await;
    let hub = spawn(&db, &sink, |_| {}).await;
    let link = join_link(&hub, &sink, "ann@example.org").await;

    let first = client().get(&link).send().await.unwrap();
    let second = client().get(&link).send().await.unwrap();
    let (first_status, second_status) = (first.status(), second.status());
    let shown = second.text().await.unwrap();
    let confirmed = post_form(&hub, "/verify", &[("token", token_of(&link))], None).await;
    let confirmed_cookie = session_cookie(confirmed.headers());
    let confirmed_html = confirmed.text().await.unwrap();
    let after = client().get(&link).send().await.unwrap();

    assert_eq!((first_status.as_u16(), second_status.as_u16()), (200, 200));
    assert!(
        shown.contains("id=\"confirm\"") && shown.contains("a***@example.org"),
        "{shown}"
    );
    assert!(
        confirmed_html.contains("data-state=\"active\""),
        "{confirmed_html}"
    );
    assert!(confirmed_cookie.is_some());
    assert_eq!(after.status(), StatusCode::CONFLICT);
    assert!(after.text().await.unwrap().contains("used already"));
}

async fn account_forms_return_403_when_origin_is_missing_or_foreign(db: TestDb) {
    let sink = SmtpSink::start().await;
    let hub = spawn(&db, &sink, |_| {}).await;
    let cookie = member_session(&hub, &sink, "bob@example.org").await;
    let send = |origin: Option<&'static str>, referer: Option<String>| {
        let mut request = client()
            .post(hub.url("/account/bind-codes"))
            .header(header::COOKIE, format!("goop_hub_session={cookie}"));
        if let Some(origin) = origin {
            request = request.header(header::ORIGIN, origin);
        }
        if let Some(referer) = referer {
            request = request.header(header::REFERER, referer);
        }
        request.send()
    };

    let missing = send(None, None).await.unwrap();
    let foreign = send(Some("https://evil.example"), None).await.unwrap();
    let foreign_referer = send(None, Some("https://evil.example/page".to_owned()))
        .await
        .unwrap();
    let own_referer = send(None, Some(hub.url("/account"))).await.unwrap();

    for refused in [&missing, &foreign, &foreign_referer] {
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        assert!(
            refused.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
    }
    assert!(
        missing
            .text()
            .await
            .unwrap()
            .contains("did not come from this hub")
    );
    assert_eq!(own_referer.status(), 200);
}

async fn verify_form_returns_403_when_posted_from_another_site(db: TestDb) {
    let sink = SmtpSink::start().await;
    let hub = spawn(&db, &sink, |_| {}).await;
    let link = join_link(&hub, &sink, "hal@example.org").await;

    // Another site must not sign a visitor in to an account of its choosing.
    let foreign = client()
        .post(hub.url("/verify"))
        .header(header::ORIGIN, "https://evil.example")
        .form(&[("token", token_of(&link))])
        .send()
        .await
        .unwrap();
    let still_usable = client().get(&link).send().await.unwrap();

    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    assert!(session_cookie(foreign.headers()).is_none());
    assert_eq!(still_usable.status(), 200);
}

async fn account_redirects_to_login_when_signed_out(db: TestDb) {
    let hub = TestHub::spawn(&db).await;

    let anonymous = client().get(hub.url("/account")).send().await.unwrap();
    let stale = client()
        .get(hub.url("/account"))
        .header(
            header::COOKIE,
            format!("goop_hub_session={}", "A".repeat(43)),
        )
        .send()
        .await
        .unwrap();

    assert_eq!(anonymous.status(), StatusCode::SEE_OTHER);
    assert_eq!(anonymous.headers()[header::LOCATION], "/login");
    assert_eq!(stale.status(), StatusCode::SEE_OTHER);
    assert_eq!(stale.headers()[header::LOCATION], "/login");
    assert_eq!(session_cookie(stale.headers()).as_deref(), Some(""));
}

async fn bind_code_unbind_and_logout_work_when_javascript_is_off(db: TestDb) {
    let sink = SmtpSink::start().await;
    let hub = spawn(&db, &sink, |_| {}).await;
    let cookie = member_session(&hub, &sink, "cy@example.org").await;

    let bind = post_form(&hub, "/account/bind-codes", &[], Some(&cookie)).await;
    let bind_status = bind.status();
    let bind_html = bind.text().await.unwrap();
    let account = client()
        .get(hub.url("/account"))
        .header(header::COOKIE, format!("goop_hub_session={cookie}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let unbind = post_form(
        &hub,
        "/account/peers/unbind",
        &[("peer_id", "12D3KooWNotBound")],
        Some(&cookie),
    )
    .await;
    let logout = post_form(&hub, "/logout", &[], Some(&cookie)).await;
    let after = client()
        .get(hub.url("/account"))
        .header(header::COOKIE, format!("goop_hub_session={cookie}"))
        .send()
        .await
        .unwrap();

    assert_eq!(bind_status, 200);
    let code = bind_html
        .split("id=\"bind-code\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap_or_default();
    assert!(
        code.len() == 11 && code.as_bytes()[5] == b'-',
        "bind code {code:?} in {bind_html}"
    );
    assert!(account.contains("cy@example.org") && account.contains("data-state=\"active\""));
    assert!(account.contains("No device is bound"));
    assert_eq!(unbind.status(), StatusCode::NOT_FOUND);
    assert_eq!(logout.status(), StatusCode::SEE_OTHER);
    assert_eq!(logout.headers()[header::LOCATION], "/");
    assert_eq!(session_cookie(logout.headers()).as_deref(), Some(""));
    assert_eq!(after.status(), StatusCode::SEE_OTHER);
}

async fn unknown_route_returns_a_404_html_page_when_outside_the_api(db: TestDb) {
    let hub = TestHub::spawn(&db).await;

    let page = hub.get("/no/such/page").await;
    let api = hub.get("/api/v1/no-such-thing").await;
    let wrong_method = client().delete(hub.url("/join")).send().await.unwrap();

    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    assert_security_headers(&page);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Page not found") && html.contains("/assets/hub.css"),
        "{html}"
    );
    assert_eq!(api.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        api.json::<Value>().await.unwrap()["error"]["code"],
        "not_found"
    );
    assert_eq!(wrong_method.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(wrong_method.headers().contains_key(header::ALLOW));
    assert!(
        wrong_method
            .text()
            .await
            .unwrap()
            .contains("Method not allowed")
    );
}

async fn join_returns_413_when_the_form_exceeds_16_kib(db: TestDb) {
    let hub = TestHub::spawn(&db).await;
    let message = "x".repeat(17 * 1024);

    let answer = post_form(
        &hub,
        "/join",
        &[("email", "dee@example.org"), ("message", &message)],
        None,
    )
    .await;

    assert_eq!(answer.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        answer.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(answer.text().await.unwrap().contains("16 KiB"));
}

async fn join_and_login_read_the_same_when_the_address_is_unknown(db: TestDb) {
    let sink = SmtpSink::start().await;
    let hub = spawn(&db, &sink, |_| {}).await;
    member_session(&hub, &sink, "eve@example.org").await;
    let page = |response: Response| async move {
        let status = response.status();
        let html = response.text().await.unwrap();
        (
            status,
            html.replace("eve@example.org", "ADDRESS")
                .replace("new@example.org", "ADDRESS"),
        )
    };

    let login_known =
        page(post_form(&hub, "/login", &[("email", "eve@example.org")], None).await).await;
    let login_unknown =
        page(post_form(&hub, "/login", &[("email", "new@example.org")], None).await).await;
    let join_known =
        page(post_form(&hub, "/join", &[("email", "eve@example.org")], None).await).await;
    let join_unknown =
        page(post_form(&hub, "/join", &[("email", "new@example.org")], None).await).await;

    assert_eq!(login_known, login_unknown);
    assert_eq!(join_known, join_unknown);
    assert_eq!(login_known.0, 200);
    assert!(login_known.1.contains("Check your email"));
}

async fn join_returns_429_with_retry_after_when_the_address_is_over_its_limit(db: TestDb) {
    let hub = TestHub::spawn(&db).await;

    let mut statuses = Vec::new();
    let mut last = None;
    for _ in 0..6 {
        let answer = post_form(&hub, "/join", &[("email", "fay@example.org")], None).await;
        statuses.push(answer.status().as_u16());
        last = Some(answer);
    }
    let last = last.unwrap();

    assert_eq!(statuses, [200, 200, 200, 200, 200, 429]);
    let retry: u64 = last.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    assert!(last.text().await.unwrap().contains("Too many requests"));
}

async fn join_form_asks_for_an_invite_when_mode_is_invite(db: TestDb) {
    let hub =
        TestHub::spawn_with(&db, |config| config.membership.join_mode = JoinMode::Invite).await;

    let form = hub
        .get("/join?invite=4F7K-2MX9-QH3D")
        .await
        .text()
        .await
        .unwrap();
    let refused = post_form(
        &hub,
        "/join",
        &[("email", "gus@example.org"), ("invite_code", "")],
        None,
    )
    .await;
    let refused_status = refused.status();
    let refused_html = refused.text().await.unwrap();

    assert!(form.contains("name=\"invite_code\"") && form.contains("value=\"4F7K-2MX9-QH3D\""));
    assert_eq!(refused_status, StatusCode::BAD_REQUEST);
    assert!(
        refused_html.contains("role=\"alert\"") && refused_html.contains("Enter your invite code")
    );
    assert!(
        refused_html.contains("value=\"gus@example.org\""),
        "the form keeps what was typed"
    );
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn backend_name(db: &TestDb) -> &'static str {
    match db.backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    }
}

/// `node <script> <args…>` in `tests/js`, after checking that the browser test can run here.
fn browser_script(script: &str, args: &[&str]) -> tokio::process::Child {
    let js = workspace_root().join("tests/js");
    assert!(
        js.join("node_modules/playwright-core").is_dir(),
        "tests/js/node_modules is missing: run the suite with `scripts/test`, which runs `npm ci --prefix tests/js`"
    );
    assert!(
        std::path::Path::new("/usr/bin/chromium").exists(),
        "/usr/bin/chromium is missing: `scripts/test` installs Debian's chromium package when run as root"
    );
    tokio::process::Command::new("node")
        .current_dir(&js)
        .arg(script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node is installed (Node 20)")
}

/// The next JSON line of the browser script, within `deadline`.
async fn next_event(
    lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    deadline: Duration,
) -> Value {
    let line = tokio::time::timeout(deadline, lines.next_line())
        .await
        .expect("the browser script answers in time")
        .unwrap()
        .expect("the browser script is still running");
    serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line}"))
}

async fn browser_joins_confirms_and_reads_an_active_account(db: TestDb) {
    let sink = SmtpSink::start().await;
    let hub = spawn(&db, &sink, |config| {
        config.membership.join_mode = JoinMode::Email
    })
    .await;
    let backend = backend_name(&db);
    let shots = workspace_root()
        .join("target/screenshots")
        .join(format!("web-join-{backend}"));
    let email = format!("browser-{backend}@example.org");
    let step = Duration::from_secs(60);

    let mut node = browser_script(
        "browser-join.mjs",
        &[&hub.base_url, &email, shots.to_str().unwrap()],
    );
    let mut stdin = node.stdin.take().unwrap();
    let mut lines = BufReader::new(node.stdout.take().unwrap()).lines();
    let joined = next_event(&mut lines, step).await;
    assert_eq!(joined["event"], "check_email", "{joined}");
    let mail = sink.wait_for(DEADLINE, |m| m.to == [email.as_str()]).await;
    stdin
        .write_all(format!("{}\n", link_in(&mail)).as_bytes())
        .await
        .unwrap();
    let shown = next_event(&mut lines, step).await;
    let verified = next_event(&mut lines, step).await;
    let account = next_event(&mut lines, step).await;
    drop(stdin);
    let exit = tokio::time::timeout(step, node.wait())
        .await
        .unwrap()
        .unwrap();

    assert_eq!(shown["event"], "confirm_shown", "{shown}");
    assert_eq!(verified["event"], "verified", "{verified}");
    assert_eq!(verified["state"], "active");
    assert_eq!(account["event"], "account", "{account}");
    assert_eq!(account["state"], "active");
    assert_eq!(
        account["problems"],
        serde_json::json!([]),
        "console errors (CSP?)"
    );
    assert!(exit.success());
    for shot in [
        "01-landing",
        "02-join",
        "03-check-email",
        "04-confirm",
        "05-welcome",
        "06-account",
        "07-admin",
    ] {
        assert!(shots.join(format!("{shot}.png")).is_file(), "{shot}.png");
    }
}

async fn browser_admin_approves_an_application_and_creates_an_invite(db: TestDb) {
    const TOKEN: &str = "web-test-admin-token-0123456789abcdef";
    let sink = SmtpSink::start().await;
    let hub = spawn(&db, &sink, |config| {
        config.membership.join_mode = JoinMode::Application;
        config.admin.token = Some(TOKEN.to_owned().into());
    })
    .await;
    let applicant = "applicant@example.org";
    let joined = post_form(
        &hub,
        "/join",
        &[
            ("email", applicant),
            ("message", "I read every <b>issue</b>."),
        ],
        None,
    )
    .await;
    assert_eq!(joined.status(), 200);
    let mail = sink.wait_for(DEADLINE, |m| m.to == [applicant]).await;
    let link = link_in(&mail);
    let confirmed = post_form(&hub, "/verify", &[("token", token_of(&link))], None).await;
    assert!(
        confirmed
            .text()
            .await
            .unwrap()
            .contains("data-state=\"pending_approval\"")
    );
    let shots = workspace_root()
        .join("target/screenshots")
        .join(format!("web-admin-{}", backend_name(&db)));

    let mut node = browser_script(
        "browser-admin.mjs",
        &[&hub.base_url, TOKEN, applicant, shots.to_str().unwrap()],
    );
    let mut lines = BufReader::new(node.stdout.take().unwrap()).lines();
    let step = Duration::from_secs(60);
    let members = next_event(&mut lines, step).await;
    let approved = next_event(&mut lines, step).await;
    let invite = next_event(&mut lines, step).await;
    let done = next_event(&mut lines, step).await;
    let exit = tokio::time::timeout(step, node.wait())
        .await
        .unwrap()
        .unwrap();

    assert_eq!(members["event"], "members", "{members}");
    assert_eq!(
        members["stored"],
        serde_json::json!(["goop-hub-admin-token"])
    );
    assert_eq!(approved["event"], "approved", "{approved}");
    assert_eq!(invite["event"], "invite", "{invite}");
    assert_eq!(invite["code"].as_str().map(str::len), Some(14), "{invite}");
    assert_eq!(done["event"], "done", "{done}");
    assert_eq!(
        done["bearer"], true,
        "every admin call is a bearer call without cookies"
    );
    assert_eq!(
        done["problems"],
        serde_json::json!([]),
        "console errors (CSP?)"
    );
    assert!(exit.success());
}
