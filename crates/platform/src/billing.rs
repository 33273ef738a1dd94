//! Money: holds before a call, settlement after it, credit grants, the
//! wallet and the transactions list.
//!
//! Architecture Invariant: an account's balance equals its TOPUP
//! transactions minus its CHARGE transactions; every statement that moves
//! the balance writes the matching transaction in the same database
//! transaction. Holds only reserve (they never touch the balance).

use std::{fmt, str::FromStr};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::{Rng, rngs::OsRng};
use switchyard_core::{Prices, Usage};
use switchyard_store::{
    HoldOutcome, HoldRef, NewHold, SettleSpec, TxFilter, TxRecord, UsageRow, WindowStarts,
};

use crate::{
    KeyAuth, Nanos, Platform, PlatformError, Retention, ratelimit::minute_of, types::UnknownValue,
};

/// What to hold for one call: the worst case at the model's prices.
#[derive(Debug, Clone)]
pub struct HoldRequest<'a> {
    pub auth: &'a KeyAuth,
    pub prices: Prices,
    /// Upper bound of the prompt's tokens.
    pub prompt_tokens_max: u64,
    /// Most completion tokens the call may produce.
    pub completion_tokens_max: u64,
}

/// A placed hold: money reserved on the account and the key for one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    pub id: String,
    pub account_id: String,
    pub key_id: String,
    pub amount: Nanos,
}

/// How a call ended, for [`Platform::settle`].
#[derive(Debug, Clone)]
pub struct Settlement {
    /// The ledger row; `charged_nanos`, `succeeded` (and `account_id`/`key_id`
    /// when unset and there is a hold) are filled by `settle`.
    pub row: UsageRow,
    /// The call's real cost at the model's prices.
    pub cost: Nanos,
    /// Whether the call succeeded (a failed call is charged nothing).
    pub succeeded: bool,
}

/// An account's money.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wallet {
    /// Grants minus settled charges (an administrator's may be negative).
    pub balance: Nanos,
    /// Reserved for calls in flight.
    pub held: Nanos,
}

impl Wallet {
    /// What new calls may still reserve.
    pub fn available(&self) -> Nanos {
        self.balance.saturating_sub(self.held)
    }
}

/// Which way money moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxDirection {
    Topup,
    Charge,
}

impl TxDirection {
    pub fn as_str(self) -> &'static str {
        match self {
            TxDirection::Topup => "TOPUP",
            TxDirection::Charge => "CHARGE",
        }
    }
}

impl FromStr for TxDirection {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "TOPUP" => Ok(TxDirection::Topup),
            "CHARGE" => Ok(TxDirection::Charge),
            _ => Err(UnknownValue(s.to_owned())),
        }
    }
}

impl fmt::Display for TxDirection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What produced a transaction (the reference's `type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxKind {
    Payment,
    Bonus,
    Refund,
    Adjustment,
    ModelUsage,
    CreditsExpired,
    Init,
}

impl TxKind {
    pub const ALL: [TxKind; 7] = [
        TxKind::Payment,
        TxKind::Bonus,
        TxKind::Refund,
        TxKind::Adjustment,
        TxKind::ModelUsage,
        TxKind::CreditsExpired,
        TxKind::Init,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TxKind::Payment => "PAYMENT",
            TxKind::Bonus => "BONUS",
            TxKind::Refund => "REFUND",
            TxKind::Adjustment => "ADJUSTMENT",
            TxKind::ModelUsage => "MODEL_USAGE",
            TxKind::CreditsExpired => "CREDITS_EXPIRED",
            TxKind::Init => "INIT",
        }
    }

    /// The direction entries of this kind move money in.
    pub fn direction(self) -> TxDirection {
        match self {
            TxKind::ModelUsage | TxKind::CreditsExpired => TxDirection::Charge,
            TxKind::Payment
            | TxKind::Bonus
            | TxKind::Refund
            | TxKind::Adjustment
            | TxKind::Init => TxDirection::Topup,
        }
    }
}

impl FromStr for TxKind {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TxKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownValue(s.to_owned()))
    }
}

