//! The administrators' page: accounts with balances, credit grants, the
//! sign-up mode, invite codes (shown once), making and unmaking
//! administrators, disabling accounts, each account's default rate limits
//! for its keys. Everyone else gets 403.
//!
//! An administrator cannot demote or disable their own account here, so
//! the last administrator cannot lock everyone out by accident.

use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use maud::{Markup, html};
use serde::Deserialize;
use switchyard_config::SignupMode;
use switchyard_platform::{Account, Nanos, RateLimits, TxKind, Wallet};

use super::{
    csrf::{self, FormData},
    keys::{parse_rate, per_minute, rate_inputs},
    layout::{Nav, page},
    page::{DashError, date, html_page, redirect},
    session::{Posted, Session},
};
use crate::AppState;

/// Largest single grant accepted from the form, in USD.
const MAX_GRANT_USD: f64 = 1.0e9;
/// Kinds of credit an administrator may grant.
const GRANT_KINDS: [TxKind; 4] = [
    TxKind::Payment,
    TxKind::Bonus,
    TxKind::Refund,
    TxKind::Adjustment,
];

#[derive(Debug, Default, Deserialize)]
pub(crate) struct AdminQuery {
    msg: Option<String>,
}

/// A validated grant form.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GrantForm {
    /// An email (contains `@`) or an account id.
    pub account: String,
    pub amount: Nanos,
    pub kind: TxKind,
    pub note: Option<String>,
}

impl GrantForm {
    pub fn parse(form: &FormData) -> Result<GrantForm, DashError> {
        let account = form
            .text("account")
            .ok_or_else(|| DashError::bad_request("Name the account (email or id)."))?
            .to_owned();
        let usd: f64 = form
            .text("amount")
            .ok_or_else(|| DashError::bad_request("Enter an amount in USD."))?
            .parse()
            .map_err(|_| DashError::bad_request("The amount must be a number of USD."))?;
        if !(usd.is_finite() && usd > 0.0 && usd <= MAX_GRANT_USD) {
            return Err(DashError::bad_request(
                "The amount must be more than 0 and at most 1,000,000,000 USD.",
            ));
        }
        let amount = Nanos::from_usd(usd)
            .filter(|n| n.0 > 0)
            .ok_or_else(|| DashError::bad_request("The amount is out of range."))?;
        let kind = match form.text("kind") {
            None => TxKind::Payment,
            Some(k) => GRANT_KINDS
                .into_iter()
                .find(|g| g.as_str() == k)
                .ok_or_else(|| DashError::bad_request("Unknown kind of grant."))?,
        };
        Ok(GrantForm {
            account,
            amount,
            kind,
            note: form.text("note").map(str::to_owned),
        })
    }
}

fn bool_field(form: &FormData, name: &str) -> Result<bool, DashError> {
    match form.get(name) {
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        _ => Err(DashError::bad_request(format!(
            "`{name}` must be true or false."
        ))),
    }
}

/// `server`: the server's default requests/tokens per minute (what a blank field means).
fn account_rate_form(a: &Account, server: (u32, u32), token: &str) -> Markup {
    html! {
        span.muted.rate-effective {
            (per_minute(a.rate.rpm.unwrap_or(server.0))) " req/min · "
            (per_minute(a.rate.tpm.unwrap_or(server.1))) " tokens/min"
        }
        form.rate-account.inline method="post" action=(format!("/admin/accounts/{}/rate", a.id)) {
            (csrf::hidden(token))
            (rate_inputs(a.rate, server))
            button type="submit" { "Save rate" }
        }
    }
}

fn account_row(
    a: &Account,
    w: Option<Wallet>,
    server: (u32, u32),
    me: &str,
    token: &str,
) -> Markup {
    let own = a.id == me;
    html! {
        tr data-account=(a.id) {
            td { (a.email) @if own { " " span.muted { "(you)" } } }
            td { code { (a.id) } }
            td { (date(a.created_at)) }
            td { @if a.is_admin { "admin" } }
            td { @if a.disabled { span.badge.off { "disabled" } } @else { span.badge.on { "active" } } }
            td.num.balance { (w.map(|w| w.balance.to_string()).unwrap_or_default()) }
            td.num { (w.map(|w| w.held.to_string()).unwrap_or_default()) }
            td { (account_rate_form(a, server, token)) }
            td {
                @if !own {
                    form.admin-toggle.inline method="post" action=(format!("/admin/accounts/{}/admin", a.id)) {
                        (csrf::hidden(token))
                        input type="hidden" name="is_admin" value=(if a.is_admin { "false" } else { "true" });
                        button type="submit" { (if a.is_admin { "Remove admin" } else { "Make admin" }) }
                    }
                    form.disable-account.inline method="post" action=(format!("/admin/accounts/{}/disable", a.id)) {
                        (csrf::hidden(token))
                        input type="hidden" name="disabled" value=(if a.disabled { "false" } else { "true" });
                        button.danger[!a.disabled] type="submit" { (if a.disabled { "Enable" } else { "Disable" }) }
                    }
                }
            }
        }
    }
}

