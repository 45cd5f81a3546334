//! The contract of [`IdentityLinks`]: what every adapter must do, written once and run
//! against each backend by `main.rs`. The in-memory store is the reference.

use std::{collections::HashSet, sync::Arc};

use conduit_domain::{
    UserId,
    identity::IdentityLink,
    ports::{IdentityLinks, UserStore},
    time::Timestamp,
    user::{Email, NewUser, PasswordHash, Username},
};
use time::macros::datetime;

/// What a test works on: the links under test, and accounts for them to point at (the
/// SQL backends refer to them by foreign key).
pub struct Subject {
    /// The links under test.
    pub links: Arc<dyn IdentityLinks>,
    /// Where users are registered; the SQL backends share the links' database.
    pub users: Arc<dyn UserStore>,
}

/// Concurrent links of one identity in the race test.
const RACERS: usize = 16;

fn t0() -> Timestamp {
    Timestamp::new(datetime!(2024-05-01 10:00:00.123 UTC))
}

async fn register(subject: &Subject, name: &str) -> UserId {
    subject
        .users
        .create(NewUser {
            username: Username::parse(name).expect("valid username"),
            email: Email::parse(&format!("{name}@example.com")).expect("valid email"),
            password_hash: PasswordHash::new(format!(
                "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA${name}"
            )),
            created_at: t0(),
        })
        .await
        .expect("user created")
        .id
}

fn link(provider: &str, subject: &str, user: UserId) -> IdentityLink {
    IdentityLink {
        provider: provider.to_owned(),
        subject: subject.to_owned(),
        user_id: user,
    }
}

pub async fn an_unlinked_identity_has_no_account(subject: Subject) {
    assert_eq!(
        subject.links.user_for("github", "123").await.expect("read"),
        None
    );
}

pub async fn a_linked_identity_signs_in_to_its_account(subject: Subject) {
    let alice = register(&subject, "alice").await;
    let linked = subject
        .links
        .link(link("github", "123", alice), t0())
        .await
        .expect("link");
    assert_eq!(linked, alice);
    assert_eq!(
        subject.links.user_for("github", "123").await.expect("read"),
        Some(alice)
    );
}

pub async fn linking_again_keeps_the_first_account(subject: Subject) {
    let alice = register(&subject, "alice").await;
    let bob = register(&subject, "bob").await;
    let links = &subject.links;
    links
        .link(link("github", "123", alice), t0())
        .await
        .expect("first link");
    assert_eq!(
        links
            .link(link("github", "123", bob), t0())
            .await
            .expect("second link"),
        alice,
        "the existing link's account"
    );
    assert_eq!(
        links
            .link(link("github", "123", alice), t0())
            .await
            .expect("same link again"),
        alice
    );
    assert_eq!(
        links.user_for("github", "123").await.expect("read"),
        Some(alice)
    );
}

pub async fn the_provider_is_part_of_the_identity(subject: Subject) {
    let alice = register(&subject, "alice").await;
    let bob = register(&subject, "bob").await;
    let links = &subject.links;
    links
        .link(link("github", "123", alice), t0())
        .await
        .expect("github link");
    assert_eq!(
        links
            .link(link("google", "123", bob), t0())
            .await
            .expect("google link"),
        bob
    );
    assert_eq!(
        links.user_for("github", "123").await.expect("read"),
        Some(alice)
    );
    assert_eq!(
        links.user_for("google", "123").await.expect("read"),
        Some(bob)
    );
    assert_eq!(links.user_for("gitlab", "123").await.expect("read"), None);
}

pub async fn subjects_are_compared_exactly(subject: Subject) {
    let alice = register(&subject, "alice").await;
    let links = &subject.links;
    links
        .link(link("oidc", "Subject-A", alice), t0())
        .await
        .expect("link");
    assert_eq!(
        links.user_for("oidc", "subject-a").await.expect("read"),
        None
    );
    assert_eq!(
        links.user_for("oidc", "Subject-A ").await.expect("read"),
        None
    );
}

pub async fn an_account_may_have_several_identities(subject: Subject) {
    let alice = register(&subject, "alice").await;
    let links = &subject.links;
    for (provider, sub) in [("github", "1"), ("google", "g-1"), ("oidc", "o-1")] {
        assert_eq!(
            links
                .link(link(provider, sub, alice), t0())
                .await
                .expect("link"),
            alice
        );
    }
    for (provider, sub) in [("github", "1"), ("google", "g-1"), ("oidc", "o-1")] {
        assert_eq!(
            links.user_for(provider, sub).await.expect("read"),
            Some(alice)
        );
    }
}

pub async fn concurrent_links_of_one_identity_agree_on_one_account(subject: Subject) {
    let mut users = Vec::new();
    for i in 0..RACERS {
        users.push(register(&subject, &format!("racer{i}")).await);
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));
    let racers: Vec<_> = users
        .iter()
        .map(|&user| {
            let links = subject.links.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                links
                    .link(link("github", "raced", user), t0())
                    .await
                    .expect("link")
            })
        })
        .collect();
    let mut winners = HashSet::new();
    for racer in racers {
        winners.insert(racer.await.expect("racer finished"));
    }
    assert_eq!(winners.len(), 1, "every caller learns the same account");
    let winner = winners.into_iter().next().expect("a winner");
    assert!(users.contains(&winner));
    assert_eq!(
        subject
            .links
            .user_for("github", "raced")
            .await
            .expect("read"),
        Some(winner)
    );
}
