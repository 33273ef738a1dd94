//! Dashboard sessions: the `sy_session` cookie (HttpOnly, SameSite=Lax,
//! Secure when `config.secure_cookies`), the extractors that load the
//! session from it, and the anonymous CSRF cookie of the login and sign-up
//! forms.
//!
//! The cookie holds a random token; the platform stores only its SHA-256.
//! Neither the token nor any form field is ever logged.

use std::{net::SocketAddr, time::Duration};

use axum::{
    extract::{ConnectInfo, FromRequest, FromRequestParts, Request},
    http::{HeaderMap, HeaderValue, header, request::Parts},
    response::{IntoResponse, Response},
};
use switchyard_platform::Account;

use super::{
    csrf::{self, FormData},
    layout::Chrome,
    page::{DashError, redirect},
};
use crate::AppState;

/// The session cookie.
pub(crate) const SESSION_COOKIE: &str = "sy_session";
/// The anonymous forms' CSRF cookie (double submit).
pub(crate) const CSRF_COOKIE: &str = "sy_csrf";

/// The value of cookie `name`, from every `Cookie` header.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().trim_matches('"').to_owned())
        .filter(|v| !v.is_empty())
}

/// A `Set-Cookie` value. `max_age` `None`: a browser-session cookie;
/// `Some(ZERO)`: delete it. Cookie values are tokens we made (URL-safe).
pub(crate) fn set_cookie(
    name: &str,
    value: &str,
    max_age: Option<Duration>,
    secure: bool,
) -> Option<HeaderValue> {
    let mut s = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age {
        s.push_str(&format!("; Max-Age={}", age.as_secs()));
    }
    if secure {
        s.push_str("; Secure");
    }
    HeaderValue::from_str(&s).ok()
}

/// Adds a `Set-Cookie` header to a response.
pub(crate) fn with_cookie(mut resp: Response, cookie: Option<HeaderValue>) -> Response {
    if let Some(c) = cookie {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}

fn secure(state: &AppState) -> bool {
    state.platform().config().secure_cookies
}

/// The session cookie for a new session.
pub(crate) fn session_cookie(state: &AppState, token: &str) -> Option<HeaderValue> {
    let ttl = state.platform().config().session_ttl;
    set_cookie(SESSION_COOKIE, token, Some(ttl), secure(state))
}

/// Deletes cookie `name`.
pub(crate) fn clear_cookie(state: &AppState, name: &str) -> Option<HeaderValue> {
    set_cookie(name, "", Some(Duration::ZERO), secure(state))
}

/// The caller's address for login throttling (the peer's IP when the
/// server recorded it; empty otherwise, and then failures count per email only).
pub(crate) fn client_address(parts_ext: &axum::http::Extensions) -> String {
    parts_ext
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(a)| a.ip().to_string())
        .unwrap_or_default()
}

/// A signed-in visitor. Extracting it from a request without a live session
/// redirects to `/login` (and drops a stale cookie).
#[derive(Clone)]
pub(crate) struct Session {
    pub account: Account,
    pub csrf: String,
    /// The cookie value (for logout). Never logged.
    pub token: String,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// The page frame for this visitor.
    pub fn chrome<'a>(&'a self, flash: Option<&'a str>) -> Chrome<'a> {
        Chrome {
            email: &self.account.email,
            is_admin: self.account.is_admin,
            csrf: &self.csrf,
            flash,
        }
    }

    /// 403 page unless the account is an administrator.
    pub fn require_admin(&self) -> Result<(), DashError> {
        if self.account.is_admin {
            Ok(())
        } else {
            Err(DashError::forbidden(
                "This page is for administrators only.",
            ))
        }
    }

    /// The live session of the request, if any.
    pub async fn load(state: &AppState, headers: &HeaderMap) -> Result<Option<Session>, DashError> {
        let Some(token) = cookie(headers, SESSION_COOKIE) else {
            return Ok(None);
        };
        let info = state.platform().session(&token).await?;
        Ok(info.filter(|i| !i.account.disabled).map(|i| Session {
            account: i.account,
            csrf: i.csrf_token,
            token,
        }))
    }
}

impl FromRequestParts<AppState> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match Session::load(state, &parts.headers).await {
            Ok(Some(s)) => Ok(s),
            Ok(None) => {
                let stale = cookie(&parts.headers, SESSION_COOKIE).is_some();
                let resp = redirect("/login");
                Err(if stale {
                    with_cookie(resp, clear_cookie(state, SESSION_COOKIE))
                } else {
                    resp
                })
            }
            Err(e) => Err(e.into_response()),
        }
    }
}

/// A signed-in form post whose CSRF token checked out.
pub(crate) struct Posted {
    pub session: Session,
    pub form: FormData,
}

impl FromRequest<AppState> for Posted {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let session = Session::from_request_parts(&mut parts, state).await?;
        let form = FormData::read(body)
            .await
            .map_err(IntoResponse::into_response)?;
        if !form.csrf_ok(&session.csrf) {
            return Err(csrf::refused().into_response());
        }
        Ok(Posted { session, form })
    }
}

/// A login or sign-up form post whose token matches the `sy_csrf` cookie.
pub(crate) struct AnonPosted {
    pub form: FormData,
    /// The caller's address (for login throttling).
    pub client: String,
}

impl FromRequest<AppState> for AnonPosted {
    type Rejection = Response;

    async fn from_request(req: Request, _state: &AppState) -> Result<Self, Response> {
        let (parts, body) = req.into_parts();
        let expected = cookie(&parts.headers, CSRF_COOKIE).unwrap_or_default();
        let form = FormData::read(body)
            .await
            .map_err(IntoResponse::into_response)?;
        if !form.csrf_ok(&expected) {
            return Err(csrf::refused().into_response());
        }
        Ok(AnonPosted {
            form,
            client: client_address(&parts.extensions),
        })
    }
}

/// The anonymous CSRF token for a login/sign-up page: the cookie's, or a new
/// one with the `Set-Cookie` that stores it.
pub(crate) fn anon_token(state: &AppState, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    match cookie(headers, CSRF_COOKIE).filter(|t| t.len() == 64) {
        Some(t) => (t, None),
        None => {
            let t = csrf::new_token();
            let c = set_cookie(CSRF_COOKIE, &t, None, secure(state));
            (t, c)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_across_headers_and_pairs() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; sy_session=abc"),
        );
        h.append(header::COOKIE, HeaderValue::from_static("sy_csrf=\"def\""));
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&h, CSRF_COOKIE).as_deref(), Some("def"));
        assert_eq!(cookie(&h, "a").as_deref(), Some("1"));
        assert_eq!(cookie(&h, "sy"), None);
        let mut empty = HeaderMap::new();
        empty.insert(header::COOKIE, HeaderValue::from_static("sy_session="));
        assert_eq!(cookie(&empty, SESSION_COOKIE), None);
    }

    #[test]
    fn set_cookie_has_the_security_attributes() {
        let c = set_cookie("sy_session", "tok", Some(Duration::from_secs(60)), true).unwrap();
        let c = c.to_str().unwrap();
        assert!(c.starts_with("sy_session=tok; Path=/; HttpOnly; SameSite=Lax"));
        assert!(c.contains("Max-Age=60"));
        assert!(c.ends_with("; Secure"));
        let c = set_cookie("sy_csrf", "t", None, false).unwrap();
        let c = c.to_str().unwrap();
        assert!(!c.contains("Secure"));
        assert!(!c.contains("Max-Age"));
    }
}
