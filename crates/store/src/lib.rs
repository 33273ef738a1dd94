//! Persistence (SQLite by default, PostgreSQL for replicas): keys and the usage ledger.
