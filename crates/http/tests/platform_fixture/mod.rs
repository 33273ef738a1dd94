//! Fixture for the platform API tests: the app on a real store (in-memory
//! SQLite, a temp-file SQLite or a throwaway PostgreSQL database), the real
//! OpenAI-compatible provider against the testkit mock upstream, a manual
//! clock, accounts with balances and keys of either kind.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

use axum::{
    body::Body,
    http::{HeaderMap, Method, Request, StatusCode},
};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use switchyard_config::PlatformConfig;
use switchyard_core::{Backend, Capabilities, Prices};
use switchyard_http::{AppState, HttpSettings, app};
use switchyard_platform::{
    CreatedApiKey, KeyKind, KeyLimit, ManualClock, Nanos, NewKey, Platform, Scopes, TxKind,
};
use switchyard_provider::{OpenAiProvider, ProviderSettings, RetryPolicy, Timeouts};
use switchyard_router::{CatalogueModel, Route, Router};
use switchyard_store::{NewAccountRow, Store, testing::PgTestDb};
use switchyard_testkit::MockUpstream;
use tower::ServiceExt;

/// 0.001 USD per completion token, nothing for the prompt: a call whose
/// prompt has `w` words and `max_tokens = w` costs exactly `w` × 0.001 USD
/// (the mock answers as many words as the prompt has).
pub const EXACT: &str = "test/exact";
/// Same prices; the upstream answers 500.
pub const FAIL: &str = "test/fail";
/// Same prices; the upstream streams a word every 40 ms.
pub const SLOW: &str = "test/slow";
pub const USD_PER_TOKEN: f64 = 0.001;
/// 2026-03-10T12:00:00Z, a Tuesday.
pub const T0: i64 = 1_773_144_000_000;

pub const PRICES: Prices = Prices {
    prompt: 0.0,
    cached_prompt: None,
    completion: USD_PER_TOKEN * 1_000_000.0,
};

pub fn usd(x: f64) -> Nanos {
    Nanos::from_usd(x).unwrap()
}

fn model(id: &str, upstream: &str) -> CatalogueModel {
    CatalogueModel {
        id: id.into(),
        aliases: Vec::new(),
        primary: Route {
            provider: "mock".into(),
            upstream_model: upstream.into(),
        },
        fallbacks: Vec::new(),
        context_length: Some(8192),
        max_output: Some(4096),
        prices: PRICES,
        capabilities: Capabilities::default(),
        name: id.into(),
        developer: "mock".into(),
        description: String::new(),
    }
}

pub fn router(mock: &MockUpstream) -> Arc<Router> {
    let mut settings = ProviderSettings::new("mock", mock.base_url());
    settings.api_key = Some("upstream-key".into());
    settings.retry = RetryPolicy {
        max_retries: 0,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(1),
    };
    settings.timeouts = Timeouts {
        connect: Duration::from_secs(5),
        first_byte: Duration::from_secs(20),
        idle: Duration::from_secs(20),
    };
    let provider: Arc<dyn Backend> = Arc::new(OpenAiProvider::new(settings).unwrap());
    let mut backends = HashMap::new();
    backends.insert("mock".to_string(), provider);
    Arc::new(
        Router::new(
            vec![
                model(EXACT, "grok-beta"),
                model(FAIL, "fail-500"),
                model(SLOW, "slow-stream-40"),
            ],
            backends,
        )
        .unwrap(),
    )
}

/// A temporary SQLite file, removed on drop.
pub struct TempDb {
    pub dir: PathBuf,
}

impl TempDb {
    pub fn new() -> TempDb {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "sy-http-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDb { dir }
    }

