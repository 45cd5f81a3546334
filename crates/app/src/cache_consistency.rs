//! The read cache never shows a change-blind or another viewer's answer: every use
//! case that writes is followed by reads, through a warmed cache, that must see the
//! write, as the writer and as other viewers.

use conduit_domain::{
    article::{
        ArticleBody, ArticleDescription, ArticleFilter, ArticleSelection, ArticleTitle, NewArticle,
        Page, Slug, TagName,
    },
    ports::ArticleStore,
    user::{Bio, Username},
};

use crate::{
    Conduit, CreateArticle, UpdateArticle, UpdateUser,
    testing::{cached_conduit, user},
};
use conduit_domain::{CommentId, UserId, comment::CommentBody};

fn draft(title: &str) -> CreateArticle {
    CreateArticle {
        title: ArticleTitle::parse(title).expect("title"),
        description: ArticleDescription::parse("about it").expect("description"),
        body: ArticleBody::parse("first body").expect("body"),
        tags: conduit_domain::article::TagName::parse_list(&["cache"]).expect("tags"),
    }
}

fn by(field: &str, value: &str) -> ArticleFilter {
    let mut filter = ArticleFilter::default();
    let name = || Username::parse(value).expect("username");
    match field {
        "author" => filter.author = Some(name()),
        "favorited" => filter.favorited_by = Some(name()),
        "q" => filter.search = conduit_domain::article::SearchQuery::parse(value).expect("q"),
        _ => filter.tag = Some(TagName::parse(value).expect("tag")),
    }
    filter
}

async fn titles(app: &Conduit, filter: ArticleFilter, viewer: Option<UserId>) -> Vec<String> {
    app.list_articles(filter.into(), Page::default(), viewer)
        .await
        .expect("listed")
        .articles
        .into_iter()
        .map(|a| a.title)
        .collect()
}

#[tokio::test]
async fn reads_are_answered_from_the_cache() {
    let (app, store) = cached_conduit();
    let author = user(&app, "quiet").await;
    assert!(
        titles(&app, ArticleFilter::default(), None)
            .await
            .is_empty()
    );
    // Written behind the cache's back: no event, so the cached (empty) list stays.
    store
        .create(NewArticle {
            author_id: author,
            slug: Slug::from_title(&ArticleTitle::parse("Unseen").expect("title"), None),
            title: ArticleTitle::parse("Unseen").expect("title"),
            description: ArticleDescription::parse("d").expect("description"),
            body: ArticleBody::parse("b").expect("body"),
            tags: vec![],
            created_at: conduit_domain::time::Timestamp::new(time::OffsetDateTime::now_utc()),
        })
        .await
        .expect("stored");
    assert!(
        titles(&app, ArticleFilter::default(), None)
            .await
            .is_empty(),
        "the second read must come from the cache"
    );
    // A write through the use cases announces itself, and the next read sees both.
    app.create_article(author, draft("Seen"))
        .await
        .expect("created");
    let mut seen = titles(&app, ArticleFilter::default(), None).await;
    seen.sort();
    assert_eq!(seen, ["Seen", "Unseen"]);
}

#[tokio::test]
async fn every_write_is_seen_by_the_next_read_of_every_viewer() {
    let scene = Scene::new().await;
    warm(&scene).await;
    let slug = publish(&scene).await;
    let new_slug = edit_title(&scene, slug).await;
    favorite(&scene, &new_slug).await;
    let comment = comment_on(&scene, &new_slug).await;
    follow(&scene, &new_slug).await;
    change_profile(&scene, &new_slug).await;
    delete(&scene, &new_slug, comment).await;
}

/// The cast of [`every_write_is_seen_by_the_next_read_of_every_viewer`], over a cached
/// application: an author, a fan, and every kind of viewer (anonymous, the author, the
/// fan).
struct Scene {
    app: Conduit,
    author: UserId,
    fan: UserId,
    viewers: [Option<UserId>; 3],
}

impl Scene {
    async fn new() -> Self {
        let (app, _) = cached_conduit();
        let author = user(&app, "writer").await;
        let fan = user(&app, "reader").await;
        let viewers = [None, Some(author), Some(fan)];
        Self {
            app,
            author,
            fan,
            viewers,
        }
    }
}

