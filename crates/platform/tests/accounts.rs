#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Accounts: sign-up modes and invites, login and its throttling, sessions
//! and CSRF tokens, administrators and the bootstrap — on SQLite and PostgreSQL.

mod accounts_common;

use std::time::Duration;

use accounts_common::*;
use switchyard_config::{PlatformConfig, SignupMode};
use switchyard_platform::{PlatformError, RateLimits};

on_both!(
    open_signup_makes_a_plain_account_that_can_log_in,
    closed_signup_refuses_until_an_administrator_opens_it,
    invite_signup_needs_an_unused_unexpired_code,
    duplicate_email_is_refused_whatever_its_case,
    bad_email_or_password_names_the_field,
    wrong_password_unknown_email_and_passwordless_accounts_are_refused_alike,
    repeated_failures_for_an_email_throttle_even_the_right_password,
    repeated_failures_from_one_client_throttle_other_emails,
    a_successful_login_clears_the_email_failures,
    sessions_carry_a_stable_csrf_token_and_expire,
    logout_ends_only_that_session,
    disabled_accounts_cannot_log_in_and_lose_their_sessions,
    bootstrap_admin_is_created_once_and_prefers_an_existing_admin,
    create_admin_creates_or_promotes_and_sets_the_password,
    admin_flags_rate_defaults_and_listing,
);

