//! The article list and feed queries on `SqlStore` over a seeded database: 50 users with
//! 40 articles each (3 tags apiece from 20), 20 favorites and 10 follows per user. SQLite
//! always (a temporary file); PostgreSQL too when `TEST_DATABASE_URL` names a server
//! where databases may be created (each run creates one and drops it).
//!
//! `cargo bench -p conduit-adapters --features testing --bench queries`

#![allow(missing_docs)]

use std::{
    hint::black_box,
    time::{Duration, Instant},
};

use conduit_adapters::sql::{
    SqlStore,
    testing::{TEST_DATABASE_URL, TestDb},
};
use conduit_domain::{
    ArticleId, UserId,
    article::{
        ArticleBody, ArticleDescription, ArticleFilter, ArticleTitle, NewArticle, Page, Slug,
        TagName,
    },
    ports::{ArticleQueries, ArticleStore, ProfileStore, UserStore},
    time::Timestamp,
    user::{Email, NewUser, PasswordHash, Username},
};
use criterion::{Criterion, criterion_group, criterion_main};
use time::OffsetDateTime;

const USERS: usize = 50;
const ARTICLES_PER_USER: usize = 40;
const TAGS: usize = 20;
const TAGS_PER_ARTICLE: usize = 3;
const FAVORITES_PER_USER: usize = 20;
const FOLLOWS_PER_USER: usize = 10;

/// A fixed pseudo-random sequence (so every run seeds the same rows).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

/// Who the queries are asked about: a viewer with follows and favorites, and a tag and
/// an author that exist.
struct Seeded {
    viewer: UserId,
    viewer_name: String,
    author_name: String,
    tag: String,
}

fn tag_name(i: usize) -> String {
    format!("tag{i:02}")
}

/// Fills `store` through its own ports, as the use cases would.
async fn seed(store: &SqlStore) -> Seeded {
    let started = Instant::now();
    let base = OffsetDateTime::now_utc() - time::Duration::days(365);
    let mut rng = Lcg(17);

    let mut users = Vec::with_capacity(USERS);
    for u in 0..USERS {
        let name = format!("author{u:02}");
        let user = UserStore::create(
            store,
            NewUser {
                username: Username::parse(&name).expect("username"),
                email: Email::parse(&format!("{name}@example.com")).expect("email"),
                password_hash: PasswordHash::new("$argon2id$not-a-real-hash".into()),
                created_at: Timestamp::new(base),
            },
        )
        .await
        .expect("user created");
        users.push(user);
    }

    let body = ArticleBody::parse(&"Lorem ipsum dolor sit amet. ".repeat(40)).expect("body");
    let description =
        ArticleDescription::parse("A short summary of what the article is about").expect("desc");
    let mut articles: Vec<ArticleId> = Vec::with_capacity(USERS * ARTICLES_PER_USER);
    // Interleaved by author, one minute apart, so every author has recent and old ones.
    for n in 0..ARTICLES_PER_USER {
        for (u, author) in users.iter().enumerate() {
            let i = n * USERS + u;
            let title =
                ArticleTitle::parse(&format!("Article {i} by {}", author.username)).expect("title");
            let tags: Vec<String> = (0..TAGS_PER_ARTICLE)
                .map(|_| tag_name(rng.below(TAGS)))
                .collect();
            let id = ArticleStore::create(
                store,
                NewArticle {
                    author_id: author.id,
                    slug: Slug::from_title(&title, None),
                    title,
                    description: description.clone(),
                    body: body.clone(),
                    tags: TagName::parse_list(&tags).expect("tags"),
                    created_at: Timestamp::new(base + time::Duration::minutes(i as i64)),
                },
            )
            .await
            .expect("article created");
            articles.push(id);
        }
    }

    for user in &users {
        for _ in 0..FAVORITES_PER_USER {
            let article = articles[rng.below(articles.len())];
            store.favorite(user.id, article).await.expect("favorited");
        }
        for _ in 0..FOLLOWS_PER_USER {
            let followee = &users[rng.below(users.len())];
            if followee.id != user.id {
                store.follow(user.id, followee.id).await.expect("followed");
            }
        }
    }
    eprintln!(
        "seeded {USERS} users, {} articles in {:.1?}",
        articles.len(),
        started.elapsed()
    );

    // The viewer follows someone, so its feed is not empty; an author it follows is
    // the filter of the by-author list and it itself the filter of the favorited list.
    let viewer = &users[0];
    let page = store.feed(viewer.id, Page::default()).await.expect("feed");
    assert!(page.total > 0, "the viewer's feed is empty");
    Seeded {
        viewer: viewer.id,
        viewer_name: viewer.username.clone(),
        author_name: page.articles[0].author.username.clone(),
        tag: tag_name(0),
    }
}

fn bench_backend(c: &mut Criterion, rt: &tokio::runtime::Runtime, backend: &str, db: TestDb) {
    let store = db.store();
    let seeded = rt.block_on(seed(&store));
    let filters = [
        ("list_global", ArticleFilter::default()),
        (
            "list_by_tag",
            ArticleFilter {
                tag: Some(TagName::parse(&seeded.tag).expect("tag")),
                ..ArticleFilter::default()
            },
        ),
        (
            "list_by_author",
            ArticleFilter {
                author: Some(Username::parse(&seeded.author_name).expect("author")),
                ..ArticleFilter::default()
            },
        ),
        (
            "list_favorited",
            ArticleFilter {
                favorited_by: Some(Username::parse(&seeded.viewer_name).expect("viewer")),
                ..ArticleFilter::default()
            },
        ),
    ];

    let mut group = c.benchmark_group(format!("queries_{backend}"));
    group.bench_function("list_global_anonymous", |b| {
        b.to_async(rt)
            .iter(|| store.list(black_box(&filters[0].1), Page::default(), black_box(None)))
    });
    for (name, filter) in &filters {
        group.bench_function(*name, |b| {
            b.to_async(rt).iter(|| {
                store.list(
                    black_box(filter),
                    Page::default(),
                    black_box(Some(seeded.viewer)),
                )
            })
        });
    }
    group.bench_function("list_global_offset_1000", |b| {
        let deep = Page {
            limit: 20,
            offset: 1000,
        };
        b.to_async(rt)
            .iter(|| store.list(black_box(&filters[0].1), deep, Some(seeded.viewer)))
    });
    group.bench_function("feed", |b| {
        b.to_async(rt)
            .iter(|| store.feed(black_box(seeded.viewer), Page::default()))
    });
    group.finish();
    rt.block_on(db.cleanup());
}

fn queries(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let sqlite = rt.block_on(TestDb::sqlite());
    bench_backend(c, &rt, "sqlite", sqlite);
    match std::env::var(TEST_DATABASE_URL) {
        Ok(url) if !url.trim().is_empty() => {
            let postgres = rt.block_on(TestDb::postgres(url.trim()));
            bench_backend(c, &rt, "postgres", postgres);
        }
        _ => eprintln!("{TEST_DATABASE_URL} is unset: PostgreSQL is not measured"),
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5));
    targets = queries
}
criterion_main!(benches);
