//! The dashboard through the whole app (`oneshot`): sign-up and sessions,
//! keys shown once, form posts for toggle/limit/scopes/delete, CSRF, login
//! throttling, ownership (404), admin pages, billing, usage charts and the
//! request log, the playground (with and without streaming), and logs that
//! never carry secrets; rate limits set per key and per account by form
//! (applied to the next call), and the usage page filtered per key.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::{
    collections::HashMap,
    io::Write,
    sync::{Arc, Mutex},
};

use axum::{
    body::Body,
    http::{HeaderMap, Request, StatusCode, header},
};
use common::*;
use switchyard_core::FinishReason;
use switchyard_platform::{KeyKind, KeyLimit, Nanos, RateLimits, Retention, Scope, TxKind};

const PASSWORD: &str = "correct horse battery";

/// A response, read whole.
struct Page {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Page {
    fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The first `csrf_token` hidden field's value.
    fn csrf(&self) -> String {
        value_after(&self.body, "name=\"csrf_token\" value=\"")
            .unwrap_or_else(|| panic!("no csrf_token in:\n{}", self.body))
    }

    fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }
}

/// The text after `marker` up to the next `"` or `<`.
fn value_after(body: &str, marker: &str) -> Option<String> {
    let start = body.find(marker)? + marker.len();
    let rest = &body[start..];
    let end = rest.find(['"', '<'])?;
    Some(rest[..end].to_owned())
}

/// A browser: a cookie jar over the app.
struct Browser<'a> {
    t: &'a TestApp,
    jar: HashMap<String, String>,
}

impl<'a> Browser<'a> {
    fn new(t: &'a TestApp) -> Self {
        Browser {
            t,
            jar: HashMap::new(),
        }
    }

    async fn send(&mut self, mut req: Request<Body>) -> Page {
        if !self.jar.is_empty() {
            let c: Vec<String> = self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
            req.headers_mut()
                .insert(header::COOKIE, c.join("; ").parse().unwrap());
        }
        let (status, headers, body) = self.t.call(req).await;
        for c in headers.get_all(header::SET_COOKIE) {
            let c = c.to_str().unwrap();
            let (pair, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.jar.remove(k);
            } else {
                self.jar.insert(k.to_owned(), v.to_owned());
            }
        }
        Page {
            status,
            headers,
            body,
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        self.send(Request::get(path).body(Body::empty()).unwrap())
            .await
    }

    async fn post(&mut self, path: &str, pairs: &[(&str, &str)]) -> Page {
        let body = serde_urlencoded::to_string(pairs).unwrap();
        self.send(
            Request::post(path)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(body))
                .unwrap(),
        )
        .await
    }

    /// Posts a form with the CSRF token of the page at `from`.
    async fn submit(&mut self, from: &str, path: &str, pairs: &[(&str, &str)]) -> Page {
        let token = self.get(from).await.csrf();
        let mut all = vec![("csrf_token", token.as_str())];
        all.extend_from_slice(pairs);
        self.post(path, &all).await
    }

    async fn signup(&mut self, email: &str) -> Page {
        let token = self.get("/signup").await.csrf();
        self.post(
            "/signup",
            &[
                ("csrf_token", &token),
                ("email", email),
                ("password", PASSWORD),
            ],
        )
        .await
    }

    async fn login(&mut self, email: &str, password: &str) -> Page {
        let token = self.get("/login").await.csrf();
        self.post(
            "/login",
            &[
                ("csrf_token", &token),
                ("email", email),
                ("password", password),
            ],
        )
        .await
    }

    /// Creates a key on the keys page; returns (secret, prefix, page).
    async fn create_key(&mut self, name: &str, kind: &str) -> (String, String, Page) {
        let from = if kind == "management" {
            "/keys?kind=management"
        } else {
            "/keys"
        };
        let page = self
            .submit(from, "/keys", &[("name", name), ("kind", kind)])
            .await;
        assert_eq!(page.status, 200, "{}", page.body);
        let secret = value_after(&page.body, "<code id=\"new-key\">").expect("no #new-key");
        let prefix = secret.chars().take(8).collect();
        (secret, prefix, page)
    }
}

async fn account_id(t: &TestApp, email: &str) -> String {
    t.state
        .platform()
        .account_by_email(email)
        .await
        .unwrap()
        .unwrap()
        .id
}

async fn credit(t: &TestApp, email: &str, usd: f64) {
    let id = account_id(t, email).await;
    t.state
        .platform()
        .grant(
            &id,
            Nanos::from_usd(usd).unwrap(),
            TxKind::Payment,
            Some("test credit"),
            None,
        )
        .await
        .unwrap();
}

fn script_answer(t: &TestApp, answer: &str) {
    t.backend.set_script(vec![
        text(0, answer),
        finish(0, FinishReason::Stop),
        usage(5, 0, 3, 0),
    ]);
}

fn chat(key: &str) -> Request<Body> {
    Request::post("/v1/chat/completions")
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .body(Body::from(simple_body(false).to_string()))
        .unwrap()
}

#[tokio::test]
async fn signup_opens_a_session_and_pages_carry_security_headers() {
    let t = setup().await;
    let mut b = Browser::new(&t);
    let home = b.get("/").await;
    assert_eq!(home.status, 303);
    assert_eq!(home.location(), "/login");

    let form = b.get("/signup").await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("id=\"signup-form\""));
    assert!(form.set_cookies().iter().any(|c| c.starts_with("sy_csrf=")));

    let done = b.signup("Alice@Example.com").await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location(), "/keys?msg=signed_up");
    let cookie = done
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("sy_session="))
        .expect("no session cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "secure_cookies is off by default: {cookie}"
    );

    let keys = b.get("/keys?msg=signed_up").await;
    assert_eq!(keys.status, 200);
    assert!(keys.body.contains("alice@example.com"));
    assert!(keys.body.contains("id=\"create-key-form\""));
    assert!(keys.body.contains("Welcome!"));
    assert!(keys.body.contains("action=\"/logout\""));
    let csp = keys.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(keys.headers[header::X_FRAME_OPTIONS], "DENY");
    assert_eq!(keys.headers[header::REFERRER_POLICY], "same-origin");
    assert_eq!(keys.headers[header::CACHE_CONTROL], "no-store");
    // No inline scripts: the only script is our own file.
    assert!(
        keys.body
            .contains("<script src=\"/assets/app.js\" defer></script>")
    );
    assert_eq!(keys.body.matches("<script").count(), 1);
    let js = b.get("/assets/app.js").await;
    assert_eq!(js.status, 200);
    assert!(js.body.contains("copy-key"));

    assert_eq!(b.get("/").await.location(), "/keys");
    // Signed in: the login page sends you on.
    assert_eq!(b.get("/login").await.location(), "/keys");
}

