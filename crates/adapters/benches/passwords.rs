//! Password hashing (Argon2id) at the production default cost and at the test cost:
//! the numbers behind ADR 0017. Registration hashes once, login verifies once; both go
//! through tokio's blocking pool behind the hasher's concurrency limit, as in the server.
//!
//! `cargo bench -p conduit-adapters --bench passwords`

#![allow(missing_docs)]

use std::{hint::black_box, time::Duration};

use conduit_adapters::crypto::{Argon2Cost, Argon2Hasher};
use conduit_domain::{ports::PasswordHasher, user::Password};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

/// The server's default `auth.argon2_concurrency` on the 2-core machines measured (half
/// the cores, at least 1).
const DEFAULT_CONCURRENCY: usize = 1;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn costs() -> [(&'static str, Argon2Cost); 2] {
    [
        ("default_19MiB_t2_p1", Argon2Cost::RECOMMENDED),
        ("test_8KiB_t1_p1", Argon2Cost::INSECURE_FAST),
    ]
}

fn one_at_a_time(c: &mut Criterion) {
    let rt = runtime();
    let password = Password::new_secret("correct horse battery staple").expect("valid");
    let mut group = c.benchmark_group("argon2id");
    for (name, cost) in costs() {
        let hasher = Argon2Hasher::new(cost, DEFAULT_CONCURRENCY).expect("hasher");
        let hash = rt.block_on(hasher.hash(&password)).expect("hashed");
        if cost == Argon2Cost::RECOMMENDED {
            // About 20-40 ms per hash: fewer, longer samples.
            group.sample_size(20);
        } else {
            group.sample_size(100);
        }
        group.bench_with_input(BenchmarkId::new("hash", name), &hasher, |b, hasher| {
            b.to_async(&rt).iter(|| hasher.hash(black_box(&password)))
        });
        group.bench_with_input(BenchmarkId::new("verify", name), &hasher, |b, hasher| {
            b.to_async(&rt)
                .iter(|| hasher.verify(black_box(&password), Some(&hash)))
        });
    }
    group.finish();
}

/// A burst of logins: `BURST` verifications started together, at the default cost,
/// with the hasher's concurrency limit at 1 (the default on 2 cores) and 2. The throughput line
/// of the report is logins per second on this machine.
fn login_burst(c: &mut Criterion) {
    const BURST: usize = 8;
    let rt = runtime();
    let password = Password::new_secret("correct horse battery staple").expect("valid");
    let mut group = c.benchmark_group("argon2id_login_burst");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Elements(BURST as u64));
    for concurrency in [DEFAULT_CONCURRENCY, 2] {
        let hasher = Argon2Hasher::new(Argon2Cost::RECOMMENDED, concurrency).expect("hasher");
        let hash = rt.block_on(hasher.hash(&password)).expect("hashed");
        group.bench_with_input(
            BenchmarkId::new("verify_x8", format!("concurrency_{concurrency}")),
            &hasher,
            |b, hasher| {
                b.to_async(&rt).iter(|| async {
                    let logins: Vec<_> = (0..BURST)
                        .map(|_| {
                            let (hasher, password, hash) =
                                (hasher.clone(), password.clone(), hash.clone());
                            tokio::spawn(async move { hasher.verify(&password, Some(&hash)).await })
                        })
                        .collect();
                    for login in logins {
                        assert!(login.await.expect("joined").expect("verified"));
                    }
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, one_at_a_time, login_burst);
criterion_main!(benches);
