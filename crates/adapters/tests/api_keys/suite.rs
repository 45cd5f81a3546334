//! The contract of [`ApiKeyStore`]: what every adapter must do, written once and run
//! against each backend by `main.rs`. The in-memory store is the reference.
//!
//! Every test takes a fresh, empty store. All times are fixed, relative to [`T0`], and
//! carry milliseconds, so that the round trip through storage is exercised at full
//! precision and no backend may consult a clock of its own.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use conduit_domain::{
    UserId,
    api_key::{ApiKey, ApiKeyId, Scope},
    ports::{ApiKeyStore, UserStore},
    time::Timestamp,
    user::{Email, NewUser, PasswordHash, Username},
};
use time::{Duration, OffsetDateTime, macros::datetime};

/// What a test works on: the store under test, and accounts for the keys to belong to
/// (SQL backends refer to them by foreign key).
pub struct Subject {
    /// The store under test.
    pub keys: Arc<dyn ApiKeyStore>,
    /// Where users are registered; the SQL backends share the key store's database.
    pub users: Arc<dyn UserStore>,
}

/// The origin of every time in the suite.
const T0: OffsetDateTime = datetime!(2024-05-01 10:00:00.123 UTC);

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// `T0 + offset`.
fn at(offset: Duration) -> Timestamp {
    Timestamp::new(T0 + offset)
}

/// Registers a user with a unique name and returns their id.
async fn user(subject: &Subject) -> UserId {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let name = format!("keyuser{}", NEXT.fetch_add(1, Ordering::Relaxed));
    let user = subject
        .users
        .create(NewUser {
            username: Username::parse(&name).expect("valid username"),
            email: Email::parse(&format!("{name}@example.com")).expect("valid email"),
            password_hash: PasswordHash::new(format!(
                "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA${name}"
            )),
            created_at: at(Duration::ZERO),
        })
        .await
        .expect("user created");
    user.id
}

/// An unrevoked key `id` of `owner`, created at `created`, with two scopes and no expiry.
fn key(id: &str, owner: UserId, created: Timestamp) -> ApiKey {
    ApiKey {
        id: ApiKeyId(id.to_owned()),
        user_id: owner,
        name: format!("key {id}"),
        scopes: vec![Scope::CommentsWrite, Scope::UserRead],
        created_at: created,
        expires_at: None,
        revoked_at: None,
    }
}

async fn create(subject: &Subject, key: &ApiKey) {
    subject.keys.create(key.clone()).await.expect("key created");
}

async fn get(subject: &Subject, id: &ApiKeyId) -> Option<ApiKey> {
    subject.keys.get(id).await.expect("get answered")
}

async fn list(subject: &Subject, owner: UserId) -> Vec<ApiKey> {
    subject.keys.list(owner).await.expect("list answered")
}

async fn revoke(subject: &Subject, owner: UserId, id: &ApiKeyId, now: Timestamp) -> bool {
    subject
        .keys
        .revoke(owner, id, now)
        .await
        .expect("revoke answered")
}

fn ids(keys: &[ApiKey]) -> Vec<&str> {
    keys.iter().map(|k| k.id.0.as_str()).collect()
}

/// `key` as it is once revoked at `now`.
fn revoked(key: &ApiKey, now: Timestamp) -> ApiKey {
    ApiKey {
        revoked_at: Some(now),
        ..key.clone()
    }
}

// ---------------------------------------------------------------------------------------
// Create and get
// ---------------------------------------------------------------------------------------

/// Every field comes back as written, timestamps to the millisecond, and a name outside
/// ASCII unchanged.
pub async fn created_key_reads_back_whole(subject: Subject) {
    let owner = user(&subject).await;
    let stored = ApiKey {
        name: "CI: deploy bot ✓".into(),
        expires_at: Some(at(Duration::days(30) + Duration::milliseconds(7))),
        ..key("ak_whole", owner, at(Duration::milliseconds(456)))
    };
    create(&subject, &stored).await;
    assert_eq!(get(&subject, &stored.id).await, Some(stored));
}

/// A key that never expires reads back with no expiry (not, say, a sentinel date).
pub async fn created_key_without_expiry_reads_back_whole(subject: Subject) {
    let owner = user(&subject).await;
    let stored = key("ak_forever", owner, at(Duration::ZERO));
    create(&subject, &stored).await;
    assert_eq!(get(&subject, &stored.id).await, Some(stored));
}

