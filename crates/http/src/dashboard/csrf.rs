//! CSRF protection and form bodies.
//!
//! Every dashboard form carries a hidden `csrf_token`. Signed-in forms carry
//! the session's own token (made by the platform with the session); the
//! anonymous forms (sign-up, login) carry a random token that is also set in
//! the `sy_csrf` cookie (double submit), so a third-party page cannot log a
//! visitor into someone else's account. Tokens are compared in constant time.
//! A post without a valid token gets a 403 page and changes nothing.

use std::fmt::Write as _;

use axum::body::Body;
use maud::{Markup, html};
use rand::RngCore;
use switchyard_auth::constant_time_eq;

use super::page::DashError;

/// Name of the hidden form field.
pub(crate) const FIELD: &str = "csrf_token";

/// Largest accepted form body (the playground posts a conversation).
pub(crate) const MAX_FORM_BYTES: usize = 1024 * 1024;

/// A fresh random token (32 bytes, hex).
pub(crate) fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let mut s = String::with_capacity(64);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Whether the posted token equals the expected one (constant time; an empty
/// expected token never matches).
pub(crate) fn tokens_match(expected: &str, posted: Option<&str>) -> bool {
    match posted {
        Some(p) if !expected.is_empty() => constant_time_eq(expected.as_bytes(), p.as_bytes()),
        _ => false,
    }
}

/// The hidden input every form carries.
pub(crate) fn hidden(token: &str) -> Markup {
    html! { input type="hidden" name=(FIELD) value=(token); }
}

/// The 403 page for a missing or wrong token.
pub(crate) fn refused() -> DashError {
    DashError::forbidden(
        "The form's security token is missing or out of date. Reload the page and try again.",
    )
}

/// An `application/x-www-form-urlencoded` body as ordered pairs (repeated
/// names, e.g. checkboxes, keep every value).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FormData(Vec<(String, String)>);

impl FormData {
    pub fn parse(bytes: &[u8]) -> Result<FormData, DashError> {
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(bytes)
            .map(FormData)
            .map_err(|_| DashError::bad_request("The form could not be read."))
    }

    /// Reads and parses a request body (at most [`MAX_FORM_BYTES`]).
    pub async fn read(body: Body) -> Result<FormData, DashError> {
        let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
            .await
            .map_err(|_| DashError::bad_request("The form is too large or could not be read."))?;
        FormData::parse(&bytes)
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name`, trimmed; `None` when missing or blank.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.get(name).map(str::trim).filter(|s| !s.is_empty())
    }

    /// Every value of `name`, in order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the posted token matches `expected`.
    pub fn csrf_ok(&self, expected: &str) -> bool {
        tokens_match(expected, self.get(FIELD))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_hex_and_compare_exactly() {
        let a = new_token();
        let b = new_token();
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        assert!(tokens_match(&a, Some(&a)));
        assert!(!tokens_match(&a, Some(&b)));
        assert!(!tokens_match(&a, Some(&a[..63])));
        assert!(!tokens_match(&a, None));
        assert!(!tokens_match("", Some("")));
    }

    #[test]
    fn forms_keep_repeated_fields_and_decode() {
        let f = FormData::parse(
            b"csrf_token=t&scope=model%3Achat&scope=model%3Aimage&name=+my+key+&empty=",
        )
        .unwrap();
        assert_eq!(f.get("csrf_token"), Some("t"));
        assert_eq!(
            f.all("scope").collect::<Vec<_>>(),
            ["model:chat", "model:image"]
        );
        assert_eq!(f.text("name"), Some("my key"));
        assert_eq!(f.text("empty"), None);
        assert_eq!(f.get("missing"), None);
        assert!(f.csrf_ok("t"));
        assert!(!f.csrf_ok("u"));
        assert!(FormData::parse(b"").unwrap().get(FIELD).is_none());
    }

    #[test]
    fn hidden_field_escapes_the_value() {
        let s = hidden("a\"><script>").into_string();
        assert!(s.contains("name=\"csrf_token\""));
        assert!(!s.contains("<script>"), "{s}");
    }
}
