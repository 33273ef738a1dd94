//! The platform's rules over the store: accounts and sessions, keys that
//! belong to accounts (kinds, scopes, spending limits), money (balances,
//! holds before a call, settlement after it), rate limits, and the figures
//! behind the usage and billing endpoints.
//!
//! Architecture Invariant: no HTTP and no JSON here; the HTTP crate turns
//! these types into the reference API's shapes. Every time-dependent rule
//! reads the injected [`Clock`], never the system time directly.
//! Architecture Invariant: money is integer nano-dollars ([`Nanos`]) from the
//! moment a price is applied; floats appear only at the edges.

pub mod accounts;
pub mod auth;
pub mod billing;
pub mod clock;
pub mod error;
pub mod keys;
pub mod money;
mod password;
mod platform;
pub mod range;
pub mod ratelimit;
pub mod reports;
pub mod types;

pub use accounts::{Account, NewSession, SessionInfo};
pub use auth::{KeyAuth, KeyAuthResult};
pub use billing::{
    Hold, HoldRequest, Settlement, Transaction, TxDirection, TxKind, TxPage, TxQuery, TxTotals,
    Wallet,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{PlatformError, RateKind};
pub use keys::{CreatedApiKey, KeyInfo, KeyPatch, NewKey};
pub use money::Nanos;
pub use platform::Platform;
pub use range::{ReportRange, Tz, parse_range, parse_tz};
pub use ratelimit::{Dim, RateStatus};
pub use reports::{
    GroupBy, KeyUsage, LogPage, LogQuery, LogRow, LogStatus, ModelSpend, UsageGroup, UsageSummary,
};
pub use types::{KeyKind, KeyLimit, RateLimits, Retention, Scope, Scopes, allows};