    pub fn path(&self) -> String {
        self.dir.join("switchyard.db").display().to_string()
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One server (replica): its state, store and clock.
pub struct World {
    pub state: AppState,
    pub store: Store,
    pub clock: ManualClock,
}

/// Platform policy for tests: administrators pay like everybody.
pub fn config() -> PlatformConfig {
    PlatformConfig {
        admins_bypass_balance: false,
        ..PlatformConfig::default()
    }
}

impl World {
    /// A replica on `store` (several may share one database).
    pub fn on(store: Store, router: Arc<Router>, clock: ManualClock, cfg: PlatformConfig) -> World {
        let platform = Platform::new(store.clone(), cfg, Arc::new(clock.clone()));
        let state = AppState::with_platform(router, platform, HttpSettings::default());
        World {
            state,
            store,
            clock,
        }
    }

    /// In-memory SQLite, clock at [`T0`].
    pub async fn memory(mock: &MockUpstream) -> World {
        let store = Store::open_in_memory().await.unwrap();
        World::on(store, router(mock), ManualClock::new(T0), config())
    }

    pub fn platform(&self) -> &Platform {
        self.state.platform()
    }

    /// A non-administrator account holding `balance_usd`.
    pub async fn account(&self, email: &str, balance_usd: f64) -> String {
        let id = format!("acct_{}", email.replace(['@', '.'], "_"));
        self.store
            .insert_account(
                &NewAccountRow {
                    id: id.clone(),
                    email: email.into(),
                    password_hash: None,
                    is_admin: false,
                    created_at: self.clock_now(),
                },
                None,
            )
            .await
            .unwrap();
        if balance_usd > 0.0 {
            self.platform()
                .grant(&id, usd(balance_usd), TxKind::Payment, Some("test"), None)
                .await
                .unwrap();
        }
        id
    }

    pub fn clock_now(&self) -> i64 {
        self.platform().now_ms()
    }

    pub async fn key_with(
        &self,
        account: &str,
        kind: KeyKind,
        scopes: Scopes,
        limit: Option<KeyLimit>,
    ) -> CreatedApiKey {
        self.platform()
            .create_key(
                account,
                NewKey {
                    name: Some(format!("{} key", kind.as_str())),
                    kind,
                    scopes,
                    limit,
                },
            )
            .await
            .unwrap()
    }

    pub async fn regular(&self, account: &str) -> CreatedApiKey {
        self.key_with(account, KeyKind::Regular, None, None).await
    }

    pub async fn management(&self, account: &str) -> CreatedApiKey {
        self.key_with(account, KeyKind::Management, None, None)
            .await
    }

    /// Any request; the body is JSON when given.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut b = Request::builder().method(method).uri(path);
        if let Some(k) = key {
            b = b.header("authorization", format!("Bearer {k}"));
        }
        for (n, v) in headers {
            b = b.header(*n, *v);
        }
        let req = match body {
            Some(v) => b
                .header("content-type", "application/json")
                .body(Body::from(v.to_string())),
            None => b.body(Body::empty()),
        }
        .unwrap();
        let resp = app(self.state.clone()).oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        Reply {
            status,
            headers,
            json: serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
        }
    }

    pub async fn get(&self, path: &str, key: &str) -> Reply {
        self.send(Method::GET, path, Some(key), None, &[]).await
    }

    /// A non-streaming chat call: a prompt of `words` words, `max_tokens = words`.
    pub async fn chat(&self, key: &str, model: &str, words: usize) -> Reply {
        self.chat_with(key, model, words, &[]).await
    }

    pub async fn chat_with(
        &self,
        key: &str,
        model: &str,
        words: usize,
        headers: &[(&str, &str)],
    ) -> Reply {
        self.send(
            Method::POST,
            "/v1/chat/completions",
            Some(key),
            Some(&chat_body(model, words)),
            headers,
        )
        .await
    }

    /// Waits until every settlement handed off so far is written.
    pub async fn settle(&self) {
        self.state.drain().await;
    }

    pub async fn wallet(&self, account: &str) -> (Nanos, Nanos) {
        self.settle().await;
        let w = self.platform().wallet(account).await.unwrap();
        (w.balance, w.held)
    }
}

pub fn chat_body(model: &str, words: usize) -> Value {
    let prompt: Vec<String> = (0..words).map(|i| format!("w{i}")).collect();
    json!({
        "model": model,
        "messages": [{"role": "user", "content": prompt.join(" ")}],
        "max_tokens": words,
    })
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub json: Value,
    pub text: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts an OpenAI-shaped error with this status and code.
    pub fn error(&self, status: u16, code: &str) -> &Self {
        assert_eq!(self.status.as_u16(), status, "{}", self.text);
        let e = &self.json["error"];
        assert!(
            e["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{}",
            self.text
        );
        assert!(
            e.get("type").is_some() && e.get("param").is_some(),
            "{}",
            self.text
        );
        assert_eq!(e["code"], code, "{}", self.text);
        self
    }

    pub fn ok(&self) -> &Value {
        assert!(self.status.is_success(), "{} {}", self.status, self.text);
        &self.json
    }
}

/// A throwaway PostgreSQL database when `SWITCHYARD_TEST_POSTGRES_URL` is set.
pub async fn postgres() -> Option<PgTestDb> {
    PgTestDb::create().await.unwrap()
}

/// Asserts the JSON type of `v[field]` (`"string"`, `"number"`, `"integer"`,
/// `"boolean"`, `"array"`, `"object"`, `"null"`; `"a|b"` for either).
pub fn assert_type(v: &Value, field: &str, want: &str) {
    let got = &v[field];
    assert!(
        v.get(field).is_some(),
        "missing required field `{field}` in {v}"
    );
    let ok = want.split('|').any(|w| match w {
        "string" => got.is_string(),
        "number" => got.is_number(),
        "integer" => got.is_i64() || got.is_u64(),
        "boolean" => got.is_boolean(),
        "array" => got.is_array(),
        "object" => got.is_object(),
        "null" => got.is_null(),
        other => panic!("unknown type {other}"),
    });
    assert!(ok, "`{field}` should be {want}, got {got} in {v}");
}

/// `2026-02-18T06:59:10.031Z`
pub fn assert_timestamp(v: &Value, field: &str) {
    assert_type(v, field, "string");
    let s = v[field].as_str().unwrap();
    let b = s.as_bytes();
    assert!(
        s.len() == 24
            && b[4] == b'-'
            && b[10] == b'T'
            && b[19] == b'.'
            && s.ends_with('Z')
            && time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .is_ok(),
        "`{field}` = {s} is not RFC 3339 UTC with milliseconds"
    );
}

/// Where a money test's database lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    /// A temporary SQLite file (one replica).
    SqliteFile,
    /// A throwaway PostgreSQL database shared by this many replicas.
    Postgres(usize),
}

/// One or more replicas on one database, sharing a clock and the mock upstream.
pub struct Cluster {
    pub replicas: Vec<World>,
    pub clock: ManualClock,
    file: Option<TempDb>,
    pg: Option<PgTestDb>,
}

impl Cluster {
    /// `None` for PostgreSQL when `SWITCHYARD_TEST_POSTGRES_URL` is unset.
    pub async fn start(db: Db, mock: &MockUpstream, clock_ms: i64) -> Option<Cluster> {
        let clock = ManualClock::new(clock_ms);
        let (stores, file, pg) = match db {
            Db::SqliteFile => {
                let file = TempDb::new();
                let store = Store::open(&file.path()).await.unwrap();
                (vec![store], Some(file), None)
            }
            Db::Postgres(n) => {
                let pg = postgres().await?;
                let mut stores = Vec::new();
                for _ in 0..n {
                    stores.push(Store::open(pg.url()).await.unwrap());
                }
                (stores, None, Some(pg))
            }
        };
        let router = router(mock);
        let replicas = stores
            .into_iter()
            .map(|s| World::on(s, router.clone(), clock.clone(), config()))
            .collect();
        Some(Cluster {
            replicas,
            clock,
            file,
            pg,
        })
    }

    pub fn first(&self) -> &World {
        &self.replicas[0]
    }

    /// Replica `i` modulo their number.
    pub fn pick(&self, i: usize) -> &World {
        &self.replicas[i % self.replicas.len()]
    }

    pub async fn settle(&self) {
        for w in &self.replicas {
            w.settle().await;
        }
    }

    /// Closes the pools and drops a PostgreSQL database.
    pub async fn close(self) {
        for w in &self.replicas {
            w.state.drain().await;
            w.store.close().await;
        }
        if let Some(pg) = self.pg {
            pg.drop_db().await.unwrap();
        }
        drop(self.file);
    }
}