/// An id nobody created is simply absent.
pub async fn unknown_key_is_none(subject: Subject) {
    let owner = user(&subject).await;
    create(&subject, &key("ak_known", owner, at(Duration::ZERO))).await;
    assert_eq!(get(&subject, &ApiKeyId("ak_unknown".into())).await, None);
}

/// Ids are the key: a second key with a taken id is an error and overwrites nothing.
pub async fn duplicate_id_is_refused_and_keeps_the_first(subject: Subject) {
    let owner = user(&subject).await;
    let first = key("ak_twice", owner, at(Duration::ZERO));
    create(&subject, &first).await;
    let second = ApiKey {
        name: "impostor".into(),
        ..key("ak_twice", owner, at(Duration::minutes(1)))
    };
    let refused = subject.keys.create(second).await;
    assert!(refused.is_err(), "{refused:?}");
    assert_eq!(get(&subject, &first.id).await, Some(first.clone()));
    assert_eq!(list(&subject, owner).await, vec![first]);
}

// ---------------------------------------------------------------------------------------
// List
// ---------------------------------------------------------------------------------------

/// Newest first, to the millisecond; keys created at the same instant by id, descending.
pub async fn list_is_newest_first_with_ties_by_id_descending(subject: Subject) {
    let owner = user(&subject).await;
    let tie = at(Duration::hours(1));
    // Created out of order, and with ids whose text order differs from their creation
    // order, so neither insertion order nor id alone can pass.
    for (id, created) in [
        ("ak_b", tie),
        ("ak_z_oldest", at(Duration::ZERO)),
        ("ak_c", tie),
        ("ak_a_newest", at(Duration::hours(2))),
        ("ak_a", tie),
        // One millisecond apart: a store comparing at coarser precision would tie them.
        ("ak_y_second", at(Duration::milliseconds(1))),
    ] {
        create(&subject, &key(id, owner, created)).await;
    }
    assert_eq!(
        ids(&list(&subject, owner).await),
        [
            "ak_a_newest",
            "ak_c",
            "ak_b",
            "ak_a",
            "ak_y_second",
            "ak_z_oldest"
        ]
    );
}

/// A user sees their own keys only; a user without keys (or unknown) sees none.
pub async fn list_holds_only_the_users_keys(subject: Subject) {
    let alice = user(&subject).await;
    let bob = user(&subject).await;
    let carol = user(&subject).await;
    let alice_old = key("ak_alice_old", alice, at(Duration::ZERO));
    let bob_only = key("ak_bob", bob, at(Duration::minutes(1)));
    let alice_new = key("ak_alice_new", alice, at(Duration::minutes(2)));
    for k in [&alice_old, &bob_only, &alice_new] {
        create(&subject, k).await;
    }
    assert_eq!(list(&subject, alice).await, vec![alice_new, alice_old]);
    assert_eq!(list(&subject, bob).await, vec![bob_only]);
    assert_eq!(list(&subject, carol).await, Vec::<ApiKey>::new());
    assert_eq!(list(&subject, UserId(987_654)).await, Vec::<ApiKey>::new());
}

/// Revoked keys stay listed, in their place, showing when they were revoked.
pub async fn list_includes_revoked_keys(subject: Subject) {
    let owner = user(&subject).await;
    let older = key("ak_older", owner, at(Duration::ZERO));
    let newer = key("ak_newer", owner, at(Duration::minutes(1)));
    create(&subject, &older).await;
    create(&subject, &newer).await;
    let now = at(Duration::minutes(5) + Duration::milliseconds(9));
    assert!(revoke(&subject, owner, &newer.id, now).await);
    assert_eq!(
        list(&subject, owner).await,
        vec![revoked(&newer, now), older]
    );
}

// ---------------------------------------------------------------------------------------
// Revoke
// ---------------------------------------------------------------------------------------

/// The owner revokes a key: `true`, and the key records the given time; other keys are
/// untouched.
pub async fn revoking_own_key_records_the_time(subject: Subject) {
    let owner = user(&subject).await;
    let target = key("ak_target", owner, at(Duration::ZERO));
    let other = key("ak_other", owner, at(Duration::ZERO));
    create(&subject, &target).await;
    create(&subject, &other).await;
    let now = at(Duration::hours(3) + Duration::milliseconds(321));
    assert!(revoke(&subject, owner, &target.id, now).await);
    assert_eq!(get(&subject, &target.id).await, Some(revoked(&target, now)));
    // Only that key.
    assert_eq!(get(&subject, &other.id).await, Some(other));
}

