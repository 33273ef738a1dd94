//! Billing: `GET /v2/billing`, `/v2/billing/detail`,
//! `/v2/billing/transactions` and the legacy `GET /v1/billing/balance`, as
//! the `billing-*.json` reference files. Any key kind; always the key's own
//! account.
//!
//! Choices where the reference is silent:
//! - `current_balance` is the wallet balance (grants − settled charges);
//!   money held for calls in flight is not subtracted.
//! - `user_id` is a stable number derived from the account id: FNV-1a 64 of
//!   the id, cut to 53 bits so every JSON parser reads it exactly. It never
//!   changes for an account and needs no extra column.
//! - There is no auto top-up: `autotopup_settings` is disabled with zeros,
//!   `autoDebitStatus` is `"disabled"`.
//! - `/v1/billing/balance` `status`: `depleted` when the balance is ≤ 0,
//!   `low` below `[platform] low_balance_usd`, else `current`.

use axum::{
    Extension,
    extract::State,
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};
use switchyard_platform::{
    KeyAuth, Nanos,
    billing::{Transaction, TxDirection, TxKind, TxQuery},
};

use super::common::{Params, money, ok, parse_instant, timestamp};
use crate::{ApiError, AppState};

/// `user_id`: FNV-1a 64 of the account id, masked to 53 bits (see the module docs).
pub(crate) fn user_id(account_id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in account_id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h & ((1 << 53) - 1)
}