impl fmt::Display for TxKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One balance movement. `amount` is positive; `direction` carries the sign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    pub id: String,
    /// Unix ms.
    pub created_at: i64,
    pub direction: TxDirection,
    pub kind: TxKind,
    pub amount: Nanos,
    pub model: Option<String>,
    /// For MODEL_USAGE: the inference id.
    pub reference_id: Option<String>,
    pub note: Option<String>,
}

/// Which transactions to list.
#[derive(Debug, Clone, Default)]
pub struct TxQuery {
    /// Unix ms, inclusive.
    pub from: Option<i64>,
    /// Unix ms, exclusive; must be later than `from`.
    pub to: Option<i64>,
    pub direction: Option<TxDirection>,
    pub kind: Option<TxKind>,
    /// 1..=100.
    pub limit: u32,
    /// `next_cursor` of the previous page, verbatim.
    pub cursor: Option<String>,
}

/// One page of transactions, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxPage {
    pub rows: Vec<Transaction>,
    /// Opaque; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Sums of an account's transactions (balance = topups − charges).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxTotals {
    pub topups: Nanos,
    pub charges: Nanos,
}

/// Most transactions per page.
pub const MAX_TX_PAGE: u32 = 100;
/// Longest note kept on a grant.
const MAX_NOTE_CHARS: usize = 500;
/// Expired holds released per database round trip.
const RELEASE_BATCH: u32 = 200;

impl Platform {
    /// The worst-case cost of a call: `prompt_tokens_max` prompt tokens and
    /// `completion_tokens_max` completion tokens at `prices`, rounded up.
    pub fn hold_amount(
        prices: &Prices,
        prompt_tokens_max: u64,
        completion_tokens_max: u64,
    ) -> Result<Nanos, PlatformError> {
        let usd = prices.cost(&Usage {
            prompt_tokens: prompt_tokens_max,
            cached_tokens: 0,
            completion_tokens: completion_tokens_max,
            reasoning_tokens: 0,
        });
        let n = Nanos::from_usd_ceil(usd)
            .ok_or_else(|| PlatformError::Internal(format!("hold amount out of range: {usd}")))?;
        Ok(n.max(Nanos::ZERO))
    }

    /// The day/week/month window starts for now.
    fn window_starts(&self, now: i64) -> WindowStarts {
        WindowStarts {
            day: Retention::Day.window_start(now),
            week: Retention::Week.window_start(now),
            month: Retention::Month.window_start(now),
        }
    }

    /// Reserves the call's worst-case cost on the account and the key in one
    /// database transaction, or refuses with `InsufficientBalance` /
    /// `KeyLimitExceeded` (then nothing is reserved). Concurrent calls —
    /// threads or replicas — can never reserve more than the balance or the
    /// limit allows.
    pub async fn authorize(&self, req: HoldRequest<'_>) -> Result<Hold, PlatformError> {
        let amount = Self::hold_amount(
            &req.prices,
            req.prompt_tokens_max,
            req.completion_tokens_max,
        )?;
        let auth = req.auth;
        let now = self.now_ms();
        let ttl = i64::try_from(self.config.hold_ttl.as_millis()).unwrap_or(i64::MAX);
        let id = new_id("hold");
        let outcome = self
            .store
            .place_hold(&NewHold {
                id: &id,
                account_id: &auth.account_id,
                key_id: &auth.key_id,
                amount_nanos: amount.0,
                bypass_balance: auth.account_is_admin && self.config.admins_bypass_balance,
                windows: self.window_starts(now),
                now,
                expires_at: now.saturating_add(ttl),
            })
            .await?;
        match outcome {
            HoldOutcome::Placed => Ok(Hold {
                id,
                account_id: auth.account_id.clone(),
                key_id: auth.key_id.clone(),
                amount,
            }),
            HoldOutcome::NoAccount => Err(PlatformError::NotFound("Account not found.".into())),
            HoldOutcome::NoKey => Err(PlatformError::NotFound("API key not found.".into())),
            HoldOutcome::InsufficientBalance {
                balance_nanos,
                held_nanos,
            } => Err(PlatformError::InsufficientBalance {
                available: Nanos(balance_nanos.saturating_sub(held_nanos)),
                needed: amount,
            }),
            HoldOutcome::KeyLimitExceeded {
                retention,
                threshold_nanos,
                spent_nanos,
                held_nanos,
            } => {
                let retention = retention
                    .as_deref()
                    .and_then(|r| r.parse::<Retention>().ok())
                    .ok_or_else(|| {
                        PlatformError::Internal(format!(
                            "key {} refused without a valid limit retention",
                            auth.key_id
                        ))
                    })?;
                Err(PlatformError::KeyLimitExceeded {
                    retention,
                    threshold: Nanos(threshold_nanos.unwrap_or(0)),
                    spent: Nanos(spent_nanos.saturating_add(held_nanos)),
                    needed: amount,
                    resets_at: retention.window_end(now),
                })
            }
        }
    }

