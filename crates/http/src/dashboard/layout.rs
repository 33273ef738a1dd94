//! The page frame: head, navigation, the signed-in account, a logout button
//! and the flash message, around each page's content.

use maud::{DOCTYPE, Markup, html};

use super::{CSS_PATH, JS_PATH, csrf};

/// Sections of the dashboard (the navigation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nav {
    Keys,
    Usage,
    Billing,
    Models,
    Playground,
    Admin,
}

impl Nav {
    const ALL: [Nav; 6] = [
        Nav::Keys,
        Nav::Usage,
        Nav::Billing,
        Nav::Models,
        Nav::Playground,
        Nav::Admin,
    ];

    fn path(self) -> &'static str {
        match self {
            Nav::Keys => "/keys",
            Nav::Usage => "/usage",
            Nav::Billing => "/billing",
            Nav::Models => "/models",
            Nav::Playground => "/playground",
            Nav::Admin => "/admin",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Nav::Keys => "Keys",
            Nav::Usage => "Usage",
            Nav::Billing => "Billing",
            Nav::Models => "Models",
            Nav::Playground => "Playground",
            Nav::Admin => "Admin",
        }
    }
}

/// What the frame needs to know about the signed-in visitor.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Chrome<'a> {
    pub email: &'a str,
    pub is_admin: bool,
    /// The session's CSRF token (for the logout form).
    pub csrf: &'a str,
    /// The `msg` query parameter, if any (see [`flash_text`]).
    pub flash: Option<&'a str>,
}

/// The text for a flash code (`?msg=…` after a form post). Only these fixed
/// messages can be shown, so a crafted link cannot put words on the page.
pub(crate) fn flash_text(code: &str) -> Option<&'static str> {
    Some(match code {
        "key_disabled" => "The key is disabled. Calls with it are refused.",
        "key_enabled" => "The key is enabled.",
        "key_deleted" => "The key is deleted.",
        "limit_saved" => "The spending limit is saved.",
        "limit_removed" => "The spending limit is removed.",
        "scopes_saved" => "The scopes are saved.",
        "rate_saved" => "The rate limits are saved. They apply to the next call.",
        "account_rate_saved" => "The account's rate limits are saved.",
        "granted" => "The credit is granted.",
        "signup_mode_saved" => "The sign-up mode is saved.",
        "admin_granted" => "The account is now an administrator.",
        "admin_revoked" => "The account is no longer an administrator.",
        "account_disabled" => "The account is disabled.",
        "account_enabled" => "The account is enabled.",
        "logged_out" => "You are logged out.",
        "signed_up" => "Welcome! Your account is ready.",
        _ => return None,
    })
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            meta name="referrer" content="same-origin";
            title { (title) " · Switchyard" }
            link rel="stylesheet" href=(CSS_PATH);
            script src=(JS_PATH) defer {}
        }
    }
}

fn flash(code: Option<&str>) -> Markup {
    html! {
        @if let Some(text) = code.and_then(flash_text) {
            p.flash #flash role="status" { (text) }
        }
    }
}

/// A signed-in page.
pub(crate) fn page(chrome: &Chrome<'_>, active: Nav, title: &str, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                header.top {
                    a.brand href="/" { "Switchyard" }
                    nav {
                        @for item in Nav::ALL {
                            @if item != Nav::Admin || chrome.is_admin {
                                a href=(item.path())
                                    class=[(item == active).then_some("active")]
                                    aria-current=[(item == active).then_some("page")] {
                                    (item.label())
                                }
                            }
                        }
                    }
                    div.account {
                        span #account-email { (chrome.email) }
                        form #logout-form method="post" action="/logout" {
                            (csrf::hidden(chrome.csrf))
                            button type="submit" { "Log out" }
                        }
                    }
                }
                main {
                    h1 { (title) }
                    (flash(chrome.flash))
                    (content)
                }
            }
        }
    }
}

/// A page for visitors who are not signed in (login, sign-up).
pub(crate) fn anon_page(title: &str, flash_code: Option<&str>, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                main.narrow {
                    p.brand { "Switchyard" }
                    h1 { (title) }
                    (flash(flash_code))
                    (content)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chrome(is_admin: bool, flash: Option<&'static str>) -> Chrome<'static> {
        Chrome {
            email: "a<b>@example.com",
            is_admin,
            csrf: "tok",
            flash,
        }
    }

    #[test]
    fn frame_has_nav_logout_with_token_and_escapes_the_email() {
        let html = page(
            &chrome(false, None),
            Nav::Usage,
            "Usage",
            html! { p { "x" } },
        )
        .into_string();
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("action=\"/logout\""));
        assert!(html.contains("name=\"csrf_token\" value=\"tok\""));
        assert!(html.contains("a&lt;b&gt;@example.com"));
        assert!(!html.contains("a<b>"));
        assert!(
            html.contains("href=\"/usage\" class=\"active\" aria-current=\"page\""),
            "{html}"
        );
        assert!(
            !html.contains("href=\"/admin\""),
            "admin link for a non-admin"
        );
        let admin = page(&chrome(true, None), Nav::Keys, "Keys", html! {}).into_string();
        assert!(admin.contains("href=\"/admin\""));
    }

    #[test]
    fn only_known_flash_codes_show_text() {
        let html = page(
            &chrome(false, Some("key_deleted")),
            Nav::Keys,
            "Keys",
            html! {},
        )
        .into_string();
        assert!(html.contains("The key is deleted."));
        let html = page(
            &chrome(false, Some("<script>")),
            Nav::Keys,
            "Keys",
            html! {},
        )
        .into_string();
        assert!(!html.contains("id=\"flash\""));
        assert!(!html.contains("<script>"));
    }
}