/// Every cached read, warmed as every viewer.
async fn warm(scene: &Scene) {
    let app = &scene.app;
    let viewers = scene.viewers;
    for viewer in viewers {
        assert!(
            titles(app, ArticleFilter::default(), viewer)
                .await
                .is_empty()
        );
        assert!(titles(app, by("author", "writer"), viewer).await.is_empty());
        assert!(titles(app, by("tag", "cache"), viewer).await.is_empty());
        assert!(titles(app, by("q", "cached"), viewer).await.is_empty());
        assert!(titles(app, by("q", "renamed"), viewer).await.is_empty());
    }
    assert!(app.tags().await.expect("tags").is_empty());
}

/// Publish: every read shows the article, whose slug it answers.
async fn publish(scene: &Scene) -> String {
    let app = &scene.app;
    let author = scene.author;
    let viewers = scene.viewers;
    let slug = app
        .create_article(author, draft("Cached title"))
        .await
        .expect("created")
        .summary
        .slug;
    for viewer in viewers {
        assert_eq!(
            titles(app, ArticleFilter::default(), viewer).await,
            ["Cached title"]
        );
        assert_eq!(
            titles(app, by("author", "writer"), viewer).await,
            ["Cached title"]
        );
        assert_eq!(
            titles(app, by("tag", "cache"), viewer).await,
            ["Cached title"]
        );
        assert_eq!(
            titles(app, by("q", "cached"), viewer).await,
            ["Cached title"]
        );
        assert!(titles(app, by("q", "renamed"), viewer).await.is_empty());
        app.article(&slug, viewer).await.expect("readable");
        app.comments(&slug, viewer).await.expect("comments");
        app.profile("writer", viewer).await.expect("profile");
    }
    assert_eq!(app.tags().await.expect("tags"), ["cache"]);
    slug
}

/// Edit, with a new title and so a new slug, which it answers.
async fn edit_title(scene: &Scene, slug: String) -> String {
    let app = &scene.app;
    let author = scene.author;
    let viewers = scene.viewers;
    let edit = UpdateArticle {
        title: Some(ArticleTitle::parse("Renamed").expect("title")),
        body: Some(ArticleBody::parse("second body").expect("body")),
        tags: Some(vec![]),
        ..UpdateArticle::default()
    };
    let new_slug = app
        .update_article(author, &slug, edit)
        .await
        .expect("updated")
        .summary
        .slug;
    assert_ne!(new_slug, slug);
    for viewer in viewers {
        assert!(
            app.article(&slug, viewer).await.is_err(),
            "old slug still served"
        );
        assert_eq!(
            app.article(&new_slug, viewer).await.expect("new slug").body,
            "second body"
        );
        assert_eq!(
            titles(app, ArticleFilter::default(), viewer).await,
            ["Renamed"]
        );
        assert!(titles(app, by("tag", "cache"), viewer).await.is_empty());
        assert!(titles(app, by("q", "cached"), viewer).await.is_empty());
        assert_eq!(titles(app, by("q", "renamed"), viewer).await, ["Renamed"]);
    }
    assert!(app.tags().await.expect("tags").is_empty());
    new_slug
}

/// Favorite: the fan sees it as theirs, others only see the count.
async fn favorite(scene: &Scene, new_slug: &str) {
    let app = &scene.app;
    let fan = scene.fan;
    let viewers = scene.viewers;
    for viewer in viewers {
        assert!(
            titles(app, by("favorited", "reader"), viewer)
                .await
                .is_empty()
        );
    }
    app.favorite(fan, new_slug).await.expect("favorited");
    for viewer in viewers {
        let seen = app.article(new_slug, viewer).await.expect("read").summary;
        assert_eq!(seen.favorites_count, 1);
        assert_eq!(seen.favorited, viewer == Some(fan), "viewer {viewer:?}");
        let listed = app
            .list_articles(ArticleSelection::default(), Page::default(), viewer)
            .await
            .expect("listed");
        assert_eq!(listed.articles[0].favorited, viewer == Some(fan));
        assert_eq!(
            titles(app, by("favorited", "reader"), viewer).await,
            ["Renamed"]
        );
    }
    app.unfavorite(fan, new_slug).await.expect("unfavorited");
    for viewer in viewers {
        let seen = app.article(new_slug, viewer).await.expect("read").summary;
        assert_eq!((seen.favorites_count, seen.favorited), (0, false));
        assert!(
            titles(app, by("favorited", "reader"), viewer)
                .await
                .is_empty()
        );
    }
}