/// A second revocation answers `false` and does not move the revocation time.
pub async fn revoking_twice_answers_false_and_keeps_the_first_time(subject: Subject) {
    let owner = user(&subject).await;
    let target = key("ak_twice", owner, at(Duration::ZERO));
    create(&subject, &target).await;
    let first = at(Duration::hours(1));
    assert!(revoke(&subject, owner, &target.id, first).await);
    assert!(!revoke(&subject, owner, &target.id, at(Duration::hours(2))).await);
    assert_eq!(
        get(&subject, &target.id).await,
        Some(revoked(&target, first))
    );
}

/// Another user's key is "not found" for revocation and stays as it was.
pub async fn revoking_another_users_key_finds_nothing_and_changes_nothing(subject: Subject) {
    let alice = user(&subject).await;
    let mallory = user(&subject).await;
    let target = key("ak_alices", alice, at(Duration::ZERO));
    create(&subject, &target).await;
    assert!(!revoke(&subject, mallory, &target.id, at(Duration::hours(1))).await);
    assert_eq!(get(&subject, &target.id).await, Some(target.clone()));
    // The owner still can.
    let now = at(Duration::hours(2));
    assert!(revoke(&subject, alice, &target.id, now).await);
    assert_eq!(get(&subject, &target.id).await, Some(revoked(&target, now)));
}

/// Revoking an id nobody created answers `false`.
pub async fn revoking_an_unknown_key_finds_nothing(subject: Subject) {
    let owner = user(&subject).await;
    assert!(
        !revoke(
            &subject,
            owner,
            &ApiKeyId("ak_nothing".into()),
            at(Duration::ZERO)
        )
        .await
    );
}

// ---------------------------------------------------------------------------------------
// Stored values
// ---------------------------------------------------------------------------------------

/// The store does not judge expiry: a past expiry is stored, listed and revocable.
pub async fn expiry_is_kept_as_stored_even_when_past(subject: Subject) {
    let owner = user(&subject).await;
    // Expired long before any time the suite uses: the store keeps, lists and revokes
    // it all the same; judging expiry is the token's and the use case's business.
    let lapsed = ApiKey {
        expires_at: Some(at(-Duration::days(400) + Duration::milliseconds(1))),
        ..key("ak_lapsed", owner, at(-Duration::days(500)))
    };
    let soon = ApiKey {
        expires_at: Some(at(Duration::milliseconds(999))),
        ..key("ak_soon", owner, at(Duration::ZERO))
    };
    create(&subject, &lapsed).await;
    create(&subject, &soon).await;
    assert_eq!(get(&subject, &lapsed.id).await, Some(lapsed.clone()));
    assert_eq!(list(&subject, owner).await, vec![soon, lapsed.clone()]);
    let now = at(Duration::days(1));
    assert!(revoke(&subject, owner, &lapsed.id, now).await);
    assert_eq!(get(&subject, &lapsed.id).await, Some(revoked(&lapsed, now)));
}

/// Scopes come back in the order given, whatever it is.
pub async fn scopes_round_trip_in_order(subject: Subject) {
    let owner = user(&subject).await;
    let mut reversed = Scope::ALL.to_vec();
    reversed.reverse();
    let cases = [
        ("ak_all", Scope::ALL.to_vec()),
        ("ak_reversed", reversed),
        ("ak_one", vec![Scope::FollowsWrite]),
        (
            "ak_mixed",
            vec![
                Scope::UserWrite,
                Scope::ArticlesWrite,
                Scope::FavoritesWrite,
            ],
        ),
    ];
    for (id, scopes) in &cases {
        let stored = ApiKey {
            scopes: scopes.clone(),
            ..key(id, owner, at(Duration::ZERO))
        };
        create(&subject, &stored).await;
    }
    for (id, scopes) in &cases {
        let read = get(&subject, &ApiKeyId((*id).to_owned()))
            .await
            .expect("stored");
        assert_eq!(&read.scopes, scopes, "{id}");
    }
}
