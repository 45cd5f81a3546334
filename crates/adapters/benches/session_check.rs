//! What binding access tokens to their session costs each authenticated request (ADR
//! 0009): the session-store read `SessionStore::status` that follows the token's
//! signature check, on each session store, beside the signature check alone. In-memory
//! and SQLite (a temporary file) always; PostgreSQL when `TEST_DATABASE_URL` names a
//! server where databases may be created; Redis when `TEST_REDIS_URL` is set (under a
//! key prefix of its own, deleted afterwards).
//!
//! `cargo bench -p conduit-adapters --features testing --bench session_check`

#![allow(missing_docs)]

use std::{hint::black_box, sync::Arc, time::Duration};

use conduit_adapters::{
    crypto::{JwtSettings, JwtTokens, RandomRefreshTokens},
    memory::MemoryStore,
    memory::sessions::MemorySessions,
    redis::RedisSessions,
    sql::testing::{TEST_DATABASE_URL, TestDb},
};
use conduit_domain::{
    ports::{RefreshTokens, SessionStore, TokenService, UserStore},
    session::NewSession,
    time::Timestamp,
    user::{Email, NewUser, PasswordHash, Username},
};
use criterion::{Criterion, criterion_group, criterion_main};
use time::OffsetDateTime;

/// A user and a live session of theirs in `sessions` (users in `users`, which SQL
/// stores refer to by foreign key); returns the session's token.
async fn signed_in(
    tokens: &JwtTokens,
    users: &dyn UserStore,
    sessions: &dyn SessionStore,
) -> String {
    let now = Timestamp::new(OffsetDateTime::now_utc());
    let user = users
        .create(NewUser {
            username: Username::parse("benchuser").expect("username"),
            email: Email::parse("bench@example.com").expect("email"),
            password_hash: PasswordHash::new("$argon2id$not-a-real-hash".into()),
            created_at: now,
        })
        .await
        .expect("user");
    let ends = Timestamp::new(now.as_offset_date_time() + time::Duration::days(60));
    let id = RandomRefreshTokens.new_session_id();
    sessions
        .start(NewSession {
            id: id.clone(),
            user_id: user.id,
            user_agent: None,
            created_at: now,
            expires_at: ends,
            first_token: RandomRefreshTokens.generate().1,
        })
        .await
        .expect("session");
    tokens.issue(user.id, &id, ends).expect("token")
}

/// The token check alone, and followed by the session read, on `sessions`.
fn bench_store(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    name: &str,
    users: &dyn UserStore,
    sessions: Arc<dyn SessionStore>,
) {
    let tokens = JwtTokens::new(JwtSettings::single_key(
        b"a benchmark signing key, 32 bytes or more".to_vec(),
        "conduit",
        "conduit",
        15 * 60,
    ))
    .expect("valid settings");
    let token = rt.block_on(signed_in(&tokens, users, sessions.as_ref()));
    let claims = tokens.verify(&token).expect("verifies");
    assert_eq!(
        rt.block_on(sessions.status(&claims.session))
            .expect("status")
            .map(|s| s.user_id),
        Some(claims.user)
    );
    let mut group = c.benchmark_group(format!("session_check_{name}"));
    group.bench_function("verify_token", |b| {
        b.iter(|| tokens.verify(black_box(&token)))
    });
    group.bench_function("verify_token_and_read_session", |b| {
        b.to_async(rt).iter(|| async {
            let claims = tokens.verify(black_box(&token)).expect("verifies");
            sessions.status(&claims.session).await.expect("status")
        })
    });
    group.finish();
}

fn session_check(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    bench_store(
        c,
        &rt,
        "memory",
        &MemoryStore::new(),
        Arc::new(MemorySessions::new()),
    );
    let mut databases = vec![("sqlite", rt.block_on(TestDb::sqlite()))];
    match std::env::var(TEST_DATABASE_URL) {
        Ok(url) if !url.trim().is_empty() => {
            databases.push(("postgres", rt.block_on(TestDb::postgres(url.trim()))));
        }
        _ => eprintln!("{TEST_DATABASE_URL} is unset: PostgreSQL is not measured"),
    }
    for (name, db) in databases {
        let store = db.store();
        bench_store(c, &rt, name, &store, Arc::new(store.clone()));
        rt.block_on(db.cleanup());
    }
    match std::env::var("TEST_REDIS_URL") {
        Ok(url) if !url.trim().is_empty() => {
            let prefix = format!("conduit-bench-{}:", uuid::Uuid::new_v4().simple());
            let redis = rt
                .block_on(RedisSessions::connect(url.trim(), &prefix))
                .expect("Redis");
            bench_store(
                c,
                &rt,
                "redis",
                &MemoryStore::new(),
                Arc::new(redis.clone()),
            );
            rt.block_on(redis.clear()).expect("keys deleted");
        }
        _ => eprintln!("TEST_REDIS_URL is unset: Redis is not measured"),
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(4));
    targets = session_check
}
criterion_main!(benches);