/// Comment: everyone sees the comment, whose id it answers.
async fn comment_on(scene: &Scene, new_slug: &str) -> CommentId {
    let app = &scene.app;
    let fan = scene.fan;
    let viewers = scene.viewers;
    let comment = app
        .add_comment(fan, new_slug, CommentBody::parse("nice").expect("body"))
        .await
        .expect("commented");
    for viewer in viewers {
        assert_eq!(
            app.comments(new_slug, viewer)
                .await
                .expect("comments")
                .len(),
            1
        );
    }
    comment.id
}

/// Follow: only the follower sees `following`, everywhere the author appears.
async fn follow(scene: &Scene, new_slug: &str) {
    let app = &scene.app;
    let author = scene.author;
    let fan = scene.fan;
    let viewers = scene.viewers;
    app.follow(fan, "writer").await.expect("followed");
    for viewer in viewers {
        let following = viewer == Some(fan);
        assert_eq!(
            app.profile("writer", viewer)
                .await
                .expect("profile")
                .following,
            following
        );
        let article = app.article(new_slug, viewer).await.expect("read");
        assert_eq!(article.summary.author.following, following);
        let listed = app
            .list_articles(ArticleSelection::default(), Page::default(), viewer)
            .await
            .expect("listed");
        assert_eq!(listed.articles[0].author.following, following);
    }
    // The fan's comment, seen by the author after following back.
    app.follow(author, "reader").await.expect("followed back");
    let seen = app
        .comments(new_slug, Some(author))
        .await
        .expect("comments");
    assert!(seen[0].author.following);
    app.unfollow(fan, "writer").await.expect("unfollowed");
    for viewer in viewers {
        assert!(
            !app.profile("writer", viewer)
                .await
                .expect("profile")
                .following
        );
        let article = app.article(new_slug, viewer).await.expect("read");
        assert!(!article.summary.author.following);
    }
}

/// A profile change shows wherever the profile is embedded, and under the new name.
async fn change_profile(scene: &Scene, new_slug: &str) {
    let app = &scene.app;
    let author = scene.author;
    let viewers = scene.viewers;
    let change = UpdateUser {
        username: Some(Username::parse("writer2").expect("username")),
        bio: Bio::parse("now with a bio").expect("bio").into(),
        ..UpdateUser::default()
    };
    app.update_account(author, change).await.expect("updated");
    for viewer in viewers {
        let article = app.article(new_slug, viewer).await.expect("read");
        assert_eq!(article.summary.author.username, "writer2");
        assert_eq!(
            article.summary.author.bio.as_deref(),
            Some("now with a bio")
        );
        assert!(
            app.profile("writer", viewer).await.is_err(),
            "old name still served"
        );
        assert_eq!(
            app.profile("writer2", viewer)
                .await
                .expect("profile")
                .bio
                .as_deref(),
            Some("now with a bio")
        );
        assert_eq!(
            titles(app, by("author", "writer2"), viewer).await,
            ["Renamed"]
        );
        assert!(titles(app, by("author", "writer"), viewer).await.is_empty());
    }
    let seen = app.comments(new_slug, None).await.expect("comments");
    assert_eq!(seen[0].author.username, "reader");
}

/// Delete the comment, then the article.
async fn delete(scene: &Scene, new_slug: &str, comment: CommentId) {
    let app = &scene.app;
    let author = scene.author;
    let fan = scene.fan;
    let viewers = scene.viewers;
    app.delete_comment(fan, new_slug, comment)
        .await
        .expect("comment deleted");
    for viewer in viewers {
        assert!(
            app.comments(new_slug, viewer)
                .await
                .expect("comments")
                .is_empty()
        );
    }
    app.delete_article(author, new_slug).await.expect("deleted");
    for viewer in viewers {
        assert!(
            app.article(new_slug, viewer).await.is_err(),
            "deleted article served"
        );
        assert!(app.comments(new_slug, viewer).await.is_err());
        assert!(
            titles(app, ArticleFilter::default(), viewer)
                .await
                .is_empty()
        );
    }
}