async fn open_signup_makes_a_plain_account_that_can_log_in(env: Env) {
    let p = &env.platform;
    assert_eq!(p.signup_mode().await.unwrap(), SignupMode::Open);
    let a = p
        .signup("  Ann@Example.COM ", PASSWORD, Some("ignored in open mode"))
        .await
        .unwrap();
    assert_eq!(a.email, "ann@example.com");
    assert!(a.id.starts_with("acct_"), "{}", a.id);
    assert!(!a.is_admin && !a.disabled);
    assert_eq!(a.rate, RateLimits::default());
    assert_eq!(a.created_at, T0);
    assert_eq!(p.account(&a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(
        p.account_by_email("ANN@example.com").await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(p.account_by_email("nobody@x").await.unwrap(), None);
    assert_eq!(p.account_by_email("not an email").await.unwrap(), None);

    // The stored password is an argon2id hash, never the password.
    let row = p.store().account_by_id(&a.id).await.unwrap().unwrap();
    let phc = row.password_hash.clone().unwrap();
    assert!(phc.starts_with("$argon2id$"), "{phc}");
    assert!(!phc.contains(PASSWORD));
    assert!(!format!("{row:?}").contains(&phc));

    let s = p
        .login("ann@example.com", PASSWORD, "10.0.0.1")
        .await
        .unwrap();
    assert_eq!(s.account, a);
    assert_eq!(s.token.len(), 43);
    assert!(!format!("{s:?}").contains(&s.token));
    let info = p.session(&s.token).await.unwrap().unwrap();
    assert_eq!(info.account, a);
}

async fn closed_signup_refuses_until_an_administrator_opens_it(env: Env) {
    let p = env.with_config(PlatformConfig {
        signup: SignupMode::Closed,
        ..test_config()
    });
    assert_eq!(p.signup_mode().await.unwrap(), SignupMode::Closed);
    assert!(matches!(
        p.signup("a@b.io", PASSWORD, None).await,
        Err(PlatformError::SignupClosed)
    ));
    assert!(p.account_by_email("a@b.io").await.unwrap().is_none());
    // The stored setting wins over the config (for every replica).
    p.set_signup_mode(SignupMode::Open).await.unwrap();
    assert_eq!(p.signup_mode().await.unwrap(), SignupMode::Open);
    assert_eq!(env.platform.signup_mode().await.unwrap(), SignupMode::Open);
    p.signup("a@b.io", PASSWORD, None).await.unwrap();
    p.set_signup_mode(SignupMode::Closed).await.unwrap();
    assert!(matches!(
        p.signup("c@b.io", PASSWORD, None).await,
        Err(PlatformError::SignupClosed)
    ));
}

async fn invite_signup_needs_an_unused_unexpired_code(env: Env) {
    let p = &env.platform;
    let admin = p.create_admin("root@example.com", PASSWORD).await.unwrap();
    let user = signup(p, "user@example.com").await;
    p.set_signup_mode(SignupMode::Invite).await.unwrap();

    for invite in [None, Some(""), Some("made-up-code")] {
        assert!(
            matches!(
                p.signup("new@example.com", PASSWORD, invite).await,
                Err(PlatformError::InviteRequired)
            ),
            "{invite:?}"
        );
    }
    // Only administrators make invites.
    assert!(matches!(
        p.create_invite(&user.id).await,
        Err(PlatformError::Forbidden {
            code: "admin_required",
            ..
        })
    ));
    assert!(matches!(
        p.create_invite("acct_missing").await,
        Err(PlatformError::Forbidden { .. })
    ));
    let code = p.create_invite(&admin.id).await.unwrap();
    assert_ne!(code, p.create_invite(&admin.id).await.unwrap());

    // A failed sign-up (email taken) leaves the invite unused.
    assert!(matches!(
        p.signup("user@example.com", PASSWORD, Some(&code)).await,
        Err(PlatformError::EmailTaken)
    ));
    let new = p
        .signup("new@example.com", PASSWORD, Some(&code))
        .await
        .unwrap();
    assert_eq!(new.email, "new@example.com");
    // Used once only.
    assert!(matches!(
        p.signup("other@example.com", PASSWORD, Some(&code)).await,
        Err(PlatformError::InviteRequired)
    ));

    // Expired after 7 days.
    let late = p.create_invite(&admin.id).await.unwrap();
    env.clock.advance_ms(7 * 24 * 3600 * 1000);
    assert!(matches!(
        p.signup("late@example.com", PASSWORD, Some(&late)).await,
        Err(PlatformError::InviteRequired)
    ));
    let fresh = p.create_invite(&admin.id).await.unwrap();
    p.signup("late@example.com", PASSWORD, Some(&fresh))
        .await
        .unwrap();
}

async fn duplicate_email_is_refused_whatever_its_case(env: Env) {
    let p = &env.platform;
    signup(p, "dup@example.com").await;
    for email in ["dup@example.com", " DUP@Example.com"] {
        assert!(matches!(
            p.signup(email, "another password", None).await,
            Err(PlatformError::EmailTaken)
        ));
    }
    assert_eq!(p.accounts().await.unwrap().len(), 1);
    // Racing sign-ups of one new email: exactly one wins (the unique index decides).
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let p = p.clone();
        tasks.push(tokio::spawn(async move {
            p.signup("race@example.com", PASSWORD, None).await
        }));
    }
    let mut created = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => created += 1,
            Err(PlatformError::EmailTaken) => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(created, 1);
    assert_eq!(p.accounts().await.unwrap().len(), 2);
}

async fn bad_email_or_password_names_the_field(env: Env) {
    let p = &env.platform;
    for (email, password, param) in [
        ("no-at-sign", PASSWORD, "email"),
        ("a@", PASSWORD, "email"),
        ("", PASSWORD, "email"),
        ("ok@example.com", "short", "password"),
        ("ok@example.com", "", "password"),
    ] {
        match p.signup(email, password, None).await {
            Err(PlatformError::InvalidInput { param: got, .. }) => assert_eq!(got, param),
            other => panic!("{email:?}/{password:?}: {other:?}"),
        }
    }
    let long = "x".repeat(1025);
    assert!(matches!(
        p.create_admin("ok@example.com", &long).await,
        Err(PlatformError::InvalidInput { .. })
    ));
    assert!(p.accounts().await.unwrap().is_empty());
}

async fn wrong_password_unknown_email_and_passwordless_accounts_are_refused_alike(env: Env) {
    let p = &env.platform;
    signup(p, "ann@example.com").await;
    let boot = p.bootstrap_admin().await.unwrap();
    for (email, password) in [
        ("ann@example.com", "wrong password"),
        ("nobody@example.com", PASSWORD),
        (boot.email.as_str(), ""),
        (boot.email.as_str(), PASSWORD),
    ] {
        match p.login(email, password, "").await {
            Err(e @ PlatformError::InvalidCredentials) => {
                assert_eq!(e.to_string(), "Incorrect email or password.");
            }
            other => panic!("{email}: {other:?}"),
        }
    }
}

async fn repeated_failures_for_an_email_throttle_even_the_right_password(env: Env) {
    let p = &env.platform;
    signup(p, "ann@example.com").await;
    // 3 failures within the 60 s window, 10 s apart, from different clients.
    for i in 0..3 {
        let client = format!("10.0.0.{i}");
        assert!(matches!(
            p.login("ann@example.com", "wrong password", &client).await,
            Err(PlatformError::InvalidCredentials)
        ));
        env.clock.advance_ms(10_000);
    }
    // Now (T0 + 30 s) even the right password waits until the first failure ages out.
    match p.login("Ann@example.com", PASSWORD, "10.9.9.9").await {
        Err(PlatformError::LoginThrottled { retry_after_secs }) => {
            assert_eq!(retry_after_secs, 30)
        }
        other => panic!("{other:?}"),
    }
    env.clock.advance_ms(29_000);
    match p.login("ann@example.com", PASSWORD, "10.9.9.9").await {
        Err(PlatformError::LoginThrottled { retry_after_secs }) => {
            assert_eq!(retry_after_secs, 1)
        }
        other => panic!("{other:?}"),
    }
    // Throttled attempts are not failures: once the oldest ages out, it works.
    env.clock.advance_ms(1_000);
    p.login("ann@example.com", PASSWORD, "10.9.9.9")
        .await
        .unwrap();
}

async fn repeated_failures_from_one_client_throttle_other_emails(env: Env) {
    let p = &env.platform;
    signup(p, "ann@example.com").await;
    for i in 0..3 {
        let _ = p
            .login(&format!("guess{i}@example.com"), "x", "203.0.113.7")
            .await;
    }
    assert!(matches!(
        p.login("ann@example.com", PASSWORD, "203.0.113.7").await,
        Err(PlatformError::LoginThrottled {
            retry_after_secs: 60
        })
    ));
    // The same account from another address is fine.
    p.login("ann@example.com", PASSWORD, "198.51.100.1")
        .await
        .unwrap();
    env.clock.advance_ms(60_000);
    p.login("ann@example.com", PASSWORD, "203.0.113.7")
        .await
        .unwrap();
}

async fn a_successful_login_clears_the_email_failures(env: Env) {
    let p = &env.platform;
    signup(p, "ann@example.com").await;
    for _ in 0..2 {
        let _ = p.login("ann@example.com", "wrong", "").await;
    }
    p.login("ann@example.com", PASSWORD, "").await.unwrap();
    // Two more failures: 2 < 3, because the earlier two were forgotten.
    for _ in 0..2 {
        let _ = p.login("ann@example.com", "wrong", "").await;
    }
    p.login("ann@example.com", PASSWORD, "").await.unwrap();
    // Three in a row throttle.
    for _ in 0..3 {
        let _ = p.login("ann@example.com", "wrong", "").await;
    }
    assert!(matches!(
        p.login("ann@example.com", PASSWORD, "").await,
        Err(PlatformError::LoginThrottled { .. })
    ));
}

async fn sessions_carry_a_stable_csrf_token_and_expire(env: Env) {
    let p = env.with_config(PlatformConfig {
        session_ttl: Duration::from_secs(3600),
        ..test_config()
    });
    let a = signup(&p, "ann@example.com").await;
    let s1 = p.login("ann@example.com", PASSWORD, "").await.unwrap();
    let s2 = p.login("ann@example.com", PASSWORD, "").await.unwrap();
    assert_ne!(s1.token, s2.token);
    assert_ne!(s1.csrf_token, s2.csrf_token);
    assert_ne!(s1.token, s1.csrf_token);

    // Only the token's hash is stored.
    let stored = p.store().session_by_hash(&s1.token, T0).await.unwrap();
    assert!(stored.is_none(), "the raw token must not be a stored key");

    for _ in 0..2 {
        let info = p.session(&s1.token).await.unwrap().unwrap();
        assert_eq!(info.account.id, a.id);
        assert_eq!(info.csrf_token, s1.csrf_token);
        assert!(info.csrf_matches(&s1.csrf_token));
        assert!(!info.csrf_matches(&s2.csrf_token));
    }
    for bad in [
        "",
        "short",
        &"A".repeat(43),
        &format!("{}!", &s1.token[..42]),
    ] {
        assert!(p.session(bad).await.unwrap().is_none(), "{bad}");
    }
    env.clock.advance_ms(3_599_999);
    assert!(p.session(&s1.token).await.unwrap().is_some());
    env.clock.advance_ms(1);
    assert!(p.session(&s1.token).await.unwrap().is_none());
    assert!(p.session(&s2.token).await.unwrap().is_none());
}

async fn logout_ends_only_that_session(env: Env) {
    let p = &env.platform;
    signup(p, "ann@example.com").await;
    let s1 = p.login("ann@example.com", PASSWORD, "").await.unwrap();
    let s2 = p.login("ann@example.com", PASSWORD, "").await.unwrap();
    p.logout(&s1.token).await.unwrap();
    assert!(p.session(&s1.token).await.unwrap().is_none());
    assert!(p.session(&s2.token).await.unwrap().is_some());
    // Unknown or malformed tokens are ignored.
    p.logout(&s1.token).await.unwrap();
    p.logout("garbage").await.unwrap();
}

async fn disabled_accounts_cannot_log_in_and_lose_their_sessions(env: Env) {
    let p = &env.platform;
    let a = signup(p, "ann@example.com").await;
    let s = p.login("ann@example.com", PASSWORD, "").await.unwrap();
    p.set_account_disabled(&a.id, true).await.unwrap();
    assert!(p.account(&a.id).await.unwrap().unwrap().disabled);
    assert!(p.session(&s.token).await.unwrap().is_none());
    assert!(matches!(
        p.login("ann@example.com", PASSWORD, "").await,
        Err(PlatformError::AccountDisabled)
    ));
    // A wrong password still says only "incorrect" (and counts as a failure).
    assert!(matches!(
        p.login("ann@example.com", "wrong password", "").await,
        Err(PlatformError::InvalidCredentials)
    ));
    p.set_account_disabled(&a.id, false).await.unwrap();
    p.login("ann@example.com", PASSWORD, "").await.unwrap();
    assert!(matches!(
        p.set_account_disabled("acct_missing", true).await,
        Err(PlatformError::NotFound(_))
    ));
}

async fn bootstrap_admin_is_created_once_and_prefers_an_existing_admin(env: Env) {
    let p = &env.platform;
    let user = signup(p, "user@example.com").await;
    let boot = p.bootstrap_admin().await.unwrap();
    assert_eq!(boot.id, "acct_bootstrap");
    assert_eq!(boot.email, "admin@localhost");
    assert!(boot.is_admin);
    assert_eq!(p.bootstrap_admin().await.unwrap(), boot);
    // Concurrent callers agree on one administrator.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let p = p.clone();
        tasks.push(tokio::spawn(async move { p.bootstrap_admin().await }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap().id, boot.id);
    }
    let admins: Vec<_> = p
        .accounts()
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.is_admin)
        .collect();
    assert_eq!(admins.len(), 1);
    assert!(!p.account(&user.id).await.unwrap().unwrap().is_admin);

    // The oldest *enabled* administrator is the one: with the bootstrap
    // administrator disabled, a newer one is used (nothing is re-created).
    let root = p.create_admin("root@example.com", PASSWORD).await.unwrap();
    p.set_account_disabled(&boot.id, true).await.unwrap();
    assert_eq!(p.bootstrap_admin().await.unwrap().id, root.id);
}

async fn create_admin_creates_or_promotes_and_sets_the_password(env: Env) {
    let p = &env.platform;
    let user = signup(p, "ann@example.com").await;
    let promoted = p
        .create_admin("ANN@example.com", "a new password")
        .await
        .unwrap();
    assert_eq!(promoted.id, user.id);
    assert!(promoted.is_admin);
    assert!(matches!(
        p.login("ann@example.com", PASSWORD, "").await,
        Err(PlatformError::InvalidCredentials)
    ));
    let s = p
        .login("ann@example.com", "a new password", "")
        .await
        .unwrap();
    assert!(s.account.is_admin);

    // The bootstrap administrator gets a password this way.
    let boot = p.bootstrap_admin().await.unwrap();
    assert_eq!(boot.id, user.id, "an administrator exists already");
    let fresh = p.create_admin("admin@localhost", PASSWORD).await.unwrap();
    assert!(fresh.is_admin);
    assert_ne!(fresh.id, user.id);
    p.login("admin@localhost", PASSWORD, "").await.unwrap();
}

async fn admin_flags_rate_defaults_and_listing(env: Env) {
    let p = &env.platform;
    let a = signup(p, "a@example.com").await;
    env.clock.advance_ms(1);
    let b = signup(p, "b@example.com").await;
    let ids: Vec<_> = p
        .accounts()
        .await
        .unwrap()
        .into_iter()
        .map(|x| x.id)
        .collect();
    assert_eq!(ids, vec![a.id.clone(), b.id.clone()]);

    p.set_admin(&b.id, true).await.unwrap();
    assert!(p.account(&b.id).await.unwrap().unwrap().is_admin);
    p.set_admin(&b.id, false).await.unwrap();
    assert!(!p.account(&b.id).await.unwrap().unwrap().is_admin);
    assert!(matches!(
        p.set_admin("acct_missing", true).await,
        Err(PlatformError::NotFound(_))
    ));

    let rate = RateLimits {
        rpm: Some(60),
        tpm: None,
    };
    p.set_account_rate(&a.id, rate).await.unwrap();
    assert_eq!(p.account(&a.id).await.unwrap().unwrap().rate, rate);
    assert_eq!(
        p.account(&b.id).await.unwrap().unwrap().rate,
        RateLimits::default()
    );
}