    /// Settles a call in one database transaction, idempotent on the ledger
    /// row's `request_id`: returns `false` (and changes nothing) if that
    /// request was already settled. Otherwise writes the row and, with a
    /// hold, releases it and charges `min(cost, hold)` — nothing for a failed
    /// call — recording the charge as a MODEL_USAGE transaction. Without a
    /// hold (refused before authorization) only the row is written.
    pub async fn settle(&self, hold: Option<&Hold>, s: Settlement) -> Result<bool, PlatformError> {
        let mut row = s.row;
        let charge = match hold {
            Some(h) if s.succeeded => s.cost.max(Nanos::ZERO).min(h.amount),
            _ => Nanos::ZERO,
        };
        row.charged_nanos = charge.0;
        row.succeeded = s.succeeded;
        if let Some(h) = hold {
            row.account_id.get_or_insert_with(|| h.account_id.clone());
            row.key_id.get_or_insert_with(|| h.key_id.clone());
        }
        let now = self.now_ms();
        let charge_tx = match hold {
            Some(h) if charge > Nanos::ZERO => Some(TxRecord {
                id: new_id("tx"),
                account_id: h.account_id.clone(),
                created_at: now,
                direction: TxDirection::Charge.as_str().into(),
                kind: TxKind::ModelUsage.as_str().into(),
                amount_nanos: charge.0,
                model: (!row.model.is_empty()).then(|| row.model.clone()),
                reference_id: Some(
                    row.inference_id
                        .clone()
                        .unwrap_or_else(|| row.request_id.clone()),
                ),
                key_id: Some(h.key_id.clone()),
                note: None,
                created_by: None,
            }),
            _ => None,
        };
        let tokens = row.prompt_tokens.saturating_add(row.completion_tokens);
        let spec = SettleSpec {
            row: &row,
            hold: hold.map(|h| HoldRef {
                id: &h.id,
                account_id: &h.account_id,
                key_id: &h.key_id,
            }),
            charge: charge_tx.as_ref(),
            windows: self.window_starts(now),
            minute: minute_of(now),
            tokens: i64::try_from(tokens).unwrap_or(i64::MAX),
        };
        Ok(self.store.settle(&spec).await?)
    }

    /// Releases holds older than `hold_ttl` (a crashed replica's calls)
    /// without charging, and deletes old rate-limit windows. Returns how many
    /// holds were released. Run at start-up and every minute.
    pub async fn release_expired_holds(&self) -> Result<u64, PlatformError> {
        let now = self.now_ms();
        let mut released = 0;
        loop {
            let ids = self.store.expired_holds(now, RELEASE_BATCH).await?;
            for id in &ids {
                if self.store.release_hold(id).await? {
                    released += 1;
                }
            }
            if ids.len() < RELEASE_BATCH as usize {
                break;
            }
        }
        if released > 0 {
            tracing::info!(released, "released expired holds");
        }
        self.prune_rate_windows().await?;
        Ok(released)
    }