/// The page's content (pure: data in, markup out).
fn content(
    accounts: &[(Account, Option<Wallet>)],
    server: (u32, u32),
    mode: SignupMode,
    me: &str,
    token: &str,
    new_invite: Option<&str>,
) -> Markup {
    html! {
        h2 { "Accounts" }
        datalist #account-emails {
            @for (a, _) in accounts { option value=(a.email) {} }
        }
        table #accounts {
            thead { tr {
                th { "Email" } th { "Id" } th { "Created" } th { "Role" } th { "Status" }
                th.num { "Balance" } th.num { "Held" } th { "Key rate limits" } th { "Actions" }
            } }
            tbody {
                @for (a, w) in accounts { (account_row(a, *w, server, me, token)) }
            }
        }
        p.muted #account-rate-help {
            "Key rate limits: each account's default requests and tokens per minute for its keys "
            "(a key's own limits win). Blank: the server's default ("
            (per_minute(server.0)) " req/min, " (per_minute(server.1)) " tokens/min); 0 means unlimited."
        }
        h2 { "Grant credit" }
        form #grant-form.inline method="post" action="/admin/grant" {
            (csrf::hidden(token))
            input type="text" name="account" list="account-emails" required
                placeholder="Email or account id" aria-label="Account";
            input type="number" name="amount" min="0.01" step="0.01" required
                placeholder="USD" aria-label="Amount in USD";
            select name="kind" aria-label="Kind" {
                @for k in GRANT_KINDS { option value=(k.as_str()) { (k.as_str()) } }
            }
            input type="text" name="note" maxlength="500" placeholder="Note" aria-label="Note";
            button.primary type="submit" { "Grant" }
        }
        h2 { "Sign-up" }
        form #signup-mode-form.inline method="post" action="/admin/signup-mode" {
            (csrf::hidden(token))
            select name="mode" aria-label="Sign-up mode" {
                @for m in [SignupMode::Open, SignupMode::Invite, SignupMode::Closed] {
                    option value=(m.as_str()) selected[m == mode] { (m.as_str()) }
                }
            }
            button type="submit" { "Save" }
        }
        p.muted { "open: anyone may sign up · invite: an invite code is needed · closed: nobody" }
        h3 { "Invites" }
        @if let Some(code) = new_invite {
            div.new-key #new-invite-box {
                p { strong { "New invite code" } ": valid once, for 7 days. It is shown only this once." }
                code #new-invite { (code) }
                " "
                button #copy-invite type="button" { "Copy" }
                p.muted { "Sign-up link: " code { "/signup?invite=" (code) } }
            }
        }
        form #invite-form.inline method="post" action="/admin/invites" {
            (csrf::hidden(token))
            button type="submit" { "Create invite code" }
        }
    }
}

async fn render(
    state: &AppState,
    session: &Session,
    flash: Option<&str>,
    new_invite: Option<&str>,
) -> Result<Response, DashError> {
    session.require_admin()?;
    let p = state.platform();
    let mut accounts = Vec::new();
    for a in p.accounts().await? {
        let w = p.wallet(&a.id).await.ok();
        accounts.push((a, w));
    }
    let mode = p.signup_mode().await?;
    let server = p.effective_rate_of(RateLimits::default(), RateLimits::default());
    let body = content(
        &accounts,
        server,
        mode,
        &session.account.id,
        &session.csrf,
        new_invite,
    );
    Ok(html_page(
        StatusCode::OK,
        page(&session.chrome(flash), Nav::Admin, "Administration", body),
    ))
}

fn respond(r: Result<Response, DashError>) -> Response {
    r.unwrap_or_else(IntoResponse::into_response)
}

pub(crate) async fn admin_page(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<AdminQuery>,
) -> Response {
    respond(render(&state, &session, q.msg.as_deref(), None).await)
}

pub(crate) async fn grant(State(state): State<AppState>, posted: Posted) -> Response {
    let Posted { session, form } = posted;
    respond(
        async {
            session.require_admin()?;
            let g = GrantForm::parse(&form)?;
            let p = state.platform();
            let account = if g.account.contains('@') {
                p.account_by_email(&g.account).await?
            } else {
                p.account(&g.account).await?
            }
            .ok_or_else(|| DashError::not_found("No account with this email or id."))?;
            p.grant(
                &account.id,
                g.amount,
                g.kind,
                g.note.as_deref(),
                Some(&session.account.id),
            )
            .await?;
            Ok(redirect("/admin?msg=granted"))
        }
        .await,
    )
}

pub(crate) async fn signup_mode(State(state): State<AppState>, posted: Posted) -> Response {
    let Posted { session, form } = posted;
    respond(
        async {
            session.require_admin()?;
            let mode = form
                .text("mode")
                .and_then(SignupMode::parse)
                .ok_or_else(|| {
                    DashError::bad_request("The mode must be open, invite or closed.")
                })?;
            state.platform().set_signup_mode(mode).await?;
            Ok(redirect("/admin?msg=signup_mode_saved"))
        }
        .await,
    )
}