/// `GET /v2/billing`
pub(crate) async fn billing(
    State(state): State<AppState>,
    Extension(auth): Extension<KeyAuth>,
) -> Response {
    match state.platform().wallet(&auth.account_id).await {
        Ok(w) => ok(json!({"current_balance": w.balance.usd(), "currency": "USD"})),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// `GET /v2/billing/detail`
pub(crate) async fn detail(
    State(state): State<AppState>,
    Extension(auth): Extension<KeyAuth>,
) -> Response {
    let platform = state.platform();
    let account = match platform.account(&auth.account_id).await {
        Ok(Some(a)) => a,
        Ok(None) => {
            return ApiError::internal(format!(
                "account {} of a valid key is missing",
                auth.account_id
            ))
            .into_response();
        }
        Err(e) => return ApiError::from(e).into_response(),
    };
    match platform.wallet(&auth.account_id).await {
        Ok(w) => ok(json!({
            "user_id": user_id(&account.id),
            "email": account.email,
            "current_balance": w.balance.usd(),
            "currency": "USD",
            "autotopup_settings": {
                "is_enabled": false,
                "threshold": 0,
                "amount": 0,
                "currency": "USD",
            },
        })),
        Err(e) => ApiError::from(e).into_response(),
    }
}

fn tx_json(t: &Transaction) -> Value {
    json!({
        "created_at": timestamp(t.created_at),
        "direction": t.direction.as_str(),
        "type": t.kind.as_str(),
        "amount": money(Nanos(t.amount.0.saturating_abs())),
        "model": t.model,
        "reference_id": t.reference_id,
    })
}

fn tx_query(p: &Params) -> Result<TxQuery, ApiError> {
    let from = p
        .one("from")?
        .map(|v| parse_instant("from", v))
        .transpose()?;
    let to = p.one("to")?.map(|v| parse_instant("to", v)).transpose()?;
    if let (Some(f), Some(t)) = (from, to)
        && t <= f
    {
        return Err(ApiError::invalid(
            "to",
            "Invalid 'to': must be later than 'from'.",
        ));
    }
    let direction = p
        .one("direction")?
        .map(|v| {
            v.parse::<TxDirection>().map_err(|_| {
                ApiError::invalid("direction", "Invalid 'direction': must be TOPUP or CHARGE.")
            })
        })
        .transpose()?;
    let kind = p
        .one("type")?
        .map(|v| {
            v.parse::<TxKind>().map_err(|_| {
                ApiError::invalid(
                    "type",
                    "Invalid 'type': must be one of PAYMENT, BONUS, REFUND, ADJUSTMENT, MODEL_USAGE, CREDITS_EXPIRED, INIT.",
                )
            })
        })
        .transpose()?;
    let limit = p.int("limit", 1, 100, 50)?;
    let cursor = p.one("cursor")?.map(str::to_owned);
    Ok(TxQuery {
        from,
        to,
        direction,
        kind,
        limit: u32::try_from(limit).unwrap_or(100),
        cursor,
    })
}

/// `GET /v2/billing/transactions`: newest first, cursor pagination.
pub(crate) async fn transactions(
    State(state): State<AppState>,
    Extension(auth): Extension<KeyAuth>,
    p: Params,
) -> Response {
    let q = match tx_query(&p) {
        Ok(q) => q,
        Err(e) => return e.into_response(),
    };
    match state.platform().transactions(&auth.account_id, q).await {
        Ok(page) => ok(json!({
            "data": page.rows.iter().map(tx_json).collect::<Vec<_>>(),
            "pagination": {
                "has_more": page.next_cursor.is_some(),
                "next_cursor": page.next_cursor,
            },
        })),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// `status` and `statusExplanation` of `/v1/billing/balance`.
fn balance_status(balance: Nanos, low: Nanos) -> (&'static str, &'static str) {
    if balance.0 <= 0 {
        (
            "depleted",
            "Balance is depleted; add credit to keep calling models",
        )
    } else if balance < low {
        (
            "low",
            "Balance is below the low-balance threshold; add credit soon",
        )
    } else {
        ("current", "Balance is current and up to date")
    }
}

/// `GET /v1/billing/balance` (legacy; amounts in credits).
pub(crate) async fn balance(
    State(state): State<AppState>,
    Extension(auth): Extension<KeyAuth>,
) -> Response {
    let platform = state.platform();
    let w = match platform.wallet(&auth.account_id).await {
        Ok(w) => w,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let low = Nanos::from_usd(platform.config().low_balance_usd).unwrap_or(Nanos::ZERO);
    let (status, explanation) = balance_status(w.balance, low);
    ok(json!({
        "balance": w.balance.credits(),
        "lowBalance": w.balance < low,
        "lowBalanceThreshold": low.credits(),
        "lastUpdated": timestamp(platform.now_ms()),
        "autoDebitStatus": "disabled",
        "status": status,
        "statusExplanation": explanation,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_id_is_stable_and_json_safe() {
        assert_eq!(user_id("acct_a"), user_id("acct_a"));
        assert_ne!(user_id("acct_a"), user_id("acct_b"));
        assert!(user_id("acct_a") < (1 << 53));
    }

    #[test]
    fn balance_status_levels() {
        let low = Nanos(1_000_000_000);
        assert_eq!(balance_status(Nanos(0), low).0, "depleted");
        assert_eq!(balance_status(Nanos(-5), low).0, "depleted");
        assert_eq!(balance_status(Nanos(5), low).0, "low");
        assert_eq!(balance_status(low, low).0, "current");
    }

    #[test]
    fn transaction_query_validation() {
        let p = Params::from_pairs(&[
            ("direction", "CHARGE"),
            ("type", "MODEL_USAGE"),
            ("limit", "10"),
        ]);
        let q = tx_query(&p).unwrap();
        assert_eq!(q.limit, 10);
        assert!(q.direction.is_some() && q.kind.is_some());
        for (k, v) in [
            ("direction", "charge"),
            ("type", "USAGE"),
            ("limit", "101"),
            ("from", "2026-01-01"),
        ] {
            let e = tx_query(&Params::from_pairs(&[(k, v)])).unwrap_err();
            assert_eq!(e.param.as_deref(), Some(k), "{k}={v}");
        }
        let e = tx_query(&Params::from_pairs(&[
            ("from", "2026-01-02T00:00:00Z"),
            ("to", "2026-01-01T00:00:00Z"),
        ]))
        .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("to"));
    }
}