    /// Adds credit to an account and records it as a TOPUP transaction of
    /// `kind` (a top-up kind), in one database transaction.
    pub async fn grant(
        &self,
        account_id: &str,
        amount: Nanos,
        kind: TxKind,
        note: Option<&str>,
        by: Option<&str>,
    ) -> Result<Transaction, PlatformError> {
        if amount <= Nanos::ZERO {
            return Err(PlatformError::invalid(
                "amount",
                "The amount to grant must be greater than zero.",
            ));
        }
        if kind.direction() != TxDirection::Topup {
            return Err(PlatformError::invalid(
                "kind",
                format!("{kind} is not a kind of credit grant."),
            ));
        }
        let note = note
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(|n| n.chars().take(MAX_NOTE_CHARS).collect::<String>());
        let rec = TxRecord {
            id: new_id("tx"),
            account_id: account_id.to_owned(),
            created_at: self.now_ms(),
            direction: TxDirection::Topup.as_str().into(),
            kind: kind.as_str().into(),
            amount_nanos: amount.0,
            model: None,
            reference_id: None,
            key_id: None,
            note,
            created_by: by.map(str::to_owned),
        };
        if !self.store.credit_account(&rec).await? {
            return Err(PlatformError::NotFound("Account not found.".into()));
        }
        transaction(rec)
    }

    /// The account's balance and what is held for calls in flight.
    pub async fn wallet(&self, account_id: &str) -> Result<Wallet, PlatformError> {
        let m = self
            .store
            .account_money(account_id)
            .await?
            .ok_or_else(|| PlatformError::NotFound("Account not found.".into()))?;
        Ok(Wallet {
            balance: Nanos(m.balance_nanos),
            held: Nanos(m.held_nanos),
        })
    }

    /// Sums of the account's TOPUPs and CHARGEs (they reconcile with the balance).
    pub async fn transaction_totals(&self, account_id: &str) -> Result<TxTotals, PlatformError> {
        let t = self.store.transaction_totals(account_id).await?;
        Ok(TxTotals {
            topups: Nanos(t.topups_nanos),
            charges: Nanos(t.charges_nanos),
        })
    }

    /// One page of the account's transactions, newest first.
    pub async fn transactions(
        &self,
        account_id: &str,
        q: TxQuery,
    ) -> Result<TxPage, PlatformError> {
        if q.limit == 0 || q.limit > MAX_TX_PAGE {
            return Err(PlatformError::invalid(
                "limit",
                format!("`limit` must be between 1 and {MAX_TX_PAGE}."),
            ));
        }
        if let (Some(from), Some(to)) = (q.from, q.to)
            && to <= from
        {
            return Err(PlatformError::invalid(
                "to",
                "`to` must be later than `from`.",
            ));
        }
        let after = q.cursor.as_deref().map(decode_cursor).transpose()?;
        let direction = q.direction.map(TxDirection::as_str);
        let kind = q.kind.map(TxKind::as_str);
        let mut rows = self
            .store
            .list_transactions(&TxFilter {
                account_id,
                from: q.from,
                to: q.to,
                direction,
                kind,
                after: after.as_ref().map(|(at, id)| (*at, id.as_str())),
                limit: q.limit + 1,
            })
            .await?;
        let more = rows.len() > q.limit as usize;
        rows.truncate(q.limit as usize);
        let next_cursor = match rows.last() {
            Some(last) if more => Some(encode_cursor(last.created_at, &last.id)),
            _ => None,
        };
        Ok(TxPage {
            rows: rows
                .into_iter()
                .map(transaction)
                .collect::<Result<_, _>>()?,
            next_cursor,
        })
    }
}

fn transaction(r: TxRecord) -> Result<Transaction, PlatformError> {
    let corrupt = |what: &str, v: &str| {
        PlatformError::Internal(format!("transaction {}: unknown {what} `{v}`", r.id))
    };
    Ok(Transaction {
        direction: r
            .direction
            .parse()
            .map_err(|_| corrupt("direction", &r.direction))?,
        kind: r.kind.parse().map_err(|_| corrupt("kind", &r.kind))?,
        id: r.id,
        created_at: r.created_at,
        amount: Nanos(r.amount_nanos),
        model: r.model,
        reference_id: r.reference_id,
        note: r.note,
    })
}