pub(crate) async fn create_invite(State(state): State<AppState>, posted: Posted) -> Response {
    let session = posted.session;
    respond(
        async {
            session.require_admin()?;
            let code = state.platform().create_invite(&session.account.id).await?;
            render(&state, &session, None, Some(&code)).await
        }
        .await,
    )
}

fn not_self(session: &Session, id: &str) -> Result<(), DashError> {
    if session.account.id == id {
        Err(DashError::bad_request(
            "You cannot change your own role or status here.",
        ))
    } else {
        Ok(())
    }
}

pub(crate) async fn set_admin(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let Posted { session, form } = posted;
    respond(
        async {
            session.require_admin()?;
            let is_admin = bool_field(&form, "is_admin")?;
            not_self(&session, &id)?;
            state.platform().set_admin(&id, is_admin).await?;
            // Cached key authentications carry the admin flag (balance bypass).
            state.forget_account(&id);
            Ok(redirect(if is_admin {
                "/admin?msg=admin_granted"
            } else {
                "/admin?msg=admin_revoked"
            }))
        }
        .await,
    )
}

pub(crate) async fn set_disabled(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let Posted { session, form } = posted;
    respond(
        async {
            session.require_admin()?;
            let disabled = bool_field(&form, "disabled")?;
            not_self(&session, &id)?;
            state.platform().set_account_disabled(&id, disabled).await?;
            state.forget_account(&id);
            Ok(redirect(if disabled {
                "/admin?msg=account_disabled"
            } else {
                "/admin?msg=account_enabled"
            }))
        }
        .await,
    )
}

/// An account's default rate limits for its keys (an administrator may
/// also set their own).
pub(crate) async fn set_rate(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let Posted { session, form } = posted;
    respond(
        async {
            session.require_admin()?;
            let rate = parse_rate(&form)?;
            state.platform().set_account_rate(&id, rate).await?;
            // Cached key authentications carry the merged limits: drop the account's.
            state.forget_account(&id);
            Ok(redirect("/admin?msg=account_rate_saved"))
        }
        .await,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(s: &str) -> FormData {
        FormData::parse(s.as_bytes()).unwrap()
    }

    #[test]
    fn grant_forms_parse_or_refuse() {
        let g = GrantForm::parse(&form("account=a%40b.c&amount=2.5&note=+hi+")).unwrap();
        assert_eq!(
            g,
            GrantForm {
                account: "a@b.c".into(),
                amount: Nanos(2_500_000_000),
                kind: TxKind::Payment,
                note: Some("hi".into()),
            }
        );
        let g = GrantForm::parse(&form("account=acct_1&amount=1&kind=BONUS")).unwrap();
        assert_eq!(g.kind, TxKind::Bonus);
        for bad in [
            "amount=1",
            "account=a&amount=0",
            "account=a&amount=-3",
            "account=a&amount=x",
            "account=a&amount=inf",
            "account=a&amount=1&kind=MODEL_USAGE",
            "account=a&amount=1e-12",
        ] {
            assert!(GrantForm::parse(&form(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn own_row_has_no_actions_and_text_is_escaped() {
        let me = Account {
            id: "acct_me".into(),
            email: "me<x>@a.b".into(),
            is_admin: true,
            disabled: false,
            rate: Default::default(),
            created_at: 0,
        };
        let other = Account {
            id: "acct_o".into(),
            email: "o@a.b".into(),
            is_admin: false,
            ..me.clone()
        };
        let html = content(
            &[
                (me, None),
                (
                    other,
                    Some(Wallet {
                        balance: Nanos(1_000_000_000),
                        held: Nanos::ZERO,
                    }),
                ),
            ],
            (3000, 0),
            SignupMode::Invite,
            "acct_me",
            "tok",
            Some("inv<1>"),
        )
        .into_string();
        assert!(html.contains("me&lt;x&gt;@a.b"));
        assert!(html.contains("inv&lt;1&gt;"));
        // No role or status change for oneself (the rate form is allowed).
        assert!(!html.contains("/admin/accounts/acct_me/admin"));
        assert!(!html.contains("/admin/accounts/acct_me/disable"));
        assert!(html.contains("/admin/accounts/acct_o/admin"));
        assert!(html.contains("<option value=\"invite\" selected>"));
        assert!(html.contains("$1.00"));
        // Every account, the own one included, has a rate form.
        assert!(html.contains("action=\"/admin/accounts/acct_me/rate\""));
        assert!(html.contains("action=\"/admin/accounts/acct_o/rate\""));
        assert!(html.contains("placeholder=\"inherit (3,000)\""));
        assert!(html.contains("placeholder=\"inherit (unlimited)\""));
    }
}
