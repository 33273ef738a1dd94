//! The binary's account commands on a fresh SQLite data directory (and on a
//! fresh PostgreSQL database when `SWITCHYARD_TEST_POSTGRES_URL` is set):
//! `keys create` (bootstrap administrator, `--account`, `--management`),
//! `keys list`, `admin create --password-stdin`, `credits add`, `keys rate`,
//! `admin rate`, exit codes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{
    io::Write,
    path::PathBuf,
    process::{Command, Output, Stdio},
};

use serde_json::Value;
use switchyard_store::{Store, testing::PgTestDb};

const BIN: &str = env!("CARGO_BIN_EXE_switchyard");

/// Where the commands point: a data directory, plus a database URL for PostgreSQL.
struct Target {
    data: PathBuf,
    database_url: Option<String>,
}

impl Target {
    fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .arg("--data-dir")
            .arg(&self.data)
            .env("RUST_LOG", "debug")
            .env_remove("SWITCHYARD_DATABASE_URL")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(url) = &self.database_url {
            cmd.env("SWITCHYARD_DATABASE_URL", url);
        }
        let mut child = cmd.spawn().unwrap();
        {
            let mut input = child.stdin.take().unwrap();
            if let Some(s) = stdin {
                input.write_all(s.as_bytes()).unwrap();
            }
        }
        child.wait_with_output().unwrap()
    }

    fn ok(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let out = self.run(args, stdin);
        assert!(
            out.status.success(),
            "{args:?}: {:?}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn create_key(&self, extra: &[&str]) -> Value {
        let mut args = vec!["keys", "create", "--name", "t", "--json"];
        args.extend_from_slice(extra);
        serde_json::from_slice(&self.ok(&args, None).stdout).unwrap()
    }

    async fn store(&self) -> Store {
        match &self.database_url {
            Some(url) => Store::open(url).await.unwrap(),
            None => Store::open(self.data.to_str().unwrap()).await.unwrap(),
        }
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn temp_data(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "switchyard-accounts-cli-{tag}-{}-{}",
        std::process::id(),
        switchyard_store::now_ms()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

async fn account_commands(t: Target) {
    // No administrator yet: the key goes to the bootstrap one.
    let first = t.create_key(&[]);
    assert_eq!(first["account"], "admin@localhost");
    assert_eq!(first["kind"], "regular");
    let key = first["key"].as_str().unwrap();
    assert!(key.starts_with(first["prefix"].as_str().unwrap()));

    let out = t.ok(
        &["admin", "create", " Boss@Example.com ", "--password-stdin"],
        Some("boss-password-1\nignored second line\n"),
    );
    assert!(stderr(&out).contains("boss@example.com"));
    // Still the oldest administrator by default.
    assert_eq!(t.create_key(&[])["account"], "admin@localhost");
    let boss = t.create_key(&["--account", "BOSS@example.com"]);
    assert_eq!(boss["account"], "boss@example.com");
    let mgmt = t.create_key(&["--management", "--account", "boss@example.com"]);
    assert_eq!(mgmt["kind"], "management");

    let out = t.run(
        &[
            "keys",
            "create",
            "--name",
            "x",
            "--account",
            "nobody@example.com",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no account with email `nobody@example.com`"));

    let listed: Value =
        serde_json::from_slice(&t.ok(&["keys", "list", "--json"], None).stdout).unwrap();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 4);
    let row = listed
        .iter()
        .find(|k| k["prefix"] == mgmt["prefix"])
        .unwrap();
    assert_eq!(
        (&row["kind"], &row["account"], &row["scopes"]),
        (
            &Value::from("management"),
            &Value::from("boss@example.com"),
            &Value::Null
        )
    );
    let row = listed
        .iter()
        .find(|k| k["prefix"] == first["prefix"])
        .unwrap();
    assert_eq!(row["scopes"], serde_json::json!(["model:chat"]));

    // Operator commands address any account's key by prefix.
    let prefix = boss["prefix"].as_str().unwrap();
    t.ok(&["keys", "disable", prefix], None);
    let store = t.store().await;
    assert!(store.key_by_prefix(prefix).await.unwrap().unwrap().disabled);

    // Credit: a positive amount of dollars, for an existing account.
    t.ok(
        &[
            "credits",
            "add",
            "boss@example.com",
            "12.5",
            "--note",
            "welcome",
        ],
        None,
    );
    t.ok(
        &[
            "credits",
            "add",
            "boss@example.com",
            "0.25",
            "--note",
            "extra",
            "--kind",
            "bonus",
        ],
        None,
    );
    let acct = store
        .account_by_email("boss@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(acct.balance_nanos, 12_750_000_000);
    for (args, code) in [
        (vec!["boss@example.com", "-5", "--note", "n"], 2),
        (vec!["boss@example.com", "0", "--note", "n"], 2),
        (vec!["boss@example.com", "lots", "--note", "n"], 2),
        (vec!["boss@example.com", "5"], 2),
        (
            vec!["boss@example.com", "5", "--note", "n", "--kind", "gift"],
            2,
        ),
        (vec!["nobody@example.com", "5", "--note", "n"], 1),
    ] {
        let mut full = vec!["credits", "add"];
        full.extend(args.iter().copied());
        let out = t.run(&full, None);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).trim().is_empty());
    }
    let acct = store
        .account_by_email("boss@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        acct.balance_nanos, 12_750_000_000,
        "refused grants add nothing"
    );

    // Bad administrator input is a usage error (exit 2), and the password never shows.
    for (email, stdin) in [
        ("short@example.com", "short\n"),
        ("not-an-email", "long-enough-1\n"),
        ("empty@example.com", "\n"),
    ] {
        let out = t.run(&["admin", "create", email, "--password-stdin"], Some(stdin));
        assert_eq!(out.status.code(), Some(2), "{email}: {}", stderr(&out));
    }
    let out = t.run(&["admin", "create", "tty@example.com"], Some("x\n"));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--password-stdin"),
        "{}",
        stderr(&out)
    );
    assert!(
        store
            .account_by_email("short@example.com")
            .await
            .unwrap()
            .is_none()
    );
    let out = t.ok(
        &["admin", "create", "boss@example.com", "--password-stdin"],
        Some("a-new-password-2\n"),
    );
    let all = format!("{}{}", stderr(&out), String::from_utf8_lossy(&out.stdout));
    assert!(!all.contains("a-new-password-2"), "{all}");

    rate_commands(&t, &store, prefix, first["prefix"].as_str().unwrap()).await;
    store.close().await;
}

/// `keys rate` and `admin rate`: `boss` is a key of boss@example.com,
/// `other` one of admin@localhost.
async fn rate_commands(t: &Target, store: &Store, boss: &str, other: &str) {
    let json = |args: &[&str]| -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        serde_json::from_slice(&t.ok(&all, None).stdout).unwrap()
    };
    let dim = |v: &Value, d: &str| {
        (
            v[d]["own"].as_u64(),
            v[d]["effective"].as_u64().unwrap(),
            v[d]["source"].as_str().unwrap().to_owned(),
        )
    };
    let server = |n: u64| (None, n, "server default".to_owned());

    // Without flags: shown, nothing changes (the default config: 3000 / 10M).
    let shown = json(&["keys", "rate", boss]);
    assert_eq!(shown["prefix"], boss);
    assert_eq!(dim(&shown, "rpm"), server(3000));
    assert_eq!(dim(&shown, "tpm"), server(10_000_000));
    let row = store.key_by_prefix(boss).await.unwrap().unwrap();
    let updated_at = row.updated_at;
    assert_eq!((row.rate.rpm, row.rate.tpm), (None, None));

    // A flag left out keeps that dimension.
    let v = json(&["keys", "rate", boss, "--rpm", "5"]);
    assert_eq!(dim(&v, "rpm"), (Some(5), 5, "key".to_owned()));
    assert_eq!(dim(&v, "tpm"), server(10_000_000));
    let v = json(&["keys", "rate", boss, "--tpm", "0"]);
    assert_eq!(dim(&v, "rpm"), (Some(5), 5, "key".to_owned()));
    assert_eq!(dim(&v, "tpm"), (Some(0), 0, "key".to_owned()));
    let row = store.key_by_prefix(boss).await.unwrap().unwrap();
    assert_eq!((row.rate.rpm, row.rate.tpm), (Some(5), Some(0)));
    assert!(row.updated_at >= updated_at);
    // Only that key changed.
    let row = store.key_by_prefix(other).await.unwrap().unwrap();
    assert_eq!((row.rate.rpm, row.rate.tpm), (None, None));

    // The account's default: what a key without its own value follows.
    let v = json(&[
        "admin",
        "rate",
        "Boss@Example.com",
        "--rpm",
        "40",
        "--tpm",
        "900",
    ]);
    assert_eq!(v["account"], "boss@example.com");
    assert_eq!(dim(&v, "rpm"), (Some(40), 40, "account default".to_owned()));
    let acct = store
        .account_by_email("boss@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((acct.rpm_limit, acct.tpm_limit), (Some(40), Some(900)));
    let v = json(&["keys", "rate", boss, "--rpm", "inherit"]);
    assert_eq!(dim(&v, "rpm"), (None, 40, "account default".to_owned()));
    assert_eq!(dim(&v, "tpm"), (Some(0), 0, "key".to_owned()));
    // Text output names the source and says "unlimited" for 0.
    let out = t.ok(&["keys", "rate", boss], None);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.contains("requests/min: 40 (account default)"),
        "{text}"
    );
    assert!(text.contains("tokens/min:   unlimited (key)"), "{text}");
    let out = t.ok(
        &["admin", "rate", "boss@example.com", "--tpm", "inherit"],
        None,
    );
    assert!(stderr(&out).contains("saved"), "{}", stderr(&out));
    let acct = store
        .account_by_email("boss@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((acct.rpm_limit, acct.tpm_limit), (Some(40), None));

    // Usage errors exit 2, unknown keys and accounts 1; nothing changes.
    for (args, code) in [
        (vec!["keys", "rate", boss, "--rpm", "lots"], 2),
        (vec!["keys", "rate", boss, "--rpm", "-1"], 2),
        (vec!["keys", "rate", boss, "--tpm", "1.5"], 2),
        (vec!["keys", "rate", boss, "--rpm", "1000000001"], 2),
        (vec!["keys", "rate"], 2),
        (vec!["keys", "rate", "sy_nope0", "--rpm", "1"], 1),
        (vec!["admin", "rate", "boss@example.com", "--rpm", "x"], 2),
        (vec!["admin", "rate", "nobody@example.com", "--rpm", "1"], 1),
    ] {
        let out = t.run(&args, None);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).trim().is_empty());
    }
    let row = store.key_by_prefix(boss).await.unwrap().unwrap();
    assert_eq!((row.rate.rpm, row.rate.tpm), (None, Some(0)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_commands_on_sqlite() {
    let data = temp_data("sqlite");
    account_commands(Target {
        data: data.clone(),
        database_url: None,
    })
    .await;
    let _ = std::fs::remove_dir_all(&data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_commands_on_postgres() {
    let Some(db) = PgTestDb::create().await.unwrap() else {
        eprintln!("skipping on PostgreSQL: SWITCHYARD_TEST_POSTGRES_URL is not set");
        return;
    };
    let data = temp_data("postgres");
    account_commands(Target {
        data: data.clone(),
        database_url: Some(db.url().to_owned()),
    })
    .await;
    db.drop_db().await.unwrap();
    let _ = std::fs::remove_dir_all(&data);
}