/// A fresh random id: `{prefix}_` and 32 hex digits.
pub(crate) fn new_id(prefix: &str) -> String {
    let bytes: [u8; 16] = OsRng.r#gen();
    let mut s = String::with_capacity(prefix.len() + 33);
    s.push_str(prefix);
    s.push('_');
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Version tag of the transactions cursor payload.
const CURSOR_VERSION: &str = "v1";

/// The cursor after the row `(created_at, id)`: base64url (no padding) of
/// `v1|{created_at}|{id}`.
fn encode_cursor(created_at: i64, id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{CURSOR_VERSION}|{created_at}|{id}"))
}

/// Reads a cursor, accepting only the exact form [`encode_cursor`] makes.
fn decode_cursor(cursor: &str) -> Result<(i64, String), PlatformError> {
    let bad = || {
        PlatformError::invalid(
            "cursor",
            "`cursor` is not valid: pass `pagination.next_cursor` from the previous page verbatim.",
        )
    };
    if cursor.is_empty() || cursor.len() > 256 {
        return Err(bad());
    }
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let mut parts = text.split('|');
    let (Some(version), Some(at), Some(id), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let at: i64 = at.parse().map_err(|_| bad())?;
    let id_ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if version != CURSOR_VERSION || !id_ok || encode_cursor(at, id) != cursor {
        return Err(bad());
    }
    Ok((at, id.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_directions_round_trip() {
        for k in TxKind::ALL {
            assert_eq!(k.as_str().parse::<TxKind>(), Ok(k));
        }
        assert_eq!(TxKind::ModelUsage.direction(), TxDirection::Charge);
        assert_eq!(TxKind::CreditsExpired.direction(), TxDirection::Charge);
        assert_eq!(TxKind::Bonus.direction(), TxDirection::Topup);
        assert_eq!("TOPUP".parse::<TxDirection>(), Ok(TxDirection::Topup));
        assert!("topup".parse::<TxDirection>().is_err());
        assert!("model_usage".parse::<TxKind>().is_err());
    }

    #[test]
    fn cursors_round_trip_and_only_the_issued_form_is_accepted() {
        let c = encode_cursor(1_755_424_800_000, "tx_0123abcd");
        assert_eq!(
            decode_cursor(&c).unwrap(),
            (1_755_424_800_000, "tx_0123abcd".into())
        );
        let forged = |payload: &str| URL_SAFE_NO_PAD.encode(payload);
        let padded = format!("{}=", c);
        let std_alphabet = base64::engine::general_purpose::STANDARD_NO_PAD
            .encode("v1|1755424800000|tx_0123abcd>?");
        for bad in [
            String::new(),
            "not base64!".into(),
            padded,
            format!("{c}A"),
            c.to_uppercase(),
            std_alphabet,
            forged("v2|1755424800000|tx_0123abcd"),
            forged("v1|+1755424800000|tx_0123abcd"),
            forged("v1|01755424800000|tx_0123abcd"),
            forged("v1|1755424800000"),
            forged("v1|1755424800000|tx_0123abcd|x"),
            forged("v1|1755424800000|"),
            forged("v1|1755424800000|TX'; DROP"),
            forged("{\"v\":1}"),
        ] {
            match decode_cursor(&bad) {
                Err(PlatformError::InvalidInput { param, .. }) => {
                    assert_eq!(param, "cursor", "{bad}")
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn hold_amount_is_the_worst_case_rounded_up() {
        let prices = Prices {
            prompt: 3.0,
            cached_prompt: None,
            completion: 15.0,
        };
        // 1000 prompt tokens at $3/M + 500 completion at $15/M = $0.003 + $0.0075.
        assert_eq!(
            Platform::hold_amount(&prices, 1000, 500).unwrap(),
            Nanos(10_500_000)
        );
        let tiny = Prices {
            prompt: 0.001,
            cached_prompt: None,
            completion: 0.0,
        };
        // 1e-9 USD per 1000 tokens: a fraction of a nano-dollar rounds up.
        assert_eq!(Platform::hold_amount(&tiny, 1, 0).unwrap(), Nanos(1));
        assert_eq!(
            Platform::hold_amount(&Prices::default(), 10, 10).unwrap(),
            Nanos::ZERO
        );
    }

    #[test]
    fn ids_are_prefixed_hex_and_distinct() {
        let a = new_id("tx");
        let b = new_id("tx");
        assert_ne!(a, b);
        assert!(a.starts_with("tx_") && a.len() == 35);
        assert!(a[3..].bytes().all(|c| c.is_ascii_hexdigit()));
    }
}
