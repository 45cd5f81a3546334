//! `GET /api/articles`: the default page of 20 articles, from the use case's result to
//! the JSON bytes of the response. The DTOs are private to the crate, so the response is
//! built by the real handler (routing, query parsing, optional auth, the use case, the
//! DTO conversion and its JSON) over an in-memory store, and two partial measurements
//! bracket the conversion:
//!
//! - `use_case`: `Conduit::list_articles` alone (the in-memory query and its copy);
//! - `handler`: the whole endpoint, body bytes included;
//! - `json_value_to_bytes`: the last step of the handler, `serde_json` writing the
//!   response's JSON tree (poem-openapi builds a `serde_json::Value` from the DTO, then
//!   writes it).
//!
//! `handler - use_case` is what the HTTP layer adds per list request.
//!
//! `cargo bench -p conduit-server --bench article_list`

#![allow(missing_docs)]

use std::{hint::black_box, sync::Arc};

use conduit_adapters::memory::MemoryStore;
use conduit_api::api_service;
use conduit_app::Conduit;
use conduit_domain::{
    article::{
        ArticleBody, ArticleDescription, ArticleSelection, ArticleTitle, NewArticle, Page, Slug,
        TagName,
    },
    ports::{ArticleStore, ProfileStore, Stores, UserStore},
    time::Timestamp,
    user::{Bio, Email, ImageUrl, NewUser, PasswordHash, UserChanges, Username},
};
use conduit_server::{Config, config::Secret, wiring::wire};
use criterion::{Criterion, criterion_group, criterion_main};
use poem::{Endpoint, IntoEndpoint, Request, http::StatusCode};
use time::OffsetDateTime;

const AUTHORS: usize = 5;
const ARTICLES: usize = 20;

/// The application as the server wires it (cache off, so every request reaches the
/// store), with its stores swapped for one in-memory store holding `ARTICLES` articles.
async fn app() -> Conduit {
    let mut config = Config::default();
    config.database.url = Secret("sqlite::memory:".into());
    config.cache.enabled = false;
    config.auth.jwt_secret = Some(Secret("a benchmark signing key, 32 bytes or more".into()));
    config.auth.argon2_memory_kib = 8;
    config.auth.argon2_iterations = 1;
    let wired = wire(&config).await.expect("wired");

    let memory = Arc::new(MemoryStore::new());
    seed(&memory).await;
    wired.app.with_stores(Stores::from_one(memory))
}

async fn seed(store: &MemoryStore) {
    let base = OffsetDateTime::now_utc() - time::Duration::days(30);
    let mut authors = Vec::new();
    for a in 0..AUTHORS {
        let name = format!("author{a}");
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
        .expect("user");
        let changes = UserChanges {
            bio: Bio::parse("Writes about Rust, databases and the web.")
                .expect("bio")
                .into(),
            image: ImageUrl::parse(&format!("https://images.example.com/{name}.png"))
                .expect("url")
                .into(),
            ..UserChanges::default()
        };
        UserStore::update(store, user.id, changes, Timestamp::new(base))
            .await
            .expect("updated");
        authors.push(user);
    }
    for i in 0..ARTICLES {
        let author = &authors[i % AUTHORS];
        let title = ArticleTitle::parse(&format!("How to build article number {i} in Rust"))
            .expect("title");
        let tags = ["rust", "web", "databases", "performance"][..(i % 4) + 1].to_vec();
        let id = ArticleStore::create(
            store,
            NewArticle {
                author_id: author.id,
                slug: Slug::from_title(&title, None),
                title,
                description: ArticleDescription::parse(
                    "A one-line summary of the article, about as long as the ones people write",
                )
                .expect("description"),
                body: ArticleBody::parse(&"Body text. ".repeat(200)).expect("body"),
                tags: TagName::parse_list(&tags).expect("tags"),
                created_at: Timestamp::new(base + time::Duration::minutes(i as i64)),
            },
        )
        .await
        .expect("article");
        store
            .favorite(authors[(i + 1) % AUTHORS].id, id)
            .await
            .expect("favorite");
    }
    store
        .follow(authors[0].id, authors[1].id)
        .await
        .expect("follow");
}

fn list_request() -> Request {
    // The service's own paths: the server mounts it under `/api`.
    Request::builder().uri_str("/articles").finish()
}

fn article_list(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let app = rt.block_on(app());
    let endpoint = api_service(&app, None, None).into_endpoint();

    let body = rt.block_on(async {
        let response = endpoint.get_response(list_request()).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.into_body().into_vec().await.expect("body")
    });
    let json: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(json["articles"].as_array().map(Vec::len), Some(ARTICLES));
    eprintln!("response body: {} bytes", body.len());

    let mut group = c.benchmark_group("article_list_20");
    group.bench_function("use_case", |b| {
        b.to_async(&rt).iter(|| {
            app.list_articles(
                black_box(ArticleSelection::default()),
                Page::default(),
                black_box(None),
            )
        })
    });
    group.bench_function("handler", |b| {
        b.to_async(&rt).iter(|| async {
            let response = endpoint.get_response(list_request()).await;
            response.into_body().into_vec().await.expect("body")
        })
    });
    group.bench_function("json_value_to_bytes", |b| {
        b.iter(|| serde_json::to_vec(black_box(&json)).expect("serialized"))
    });
    group.finish();
}

criterion_group!(benches, article_list);
criterion_main!(benches);
