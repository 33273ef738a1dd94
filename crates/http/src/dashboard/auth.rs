//! Sign-up, login and logout pages.
//!
//! A failed form is shown again with the error, the email kept and the
//! password never echoed. Too many failed logins give a 429 page with
//! `retry-after`.

use axum::{
    extract::{Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use maud::{Markup, html};
use serde::Deserialize;
use switchyard_config::SignupMode;

use super::{
    csrf,
    layout::anon_page,
    page::{DashError, html_page, redirect},
    session::{
        AnonPosted, CSRF_COOKIE, Posted, SESSION_COOKIE, Session, anon_token, clear_cookie,
        session_cookie, with_cookie,
    },
};
use crate::AppState;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct AuthQuery {
    msg: Option<String>,
    invite: Option<String>,
}

/// What a re-shown form keeps.
#[derive(Default)]
struct Filled<'a> {
    email: Option<&'a str>,
    invite: Option<&'a str>,
    error: Option<String>,
}

fn error_box(error: Option<&str>) -> Markup {
    html! {
        @if let Some(e) = error {
            p.error #form-error role="alert" { (e) }
        }
    }
}

fn login_form(token: &str, f: &Filled<'_>) -> Markup {
    html! {
        (error_box(f.error.as_deref()))
        form #login-form.stack method="post" action="/login" {
            (csrf::hidden(token))
            label for="email" { "Email" }
            input #email type="email" name="email" required autocomplete="username"
                value=[f.email];
            label for="password" { "Password" }
            input #password type="password" name="password" required
                autocomplete="current-password";
            p { button.primary type="submit" { "Log in" } }
        }
        p.muted { "No account yet? " a href="/signup" { "Sign up" } }
    }
}

fn signup_form(token: &str, mode: SignupMode, f: &Filled<'_>) -> Markup {
    html! {
        (error_box(f.error.as_deref()))
        @if mode == SignupMode::Closed {
            p #signup-closed { "Sign-up is closed on this server. Ask an administrator for an account." }
        } @else {
            form #signup-form.stack method="post" action="/signup" {
                (csrf::hidden(token))
                label for="email" { "Email" }
                input #email type="email" name="email" required autocomplete="username"
                    value=[f.email];
                label for="password" { "Password (at least 8 characters)" }
                input #password type="password" name="password" required minlength="8"
                    autocomplete="new-password";
                @if mode == SignupMode::Invite {
                    label for="invite" { "Invite code" }
                    input #invite type="text" name="invite" required autocomplete="off"
                        value=[f.invite];
                }
                p { button.primary type="submit" { "Create account" } }
            }
        }
        p.muted { "Already have an account? " a href="/login" { "Log in" } }
    }
}

/// A page with the anonymous CSRF cookie set when it was missing.
fn anon_response(status: StatusCode, markup: Markup, cookie: Option<HeaderValue>) -> Response {
    with_cookie(html_page(status, markup), cookie)
}

async fn signed_in(state: &AppState, headers: &HeaderMap) -> bool {
    matches!(Session::load(state, headers).await, Ok(Some(_)))
}

pub(crate) async fn login_page(
    State(state): State<AppState>,
    Query(q): Query<AuthQuery>,
    headers: HeaderMap,
) -> Response {
    if signed_in(&state, &headers).await {
        return redirect("/keys");
    }
    let (token, cookie) = anon_token(&state, &headers);
    let body = login_form(&token, &Filled::default());
    anon_response(
        StatusCode::OK,
        anon_page("Log in", q.msg.as_deref(), body),
        cookie,
    )
}

pub(crate) async fn signup_page(
    State(state): State<AppState>,
    Query(q): Query<AuthQuery>,
    headers: HeaderMap,
) -> Response {
    if signed_in(&state, &headers).await {
        return redirect("/keys");
    }
    let mode = match state.platform().signup_mode().await {
        Ok(m) => m,
        Err(e) => return DashError::from(e).into_response(),
    };
    let (token, cookie) = anon_token(&state, &headers);
    let filled = Filled {
        invite: q.invite.as_deref(),
        ..Filled::default()
    };
    let body = signup_form(&token, mode, &filled);
    anon_response(
        StatusCode::OK,
        anon_page("Sign up", q.msg.as_deref(), body),
        cookie,
    )
}

/// Opens a session: the cookie, the anonymous CSRF cookie dropped, on to `to`.
fn start_session(state: &AppState, token: &str, to: &str) -> Response {
    let resp = with_cookie(redirect(to), session_cookie(state, token));
    with_cookie(resp, clear_cookie(state, CSRF_COOKIE))
}

pub(crate) async fn login(State(state): State<AppState>, posted: AnonPosted) -> Response {
    let f = &posted.form;
    let email = f.text("email").unwrap_or("");
    let password = f.get("password").unwrap_or("");
    match state
        .platform()
        .login(email, password, &posted.client)
        .await
    {
        Ok(s) => start_session(&state, &s.token, "/keys"),
        Err(e) => {
            let token = f.get(csrf::FIELD).unwrap_or("");
            let err = DashError::from(e);
            let filled = Filled {
                email: Some(email),
                error: Some(err.message.clone()),
                ..Filled::default()
            };
            let mut resp = html_page(
                err.status,
                anon_page("Log in", None, login_form(token, &filled)),
            );
            if let Some(secs) = err.retry_after
                && let Ok(v) = HeaderValue::from_str(&secs.to_string())
            {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            resp
        }
    }
}

pub(crate) async fn signup(State(state): State<AppState>, posted: AnonPosted) -> Response {
    let f = &posted.form;
    let email = f.text("email").unwrap_or("");
    let password = f.get("password").unwrap_or("");
    let invite = f.text("invite");
    let p = state.platform();
    let result = match p.signup(email, password, invite).await {
        Ok(account) => p.login(&account.email, password, &posted.client).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(s) => start_session(&state, &s.token, "/keys?msg=signed_up"),
        Err(e) => {
            let mode = match p.signup_mode().await {
                Ok(m) => m,
                Err(e) => return DashError::from(e).into_response(),
            };
            let err = DashError::from(e);
            let token = f.get(csrf::FIELD).unwrap_or("");
            let filled = Filled {
                email: Some(email),
                invite,
                error: Some(err.message.clone()),
            };
            html_page(
                err.status,
                anon_page("Sign up", None, signup_form(token, mode, &filled)),
            )
        }
    }
}

pub(crate) async fn logout(State(state): State<AppState>, posted: Posted) -> Response {
    if let Err(e) = state.platform().logout(&posted.session.token).await {
        return DashError::from(e).into_response();
    }
    with_cookie(
        redirect("/login?msg=logged_out"),
        clear_cookie(&state, SESSION_COOKIE),
    )
}
