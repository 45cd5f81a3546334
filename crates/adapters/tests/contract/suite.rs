//! The contract of the storage ports (`UserStore`, `ProfileStore`, `ArticleStore`,
//! `ArticleQueries`, `CommentStore`): what every adapter must do, written once and run
//! against each backend by `main.rs`.
//!
//! Every test takes a fresh, empty set of stores. Names are still made unique per test so
//! that a failure message points at one test's data. Timestamps come from [`tick`], which
//! only moves forward, so creation order and time order agree on every backend.

use std::{
    fmt::Debug,
    sync::atomic::{AtomicI64, AtomicU64, Ordering},
};

use conduit_domain::{
    ArticleId, CommentId, StoreError, UniqueField, UserId,
    article::{
        ArticleBody, ArticleChanges, ArticleDescription, ArticleFilter, ArticlePage, ArticleRef,
        ArticleSummary, ArticleTitle, ArticleView, NewArticle, Page, SearchQuery, Slug, TagName,
    },
    comment::{CommentBody, CommentRef, CommentView, NewComment},
    ports::Stores,
    time::Timestamp,
    user::{Bio, Email, ImageUrl, NewUser, PasswordHash, Profile, User, UserChanges, Username},
};
use time::{Duration, macros::datetime};

/// Ids no backend hands out in a test's small, fresh database.
const ABSENT_USER: UserId = UserId(999_999_999);
const ABSENT_ARTICLE: ArticleId = ArticleId(999_999_999);
const ABSENT_COMMENT: CommentId = CommentId(999_999_999);

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// A timestamp strictly later than any returned before, at millisecond precision so that
/// the round trip through storage is exercised with non-zero milliseconds.
fn tick() -> Timestamp {
    static MILLIS: AtomicI64 = AtomicI64::new(1);
    let n = MILLIS.fetch_add(7, Ordering::Relaxed);
    Timestamp::new(datetime!(2024-03-01 12:00:00 UTC) + Duration::milliseconds(n))
}