#[tokio::test]
async fn without_a_session_pages_redirect_to_login() {
    let t = setup().await;
    let mut b = Browser::new(&t);
    for path in [
        "/keys",
        "/usage",
        "/billing",
        "/models",
        "/playground",
        "/admin",
    ] {
        let p = b.get(path).await;
        assert_eq!(p.status, 303, "{path}");
        assert_eq!(p.location(), "/login", "{path}");
    }
    // A made-up session cookie is dropped.
    b.jar.insert("sy_session".into(), "made-up".into());
    let p = b.get("/keys").await;
    assert_eq!(p.location(), "/login");
    assert!(!b.jar.contains_key("sy_session"));
    // Posts without a session change nothing either.
    let p = b.post("/keys", &[("csrf_token", "x"), ("name", "n")]).await;
    assert_eq!(p.location(), "/login");
}

#[tokio::test]
async fn anonymous_forms_need_the_csrf_cookie_token() {
    let t = setup().await;
    let mut b = Browser::new(&t);
    let token = b.get("/signup").await.csrf();
    // No token, a wrong token, or the token without its cookie: 403, no account.
    let mut other = Browser::new(&t);
    for (browser, token) in [(&mut b, ""), (&mut other, token.as_str())] {
        let p = browser
            .post(
                "/signup",
                &[
                    ("csrf_token", token),
                    ("email", "eve@x.io"),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(p.status, 403, "{}", p.body);
        assert!(p.body.contains("security token"));
    }
    assert!(
        t.state
            .platform()
            .account_by_email("eve@x.io")
            .await
            .unwrap()
            .is_none()
    );
    let p = b
        .post(
            "/login",
            &[
                ("csrf_token", "nope"),
                ("email", "eve@x.io"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(p.status, 403);
}

#[tokio::test]
async fn signup_errors_show_the_form_again_without_the_password() {
    let t = setup().await;
    let mut b = Browser::new(&t);
    let token = b.get("/signup").await.csrf();
    let p = b
        .post(
            "/signup",
            &[
                ("csrf_token", &token),
                ("email", "bob@x.io"),
                ("password", "short"),
            ],
        )
        .await;
    assert_eq!(p.status, 400);
    assert!(p.body.contains("id=\"form-error\""));
    assert!(p.body.contains("value=\"bob@x.io\""));
    assert!(!p.body.contains("value=\"short\""));
    assert_eq!(b.signup("bob@x.io").await.status, 303);
    let mut again = Browser::new(&t);
    let p = again.signup("bob@x.io").await;
    assert_eq!(p.status, 409);
    assert!(p.body.contains("already exists"));
}

#[tokio::test]
async fn a_created_key_is_shown_once_and_works() {
    let t = setup().await;
    script_answer(&t, "hi there");
    let mut b = Browser::new(&t);
    b.signup("carol@x.io").await;
    credit(&t, "carol@x.io", 5.0).await;

    let (secret, prefix, page) = b.create_key("ci <bot>", "regular").await;
    assert!(secret.starts_with("sy_"), "{secret}");
    assert!(page.body.contains("id=\"copy-key\""));
    assert!(page.body.contains("ci &lt;bot&gt;"));
    assert!(
        page.body
            .contains(&format!("<tr data-prefix=\"{prefix}\">"))
    );
    // The secret is on that one page only.
    let list = b.get("/keys").await;
    assert!(list.body.contains(&format!("data-prefix=\"{prefix}\"")));
    assert!(!list.body.contains(&secret));
    assert!(!list.body.contains("id=\"new-key\""));
    // And it calls models.
    let (status, _, body) = t.call(chat(&secret)).await;
    assert_eq!(status, 201, "{body}");

    // Management keys live in their own tab.
    let (_, mprefix, page) = b.create_key("ops", "management").await;
    assert!(page.body.contains(&format!("data-prefix=\"{mprefix}\"")));
    assert!(!b.get("/keys").await.body.contains(&mprefix));
    let id = account_id(&t, "carol@x.io").await;
    let k = t
        .state
        .platform()
        .key(&id, &mprefix)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(k.kind, KeyKind::Management);
}

#[tokio::test]
async fn keys_are_toggled_limited_scoped_and_deleted_by_form() {
    let t = setup().await;
    let mut b = Browser::new(&t);
    b.signup("dan@x.io").await;
    let (_, prefix, _) = b.create_key("k", "regular").await;
    let id = account_id(&t, "dan@x.io").await;
    let p = t.state.platform();
    let key = || async { p.key(&id, &prefix).await.unwrap() };

    let r = b
        .submit(
            "/keys",
            &format!("/keys/{prefix}/toggle"),
            &[("disabled", "true")],
        )
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(r.location(), "/keys?msg=key_disabled");
    assert!(key().await.unwrap().disabled);
    let page = b.get("/keys?msg=key_disabled").await;
    assert!(page.body.contains("The key is disabled."));
    let row_start = page
        .body
        .find(&format!("data-prefix=\"{prefix}\""))
        .unwrap();
    assert!(page.body[row_start..].contains(">Enable</button>"));
    b.submit(
        "/keys",
        &format!("/keys/{prefix}/toggle"),
        &[("disabled", "false")],
    )
    .await;
    assert!(!key().await.unwrap().disabled);

    let r = b
        .submit(
            "/keys",
            &format!("/keys/{prefix}/limit"),
            &[("retention", "week"), ("threshold", "2.5")],
        )
        .await;
    assert_eq!(r.location(), "/keys?msg=limit_saved");
    assert_eq!(
        key().await.unwrap().limit,
        Some(KeyLimit {
            retention: Retention::Week,
            threshold: Nanos(2_500_000_000)
        })
    );
    assert!(b.get("/keys").await.body.contains("$2.50 per week"));
    let r = b
        .submit(
            "/keys",
            &format!("/keys/{prefix}/limit"),
            &[("retention", "week"), ("threshold", "-1")],
        )
        .await;
    assert_eq!(r.status, 400);
    b.submit(
        "/keys",
        &format!("/keys/{prefix}/limit"),
        &[("retention", "")],
    )
    .await;
    assert_eq!(key().await.unwrap().limit, None);

    let r = b
        .submit(
            "/keys",
            &format!("/keys/{prefix}/scopes"),
            &[("scope", "model:chat"), ("scope", "model:image")],
        )
        .await;
    assert_eq!(r.location(), "/keys?msg=scopes_saved");
    assert_eq!(
        key().await.unwrap().scopes,
        Some(vec![Scope::Chat, Scope::Image])
    );
    b.submit(
        "/keys",
        &format!("/keys/{prefix}/scopes"),
        &[("all_scopes", "1")],
    )
    .await;
    assert_eq!(key().await.unwrap().scopes, None);

    let r = b
        .submit("/keys", &format!("/keys/{prefix}/delete"), &[])
        .await;
    assert_eq!(r.location(), "/keys?msg=key_deleted");
    assert!(key().await.is_none());
    assert!(!b.get("/keys").await.body.contains(&prefix));
    // Deleting it again: not found.
    let r = b
        .submit("/keys", &format!("/keys/{prefix}/delete"), &[])
        .await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn a_post_without_a_valid_csrf_token_is_refused_and_changes_nothing() {
    let t = setup().await;
    let mut b = Browser::new(&t);
    b.signup("erin@x.io").await;
    let (_, prefix, _) = b.create_key("k", "regular").await;
    let id = account_id(&t, "erin@x.io").await;
    // Another session's token is not this session's.
    let mut other = Browser::new(&t);
    other.signup("frank@x.io").await;
    let foreign = other.get("/keys").await.csrf();
    let path = format!("/keys/{prefix}/toggle");
    for token in [None, Some("wrong"), Some(foreign.as_str())] {
        let mut form = vec![("disabled", "true")];
        if let Some(tok) = token {
            form.push(("csrf_token", tok));
        }
        let r = b.post(&path, &form).await;
        assert_eq!(r.status, 403, "{token:?}: {}", r.body);
        assert!(r.body.contains("security token"));
    }
    let r = b.post("/keys", &[("name", "sneaky")]).await;
    assert_eq!(r.status, 403);
    let r = b.post("/logout", &[]).await;
    assert_eq!(r.status, 403);
    let k = t.state.platform().key(&id, &prefix).await.unwrap().unwrap();
    assert!(!k.disabled);
    let keys = t.state.platform().list_keys(&id, None).await.unwrap();
    assert_eq!(keys.len(), 1, "a key was created without a token");
    // Still signed in (the refused logout did nothing).
    assert_eq!(b.get("/keys").await.status, 200);
}

#[tokio::test]
async fn another_accounts_prefix_is_not_found_and_unchanged() {
    let t = setup().await;
    let mut a = Browser::new(&t);
    a.signup("owner@x.io").await;
    let (_, prefix, _) = a.create_key("mine", "regular").await;
    let mut b = Browser::new(&t);
    b.signup("intruder@x.io").await;
    let attempts: [(&str, Vec<(&str, &str)>); 5] = [
        ("toggle", vec![("disabled", "true")]),
        ("limit", vec![("retention", "day"), ("threshold", "0")]),
        ("scopes", vec![("scope", "model:image")]),
        ("rate", vec![("rpm", "1"), ("tpm", "1")]),
        ("delete", vec![]),
    ];
    for (action, form) in &attempts {
        let r = b
            .submit("/keys", &format!("/keys/{prefix}/{action}"), form)
            .await;
        assert_eq!(r.status, 404, "{action}: {}", r.body);
    }
    assert!(!b.get("/keys").await.body.contains(&prefix));
    let id = account_id(&t, "owner@x.io").await;
    let k = t.state.platform().key(&id, &prefix).await.unwrap().unwrap();
    assert!(!k.disabled);
    assert_eq!(k.limit, None);
    assert_eq!(k.scopes, None);
    assert_eq!(k.rate, RateLimits::default());
    // Nor can the intruder read its usage.
    let r = b.get(&format!("/usage?key={prefix}")).await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(!r.body.contains("request-log"));
}

#[tokio::test]
async fn failed_logins_are_throttled_with_429_and_retry_after() {
    let t = setup().await;
    let mut b = Browser::new(&t);
    b.signup("gina@x.io").await;
    let out = b.submit("/keys", "/logout", &[]).await;
    assert_eq!(out.location(), "/login?msg=logged_out");
    assert!(!b.jar.contains_key("sy_session"));
    assert_eq!(b.get("/keys").await.location(), "/login");

    let max = t.state.platform().config().login_max_failures;
    for _ in 0..max {
        let p = b.login("gina@x.io", "wrong password").await;
        assert_eq!(p.status, 401);
        assert!(p.body.contains("Incorrect email or password."));
        assert!(p.body.contains("id=\"login-form\""));
        assert!(!p.body.contains("wrong password"));
    }
    // Now even the right password waits.
    let p = b.login("gina@x.io", PASSWORD).await;
    assert_eq!(p.status, 429, "{}", p.body);
    let secs: u64 = p.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(secs >= 1, "{secs}");
    assert!(p.body.contains("Too many failed login attempts"));
    assert!(!b.jar.contains_key("sy_session"));
}

#[tokio::test]
async fn admin_pages_are_forbidden_to_others() {
    let t = setup().await;
    let mut b = Browser::new(&t);
    b.signup("hank@x.io").await;
    assert!(!b.get("/keys").await.body.contains("href=\"/admin\""));
    let p = b.get("/admin").await;
    assert_eq!(p.status, 403);
    let token = b.get("/keys").await.csrf();
    let id = account_id(&t, "hank@x.io").await;
    for (path, form) in [
        (
            "/admin/grant",
            vec![("account", "hank@x.io"), ("amount", "100")],
        ),
        ("/admin/signup-mode", vec![("mode", "closed")]),
        ("/admin/invites", vec![]),
        (
            &*format!("/admin/accounts/{id}/admin"),
            vec![("is_admin", "true")],
        ),
        (
            &*format!("/admin/accounts/{id}/rate"),
            vec![("rpm", "0"), ("tpm", "0")],
        ),
    ] {
        let mut all = vec![("csrf_token", token.as_str())];
        all.extend(form);
        assert_eq!(b.post(path, &all).await.status, 403, "{path}");
    }
    let p = t.state.platform();
    assert_eq!(p.wallet(&id).await.unwrap().balance, Nanos::ZERO);
    let acct = p.account(&id).await.unwrap().unwrap();
    assert!(!acct.is_admin);
    assert_eq!(acct.rate, RateLimits::default());
    assert_eq!(
        p.signup_mode().await.unwrap(),
        switchyard_config::SignupMode::Open
    );
}

async fn admin_browser(t: &TestApp) -> Browser<'_> {
    t.state
        .platform()
        .create_admin("root@x.io", PASSWORD)
        .await
        .unwrap();
    let mut b = Browser::new(t);
    assert_eq!(b.login("root@x.io", PASSWORD).await.status, 303);
    b
}

#[tokio::test]
async fn an_admin_grant_shows_in_the_users_billing() {
    let t = setup().await;
    let mut user = Browser::new(&t);
    user.signup("ivy@x.io").await;
    let before = user.get("/billing").await;
    assert!(
        before
            .body
            .contains("<div class=\"figure\" id=\"balance\">$0.00</div>")
    );

    let mut admin = admin_browser(&t).await;
    let page = admin.get("/admin").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("id=\"grant-form\""));
    assert!(page.body.contains("ivy@x.io"));
    let r = admin
        .submit(
            "/admin",
            "/admin/grant",
            &[
                ("account", "ivy@x.io"),
                ("amount", "3.5"),
                ("kind", "BONUS"),
                ("note", "welcome <gift>"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.location(), "/admin?msg=granted");
    let r = admin
        .submit(
            "/admin",
            "/admin/grant",
            &[("account", "nobody@x.io"), ("amount", "1")],
        )
        .await;
    assert_eq!(r.status, 404);

    let after = user.get("/billing").await;
    assert!(
        after.body.contains("id=\"balance\">$3.50</div>"),
        "{}",
        after.body
    );
    let txs = &after.body[after.body.find("id=\"transactions\"").unwrap()..];
    assert!(txs.contains("BONUS"));
    assert!(txs.contains("+$3.50"));
    assert!(txs.contains("welcome &lt;gift&gt;"));
    // The admin's accounts table shows the new balance.
    assert!(admin.get("/admin").await.body.contains("$3.50"));
}

#[tokio::test]
async fn admins_set_the_signup_mode_make_invites_and_manage_accounts() {
    let t = setup().await;
    let mut admin = admin_browser(&t).await;
    let r = admin
        .submit("/admin", "/admin/signup-mode", &[("mode", "invite")])
        .await;
    assert_eq!(r.location(), "/admin?msg=signup_mode_saved");
    let mut visitor = Browser::new(&t);
    let form = visitor.get("/signup").await;
    assert!(form.body.contains("name=\"invite\""));
    assert_eq!(visitor.signup("jack@x.io").await.status, 403);

    let page = admin.submit("/admin", "/admin/invites", &[]).await;
    assert_eq!(page.status, 200);
    let code = value_after(&page.body, "<code id=\"new-invite\">").unwrap();
    assert!(
        !admin.get("/admin").await.body.contains(&code),
        "invite shown twice"
    );
    let token = visitor.get("/signup").await.csrf();
    let r = visitor
        .post(
            "/signup",
            &[
                ("csrf_token", &token),
                ("email", "jack@x.io"),
                ("password", PASSWORD),
                ("invite", &code),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);

    let jack = account_id(&t, "jack@x.io").await;
    let r = admin
        .submit(
            "/admin",
            &format!("/admin/accounts/{jack}/admin"),
            &[("is_admin", "true")],
        )
        .await;
    assert_eq!(r.location(), "/admin?msg=admin_granted");
    assert_eq!(visitor.get("/admin").await.status, 200);
    let r = admin
        .submit(
            "/admin",
            &format!("/admin/accounts/{jack}/disable"),
            &[("disabled", "true")],
        )
        .await;
    assert_eq!(r.location(), "/admin?msg=account_disabled");
    // The disabled account's session is over.
    assert_eq!(visitor.get("/keys").await.location(), "/login");
    // Nobody demotes or disables themselves here.
    let root = account_id(&t, "root@x.io").await;
    let r = admin
        .submit(
            "/admin",
            &format!("/admin/accounts/{root}/admin"),
            &[("is_admin", "false")],
        )
        .await;
    assert_eq!(r.status, 400);

    admin
        .submit("/admin", "/admin/signup-mode", &[("mode", "closed")])
        .await;
    let closed = Browser::new(&t).get("/signup").await;
    assert!(closed.body.contains("id=\"signup-closed\""));
    assert!(!closed.body.contains("id=\"signup-form\""));
}

#[tokio::test]
async fn the_usage_page_charts_spend_and_lists_the_call() {
    let t = setup().await;
    script_answer(&t, "hello");
    let mut b = Browser::new(&t);
    b.signup("kim@x.io").await;
    credit(&t, "kim@x.io", 5.0).await;
    let (secret, prefix, _) = b.create_key("k", "regular").await;

    let empty = b.get("/usage").await;
    assert_eq!(empty.status, 200);
    assert!(empty.body.contains("<svg id=\"usage-chart\""));
    assert!(empty.body.contains("No data for this period"));

    let (status, headers, _) = t.call(chat(&secret)).await;
    assert_eq!(status, 201);
    let inference = headers["x-inference-id"].to_str().unwrap().to_owned();
    t.state.drain().await;

    let page = b.get("/usage?period=7d").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<svg id=\"usage-chart\""));
    assert!(page.body.contains("<svg id=\"tokens-chart\""));
    assert!(page.body.contains("class=\"bar\""), "no bar drawn");
    let log = &page.body[page.body.find("id=\"request-log\"").unwrap()..];
    let row_at = log.find(&inference).expect("no log row for the call");
    let row = &log[log[..row_at].rfind("<tr").unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(row.contains(MODEL), "{row}");
    assert!(row.contains("succeeded"), "{row}");
    assert!(row.contains(&prefix), "{row}");
    let table = &page.body[page.body.find("id=\"model-usage\"").unwrap()..];
    assert!(table.contains(MODEL));

    // Filters: failed calls only, or another model: no row.
    let failed = b.get("/usage?period=7d&status=failed").await;
    assert!(!failed.body.contains(&inference));
    let other = b.get("/usage?period=30d&model=nope%2Fmodel").await;
    assert!(!other.body.contains(&inference));
    assert!(
        other
            .body
            .contains("<option value=\"nope/model\" selected>")
    );
    // Another account sees none of it.
    let mut c = Browser::new(&t);
    c.signup("lee@x.io").await;
    assert!(!c.get("/usage").await.body.contains(&inference));
}

#[tokio::test]
async fn the_playground_answers_without_javascript_and_bills_the_account() {
    let t = setup().await;
    script_answer(&t, "Paris <b>!</b>");
    let mut b = Browser::new(&t);
    b.signup("max@x.io").await;
    let id = account_id(&t, "max@x.io").await;

    let page = b.get("/playground").await;
    assert!(
        page.body
            .contains(&format!("<option value=\"{MODEL}\" selected>"))
    );
    // No balance yet: the error is shown, the backend never called.
    let r = b
        .submit(
            "/playground",
            "/playground",
            &[("model", MODEL), ("message", "Capital of France?")],
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("id=\"playground-error\""), "{}", r.body);
    assert!(r.body.contains("Capital of France?"), "the message is kept");
    assert_eq!(t.backend.calls.load(std::sync::atomic::Ordering::SeqCst), 0);

    credit(&t, "max@x.io", 5.0).await;
    let r = b
        .submit(
            "/playground",
            "/playground",
            &[("model", MODEL), ("message", "Capital of France?")],
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("Paris &lt;b&gt;!&lt;/b&gt;"), "{}", r.body);
    assert!(
        r.body.contains("&quot;role&quot;:&quot;assistant&quot;"),
        "history kept"
    );
    t.state.drain().await;
    let wallet = t.state.platform().wallet(&id).await.unwrap();
    assert!(
        wallet.balance < Nanos::from_usd(5.0).unwrap(),
        "not charged"
    );

    // The playground's key stays off the keys page, and its call is logged as such.
    assert!(!b.get("/keys").await.body.contains(">playground<"));
    let usage = b.get("/usage").await;
    assert!(
        usage.body.contains("<td>playground</td>"),
        "origin not shown"
    );

    // With JavaScript: the completion's own SSE stream.
    script_answer(&t, "streamed");
    let token = b.get("/playground").await.csrf();
    let r = b
        .post(
            "/playground/stream",
            &[
                ("csrf_token", &token),
                ("model", MODEL),
                ("message", "again"),
                ("history", "[]"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    assert!(
        sse_data(&r.body).iter().any(|d| d.contains("streamed")),
        "{}",
        r.body
    );
    // A stream post without the token is refused like any other.
    let r = b
        .post("/playground/stream", &[("model", MODEL), ("message", "x")])
        .await;
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn the_models_page_lists_the_catalogue_with_prices() {
    let t = setup().await;
    let mut b = Browser::new(&t);
    b.signup("ned@x.io").await;
    let page = b.get("/models").await;
    assert_eq!(page.status, 200);
    let table = &page.body[page.body.find("id=\"models\"").unwrap()..];
    assert!(table.contains(MODEL));
    assert!(table.contains(ALIAS));
    // PRICES: 1.0 prompt, 0.5 cached, 2.0 completion per million.
    assert!(table.contains("$1.00"));
    assert!(table.contains("$0.50"));
    assert!(table.contains("$2.00"));
}

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn passwords_keys_and_session_tokens_never_reach_the_log() {
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    // With a single scoped subscriber, tracing caches "disabled" for call
    // sites first hit by other tests' threads; a second live dispatcher
    // makes it ask every live subscriber instead.
    let _second = tracing::Dispatch::new(tracing_subscriber::registry());

    let t = setup().await;
    let mut b = Browser::new(&t);
    b.signup("olga@x.io").await;
    let session = b.jar["sy_session"].clone();
    let csrf = b.get("/keys").await.csrf();
    let (secret, _, _) = b.create_key("k", "regular").await;
    let failed = Browser::new(&t)
        .login("olga@x.io", "a wrong password")
        .await;
    assert_eq!(failed.status, 401);
    let logs = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("http request"), "nothing was logged: {logs}");
    for s in [
        PASSWORD,
        "a wrong password",
        session.as_str(),
        csrf.as_str(),
        secret.as_str(),
    ] {
        assert!(!logs.contains(s), "`{s}` is in the log");
    }
}

#[tokio::test]
async fn secure_cookies_follow_the_config() {
    use switchyard_config::PlatformConfig;
    use switchyard_http::{AppState, HttpSettings};
    use switchyard_platform::{Platform, SystemClock};
    use switchyard_router::Router;

    let t = setup().await;
    let config = PlatformConfig {
        secure_cookies: true,
        ..PlatformConfig::default()
    };
    let platform = Platform::new(t.store.clone(), config, Arc::new(SystemClock));
    let router = Router::new(
        vec![catalogue_model(MODEL, &[ALIAS], "scripted")],
        HashMap::from([(
            "scripted".to_owned(),
            Arc::new(Scripted(t.backend.clone())) as Arc<dyn switchyard_core::Backend>,
        )]),
    )
    .unwrap();
    let secure = TestApp {
        state: AppState::with_platform(Arc::new(router), platform, HttpSettings::default()),
        store: t.store.clone(),
        backend: t.backend.clone(),
        key: t.key.clone(),
        key_prefix: t.key_prefix.clone(),
    };
    let mut b = Browser::new(&secure);
    let form = b.get("/signup").await;
    assert!(!form.set_cookies().is_empty());
    assert!(form.set_cookies().iter().all(|c| c.ends_with("; Secure")));
    let done = b.signup("pia@x.io").await;
    let cookie = done
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("sy_session="))
        .unwrap();
    assert!(cookie.ends_with("; Secure"), "{cookie}");
}

#[tokio::test]
async fn json_endpoints_are_unaffected() {
    let t = setup().await;
    // The dashboard's security headers stay on dashboard routes.
    let (status, headers, _) = t
        .call(Request::get("/health").body(Body::empty()).unwrap())
        .await;
    assert_eq!(status, 200);
    assert!(headers.get(header::CONTENT_SECURITY_POLICY).is_none());
}

#[tokio::test]
async fn over_a_socket_failed_logins_also_count_per_client_address() {
    let t = setup().await;
    t.state
        .platform()
        .signup("quinn@x.io", PASSWORD, None)
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(switchyard_http::serve(listener, t.state.clone(), async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = |email: String, password: &'static str| {
        let client = client.clone();
        let base = base.clone();
        async move {
            let form = client.get(format!("{base}/login")).send().await.unwrap();
            let cookie = form.headers()[header::SET_COOKIE]
                .to_str()
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .to_owned();
            let token =
                value_after(&form.text().await.unwrap(), "name=\"csrf_token\" value=\"").unwrap();
            client
                .post(format!("{base}/login"))
                .header(header::COOKIE, cookie)
                .form(&[
                    ("csrf_token", token.as_str()),
                    ("email", &email),
                    ("password", password),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    // One failure each for many emails: no single email is throttled...
    let max = t.state.platform().config().login_max_failures;
    for i in 0..max {
        let r = login(format!("nobody{i}@x.io"), "wrong password").await;
        assert_eq!(r.status(), 401);
    }
    // ...but this address is, even for a correct login of another account.
    let r = login("quinn@x.io".into(), PASSWORD).await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key(header::RETRY_AFTER));
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn transactions_and_the_request_log_page() {
    let t = setup().await;
    script_answer(&t, "ok");
    let mut b = Browser::new(&t);
    b.signup("rita@x.io").await;
    let id = account_id(&t, "rita@x.io").await;
    for i in 0..30 {
        let note = format!("grant-{i:02}");
        t.state
            .platform()
            .grant(
                &id,
                Nanos::from_usd(1.0).unwrap(),
                TxKind::Payment,
                Some(&note),
                None,
            )
            .await
            .unwrap();
        // Transactions are ordered by time, then by a random id: keep the
        // grants in distinct milliseconds so "newest first" is well defined.
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    // Newest first, 25 per page, then the rest behind the cursor link.
    let first = b.get("/billing").await;
    assert!(first.body.contains("id=\"balance\">$30.00</div>"));
    assert_eq!(first.body.matches("<tr class=\"tx\"").count(), 25);
    assert!(first.body.contains("grant-29"));
    assert!(!first.body.contains("grant-04<"));
    let next = value_after(&first.body, "<a rel=\"next\" href=\"").expect("no next link");
    let second = b.get(&next.replace("&amp;", "&")).await;
    assert_eq!(second.status, 200);
    assert_eq!(second.body.matches("<tr class=\"tx\"").count(), 5);
    assert!(second.body.contains("grant-00"));
    assert!(!second.body.contains("rel=\"next\""));
    // A forged cursor is a clear 400, not a crash.
    assert_eq!(b.get("/billing?cursor=%21%21").await.status, 400);

    // 55 calls: 50 log rows on page 1, 5 on page 2.
    let (secret, _, _) = b.create_key("k", "regular").await;
    for _ in 0..55 {
        assert_eq!(t.call(chat(&secret)).await.0, 201);
    }
    t.state.drain().await;
    let p1 = b.get("/usage?period=7d").await;
    assert_eq!(p1.body.matches("<tr class=\"log-row\"").count(), 50);
    assert!(p1.body.contains("55 requests match."));
    assert!(p1.body.contains("Page 1 of 2"));
    let next = value_after(&p1.body, "<a rel=\"next\" href=\"").expect("no next link");
    assert_eq!(next, "/usage?period=7d&amp;page=2");
    let p2 = b.get("/usage?period=7d&page=2").await;
    assert_eq!(p2.body.matches("<tr class=\"log-row\"").count(), 5);
    assert!(p2.body.contains("rel=\"prev\""));
    // Succeeded only: same count; failed only: none.
    let ok = b.get("/usage?period=7d&status=succeeded").await;
    assert!(ok.body.contains("55 requests match."));
    let failed = b.get("/usage?period=7d&status=failed").await;
    assert!(failed.body.contains("0 requests match."));
}

#[tokio::test]
async fn the_playground_key_name_is_reserved() {
    let t = setup().await;
    let mut b = Browser::new(&t);
    b.signup("sam@x.io").await;
    let r = b
        .submit(
            "/keys",
            "/keys",
            &[("name", "playground"), ("kind", "regular")],
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("reserved"));
    let id = account_id(&t, "sam@x.io").await;
    assert!(
        t.state
            .platform()
            .list_keys(&id, None)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Sleeps into the next minute when fewer than 15 s of this one are left, so
/// a few calls land in one rate-limit window (they are per wall-clock minute).
async fn early_in_a_minute() {
    let now = switchyard_store::now_ms();
    let into = now.rem_euclid(60_000);
    if into > 45_000 {
        let wait = 60_000 - into + 200;
        tokio::time::sleep(std::time::Duration::from_millis(wait as u64)).await;
    }
}

/// The `<tr data-prefix=…>` row of a key on the keys page.
fn key_row<'p>(page: &'p Page, prefix: &str) -> &'p str {
    let start = page
        .body
        .find(&format!("data-prefix=\"{prefix}\""))
        .unwrap_or_else(|| panic!("no row for {prefix}"));
    let row = &page.body[start..];
    &row[..row.find("</tr>").unwrap()]
}

#[tokio::test]
async fn a_key_rate_set_by_form_applies_to_the_next_call() {
    let t = setup().await;
    script_answer(&t, "hi");
    let mut b = Browser::new(&t);
    b.signup("rita@x.io").await;
    credit(&t, "rita@x.io", 5.0).await;
    let (secret, prefix, _) = b.create_key("k", "regular").await;
    let id = account_id(&t, "rita@x.io").await;
    let p = t.state.platform();
    let default_rpm = p.config().default_rpm;

    // The row has a rate form with the CSRF token; blank fields show what they inherit.
    let page = b.get("/keys").await;
    let row = key_row(&page, &prefix);
    let form_at = row
        .find("class=\"rate-key inline\"")
        .expect("no .rate-key form");
    let form = &row[form_at..row[form_at..].find("</form>").unwrap() + form_at];
    assert!(
        form.contains(&format!("action=\"/keys/{prefix}/rate\"")),
        "{form}"
    );
    assert!(form.contains("name=\"csrf_token\""), "{form}");
    assert!(form.contains("name=\"rpm\""), "{form}");
    assert!(form.contains("name=\"tpm\""), "{form}");
    assert!(form.contains("placeholder=\"inherit (3,000)\""), "{form}");
    assert_eq!(default_rpm, 3000);
    assert!(page.body.contains("id=\"rate-help\""));

    // Without the token: refused, nothing set.
    let path = format!("/keys/{prefix}/rate");
    let r = b.post(&path, &[("rpm", "1")]).await;
    assert_eq!(r.status, 403);
    // Bad values: the error page, nothing set.
    for bad in ["-1", "1.5", "lots", "1000000001"] {
        let r = b.submit("/keys", &path, &[("rpm", bad), ("tpm", "")]).await;
        assert_eq!(r.status, 400, "{bad}");
        assert!(
            r.body
                .contains("Requests per minute must be a whole number"),
            "{}",
            r.body
        );
    }
    assert_eq!(
        p.key(&id, &prefix).await.unwrap().unwrap().rate,
        RateLimits::default()
    );

    // One call under the default (the key's authentication is now cached).
    early_in_a_minute().await;
    let (status, headers, body) = t.call(chat(&secret)).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(headers["x-ratelimit-limit-requests"], "3000");

    // rpm = 1: the next call in this minute is the second, so it is refused,
    // although the old authentication was cached for up to 2 s.
    let r = b.submit("/keys", &path, &[("rpm", "1"), ("tpm", "")]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.location(), "/keys?msg=rate_saved");
    assert_eq!(
        p.key(&id, &prefix).await.unwrap().unwrap().rate,
        RateLimits {
            rpm: Some(1),
            tpm: None
        }
    );
    let (status, headers, body) = t.call(chat(&secret)).await;
    assert_eq!(status, 429, "{body}");
    let retry: u64 = headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(headers["x-ratelimit-limit-requests"], "1");

    let page = b.get("/keys?msg=rate_saved").await;
    assert!(page.body.contains("The rate limits are saved."));
    let row = key_row(&page, &prefix);
    assert!(row.contains("value=\"1\""), "{row}");
    assert!(row.contains("1 req/min"), "{row}");

    // Blank again: back to the default, and calls go through.
    let r = b.submit("/keys", &path, &[("rpm", ""), ("tpm", "")]).await;
    assert_eq!(r.status, 303);
    assert_eq!(
        p.key(&id, &prefix).await.unwrap().unwrap().rate,
        RateLimits::default()
    );
    let (status, _, body) = t.call(chat(&secret)).await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn an_account_rate_set_by_an_admin_is_the_default_of_its_keys() {
    let t = setup().await;
    script_answer(&t, "hi");
    let mut user = Browser::new(&t);
    user.signup("sam@x.io").await;
    credit(&t, "sam@x.io", 5.0).await;
    let (secret, prefix, _) = user.create_key("k", "regular").await;
    let id = account_id(&t, "sam@x.io").await;

    let mut admin = admin_browser(&t).await;
    let page = admin.get("/admin").await;
    let row_at = page.body.find(&format!("data-account=\"{id}\"")).unwrap();
    let row = &page.body[row_at..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(row.contains("class=\"rate-account inline\""), "{row}");
    assert!(row.contains(&format!("action=\"/admin/accounts/{id}/rate\"")));
    assert!(row.contains("name=\"csrf_token\""));
    assert!(row.contains("placeholder=\"inherit (3,000)\""), "{row}");

    let path = format!("/admin/accounts/{id}/rate");
    let r = admin.post(&path, &[("rpm", "1")]).await;
    assert_eq!(r.status, 403, "no token");
    let r = admin.submit("/admin", &path, &[("rpm", "x")]).await;
    assert_eq!(r.status, 400);
    let r = admin
        .submit(
            "/admin",
            "/admin/accounts/acct_nobody/rate",
            &[("rpm", "1")],
        )
        .await;
    assert_eq!(r.status, 404);

    early_in_a_minute().await;
    let (status, _, body) = t.call(chat(&secret)).await;
    assert_eq!(status, 201, "{body}");
    let r = admin
        .submit("/admin", &path, &[("rpm", "1"), ("tpm", "0")])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.location(), "/admin?msg=account_rate_saved");
    let acct = t.state.platform().account(&id).await.unwrap().unwrap();
    assert_eq!(
        acct.rate,
        RateLimits {
            rpm: Some(1),
            tpm: Some(0)
        }
    );
    // The key has no limits of its own: the account's apply at once.
    let (status, headers, body) = t.call(chat(&secret)).await;
    assert_eq!(status, 429, "{body}");
    assert!(headers.contains_key(header::RETRY_AFTER));
    let after = admin.get("/admin?msg=account_rate_saved").await;
    assert!(
        after.body.contains("The account's rate limits are saved."),
        "{}",
        after.body
    );

    // The owner's keys page shows what a blank field inherits now.
    let page = user.get("/keys").await;
    let row = key_row(&page, &prefix);
    assert!(row.contains("placeholder=\"inherit (1)\""), "{row}");
    assert!(row.contains("placeholder=\"inherit (unlimited)\""), "{row}");
    // The key's own value wins over the account's.
    let r = user
        .submit("/keys", &format!("/keys/{prefix}/rate"), &[("rpm", "0")])
        .await;
    assert_eq!(r.status, 303);
    let (status, headers, body) = t.call(chat(&secret)).await;
    assert_eq!(status, 201, "{body}");
    assert!(
        !headers.contains_key("x-ratelimit-limit-requests"),
        "unlimited: no header"
    );
}

#[tokio::test]
async fn the_usage_page_filters_by_key_and_lists_spend_per_key() {
    let t = setup().await;
    let mut b = Browser::new(&t);
    b.signup("una@x.io").await;
    credit(&t, "una@x.io", 5.0).await;
    let (s1, p1, _) = b.create_key("first key", "regular").await;
    let (s2, p2, _) = b.create_key("second key", "regular").await;
    let (_, p3, _) = b.create_key("idle key", "regular").await;
    let mut inference = Vec::new();
    for secret in [&s1, &s2, &s2] {
        script_answer(&t, "hello");
        let (status, headers, body) = t.call(chat(secret)).await;
        assert_eq!(status, 201, "{body}");
        inference.push(headers["x-inference-id"].to_str().unwrap().to_owned());
    }
    t.state.drain().await;

    let all = b.get("/usage?period=7d").await;
    assert_eq!(all.status, 200);
    // The key select: every key, "all keys" selected.
    let select = &all.body[all.body.find("<select id=\"key\"").unwrap()..];
    let select = &select[..select.find("</select>").unwrap()];
    assert!(
        select.contains("<option value=\"\" selected>All keys</option>"),
        "{select}"
    );
    for p in [&p1, &p2, &p3] {
        assert!(select.contains(&format!("value=\"{p}\"")), "{select}");
    }
    assert!(select.contains("first key ("));
    for i in &inference {
        assert!(all.body.contains(i.as_str()));
    }
    assert!(
        all.body.contains("id=\"total-requests\">3<"),
        "{}",
        all.body
    );
    // The per-key table: the two keys that were used, the bigger spender first.
    let table = &all.body[all.body.find("id=\"key-usage\"").unwrap()..];
    let table = &table[..table.find("</table>").unwrap()];
    let at1 = table
        .find(&format!("data-key-prefix=\"{p1}\""))
        .expect("no row for key 1");
    let at2 = table
        .find(&format!("data-key-prefix=\"{p2}\""))
        .expect("no row for key 2");
    assert!(at2 < at1, "two calls outspend one");
    assert!(!table.contains(&p3), "unused keys have no row");
    let row2 = &table[at2..];
    let row2 = &row2[..row2.find("</tr>").unwrap()];
    assert!(row2.contains("second key"), "{row2}");
    assert!(row2.contains("<td class=\"num\">2</td>"), "{row2}");
    assert!(
        row2.contains(&format!("href=\"/usage?period=7d&amp;key={p2}\"")),
        "{row2}"
    );

    // Filtered to the first key: its call only, in the log, totals and charts.
    let one = b.get(&format!("/usage?period=7d&key={p1}")).await;
    assert_eq!(one.status, 200, "{}", one.body);
    assert!(
        one.body
            .contains(&format!("<option value=\"{p1}\" selected>"))
    );
    assert!(one.body.contains(inference[0].as_str()));
    assert!(!one.body.contains(inference[1].as_str()));
    assert!(!one.body.contains(inference[2].as_str()));
    assert!(
        one.body.contains("id=\"total-requests\">1<"),
        "{}",
        one.body
    );
    assert!(
        one.body.contains("id=\"log-count\">1 requests match."),
        "{}",
        one.body
    );
    let models = &one.body[one.body.find("id=\"model-usage\"").unwrap()..];
    let models = &models[..models.find("</table>").unwrap()];
    assert!(models.contains(MODEL));
    // Every key is still listed in the per-key table, the chosen one marked.
    let table = &one.body[one.body.find("id=\"key-usage\"").unwrap()..];
    assert!(
        table.contains(&format!("data-key-prefix=\"{p1}\" class=\"selected\"")),
        "{table}"
    );
    assert!(table.contains(&format!("data-key-prefix=\"{p2}\"")));
    // The pager and links keep the key.
    let two = b
        .get(&format!("/usage?period=7d&key={p2}&status=succeeded"))
        .await;
    assert!(
        two.body.contains("id=\"total-requests\">2<"),
        "{}",
        two.body
    );
    assert!(!two.body.contains(inference[0].as_str()));

    // The idle key: nothing.
    let idle = b.get(&format!("/usage?period=7d&key={p3}")).await;
    assert_eq!(idle.status, 200);
    assert!(idle.body.contains("id=\"no-usage\""));
    assert!(!idle.body.contains(inference[0].as_str()));

    // Unknown prefixes (and another account's: see the ownership test) are not found.
    let r = b.get("/usage?key=sy_nope0").await;
    assert_eq!(r.status, 404);
    let mut other = Browser::new(&t);
    other.signup("vic@x.io").await;
    let r = other.get(&format!("/usage?key={p1}")).await;
    assert_eq!(r.status, 404);
    assert!(!r.body.contains(inference[0].as_str()));
    let r = other.get("/usage").await;
    assert!(!r.body.contains(&p1));
}
