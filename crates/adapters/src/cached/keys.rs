//! The layout of cache keys and tags: what each entry is stored under and which
//! invalidations retire it.

use conduit_domain::{
    ArticleId, UserId,
    article::{ArticleFilter, Page, TagName},
    cache::EPOCH_TAG,
    user::Username,
};

pub(super) const ARTICLES: &str = "articles";
pub(super) const PROFILES: &str = "profiles";
/// Bumped when the layout of cached values changes, so that instances of two versions
/// (during a rolling deploy) never read each other's entries.
pub(super) const FORMAT: &str = "v1";

pub(super) fn article_tag(id: ArticleId) -> String {
    format!("article:{}", id.0)
}

pub(super) fn slug_tag(slug: &str) -> String {
    format!("slug:{slug}")
}

pub(super) fn comments_tag(id: ArticleId) -> String {
    format!("comments:{}", id.0)
}

pub(super) fn follows_tag(user: UserId) -> String {
    format!("follows:{}", user.0)
}

pub(super) fn viewer_key(viewer: Option<UserId>) -> String {
    viewer.map_or_else(|| "anon".to_owned(), |v| format!("u{}", v.0))
}

/// The tags of an entry seen by `viewer`, after `own`.
pub(super) fn tags(own: &[String], viewer: Option<UserId>) -> Vec<String> {
    let mut tags = Vec::with_capacity(own.len() + 2);
    tags.push(EPOCH_TAG.to_owned());
    tags.extend_from_slice(own);
    if let Some(viewer) = viewer {
        tags.push(follows_tag(viewer));
    }
    tags
}

/// The key of a list page (without the format prefix).
pub(super) fn list_key(filter: &ArticleFilter, page: Page, viewer: Option<UserId>) -> String {
    // JSON keeps the parts apart whatever characters the filter values hold.
    let shape = serde_json::json!([
        filter.tag.as_ref().map(TagName::as_str),
        filter.author.as_ref().map(Username::as_str),
        filter.favorited_by.as_ref().map(Username::as_str),
        page.limit,
        page.offset
    ]);
    format!("l:{}:{shape}", viewer_key(viewer))
}

/// The tags of a list page.
pub(super) fn list_tags(viewer: Option<UserId>) -> Vec<String> {
    tags(&[ARTICLES.into(), PROFILES.into()], viewer)
}
