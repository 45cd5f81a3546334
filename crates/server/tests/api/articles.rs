use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{assert_error, spawn_app};

#[tokio::test]
async fn create_read_update_delete() {
    let app = spawn_app().await;
    let token = app.register("author").await;
    let created = app
        .post(
            "/articles",
            Some(&token),
            json!({"article": {"title": "How to train your dragon", "description": "Ever wonder how?", "body": "It takes a Jacobian", "tagList": ["dragons", "training", "dragons"]}}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let article = &created.body["article"];
    assert_eq!(article["slug"], "how-to-train-your-dragon");
    assert_eq!(article["tagList"], json!(["dragons", "training"]));
    assert_eq!(article["favorited"], false);
    assert_eq!(article["favoritesCount"], 0);
    assert_eq!(article["author"]["username"], "author");
    let created_at = article["createdAt"].as_str().expect("createdAt").to_owned();
    assert!(
        created_at.ends_with('Z') && created_at.len() == 24,
        "{created_at}"
    );

    let read = app.get("/articles/how-to-train-your-dragon", None).await;
    assert_eq!(read.body["article"]["body"], "It takes a Jacobian");
    assert_eq!(read.body["article"]["createdAt"], created_at.as_str());

    let body_only = app
        .put(
            "/articles/how-to-train-your-dragon",
            Some(&token),
            json!({"article": {"body": "New body"}}),
        )
        .await;
    assert_eq!(body_only.status, StatusCode::OK);
    assert_eq!(
        body_only.body["article"]["slug"],
        "how-to-train-your-dragon"
    );
    assert_eq!(
        body_only.body["article"]["tagList"],
        json!(["dragons", "training"])
    );
    assert_eq!(body_only.body["article"]["createdAt"], created_at.as_str());
    assert_ne!(body_only.body["article"]["updatedAt"], created_at.as_str());

    let retitled = app
        .put(
            "/articles/how-to-train-your-dragon",
            Some(&token),
            json!({"article": {"title": "Did you train your dragon?", "tagList": []}}),
        )
        .await;
    assert_eq!(
        retitled.body["article"]["slug"],
        "did-you-train-your-dragon"
    );
    assert_eq!(retitled.body["article"]["tagList"], json!([]));
    assert_error(
        &app.get("/articles/how-to-train-your-dragon", None).await,
        404,
        "article",
        "not_found",
    );

    let null_tags = app
        .put(
            "/articles/did-you-train-your-dragon",
            Some(&token),
            json!({"article": {"tagList": null}}),
        )
        .await;
    assert_error(&null_tags, 422, "tagList", "validation_failed");

    let deleted = app
        .delete("/articles/did-you-train-your-dragon", Some(&token))
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_error(
        &app.get("/articles/did-you-train-your-dragon", None).await,
        404,
        "article",
        "not_found",
    );
    app.cleanup().await;
}

#[tokio::test]
async fn validation_and_authorization() {
    let app = spawn_app().await;
    let owner = app.register("owner").await;
    let intruder = app.register("intruder").await;
    let blank = app
        .post(
            "/articles",
            Some(&owner),
            json!({"article": {"title": "", "description": "", "body": ""}}),
        )
        .await;
    assert_error(&blank, 422, "title", "validation_failed");
    assert_eq!(blank.body["errors"]["description"][0], "can't be blank");
    assert_eq!(blank.body["errors"]["body"][0], "can't be blank");
    let no_auth = app
        .post(
            "/articles",
            None,
            json!({"article": {"title": "t", "description": "d", "body": "b"}}),
        )
        .await;
    assert_error(&no_auth, 401, "token", "token_missing");

    let slug = app.article(&owner, "Mine", &[]).await;
    let edit = app
        .put(
            &format!("/articles/{slug}"),
            Some(&intruder),
            json!({"article": {"body": "hijacked"}}),
        )
        .await;
    assert_error(&edit, 403, "article", "forbidden");
    assert_eq!(edit.body["errors"]["article"][0], "forbidden");
    assert_error(
        &app.delete(&format!("/articles/{slug}"), Some(&intruder))
            .await,
        403,
        "article",
        "forbidden",
    );
    assert_eq!(
        app.get(&format!("/articles/{slug}"), None).await.body["article"]["body"],
        "b"
    );
    app.cleanup().await;
}

#[tokio::test]
async fn repeated_titles_get_distinct_slugs() {
    let app = spawn_app().await;
    let token = app.register("dup").await;
    let first = app.article(&token, "Same Title", &[]).await;
    let second = app.article(&token, "Same Title", &[]).await;
    let third = app.article(&token, "Same Title", &[]).await;
    assert_eq!(first, "same-title");
    assert!(second != first && third != first && second != third);
    app.cleanup().await;
}

#[tokio::test]
async fn list_filters_pagination_and_count() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let a1 = app.article(&alice, "Alice one", &["rust"]).await;
    let a2 = app.article(&alice, "Alice two", &["go"]).await;
    let b1 = app.article(&bob, "Bob one", &["rust"]).await;

    let all = app.get("/articles", None).await;
    assert_eq!(all.body["articlesCount"], 3);
    let slugs: Vec<_> = all.body["articles"]
        .as_array()
        .expect("list")
        .iter()
        .map(|a| a["slug"].clone())
        .collect();
    assert_eq!(slugs, [json!(b1), json!(a2), json!(a1)]);
    assert!(
        all.body["articles"][0].get("body").is_none(),
        "lists carry no body"
    );

    let by_tag = app.get("/articles?tag=rust", None).await;
    assert_eq!(by_tag.body["articlesCount"], 2);
    let by_author = app.get("/articles?author=ALICE", None).await;
    assert_eq!(by_author.body["articlesCount"], 2);
    let both = app.get("/articles?author=alice&tag=rust", None).await;
    assert_eq!(both.body["articlesCount"], 1);
    assert_eq!(both.body["articles"][0]["slug"], a1.as_str());
    assert_eq!(
        app.get("/articles?author=nobody", None).await.body["articlesCount"],
        0
    );

    let page = app.get("/articles?limit=1&offset=1", None).await;
    assert_eq!(page.body["articlesCount"], 3);
    assert_eq!(page.body["articles"].as_array().map(Vec::len), Some(1));
    assert_eq!(page.body["articles"][0]["slug"], a2.as_str());

    app.call(
        Method::POST,
        &format!("/articles/{b1}/favorite"),
        Some(&alice),
        None,
    )
    .await;
    let favorited = app.get("/articles?favorited=alice", Some(&alice)).await;
    assert_eq!(favorited.body["articlesCount"], 1);
    assert_eq!(favorited.body["articles"][0]["favorited"], true);
    assert_eq!(favorited.body["articles"][0]["favoritesCount"], 1);
    assert_eq!(
        app.get("/articles?favorited=alice", Some(&bob)).await.body["articles"][0]["favorited"],
        false
    );

    assert_error(
        &app.get("/articles?limit=0", None).await,
        422,
        "limit",
        "validation_failed",
    );
    assert_error(
        &app.get("/articles?limit=101", None).await,
        422,
        "limit",
        "validation_failed",
    );
    assert_error(
        &app.get("/articles?offset=-1", None).await,
        422,
        "offset",
        "validation_failed",
    );
    assert_error(
        &app.get("/articles?limit=abc", None).await,
        422,
        "limit",
        "validation_failed",
    );

    let tags = app.get("/tags", None).await;
    assert_eq!(tags.body["tags"], json!(["rust", "go"]));
    app.cleanup().await;
}

#[tokio::test]
async fn feed_shows_followed_authors_only() {
    let app = spawn_app().await;
    let reader = app.register("reader").await;
    let followed = app.register("followed").await;
    let stranger = app.register("stranger").await;
    assert_error(
        &app.get("/articles/feed", None).await,
        401,
        "token",
        "token_missing",
    );
    assert_eq!(
        app.get("/articles/feed", Some(&reader)).await.body["articlesCount"],
        0
    );
    app.call(
        Method::POST,
        "/profiles/followed/follow",
        Some(&reader),
        None,
    )
    .await;
    let first = app.article(&followed, "First", &[]).await;
    app.article(&stranger, "Noise", &[]).await;
    let second = app.article(&followed, "Second", &[]).await;
    let feed = app.get("/articles/feed", Some(&reader)).await;
    assert_eq!(feed.body["articlesCount"], 2);
    assert_eq!(feed.body["articles"][0]["slug"], second.as_str());
    assert_eq!(feed.body["articles"][1]["slug"], first.as_str());
    assert_eq!(feed.body["articles"][0]["author"]["following"], true);
    let page = app
        .get("/articles/feed?limit=1&offset=1", Some(&reader))
        .await;
    assert_eq!(page.body["articles"][0]["slug"], first.as_str());
    app.cleanup().await;
}

#[tokio::test]
async fn favorites_are_idempotent_and_per_viewer() {
    let app = spawn_app().await;
    let author = app.register("writer").await;
    let fan = app.register("reader").await;
    let slug = app.article(&author, "Loved", &[]).await;
    let path = format!("/articles/{slug}/favorite");
    let once = app.call(Method::POST, &path, Some(&fan), None).await;
    assert_eq!(once.status, StatusCode::OK);
    let twice = app.call(Method::POST, &path, Some(&fan), None).await;
    assert_eq!(
        (
            twice.body["article"]["favorited"].clone(),
            twice.body["article"]["favoritesCount"].clone()
        ),
        (json!(true), json!(1))
    );
    assert_eq!(
        app.get(&format!("/articles/{slug}"), Some(&author))
            .await
            .body["article"]["favorited"],
        false
    );
    let undone = app.delete(&path, Some(&fan)).await;
    assert_eq!(undone.body["article"]["favoritesCount"], 0);
    assert_error(
        &app.call(Method::POST, "/articles/missing/favorite", Some(&fan), None)
            .await,
        404,
        "article",
        "not_found",
    );
    assert_error(
        &app.delete("/articles/missing/favorite", None).await,
        401,
        "token",
        "token_missing",
    );
    app.cleanup().await;
}

/// The feed has the list's paging bounds: at most 100 a page, offsets from 0.
#[tokio::test]
async fn feed_paging_is_bounded_like_the_list() {
    let app = spawn_app().await;
    let reader = app.register("boundedreader").await;
    for (query, key) in [
        ("limit=101", "limit"),
        ("limit=0", "limit"),
        ("limit=-1", "limit"),
        ("offset=-1", "offset"),
        ("offset=1000001", "offset"),
    ] {
        let refused = app
            .get(&format!("/articles/feed?{query}"), Some(&reader))
            .await;
        assert_error(&refused, 422, key, "validation_failed");
    }
    let widest = app.get("/articles/feed?limit=100", Some(&reader)).await;
    assert_eq!(widest.status, StatusCode::OK, "{:?}", widest.body);
    app.cleanup().await;
}

/// The size bounds of an article hold over HTTP: 20 tags and 100,000 characters of body
/// are accepted, one more of either is 422 on its field.
#[tokio::test]
async fn tag_count_and_body_length_are_bounded() {
    let app = spawn_app().await;
    let author = app.register("bounded_author").await;
    let tags: Vec<String> = (0..21).map(|n| format!("tag{n}")).collect();
    let article = |tags: &[String], body: &str| {
        json!({"article": {"title": format!("Bounded {}", tags.len()), "description": "d",
            "body": body, "tagList": tags}})
    };
    let most = app
        .post(
            "/articles",
            Some(&author),
            article(&tags[..20], &"b".repeat(100_000)),
        )
        .await;
    assert_eq!(most.status, StatusCode::CREATED, "{:?}", most.body);
    assert_eq!(
        most.body["article"]["tagList"].as_array().map(Vec::len),
        Some(20)
    );
    let too_many = app
        .post("/articles", Some(&author), article(&tags, "b"))
        .await;
    assert_error(&too_many, 422, "tagList", "validation_failed");
    let too_long = app
        .post(
            "/articles",
            Some(&author),
            article(&tags[..1], &"b".repeat(100_001)),
        )
        .await;
    assert_error(&too_long, 422, "body", "validation_failed");
    app.cleanup().await;
}

#[tokio::test]
async fn search_ranks_matches_combines_and_bounds_the_query() {
    let app = spawn_app().await;
    let token = app.register("searcher").await;
    for (title, body, tags) in [
        ("Zebra crossings", "Stripes everywhere.", json!(["roads"])),
        ("Road safety", "Look for the zebra.", json!(["roads"])),
        ("Unrelated", "Nothing here.", json!(["roads"])),
    ] {
        let created = app
            .post(
                "/articles",
                Some(&token),
                json!({"article": {"title": title, "description": "A note", "body": body, "tagList": tags}}),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED);
    }
    let titles = |reply: &crate::helpers::Reply| -> Vec<String> {
        reply.body["articles"]
            .as_array()
            .expect("articles")
            .iter()
            .map(|a| a["title"].as_str().expect("title").to_owned())
            .collect()
    };

    // The title match ranks above the body match, though older.
    let found = app.get("/articles?q=ZEBRA", None).await;
    assert_eq!(found.status, StatusCode::OK);
    assert_eq!(titles(&found), ["Zebra crossings", "Road safety"]);
    assert_eq!(found.body["articlesCount"], 2);
    let paged = app
        .get("/articles?q=zebra&tag=roads&limit=1&offset=1", None)
        .await;
    assert_eq!(titles(&paged), ["Road safety"]);
    assert_eq!(paged.body["articlesCount"], 2);
    assert_eq!(
        titles(&app.get("/articles?q=zebra%20look", None).await),
        ["Road safety"]
    );
    // Blank is no search; text without a word, or a word nobody wrote, finds nothing.
    assert_eq!(
        app.get("/articles?q=%20", None).await.body["articlesCount"],
        3
    );
    for q in ["%22-%2A%3A", "%00", "okapi", "zebra%22%20OR%20%2A"] {
        let nothing = app.get(&format!("/articles?q={q}"), None).await;
        assert_eq!(nothing.status, StatusCode::OK, "{q}");
        assert_eq!(nothing.body["articlesCount"], 0, "{q}");
    }
    let longest = format!("%20{}%20", "a".repeat(200));
    assert_eq!(
        app.get(&format!("/articles?q={longest}"), None)
            .await
            .status,
        StatusCode::OK
    );
    assert_error(
        &app.get(&format!("/articles?q={}", "a".repeat(201)), None)
            .await,
        422,
        "q",
        "validation_failed",
    );
    app.cleanup().await;
}