/// `base` with a number no other call returns.
fn unique(base: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("{base}{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

fn username(raw: &str) -> Username {
    Username::parse(raw).expect("valid username")
}

fn email(raw: &str) -> Email {
    Email::parse(raw).expect("valid email")
}

fn slug(raw: &str) -> Slug {
    Slug::parse(raw).expect("valid slug")
}

fn title(raw: &str) -> ArticleTitle {
    ArticleTitle::parse(raw).expect("valid title")
}

fn tag_names(raw: &[&str]) -> Vec<TagName> {
    TagName::parse_list(raw).expect("valid tags")
}

fn strings(raw: &[&str]) -> Vec<String> {
    raw.iter().map(|s| (*s).to_owned()).collect()
}

fn hash_for(username: &str) -> PasswordHash {
    PasswordHash::new(format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA${username}"))
}

fn new_user(username_raw: &str, email_raw: &str) -> NewUser {
    NewUser {
        username: username(username_raw),
        email: email(email_raw),
        password_hash: hash_for(username_raw),
        created_at: tick(),
    }
}

/// Registers a user named `base` plus a unique number.
async fn register(stores: &Stores, base: &str) -> User {
    let name = unique(base);
    stores
        .users
        .create(new_user(&name, &format!("{name}@example.com")))
        .await
        .expect("user created")
}

async fn update_user(stores: &Stores, id: UserId, changes: UserChanges, at: Timestamp) -> User {
    stores
        .users
        .update(id, changes, at)
        .await
        .expect("user updated")
        .expect("user exists")
}

/// An article by `author` whose slug is `base` (lowercase) plus a unique number.
fn draft(author: &User, base: &str, tags: &[&str]) -> NewArticle {
    let slug_raw = unique(base);
    NewArticle {
        author_id: author.id,
        slug: slug(&slug_raw),
        title: title(&format!("Title of {slug_raw}")),
        description: ArticleDescription::parse(&format!("About {slug_raw}"))
            .expect("valid description"),
        body: ArticleBody::parse(&format!("Body of {slug_raw}.\n\n  Kept as written.\n"))
            .expect("valid body"),
        tags: tag_names(tags),
        created_at: tick(),
    }
}

async fn publish(stores: &Stores, author: &User, base: &str, tags: &[&str]) -> ArticleId {
    stores
        .articles
        .create(draft(author, base, tags))
        .await
        .expect("article created")
}

/// A change that touches nothing but `updated_at`.
fn no_changes() -> ArticleChanges {
    ArticleChanges {
        slug: None,
        title: None,
        description: None,
        body: None,
        tags: None,
        updated_at: tick(),
    }
}

async fn view(stores: &Stores, id: ArticleId, viewer: Option<UserId>) -> ArticleView {
    stores
        .article_queries
        .article(id, viewer)
        .await
        .expect("article read")
        .expect("article exists")
}

async fn list(
    stores: &Stores,
    filter: ArticleFilter,
    page: Page,
    viewer: Option<UserId>,
) -> ArticlePage {
    stores
        .article_queries
        .list(&filter, page, viewer)
        .await
        .expect("articles listed")
}

async fn feed(stores: &Stores, viewer: UserId, page: Page) -> ArticlePage {
    stores
        .article_queries
        .feed(viewer, page)
        .await
        .expect("feed read")
}

async fn tags(stores: &Stores, limit: u64) -> Vec<String> {
    stores.article_queries.tags(limit).await.expect("tags read")
}

async fn favorite(stores: &Stores, user: &User, article: ArticleId) {
    stores
        .articles
        .favorite(user.id, article)
        .await
        .expect("favorited");
}

async fn follow(stores: &Stores, follower: &User, followee: &User) {
    stores
        .profiles
        .follow(follower.id, followee.id)
        .await
        .expect("followed");
}

/// Whether `viewer` sees `owner`'s profile as followed.
async fn following(stores: &Stores, owner: &User, viewer: Option<UserId>) -> bool {
    let profile = stores
        .profiles
        .profile(&username(&owner.username), viewer)
        .await
        .expect("profile read");
    profile.expect("profile exists").following
}

async fn comment_on(stores: &Stores, article: ArticleId, author: &User, body: &str) -> CommentId {
    let comment = NewComment {
        article_id: article,
        author_id: author.id,
        body: CommentBody::parse(body).expect("valid comment"),
        created_at: tick(),
    };
    stores.comments.add(comment).await.expect("comment added")
}

async fn comment_ids(stores: &Stores, article: ArticleId) -> Vec<CommentId> {
    let comments = stores
        .comments
        .list(article, None)
        .await
        .expect("comments listed");
    comments.iter().map(|c| c.id).collect()
}

fn all() -> ArticleFilter {
    ArticleFilter::default()
}

fn by_tag(tag: &str) -> ArticleFilter {
    ArticleFilter {
        tag: Some(TagName::parse(tag).expect("tag")),
        ..ArticleFilter::default()
    }
}

fn by_author(name: &str) -> ArticleFilter {
    ArticleFilter {
        author: Some(username(name)),
        ..ArticleFilter::default()
    }
}

fn favorited_by(name: &str) -> ArticleFilter {
    ArticleFilter {
        favorited_by: Some(username(name)),
        ..ArticleFilter::default()
    }
}

fn page(limit: u64, offset: u64) -> Page {
    Page { limit, offset }
}

fn ids(page: &ArticlePage) -> Vec<ArticleId> {
    page.articles.iter().map(|a| a.id).collect()
}

fn profile_of(user: &User, following: bool) -> Profile {
    Profile {
        user_id: user.id,
        username: user.username.clone(),
        bio: user.bio.clone(),
        image: user.image.clone(),
        following,
    }
}

#[track_caller]
fn assert_duplicate<T: Debug>(result: Result<T, StoreError>, field: UniqueField) {
    match result {
        Err(StoreError::Duplicate(found)) if found == field => {}
        other => panic!("expected Duplicate({field:?}), got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// UserStore
// ---------------------------------------------------------------------------------------

/// A new account reads back as stored, by id and by email in any case.
pub async fn user_create_then_lookup_by_id_and_email_in_any_case(stores: Stores) {
    let name = unique("Jake");
    let address = format!("{name}@Example.com");
    let new = new_user(&name, &address);
    let created_at = new.created_at;

    let user = stores.users.create(new).await.expect("user created");
    let expected = User {
        id: user.id,
        username: name.clone(),
        email: address.clone(),
        password_hash: hash_for(&name),
        bio: None,
        image: None,
        created_at,
        updated_at: created_at,
    };
    assert_eq!(user, expected, "username and email are kept as entered");

    assert_eq!(
        stores.users.by_id(user.id).await.expect("read"),
        Some(expected.clone())
    );
    for variant in [
        address.clone(),
        address.to_uppercase(),
        address.to_lowercase(),
    ] {
        let found = stores.users.by_email(&email(&variant)).await.expect("read");
        assert_eq!(found, Some(expected.clone()), "lookup by {variant}");
    }
    let unknown = stores
        .users
        .by_email(&email("nobody@example.com"))
        .await
        .expect("read");
    assert_eq!(unknown, None);
    assert_eq!(stores.users.by_id(ABSENT_USER).await.expect("read"), None);

    let other = register(&stores, "jakesfriend").await;
    assert_ne!(other.id, user.id);
    assert_eq!(
        stores.users.by_id(other.id).await.expect("read"),
        Some(other)
    );
}

/// An email taken in another case is refused, and nothing of the refused account is
/// stored.
pub async fn user_create_with_taken_email_in_other_case_is_refused(stores: Stores) {
    let first = register(&stores, "emily").await;
    let name = unique("emilytwin");

    let result = stores
        .users
        .create(new_user(&name, &first.email.to_uppercase()))
        .await;

    assert_duplicate(result, UniqueField::Email);
    let refused = stores
        .profiles
        .profile(&username(&name), None)
        .await
        .expect("read");
    assert_eq!(refused, None);
    let owner = stores
        .users
        .by_email(&email(&first.email))
        .await
        .expect("read");
    assert_eq!(owner, Some(first));
}

/// A username taken in another case is refused, and nothing of the refused account is
/// stored.
pub async fn user_create_with_taken_username_in_other_case_is_refused(stores: Stores) {
    let first = register(&stores, "Sam").await;
    let address = format!("{}@example.org", unique("samtwin"));

    let result = stores
        .users
        .create(new_user(&first.username.to_lowercase(), &address))
        .await;

    assert_duplicate(result, UniqueField::Username);
    let refused = stores.users.by_email(&email(&address)).await.expect("read");
    assert_eq!(refused, None);
    let owner = stores
        .profiles
        .profile(&username(&first.username), None)
        .await
        .expect("read");
    assert_eq!(owner.map(|p| p.user_id), Some(first.id));
}

/// A new email replaces the old one for lookups; nothing else changes but `updated_at`.
pub async fn user_update_email(stores: Stores) {
    let user = register(&stores, "mover").await;
    let bystander = register(&stores, "bystander").await;
    let address = format!("{}@example.net", unique("moved"));
    let at = tick();

    let changes = UserChanges {
        email: Some(email(&address)),
        ..UserChanges::default()
    };
    let updated = update_user(&stores, user.id, changes, at).await;

    let expected = User {
        email: address.clone(),
        updated_at: at,
        ..user.clone()
    };
    assert_eq!(updated, expected);
    assert_eq!(
        stores.users.by_id(user.id).await.expect("read"),
        Some(expected.clone())
    );
    let by_new = stores
        .users
        .by_email(&email(&address.to_uppercase()))
        .await
        .expect("read");
    assert_eq!(by_new, Some(expected));
    let by_old = stores
        .users
        .by_email(&email(&user.email))
        .await
        .expect("read");
    assert_eq!(by_old, None);
    assert_eq!(
        stores.users.by_id(bystander.id).await.expect("read"),
        Some(bystander)
    );
}

/// A new username replaces the old one for profiles; nothing else changes but
/// `updated_at`.
pub async fn user_update_username(stores: Stores) {
    let user = register(&stores, "renamer").await;
    let bystander = register(&stores, "onlooker").await;
    let name = unique("Renamed");
    let at = tick();

    let changes = UserChanges {
        username: Some(username(&name)),
        ..UserChanges::default()
    };
    let updated = update_user(&stores, user.id, changes, at).await;

    let expected = User {
        username: name.clone(),
        updated_at: at,
        ..user.clone()
    };
    assert_eq!(updated, expected);
    assert_eq!(
        stores.users.by_id(user.id).await.expect("read"),
        Some(expected)
    );
    let by_new = stores
        .profiles
        .profile(&username(&name), None)
        .await
        .expect("read");
    assert_eq!(by_new.map(|p| p.user_id), Some(user.id));
    let by_old = stores
        .profiles
        .profile(&username(&user.username), None)
        .await
        .expect("read");
    assert_eq!(by_old, None);
    assert_eq!(
        stores.users.by_id(bystander.id).await.expect("read"),
        Some(bystander)
    );
}

/// Password hash, bio and image each change alone; `None` leaves a field as it is.
pub async fn user_update_password_bio_and_image(stores: Stores) {
    let user = register(&stores, "profiled").await;

    let at = tick();
    let hash = PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$bmV3$changed".into());
    let changes = UserChanges {
        password_hash: Some(hash.clone()),
        ..UserChanges::default()
    };
    let after_password = update_user(&stores, user.id, changes, at).await;
    let expected = User {
        password_hash: hash,
        updated_at: at,
        ..user.clone()
    };
    assert_eq!(after_password, expected);

    let at = tick();
    let changes = UserChanges {
        bio: Bio::parse("I work at statefarm").expect("valid bio").into(),
        ..UserChanges::default()
    };
    let after_bio = update_user(&stores, user.id, changes, at).await;
    let expected = User {
        bio: Some("I work at statefarm".into()),
        updated_at: at,
        ..expected
    };
    assert_eq!(after_bio, expected);

    let at = tick();
    let changes = UserChanges {
        image: ImageUrl::parse("https://example.com/jake.jpg")
            .expect("valid image")
            .into(),
        ..UserChanges::default()
    };
    let after_image = update_user(&stores, user.id, changes, at).await;
    let expected = User {
        image: Some("https://example.com/jake.jpg".into()),
        updated_at: at,
        ..expected
    };
    assert_eq!(after_image, expected);
    assert_eq!(
        stores.users.by_id(user.id).await.expect("read"),
        Some(expected)
    );
}

/// `Some(None)` clears bio and image.
pub async fn user_update_clears_bio_and_image(stores: Stores) {
    let user = register(&stores, "clearer").await;
    let filled = UserChanges {
        bio: Bio::parse("temporary").expect("valid bio").into(),
        image: ImageUrl::parse("http://example.com/tmp.png")
            .expect("valid image")
            .into(),
        ..UserChanges::default()
    };
    let filled = update_user(&stores, user.id, filled, tick()).await;
    assert_eq!(filled.bio.as_deref(), Some("temporary"));
    assert_eq!(filled.image.as_deref(), Some("http://example.com/tmp.png"));

    let at = tick();
    let cleared = UserChanges {
        bio: conduit_domain::patch::Patch::Clear,
        image: conduit_domain::patch::Patch::Clear,
        ..UserChanges::default()
    };
    let cleared = update_user(&stores, user.id, cleared, at).await;

    let expected = User {
        bio: None,
        image: None,
        updated_at: at,
        ..filled
    };
    assert_eq!(cleared, expected);
    assert_eq!(
        stores.users.by_id(user.id).await.expect("read"),
        Some(expected)
    );
}

/// Changing to another account's email (in another case) is refused and the whole
/// change is dropped, including its other fields.
pub async fn user_update_to_taken_email_is_refused_and_changes_nothing(stores: Stores) {
    let owner = register(&stores, "holder").await;
    let user = register(&stores, "grabber").await;

    let changes = UserChanges {
        email: Some(email(&owner.email.to_uppercase())),
        bio: Bio::parse("must not stick").expect("valid bio").into(),
        ..UserChanges::default()
    };
    let result = stores.users.update(user.id, changes, tick()).await;

    assert_duplicate(result, UniqueField::Email);
    assert_eq!(stores.users.by_id(user.id).await.expect("read"), Some(user));
    let found = stores
        .users
        .by_email(&email(&owner.email))
        .await
        .expect("read");
    assert_eq!(found, Some(owner));
}

/// Changing to another account's username (in another case) is refused and the whole
/// change is dropped, including its other fields.
pub async fn user_update_to_taken_username_is_refused_and_changes_nothing(stores: Stores) {
    let owner = register(&stores, "Keeper").await;
    let user = register(&stores, "taker").await;

    let changes = UserChanges {
        username: Some(username(&owner.username.to_uppercase())),
        image: ImageUrl::parse("https://example.com/no.png")
            .expect("valid image")
            .into(),
        ..UserChanges::default()
    };
    let result = stores.users.update(user.id, changes, tick()).await;

    assert_duplicate(result, UniqueField::Username);
    assert_eq!(stores.users.by_id(user.id).await.expect("read"), Some(user));
    assert_eq!(
        stores.users.by_id(owner.id).await.expect("read"),
        Some(owner)
    );
}

/// An account may re-case its own email and username: they only collide with others.
pub async fn user_update_may_recase_own_email_and_username(stores: Stores) {
    let user = register(&stores, "casey").await;
    let at = tick();

    let changes = UserChanges {
        email: Some(email(&user.email.to_uppercase())),
        username: Some(username(&user.username.to_uppercase())),
        ..UserChanges::default()
    };
    let updated = update_user(&stores, user.id, changes, at).await;

    let expected = User {
        email: user.email.to_uppercase(),
        username: user.username.to_uppercase(),
        updated_at: at,
        ..user
    };
    assert_eq!(updated, expected);
}

/// Updating an account that does not exist answers `None` and creates nothing.
pub async fn user_update_of_missing_user_is_none(stores: Stores) {
    let address = format!("{}@example.com", unique("ghost"));
    let changes = UserChanges {
        email: Some(email(&address)),
        ..UserChanges::default()
    };

    let result = stores
        .users
        .update(ABSENT_USER, changes, tick())
        .await
        .expect("update ran");

    assert_eq!(result, None);
    assert_eq!(
        stores.users.by_email(&email(&address)).await.expect("read"),
        None
    );
}

// ---------------------------------------------------------------------------------------
// ProfileStore
// ---------------------------------------------------------------------------------------

/// Profiles are found by username in any case and carry bio and image.
pub async fn profile_by_username_in_any_case(stores: Stores) {
    let user = register(&stores, "Pat").await;
    let changes = UserChanges {
        bio: Bio::parse("Profile bio").expect("valid bio").into(),
        image: ImageUrl::parse("https://example.com/pat.png")
            .expect("valid image")
            .into(),
        ..UserChanges::default()
    };
    let user = update_user(&stores, user.id, changes, tick()).await;
    let expected = Profile {
        user_id: user.id,
        username: user.username.clone(),
        bio: Some("Profile bio".into()),
        image: Some("https://example.com/pat.png".into()),
        following: false,
    };

    for variant in [
        user.username.clone(),
        user.username.to_uppercase(),
        user.username.to_lowercase(),
    ] {
        let found = stores
            .profiles
            .profile(&username(&variant), None)
            .await
            .expect("read");
        assert_eq!(found, Some(expected.clone()), "lookup by {variant}");
    }
    let unknown = stores
        .profiles
        .profile(&username(&unique("nobody")), None)
        .await
        .expect("read");
    assert_eq!(unknown, None);
}

/// `following` answers whether the viewer follows the profile's owner.
pub async fn profile_following_is_seen_from_the_viewer(stores: Stores) {
    let star = register(&stores, "star").await;
    let fan = register(&stores, "fan").await;
    let stranger = register(&stores, "stranger").await;
    follow(&stores, &fan, &star).await;

    assert!(
        following(&stores, &star, Some(fan.id)).await,
        "the fan follows the star"
    );
    assert!(
        !following(&stores, &star, Some(stranger.id)).await,
        "the stranger does not"
    );
    assert!(
        !following(&stores, &star, None).await,
        "anonymous viewers follow nobody"
    );
    assert!(
        !following(&stores, &fan, Some(star.id)).await,
        "following is not mutual"
    );
}

/// Following twice and unfollowing twice are not errors.
pub async fn follow_and_unfollow_are_idempotent(stores: Stores) {
    let star = register(&stores, "idol").await;
    let fan = register(&stores, "admirer").await;
    stores
        .profiles
        .follow(fan.id, star.id)
        .await
        .expect("first follow");
    stores
        .profiles
        .follow(fan.id, star.id)
        .await
        .expect("second follow");
    assert!(following(&stores, &star, Some(fan.id)).await);

    stores
        .profiles
        .unfollow(fan.id, star.id)
        .await
        .expect("first unfollow");
    assert!(!following(&stores, &star, Some(fan.id)).await);
    stores
        .profiles
        .unfollow(fan.id, star.id)
        .await
        .expect("second unfollow");
    assert!(!following(&stores, &star, Some(fan.id)).await);

    stores
        .profiles
        .follow(fan.id, star.id)
        .await
        .expect("follow again");
    assert!(following(&stores, &star, Some(fan.id)).await);
}

// ---------------------------------------------------------------------------------------
// ArticleStore and ArticleQueries: single articles
// ---------------------------------------------------------------------------------------

/// A new article reads back whole, tags in the order given, body as written.
pub async fn article_create_keeps_tag_order_and_reads_back_whole(stores: Stores) {
    let author = register(&stores, "writer").await;
    let new = draft(&author, "dragons", &["training", "dragons", "anime"]);

    let id = stores
        .articles
        .create(new.clone())
        .await
        .expect("article created");

    let expected = ArticleView {
        summary: ArticleSummary {
            id,
            slug: new.slug.as_str().to_owned(),
            title: new.title.as_str().to_owned(),
            description: new.description.as_str().to_owned(),
            tags: strings(&["training", "dragons", "anime"]),
            created_at: new.created_at,
            updated_at: new.created_at,
            favorited: false,
            favorites_count: 0,
            author: profile_of(&author, false),
        },
        body: new.body.as_str().to_owned(),
    };
    assert_eq!(view(&stores, id, None).await, expected);
    assert_eq!(view(&stores, id, Some(author.id)).await, expected);
    let missing = stores
        .article_queries
        .article(ABSENT_ARTICLE, None)
        .await
        .expect("read");
    assert_eq!(missing, None);
}

/// `by_slug` finds the article's reference facts; an unknown slug finds nothing.
pub async fn article_by_slug(stores: Stores) {
    let author = register(&stores, "slugger").await;
    let new = draft(&author, "find-me", &[]);
    let id = stores
        .articles
        .create(new.clone())
        .await
        .expect("article created");

    let found = stores.articles.by_slug(&new.slug).await.expect("read");

    let expected = ArticleRef {
        id,
        slug: new.slug.as_str().to_owned(),
        title: new.title.as_str().to_owned(),
        author_id: author.id,
        updated_at: new.created_at,
    };
    assert_eq!(found, Some(expected));
    let unknown = stores
        .articles
        .by_slug(&Slug::parse(&unique("no-such-slug")).expect("a slug"))
        .await
        .expect("read");
    assert_eq!(unknown, None);
}

/// A taken slug is refused, leaving neither a partial article nor its tags behind.
pub async fn article_with_taken_slug_is_refused_without_leftovers(stores: Stores) {
    let author = register(&stores, "first").await;
    let copier = register(&stores, "copier").await;
    let original = draft(&author, "taken", &["kept"]);
    let original_id = stores
        .articles
        .create(original.clone())
        .await
        .expect("article created");
    let copy = NewArticle {
        slug: original.slug.clone(),
        tags: tag_names(&["leftover"]),
        ..draft(&copier, "copy", &[])
    };

    let result = stores.articles.create(copy).await;

    assert_duplicate(result, UniqueField::Slug);
    let found = stores.articles.by_slug(&original.slug).await.expect("read");
    let found = found.expect("original still there");
    assert_eq!(
        (found.id, found.title.as_str()),
        (original_id, original.title.as_str())
    );
    assert_eq!(tags(&stores, 100).await, strings(&["kept"]));
    let everything = list(&stores, all(), Page::default(), None).await;
    assert_eq!((ids(&everything), everything.total), (vec![original_id], 1));
    let by_copier = list(&stores, by_author(&copier.username), Page::default(), None).await;
    assert_eq!(by_copier.total, 0);
}

/// `tags: Some(list)` replaces the tags, in the new order.
pub async fn article_update_replaces_tags_when_given(stores: Stores) {
    let author = register(&stores, "retagger").await;
    let id = publish(&stores, &author, "retagged", &["old", "common"]).await;
    publish(&stores, &author, "neighbour", &["common"]).await;

    let changes = ArticleChanges {
        tags: Some(tag_names(&["new", "common", "fresh"])),
        ..no_changes()
    };
    assert!(stores.articles.update(id, changes).await.expect("updated"));

    assert_eq!(
        view(&stores, id, None).await.summary.tags,
        strings(&["new", "common", "fresh"])
    );
    assert_eq!(
        tags(&stores, 100).await,
        strings(&["common", "fresh", "new"])
    );
    assert_eq!(
        list(&stores, by_tag("old"), Page::default(), None)
            .await
            .total,
        0
    );
    assert_eq!(
        ids(&list(&stores, by_tag("fresh"), Page::default(), None).await),
        vec![id]
    );
}

/// `tags: None` leaves the tags as they are.
pub async fn article_update_without_tags_keeps_them(stores: Stores) {
    let author = register(&stores, "keeper").await;
    let id = publish(&stores, &author, "kept-tags", &["keep", "these"]).await;

    let changes = ArticleChanges {
        title: Some(title("A new title only")),
        ..no_changes()
    };
    assert!(stores.articles.update(id, changes).await.expect("updated"));

    let after = view(&stores, id, None).await.summary;
    assert_eq!(after.title, "A new title only");
    assert_eq!(after.tags, strings(&["keep", "these"]));
    assert_eq!(tags(&stores, 100).await, strings(&["keep", "these"]));
}

/// `tags: Some(vec![])` removes every tag, also from the tag list.
pub async fn article_update_with_empty_tags_removes_them(stores: Stores) {
    let author = register(&stores, "stripper").await;
    let id = publish(&stores, &author, "stripped", &["gone", "away"]).await;

    let changes = ArticleChanges {
        tags: Some(Vec::new()),
        ..no_changes()
    };
    assert!(stores.articles.update(id, changes).await.expect("updated"));

    assert_eq!(
        view(&stores, id, None).await.summary.tags,
        Vec::<String>::new()
    );
    assert_eq!(tags(&stores, 100).await, Vec::<String>::new());
    assert_eq!(
        list(&stores, by_tag("gone"), Page::default(), None)
            .await
            .total,
        0
    );
}

/// Slug, title, description and body change; the old slug is free of it; `updated_at`
/// moves to the change's time while `created_at` stays.
pub async fn article_update_changes_slug_title_text_and_updated_at(stores: Stores) {
    let author = register(&stores, "editor").await;
    let new = draft(&author, "before", &["stay"]);
    let id = stores
        .articles
        .create(new.clone())
        .await
        .expect("article created");
    let new_slug = unique("after");
    let changes = ArticleChanges {
        slug: Some(slug(&new_slug)),
        title: Some(title("After")),
        description: Some(ArticleDescription::parse("New description").expect("valid")),
        body: Some(ArticleBody::parse("New body\nwith two lines").expect("valid")),
        ..no_changes()
    };
    let at = changes.updated_at;

    assert!(stores.articles.update(id, changes).await.expect("updated"));

    assert_eq!(
        stores.articles.by_slug(&new.slug).await.expect("read"),
        None
    );
    let found = stores
        .articles
        .by_slug(&Slug::parse(&new_slug).expect("a slug"))
        .await
        .expect("read");
    let expected_ref = ArticleRef {
        id,
        slug: new_slug.clone(),
        title: "After".into(),
        author_id: author.id,
        updated_at: at,
    };
    assert_eq!(found, Some(expected_ref));
    let after = view(&stores, id, None).await;
    assert_eq!(after.summary.description, "New description");
    assert_eq!(after.body, "New body\nwith two lines");
    assert_eq!(after.summary.tags, strings(&["stay"]));
    assert_eq!(after.summary.created_at, new.created_at);
    assert_eq!(after.summary.updated_at, at);
    assert!(after.summary.updated_at > after.summary.created_at);
}

/// Setting the slug an article already has is not a conflict.
pub async fn article_update_may_keep_its_own_slug(stores: Stores) {
    let author = register(&stores, "steady").await;
    let new = draft(&author, "same-slug", &[]);
    let id = stores
        .articles
        .create(new.clone())
        .await
        .expect("article created");

    let changes = ArticleChanges {
        slug: Some(new.slug.clone()),
        title: Some(title("Same slug, new title")),
        ..no_changes()
    };
    assert!(stores.articles.update(id, changes).await.expect("updated"));

    let found = stores.articles.by_slug(&new.slug).await.expect("read");
    assert_eq!(
        found.map(|r| (r.id, r.title)),
        Some((id, "Same slug, new title".into()))
    );
}

/// Changing to another article's slug is refused and the whole change is dropped.
pub async fn article_update_to_taken_slug_is_refused_and_changes_nothing(stores: Stores) {
    let author = register(&stores, "clasher").await;
    let holder = draft(&author, "holder", &[]);
    stores
        .articles
        .create(holder.clone())
        .await
        .expect("article created");
    let id = publish(&stores, &author, "wannabe", &["original"]).await;
    let before = view(&stores, id, None).await;

    let changes = ArticleChanges {
        slug: Some(holder.slug.clone()),
        title: Some(title("Clash")),
        body: Some(ArticleBody::parse("must not stick").expect("valid")),
        tags: Some(tag_names(&["nope"])),
        ..no_changes()
    };
    let result = stores.articles.update(id, changes).await;

    assert_duplicate(result, UniqueField::Slug);
    assert_eq!(view(&stores, id, None).await, before);
    assert_eq!(tags(&stores, 100).await, strings(&["original"]));
}

/// Updating an article that does not exist (any more) answers `false`.
pub async fn article_update_of_missing_article_is_false(stores: Stores) {
    let author = register(&stores, "late").await;
    let id = publish(&stores, &author, "short-lived", &[]).await;
    assert!(stores.articles.delete(id).await.expect("deleted"));

    for missing in [id, ABSENT_ARTICLE] {
        let changes = ArticleChanges {
            title: Some(title("Too late")),
            tags: Some(tag_names(&["ghost"])),
            ..no_changes()
        };
        let existed = stores
            .articles
            .update(missing, changes)
            .await
            .expect("update ran");
        assert!(!existed, "{missing:?}");
    }
    assert_eq!(tags(&stores, 100).await, Vec::<String>::new());
}

/// Deleting an article takes its comments, favorites and tag links with it, and nothing
/// of another article; deleting it again answers `false`.
pub async fn article_delete_removes_its_comments_favorites_and_tags(stores: Stores) {
    let author = register(&stores, "deleter").await;
    let reader = register(&stores, "reader").await;
    let doomed_draft = draft(&author, "doomed", &["doomedtag", "shared"]);
    let doomed = stores
        .articles
        .create(doomed_draft.clone())
        .await
        .expect("article created");
    let survivor = publish(&stores, &author, "survivor", &["shared"]).await;
    favorite(&stores, &reader, doomed).await;
    favorite(&stores, &reader, survivor).await;
    let doomed_comment = comment_on(&stores, doomed, &reader, "First!").await;
    let surviving_comment = comment_on(&stores, survivor, &reader, "Still here").await;

    assert!(stores.articles.delete(doomed).await.expect("deleted"));

    assert_eq!(
        stores
            .article_queries
            .article(doomed, None)
            .await
            .expect("read"),
        None
    );
    let by_slug = stores
        .articles
        .by_slug(&doomed_draft.slug)
        .await
        .expect("read");
    assert_eq!(by_slug, None);
    assert_eq!(comment_ids(&stores, doomed).await, Vec::<CommentId>::new());
    assert_eq!(
        stores
            .comments
            .comment(doomed_comment, None)
            .await
            .expect("read"),
        None
    );
    assert_eq!(
        stores
            .comments
            .find(doomed, doomed_comment)
            .await
            .expect("read"),
        None
    );
    assert_eq!(
        comment_ids(&stores, survivor).await,
        vec![surviving_comment]
    );
    assert_eq!(tags(&stores, 100).await, strings(&["shared"]));
    let favorites = list(
        &stores,
        favorited_by(&reader.username),
        Page::default(),
        None,
    )
    .await;
    assert_eq!((ids(&favorites), favorites.total), (vec![survivor], 1));
    assert_eq!(
        view(&stores, survivor, None).await.summary.favorites_count,
        1
    );

    // A backend may hand the freed id to the next article; it must start clean.
    let fresh = publish(&stores, &author, "fresh", &[]).await;
    let fresh_view = view(&stores, fresh, Some(reader.id)).await;
    assert_eq!(
        (
            fresh_view.summary.favorited,
            fresh_view.summary.favorites_count
        ),
        (false, 0)
    );
    assert_eq!(comment_ids(&stores, fresh).await, Vec::<CommentId>::new());

    assert!(!stores.articles.delete(doomed).await.expect("delete ran"));
    assert!(
        !stores
            .articles
            .delete(ABSENT_ARTICLE)
            .await
            .expect("delete ran")
    );
}

// ---------------------------------------------------------------------------------------
// Favorites
// ---------------------------------------------------------------------------------------

/// Favoriting twice counts once; `favorited` is the viewer's own answer.
pub async fn favorite_twice_counts_once_and_is_seen_per_viewer(stores: Stores) {
    let author = register(&stores, "favauthor").await;
    let fan = register(&stores, "favfan").await;
    let other_fan = register(&stores, "otherfan").await;
    let stranger = register(&stores, "favstranger").await;
    let id = publish(&stores, &author, "liked", &[]).await;

    favorite(&stores, &fan, id).await;
    favorite(&stores, &fan, id).await;
    let seen = view(&stores, id, Some(fan.id)).await.summary;
    assert_eq!((seen.favorited, seen.favorites_count), (true, 1));

    favorite(&stores, &other_fan, id).await;
    for (viewer, favorited) in [
        (Some(fan.id), true),
        (Some(other_fan.id), true),
        (Some(stranger.id), false),
        (None, false),
    ] {
        let seen = view(&stores, id, viewer).await.summary;
        assert_eq!(
            (seen.favorited, seen.favorites_count),
            (favorited, 2),
            "{viewer:?}"
        );
        let listed = list(
            &stores,
            by_author(&author.username),
            Page::default(),
            viewer,
        )
        .await;
        let listed = &listed.articles[0];
        assert_eq!(
            (listed.favorited, listed.favorites_count),
            (favorited, 2),
            "{viewer:?}"
        );
    }
}

/// Unfavoriting twice, or without having favorited, is not an error, and touches only
/// that user's favorite of that article.
pub async fn unfavorite_twice_is_not_an_error(stores: Stores) {
    let author = register(&stores, "unfavauthor").await;
    let fan = register(&stores, "fickle").await;
    let loyal = register(&stores, "loyal").await;
    let id = publish(&stores, &author, "unliked", &[]).await;
    let other = publish(&stores, &author, "still-liked", &[]).await;
    favorite(&stores, &fan, id).await;
    favorite(&stores, &loyal, id).await;
    favorite(&stores, &fan, other).await;

    stores
        .articles
        .unfavorite(fan.id, id)
        .await
        .expect("first unfavorite");
    stores
        .articles
        .unfavorite(fan.id, id)
        .await
        .expect("second unfavorite");
    stores
        .articles
        .unfavorite(author.id, id)
        .await
        .expect("never favorited");

    let seen = view(&stores, id, Some(fan.id)).await.summary;
    assert_eq!((seen.favorited, seen.favorites_count), (false, 1));
    let seen = view(&stores, id, Some(loyal.id)).await.summary;
    assert_eq!((seen.favorited, seen.favorites_count), (true, 1));
    let seen = view(&stores, other, Some(fan.id)).await.summary;
    assert_eq!((seen.favorited, seen.favorites_count), (true, 1));
}

// ---------------------------------------------------------------------------------------
// ArticleQueries: lists
// ---------------------------------------------------------------------------------------

/// The global list is most recent first and counts every match.
pub async fn list_is_most_recent_first(stores: Stores) {
    let author = register(&stores, "chronicler").await;
    let first = publish(&stores, &author, "first", &[]).await;
    let second = publish(&stores, &author, "second", &[]).await;
    let third = publish(&stores, &author, "third", &[]).await;

    let everything = list(&stores, all(), Page::default(), None).await;

    assert_eq!(ids(&everything), vec![third, second, first]);
    assert_eq!(everything.total, 3);
}

/// The tag filter matches the tag exactly.
pub async fn list_by_tag(stores: Stores) {
    let author = register(&stores, "tagger").await;
    let rust = publish(&stores, &author, "rusty", &["rust"]).await;
    publish(&stores, &author, "gopher", &["go"]).await;
    let both = publish(&stores, &author, "polyglot", &["go", "rust"]).await;

    let tagged = list(&stores, by_tag("rust"), Page::default(), None).await;

    assert_eq!((ids(&tagged), tagged.total), (vec![both, rust], 2));
    assert_eq!(
        list(&stores, by_tag("RUST"), Page::default(), None)
            .await
            .total,
        0
    );
    assert_eq!(
        list(&stores, by_tag("rus"), Page::default(), None)
            .await
            .total,
        0
    );
}

/// The author filter matches the username in any case.
pub async fn list_by_author_in_any_case(stores: Stores) {
    let alice = register(&stores, "Alice").await;
    let bob = register(&stores, "bob").await;
    let first = publish(&stores, &alice, "alice-one", &[]).await;
    publish(&stores, &bob, "bob-one", &[]).await;
    let second = publish(&stores, &alice, "alice-two", &[]).await;

    for variant in [
        alice.username.clone(),
        alice.username.to_uppercase(),
        alice.username.to_lowercase(),
    ] {
        let by_alice = list(&stores, by_author(&variant), Page::default(), None).await;
        assert_eq!(
            (ids(&by_alice), by_alice.total),
            (vec![second, first], 2),
            "{variant}"
        );
    }
}

/// The favorited filter matches the username in any case and keeps article order, not
/// the order of favoriting.
pub async fn list_by_favorited_in_any_case(stores: Stores) {
    let author = register(&stores, "favwriter").await;
    let fan = register(&stores, "Collector").await;
    let first = publish(&stores, &author, "fav-one", &[]).await;
    publish(&stores, &author, "fav-none", &[]).await;
    let third = publish(&stores, &author, "fav-three", &[]).await;
    favorite(&stores, &fan, third).await;
    favorite(&stores, &fan, first).await;

    for variant in [
        fan.username.clone(),
        fan.username.to_uppercase(),
        fan.username.to_lowercase(),
    ] {
        let favorites = list(&stores, favorited_by(&variant), Page::default(), None).await;
        assert_eq!(
            (ids(&favorites), favorites.total),
            (vec![third, first], 2),
            "{variant}"
        );
    }
}

/// Filters given together must all hold.
pub async fn list_filters_combine(stores: Stores) {
    let alice = register(&stores, "combalice").await;
    let bob = register(&stores, "combbob").await;
    let fan = register(&stores, "combfan").await;
    let a1 = publish(&stores, &alice, "comb-a1", &["x"]).await;
    let a2 = publish(&stores, &alice, "comb-a2", &["x", "y"]).await;
    let b1 = publish(&stores, &bob, "comb-b1", &["x"]).await;
    favorite(&stores, &fan, a1).await;
    favorite(&stores, &fan, b1).await;

    let filter = |tag: Option<&str>, author: Option<&User>, fan: Option<&User>| ArticleFilter {
        tag: tag.map(|t| TagName::parse(t).expect("tag")),
        author: author.map(|u| username(&u.username)),
        favorited_by: fan.map(|u| username(&u.username)),
        search: None,
    };
    let cases = [
        (filter(Some("x"), Some(&alice), None), vec![a2, a1]),
        (filter(Some("x"), None, Some(&fan)), vec![b1, a1]),
        (filter(None, Some(&alice), Some(&fan)), vec![a1]),
        (filter(Some("x"), Some(&alice), Some(&fan)), vec![a1]),
        (filter(Some("y"), Some(&alice), Some(&fan)), vec![]),
        (filter(Some("y"), Some(&bob), None), vec![]),
    ];
    for (filter, expected) in cases {
        let found = list(&stores, filter.clone(), Page::default(), None).await;
        assert_eq!(found.total, expected.len() as u64, "{filter:?}");
        assert_eq!(ids(&found), expected, "{filter:?}");
    }
}

/// Every list's and the feed's total is the number of articles it holds, after each kind
/// of write that changes a set: publishing, retagging, favoriting, unfavoriting,
/// deleting (the SQL stores keep these totals as counts, ADR 0020). The tag cloud
/// follows the same counts.
pub async fn list_totals_follow_every_write(stores: Stores) {
    let alice = register(&stores, "totalice").await;
    let bob = register(&stores, "totbob").await;
    let fan = register(&stores, "totfan").await;
    follow(&stores, &fan, &alice).await;
    follow(&stores, &fan, &bob).await;
    let check = |step: &'static str| {
        let stores = stores.clone();
        let (alice, bob, fan) = (alice.clone(), bob.clone(), fan.clone());
        async move {
            let everything = page(100, 0);
            let filters = [
                all(),
                by_tag("tx"),
                by_tag("ty"),
                by_author(&alice.username),
                by_author(&bob.username),
                favorited_by(&fan.username),
                favorited_by(&alice.username),
            ];
            for filter in filters {
                let found = list(&stores, filter.clone(), everything, None).await;
                assert_eq!(
                    found.total,
                    found.articles.len() as u64,
                    "{step}: {filter:?}"
                );
                let first = list(&stores, filter.clone(), page(1, 0), None).await;
                assert_eq!(first.total, found.total, "{step}: {filter:?}, one per page");
            }
            let feed_all = feed(&stores, fan.id, everything).await;
            assert_eq!(
                feed_all.total,
                feed_all.articles.len() as u64,
                "{step}: feed"
            );
            let cloud = tags(&stores, 10).await;
            let used: Vec<&str> = ["tx", "ty"]
                .into_iter()
                .filter(|t| cloud.iter().any(|c| c == t))
                .collect();
            for tag in ["tx", "ty"] {
                let listed = list(&stores, by_tag(tag), everything, None).await.total;
                assert_eq!(
                    used.contains(&tag),
                    listed > 0,
                    "{step}: {tag} in {cloud:?}"
                );
            }
        }
    };
    check("empty").await;
    let a1 = publish(&stores, &alice, "tot-a1", &["tx"]).await;
    let a2 = publish(&stores, &alice, "tot-a2", &["tx", "ty"]).await;
    let b1 = publish(&stores, &bob, "tot-b1", &["ty"]).await;
    check("published").await;
    assert_eq!(list(&stores, all(), page(1, 0), None).await.total, 3);
    favorite(&stores, &fan, a1).await;
    favorite(&stores, &fan, b1).await;
    favorite(&stores, &alice, b1).await;
    check("favorited").await;
    let retag = ArticleChanges {
        tags: Some(tag_names(&["ty"])),
        ..no_changes()
    };
    assert!(stores.articles.update(a1, retag).await.expect("updated"));
    check("retagged").await;
    stores
        .articles
        .unfavorite(fan.id, a1)
        .await
        .expect("unfavorited");
    check("unfavorited").await;
    assert!(stores.articles.delete(b1).await.expect("deleted"));
    check("deleted").await;
    assert!(!stores.articles.delete(b1).await.expect("deleted twice"));
    check("deleted twice").await;
    assert!(stores.articles.delete(a2).await.expect("deleted"));
    check("deleted again").await;
    assert_eq!(list(&stores, all(), page(1, 0), None).await.total, 1);
    assert_eq!(tags(&stores, 10).await, strings(&["ty"]));
}

/// Unknown tags and usernames match nothing, even combined with filters that match.
pub async fn list_with_unknown_filter_values_is_empty(stores: Stores) {
    let author = register(&stores, "known").await;
    let fan = register(&stores, "knownfan").await;
    let idle = register(&stores, "idle").await;
    let id = publish(&stores, &author, "known-article", &["knowntag"]).await;
    favorite(&stores, &fan, id).await;
    let nobody = unique("nobody");

    let cases = [
        by_tag("unknowntag"),
        by_author(&nobody),
        favorited_by(&nobody),
        favorited_by(&idle.username),
        ArticleFilter {
            tag: Some(TagName::parse("knowntag").expect("tag")),
            author: Some(username(&nobody)),
            favorited_by: None,
            search: None,
        },
        ArticleFilter {
            tag: None,
            author: Some(username(&author.username)),
            favorited_by: Some(username(&nobody)),
            search: None,
        },
    ];
    for filter in cases {
        let found = list(&stores, filter.clone(), Page::default(), None).await;
        assert_eq!(found, ArticlePage::default(), "{filter:?}");
    }
}

/// `limit` and `offset` cut pages from the ordered list; `total` counts all matches.
pub async fn list_pages_with_total(stores: Stores) {
    let author = register(&stores, "pager").await;
    let other = register(&stores, "otherpager").await;
    let mut published = Vec::new();
    for n in 0..5 {
        published.push(publish(&stores, &author, &format!("page{n}-"), &[]).await);
    }
    publish(&stores, &other, "not-mine", &[]).await;
    published.reverse();
    let newest_first = published;

    let filter = || by_author(&author.username);
    for (limit, offset, expected) in [
        (2, 0, &newest_first[0..2]),
        (2, 2, &newest_first[2..4]),
        (2, 4, &newest_first[4..5]),
        (2, 5, &newest_first[5..5]),
        (20, 10, &newest_first[5..5]),
        (1, 3, &newest_first[3..4]),
        (100, 0, &newest_first[..]),
    ] {
        let found = list(&stores, filter(), page(limit, offset), None).await;
        assert_eq!(ids(&found), expected, "limit {limit} offset {offset}");
        assert_eq!(found.total, 5, "limit {limit} offset {offset}");
    }
    assert_eq!(list(&stores, all(), page(1, 0), None).await.total, 6);
}

/// Summaries in a list carry tags, favorites and the author's profile as the viewer
/// sees them.
pub async fn list_summaries_carry_tags_author_and_following(stores: Stores) {
    let author = register(&stores, "summarised").await;
    let changes = UserChanges {
        bio: Bio::parse("Writes things").expect("valid bio").into(),
        image: ImageUrl::parse("https://example.com/author.png")
            .expect("valid image")
            .into(),
        ..UserChanges::default()
    };
    let author = update_user(&stores, author.id, changes, tick()).await;
    let follower = register(&stores, "summaryreader").await;
    let new = draft(&author, "summary", &["one", "two"]);
    let id = stores
        .articles
        .create(new.clone())
        .await
        .expect("article created");
    follow(&stores, &follower, &author).await;
    favorite(&stores, &follower, id).await;

    let expected = |seen_by_follower: bool| ArticleSummary {
        id,
        slug: new.slug.as_str().to_owned(),
        title: new.title.as_str().to_owned(),
        description: new.description.as_str().to_owned(),
        tags: strings(&["one", "two"]),
        created_at: new.created_at,
        updated_at: new.created_at,
        favorited: seen_by_follower,
        favorites_count: 1,
        author: profile_of(&author, seen_by_follower),
    };
    let as_follower = list(&stores, all(), Page::default(), Some(follower.id)).await;
    assert_eq!(as_follower.articles, vec![expected(true)]);
    let anonymous = list(&stores, all(), Page::default(), None).await;
    assert_eq!(anonymous.articles, vec![expected(false)]);
    let as_author = list(&stores, all(), Page::default(), Some(author.id)).await;
    assert_eq!(as_author.articles, vec![expected(false)]);
}

// ---------------------------------------------------------------------------------------
// ArticleQueries: feed
// ---------------------------------------------------------------------------------------

/// The feed holds the articles of followed authors only, most recent first, seen by the
/// viewer.
pub async fn feed_has_only_followed_authors_most_recent_first(stores: Stores) {
    let reader = register(&stores, "feedreader").await;
    let one = register(&stores, "followedone").await;
    let two = register(&stores, "followedtwo").await;
    let ignored = register(&stores, "ignored").await;
    let one_old = publish(&stores, &one, "one-old", &[]).await;
    publish(&stores, &ignored, "ignored", &[]).await;
    let two_only = publish(&stores, &two, "two-only", &["feedtag"]).await;
    publish(&stores, &reader, "own", &[]).await;
    let one_new = publish(&stores, &one, "one-new", &[]).await;
    follow(&stores, &reader, &one).await;
    follow(&stores, &reader, &two).await;
    follow(&stores, &ignored, &reader).await;
    favorite(&stores, &reader, two_only).await;

    let page_one = feed(&stores, reader.id, Page::default()).await;

    assert_eq!(
        (ids(&page_one), page_one.total),
        (vec![one_new, two_only, one_old], 3)
    );
    assert!(page_one.articles.iter().all(|a| a.author.following));
    let favorited: Vec<bool> = page_one.articles.iter().map(|a| a.favorited).collect();
    assert_eq!(favorited, [false, true, false]);
    assert_eq!(page_one.articles[1].tags, strings(&["feedtag"]));

    stores
        .profiles
        .unfollow(reader.id, two.id)
        .await
        .expect("unfollowed");
    let after = feed(&stores, reader.id, Page::default()).await;
    assert_eq!((ids(&after), after.total), (vec![one_new, one_old], 2));

    let lonely = register(&stores, "lonely").await;
    assert_eq!(
        feed(&stores, lonely.id, Page::default()).await,
        ArticlePage::default()
    );
}

/// The feed pages like the list: `limit`, `offset`, and a total across pages.
pub async fn feed_pages_with_total(stores: Stores) {
    let reader = register(&stores, "feedpager").await;
    let author = register(&stores, "prolific").await;
    follow(&stores, &reader, &author).await;
    let mut published = Vec::new();
    for n in 0..4 {
        published.push(publish(&stores, &author, &format!("feed{n}-"), &[]).await);
    }
    published.reverse();
    let newest_first = published;

    for (limit, offset, expected) in [
        (3, 0, &newest_first[0..3]),
        (3, 3, &newest_first[3..4]),
        (3, 4, &newest_first[4..4]),
        (2, 1, &newest_first[1..3]),
    ] {
        let found = feed(&stores, reader.id, page(limit, offset)).await;
        assert_eq!(ids(&found), expected, "limit {limit} offset {offset}");
        assert_eq!(found.total, 4, "limit {limit} offset {offset}");
    }
}

// ---------------------------------------------------------------------------------------
// CommentStore
// ---------------------------------------------------------------------------------------

/// A comment is found under its own article only.
pub async fn comment_found_only_under_its_article(stores: Stores) {
    let author = register(&stores, "commented").await;
    let commenter = register(&stores, "commenter").await;
    let article = publish(&stores, &author, "discussed", &[]).await;
    let elsewhere = publish(&stores, &author, "elsewhere", &[]).await;

    let id = comment_on(&stores, article, &commenter, "Great post").await;

    let found = stores.comments.find(article, id).await.expect("read");
    let expected = CommentRef {
        id,
        article_id: article,
        author_id: commenter.id,
    };
    assert_eq!(found, Some(expected));
    assert_eq!(
        stores.comments.find(elsewhere, id).await.expect("read"),
        None
    );
    assert_eq!(
        stores
            .comments
            .find(article, ABSENT_COMMENT)
            .await
            .expect("read"),
        None
    );
}

/// An article's comments are listed oldest first, and only that article's.
pub async fn comments_listed_oldest_first(stores: Stores) {
    let author = register(&stores, "threadowner").await;
    let commenter = register(&stores, "chatty").await;
    let article = publish(&stores, &author, "thread", &[]).await;
    let other = publish(&stores, &author, "other-thread", &[]).await;
    let quiet = publish(&stores, &author, "quiet", &[]).await;

    let first = comment_on(&stores, article, &commenter, "one").await;
    let second = comment_on(&stores, article, &author, "two").await;
    let elsewhere = comment_on(&stores, other, &commenter, "elsewhere").await;
    let third = comment_on(&stores, article, &commenter, "three").await;

    assert_eq!(
        comment_ids(&stores, article).await,
        vec![first, second, third]
    );
    assert_eq!(comment_ids(&stores, other).await, vec![elsewhere]);
    assert_eq!(comment_ids(&stores, quiet).await, Vec::<CommentId>::new());
    let bodies: Vec<String> = stores
        .comments
        .list(article, None)
        .await
        .expect("comments listed")
        .into_iter()
        .map(|c| c.body)
        .collect();
    assert_eq!(bodies, strings(&["one", "two", "three"]));
}

/// A comment view carries its text, time and author as the viewer sees them.
pub async fn comment_view_as_the_viewer_sees_it(stores: Stores) {
    let author = register(&stores, "postowner").await;
    let commenter = register(&stores, "remarker").await;
    let changes = UserChanges {
        bio: Bio::parse("Comments a lot").expect("valid bio").into(),
        ..UserChanges::default()
    };
    let commenter = update_user(&stores, commenter.id, changes, tick()).await;
    let viewer = register(&stores, "watcher").await;
    follow(&stores, &viewer, &commenter).await;
    let article = publish(&stores, &author, "commented-on", &[]).await;
    let created_at = tick();
    let new = NewComment {
        article_id: article,
        author_id: commenter.id,
        body: CommentBody::parse("  Spaces and\nlines are kept  ").expect("valid comment"),
        created_at,
    };
    let id = stores.comments.add(new).await.expect("comment added");

    let expected = |following: bool| CommentView {
        id,
        body: "  Spaces and\nlines are kept  ".into(),
        created_at,
        updated_at: created_at,
        author: profile_of(&commenter, following),
    };
    let seen = stores
        .comments
        .comment(id, Some(viewer.id))
        .await
        .expect("read");
    assert_eq!(seen, Some(expected(true)));
    assert_eq!(
        stores.comments.comment(id, None).await.expect("read"),
        Some(expected(false))
    );
    let listed = stores
        .comments
        .list(article, Some(viewer.id))
        .await
        .expect("listed");
    assert_eq!(listed, vec![expected(true)]);
    assert_eq!(
        stores
            .comments
            .comment(ABSENT_COMMENT, None)
            .await
            .expect("read"),
        None
    );
}

/// Deleting a comment answers whether it existed, so the second time `false`.
pub async fn comment_delete_twice_is_false_the_second_time(stores: Stores) {
    let author = register(&stores, "moderator").await;
    let article = publish(&stores, &author, "moderated", &[]).await;
    let doomed = comment_on(&stores, article, &author, "regrettable").await;
    let kept = comment_on(&stores, article, &author, "fine").await;

    assert!(stores.comments.delete(doomed).await.expect("deleted"));
    assert!(!stores.comments.delete(doomed).await.expect("delete ran"));
    assert!(
        !stores
            .comments
            .delete(ABSENT_COMMENT)
            .await
            .expect("delete ran")
    );

    assert_eq!(
        stores.comments.find(article, doomed).await.expect("read"),
        None
    );
    assert_eq!(
        stores.comments.comment(doomed, None).await.expect("read"),
        None
    );
    assert_eq!(comment_ids(&stores, article).await, vec![kept]);
}

// ---------------------------------------------------------------------------------------
// Tags
// ---------------------------------------------------------------------------------------

/// Tags in use, most used first, ties by name in byte order (so upper case first), at
/// most `limit`.
pub async fn tags_most_used_first_then_by_name(stores: Stores) {
    assert_eq!(tags(&stores, 10).await, Vec::<String>::new());
    let author = register(&stores, "tagcounter").await;
    publish(&stores, &author, "tags-a", &["beta", "alpha", "gamma"]).await;
    publish(&stores, &author, "tags-b", &["gamma", "beta"]).await;
    publish(&stores, &author, "tags-c", &["gamma"]).await;
    publish(&stores, &author, "tags-d", &["delta", "Zulu"]).await;

    let expected = ["gamma", "beta", "Zulu", "alpha", "delta"];
    assert_eq!(tags(&stores, 10).await, strings(&expected));
    assert_eq!(tags(&stores, 3).await, strings(&expected[..3]));
    assert_eq!(tags(&stores, 1).await, strings(&expected[..1]));
}

/// An article by `author` with this text (the slug unique).
async fn publish_text(
    stores: &Stores,
    author: &User,
    [title_text, description, body]: [&str; 3],
    tags: &[&str],
) -> ArticleId {
    let article = NewArticle {
        title: title(title_text),
        description: ArticleDescription::parse(description).expect("valid description"),
        body: ArticleBody::parse(body).expect("valid body"),
        ..draft(author, "searched", tags)
    };
    stores
        .articles
        .create(article)
        .await
        .expect("article created")
}

/// The filter that searches `text` (which must hold a word).
fn searching(text: &str) -> ArticleFilter {
    ArticleFilter {
        search: Some(
            SearchQuery::parse(text)
                .expect("not too long")
                .expect("has a word"),
        ),
        ..ArticleFilter::default()
    }
}

async fn found(stores: &Stores, filter: ArticleFilter) -> Vec<ArticleId> {
    ids(&list(stores, filter, page(100, 0), None).await)
}

/// A search finds its words in the title, the description or the body, whole and in
/// any case, all of them; a title match ranks above a description match above a body
/// match, whatever their age.
pub async fn search_finds_every_word_in_any_field_ranked_by_field(stores: Stores) {
    let author = register(&stores, "searcher").await;
    let in_title = publish_text(
        &stores,
        &author,
        ["Ferris the crab", "A mascot", "Hello."],
        &[],
    )
    .await;
    let in_description = publish_text(
        &stores,
        &author,
        ["A mascot", "Ferris the crab", "Hello."],
        &[],
    )
    .await;
    let in_body = publish_text(
        &stores,
        &author,
        ["A mascot", "Hello", "Meet ferris, the crab."],
        &[],
    )
    .await;
    let split = publish_text(
        &stores,
        &author,
        ["Alpha", "Gamma", "Beta and ferrisx."],
        &[],
    )
    .await;
    publish_text(&stores, &author, ["Nothing", "To see", "Here at all."], &[]).await;

    let ranked = vec![in_title, in_description, in_body];
    assert_eq!(found(&stores, searching("ferris")).await, ranked);
    assert_eq!(found(&stores, searching("  FERRIS ")).await, ranked);
    assert_eq!(found(&stores, searching("crab, ferris!")).await, ranked);
    // Every word must be there, whole, in whichever fields.
    assert_eq!(
        found(&stores, searching("ferris mascot crab")).await,
        ranked
    );
    assert_eq!(
        found(&stores, searching("ferris meet")).await,
        vec![in_body]
    );
    assert_eq!(
        found(&stores, searching("beta alpha gamma")).await,
        vec![split]
    );
    assert_eq!(found(&stores, searching("ferrisx")).await, vec![split]);
    assert_eq!(
        found(&stores, searching("ferri")).await,
        Vec::<ArticleId>::new()
    );
    let page = list(&stores, searching("ferris"), page(20, 0), None).await;
    assert_eq!(page.total, 3);
    assert_eq!(page.articles[0].title, "Ferris the crab");
}

/// Articles as relevant as each other come newest first.
pub async fn search_ties_are_newest_first(stores: Stores) {
    let author = register(&stores, "tied").await;
    let text = ["Tied kiwi", "Same words", "Same body."];
    let older = publish_text(&stores, &author, text, &[]).await;
    let newer = publish_text(&stores, &author, text, &[]).await;
    assert_eq!(found(&stores, searching("kiwi")).await, vec![newer, older]);
}

/// A search considers the newest `SearchQuery::WINDOW` matching articles: it ranks
/// those, its total stops there, paging ends there, and an older match, however
/// relevant, is not among them; a narrower search (another word, or a filter) reaches
/// it.
pub async fn search_considers_the_newest_window_of_matches(stores: Stores) {
    let author = register(&stores, "windowed").await;
    let oldest = publish_text(
        &stores,
        &author,
        ["Quokka quokka", "Quokka", "The first quokka, and a wombat."],
        &["marsupial"],
    )
    .await;
    let window = SearchQuery::WINDOW;
    let mut newest = Vec::new();
    for n in 0..window {
        // One in the middle of the window holds the word in its title.
        let title = if n == window / 2 { "Quokka" } else { "Notes" };
        newest.push(publish_text(&stores, &author, [title, "Plain", "A quokka."], &[]).await);
    }
    let in_title = newest[usize::try_from(window / 2).expect("small")];
    let others: Vec<ArticleId> = newest
        .iter()
        .rev()
        .copied()
        .filter(|id| *id != in_title)
        .collect();

    let first = list(&stores, searching("quokka"), page(20, 0), None).await;
    assert_eq!(first.total, window);
    let mut expected = vec![in_title];
    expected.extend(&others[..19]);
    assert_eq!(ids(&first), expected);
    let last = list(&stores, searching("quokka"), page(20, window - 20), None).await;
    assert_eq!(last.total, window);
    assert_eq!(ids(&last), others[others.len() - 20..]);
    let past = list(&stores, searching("quokka"), page(20, window), None).await;
    assert_eq!((past.total, ids(&past)), (window, Vec::new()));

    assert_eq!(
        found(&stores, searching("quokka wombat")).await,
        vec![oldest]
    );
    let tagged = ArticleFilter {
        search: searching("quokka").search,
        ..by_tag("marsupial")
    };
    assert_eq!(found(&stores, tagged).await, vec![oldest]);
}

/// A search combines with the tag, author and favorited filters, and pages with the
/// exact total of its matches.
pub async fn search_combines_with_filters_and_pages(stores: Stores) {
    let alice = register(&stores, "searchalice").await;
    let bob = register(&stores, "searchbob").await;
    let fan = register(&stores, "searchfan").await;
    let text = ["Guava notes", "About guava", "Guava, again."];
    let a1 = publish_text(&stores, &alice, text, &["fruit"]).await;
    let a2 = publish_text(&stores, &alice, text, &[]).await;
    let b1 = publish_text(&stores, &bob, text, &["fruit"]).await;
    let b2 = publish_text(&stores, &bob, text, &[]).await;
    let a3 = publish_text(&stores, &alice, text, &["fruit"]).await;
    publish_text(&stores, &alice, ["Other", "Other", "Other."], &["fruit"]).await;
    favorite(&stores, &fan, a2).await;
    favorite(&stores, &fan, b1).await;

    let with = |filter: ArticleFilter| ArticleFilter {
        search: searching("guava").search,
        ..filter
    };
    let cases = [
        (with(by_tag("fruit")), vec![a3, b1, a1]),
        (with(by_author(&alice.username)), vec![a3, a2, a1]),
        (with(favorited_by(&fan.username)), vec![b1, a2]),
        (
            ArticleFilter {
                tag: Some(TagName::parse("fruit").expect("tag")),
                ..with(by_author(&bob.username))
            },
            vec![b1],
        ),
        (with(by_author(&fan.username)), vec![]),
        (with(by_tag("nosuchtag")), vec![]),
        (with(by_author("nosuchauthor")), vec![]),
        (with(favorited_by("nosuchfan")), vec![]),
        // Usernames match in any case, as without a search.
        (
            with(by_author(&alice.username.to_uppercase())),
            vec![a3, a2, a1],
        ),
        (
            with(favorited_by(&fan.username.to_uppercase())),
            vec![b1, a2],
        ),
    ];
    for (filter, expected) in cases {
        let page = list(&stores, filter.clone(), page(100, 0), None).await;
        assert_eq!(ids(&page), expected, "{filter:?}");
        assert_eq!(page.total, expected.len() as u64, "{filter:?}");
    }

    let newest_first = [a3, b2, b1, a2, a1];
    for (limit, offset, expected) in [
        (2, 0, &newest_first[0..2]),
        (2, 2, &newest_first[2..4]),
        (2, 4, &newest_first[4..5]),
        (2, 6, &newest_first[5..5]),
    ] {
        let page = list(&stores, searching("guava"), page(limit, offset), None).await;
        assert_eq!(ids(&page), expected, "limit {limit} offset {offset}");
        assert_eq!(page.total, 5, "limit {limit} offset {offset}");
    }
    let none = list(&stores, searching("durian"), page(20, 0), None).await;
    assert_eq!(none, ArticlePage::default());
}

/// No search text is an error in any store: quotes, punctuation, the operators of
/// search syntaxes, NUL and any script are words or separators, never syntax.
pub async fn search_input_never_errors(stores: Stores) {
    let author = register(&stores, "oddsearch").await;
    let cheese = publish_text(
        &stores,
        &author,
        ["Käse und Brot", "Über alles", "日本語 text 🦀."],
        &[],
    )
    .await;
    for text in [
        "\"",
        "'",
        "rust\"",
        "\"unterminated phrase",
        "a OR b",
        "NOT x",
        "x AND",
        "-x",
        "x*",
        "*",
        "title:x",
        "body : x",
        "NEAR(a b)",
        "^x",
        "(x",
        "x)",
        "{a b}",
        "a + b",
        "x\u{0}y",
        "\u{0}",
        "'; DROP TABLE articles; --",
        "\\",
        "%_",
        "a & b | !c <-> d",
        "'''",
        "🦀",
        "e\u{301}",
        "\u{202e}x",
    ] {
        if let Some(search) = SearchQuery::parse(text).expect("short") {
            let filter = ArticleFilter {
                search: Some(search),
                ..ArticleFilter::default()
            };
            stores
                .article_queries
                .list(&filter, page(20, 0), None)
                .await
                .unwrap_or_else(|e| panic!("{text:?}: {e}"));
        }
    }
    for text in ["käse", "KÄSE brot", "über", "日本語"] {
        assert_eq!(
            found(&stores, searching(text)).await,
            vec![cheese],
            "{text}"
        );
    }
    assert_eq!(
        found(&stores, searching("kase")).await,
        Vec::<ArticleId>::new()
    );
}

/// An edited article is found by its new words and no longer by its old ones; a
/// deleted one is found no more.
pub async fn search_follows_edits_and_deletes(stores: Stores) {
    let author = register(&stores, "editsearch").await;
    let id = publish_text(
        &stores,
        &author,
        ["Mango season", "Fruit", "Juicy pulp."],
        &[],
    )
    .await;
    assert_eq!(found(&stores, searching("juicy mango")).await, vec![id]);

    let changes = ArticleChanges {
        body: Some(ArticleBody::parse("Ripe papaya.").expect("body")),
        ..no_changes()
    };
    assert!(stores.articles.update(id, changes).await.expect("updated"));
    assert_eq!(found(&stores, searching("ripe papaya")).await, vec![id]);
    assert_eq!(
        found(&stores, searching("juicy")).await,
        Vec::<ArticleId>::new()
    );
    assert_eq!(
        found(&stores, searching("pulp mango")).await,
        Vec::<ArticleId>::new()
    );
    assert_eq!(found(&stores, searching("mango")).await, vec![id]);

    let changes = ArticleChanges {
        title: Some(title("Lychee season")),
        description: Some(ArticleDescription::parse("Berries").expect("description")),
        ..no_changes()
    };
    assert!(stores.articles.update(id, changes).await.expect("updated"));
    assert_eq!(
        found(&stores, searching("mango")).await,
        Vec::<ArticleId>::new()
    );
    assert_eq!(
        found(&stores, searching("fruit")).await,
        Vec::<ArticleId>::new()
    );
    assert_eq!(
        found(&stores, searching("lychee berries papaya")).await,
        vec![id]
    );
    // A favorite changes a counted column, not the searched text.
    let fan = register(&stores, "editfan").await;
    favorite(&stores, &fan, id).await;
    assert_eq!(found(&stores, searching("lychee")).await, vec![id]);

    assert!(stores.articles.delete(id).await.expect("deleted"));
    let gone = list(&stores, searching("lychee"), page(20, 0), None).await;
    assert_eq!(gone, ArticlePage::default());
}
