//! Access tokens: every authenticated request verifies one, so `verify` is on the hot
//! path of the whole API; `issue` runs on login and refresh only.
//!
//! `cargo bench -p conduit-adapters --bench tokens`

#![allow(missing_docs)]

use std::hint::black_box;

use conduit_adapters::crypto::{JwtSettings, JwtTokens};
use conduit_domain::{UserId, ports::TokenService, session::SessionId, time::Timestamp};
use criterion::{Criterion, criterion_group, criterion_main};

fn tokens() -> JwtTokens {
    JwtTokens::new(JwtSettings::single_key(
        b"a benchmark signing key, 32 bytes or more".to_vec(),
        "conduit",
        "conduit",
        15 * 60,
    ))
    .expect("valid settings")
}

/// `token` with one character of its signature changed: well-formed, wrong MAC, so the
/// whole check runs before it is refused.
fn tampered(token: &str) -> String {
    let mut bytes = token.as_bytes().to_vec();
    let at = bytes.len() - 2;
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).expect("a JWT is ASCII")
}

fn access_tokens(c: &mut Criterion) {
    let tokens = tokens();
    let session = SessionId("bench-session-0123456789".into());
    let ends = Timestamp::new(time::OffsetDateTime::now_utc() + time::Duration::days(60));
    let token = tokens.issue(UserId(42), &session, ends).expect("issued");
    let bad = tampered(&token);
    assert!(tokens.verify(&token).is_ok());
    assert!(tokens.verify(&bad).is_err());

    let mut group = c.benchmark_group("access_token");
    group.bench_function("issue", |b| {
        b.iter(|| tokens.issue(black_box(UserId(42)), black_box(&session), ends))
    });
    group.bench_function("verify_valid", |b| {
        b.iter(|| tokens.verify(black_box(&token)))
    });
    group.bench_function("verify_tampered", |b| {
        b.iter(|| tokens.verify(black_box(&bad)))
    });
    group.bench_function("verify_garbage", |b| {
        b.iter(|| tokens.verify(black_box("not.a.jwt")))
    });
    group.finish();
}

criterion_group!(benches, access_tokens);
criterion_main!(benches);
