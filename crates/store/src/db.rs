//! The two pool kinds behind one [`Pool`], and the helpers that let every
//! query be written once for both.
//!
//! A query is built and run inside [`on_pool!`], which expands the same code
//! once per backend (so each runs with its own native driver and types).
//! Rows are read through [`DbRow`], implemented for both row types.

use sqlx::{PgPool, Row, SqlitePool, postgres::PgRow, sqlite::SqliteRow};

/// A connection pool to one of the supported databases.
#[derive(Debug, Clone)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$p` bound to the native pool of whichever backend
/// `$pool` is. `$body` must evaluate to the same type for both backends.
macro_rules! on_pool {
    ($pool:expr, $p:ident => $body:expr) => {
        match $pool {
            $crate::db::Pool::Sqlite($p) => $body,
            $crate::db::Pool::Postgres($p) => $body,
        }
    };
}
pub(crate) use on_pool;

/// Typed column access shared by both row types.
pub(crate) trait DbRow {
    fn text(&self, col: &str) -> Result<String, sqlx::Error>;
    fn opt_text(&self, col: &str) -> Result<Option<String>, sqlx::Error>;
    fn int(&self, col: &str) -> Result<i64, sqlx::Error>;
    fn opt_int(&self, col: &str) -> Result<Option<i64>, sqlx::Error>;
    fn int32(&self, col: &str) -> Result<i32, sqlx::Error>;
    fn boolean(&self, col: &str) -> Result<bool, sqlx::Error>;
    fn real(&self, col: &str) -> Result<f64, sqlx::Error>;
}

macro_rules! impl_db_row {
    ($($row:ty),*) => {$(
        impl DbRow for $row {
            fn text(&self, col: &str) -> Result<String, sqlx::Error> { self.try_get(col) }
            fn opt_text(&self, col: &str) -> Result<Option<String>, sqlx::Error> { self.try_get(col) }
            fn int(&self, col: &str) -> Result<i64, sqlx::Error> { self.try_get(col) }
            fn opt_int(&self, col: &str) -> Result<Option<i64>, sqlx::Error> { self.try_get(col) }
            fn int32(&self, col: &str) -> Result<i32, sqlx::Error> { self.try_get(col) }
            fn boolean(&self, col: &str) -> Result<bool, sqlx::Error> { self.try_get(col) }
            fn real(&self, col: &str) -> Result<f64, sqlx::Error> { self.try_get(col) }
        }
    )*};
}
impl_db_row!(SqliteRow, PgRow);
