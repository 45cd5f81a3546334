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
    // JSON keeps the parts apart whatever characters the filter values hold. A search
    // is keyed by its terms (two texts with the same words are the same search), and
    // only when there is one, so the keys of other lists stay as they were.
    let mut shape = serde_json::json!([
        filter.tag.as_ref().map(TagName::as_str),
        filter.author.as_ref().map(Username::as_str),
        filter.favorited_by.as_ref().map(Username::as_str),
        page.limit,
        page.offset
    ]);
    if let (Some(search), Some(parts)) = (&filter.search, shape.as_array_mut()) {
        parts.push(serde_json::json!({ "q": search.terms() }));
    }
    format!("l:{}:{shape}", viewer_key(viewer))
}

/// The tags of a list page.
pub(super) fn list_tags(viewer: Option<UserId>) -> Vec<String> {
    tags(&[ARTICLES.into(), PROFILES.into()], viewer)
}

/// The key of a rendered page of `viewer`'s feed (without the format prefix). Its tags are a
/// list page's as `viewer` sees it ([`list_tags`]): the feed holds the articles of the
/// authors `viewer` follows (`follows:<viewer>`), with their authors' profiles
/// (`profiles`) and every article's favorites (`articles`).
pub(super) fn feed_key(viewer: UserId, page: Page) -> String {
    format!("f:u{}:[{},{}]", viewer.0, page.limit, page.offset)
}

#[cfg(test)]
mod tests {
    use conduit_domain::article::SearchQuery;

    use super::*;

    #[test]
    fn a_search_is_part_of_the_list_key_and_other_keys_stay_as_they_were() {
        let plain = list_key(&ArticleFilter::default(), Page::default(), None);
        assert_eq!(plain, "l:anon:[null,null,null,20,0]");
        let searching = |text: &str| ArticleFilter {
            search: SearchQuery::parse(text).expect("short"),
            ..ArticleFilter::default()
        };
        let key = list_key(&searching("Rust async"), Page::default(), None);
        assert_eq!(
            key,
            r#"l:anon:[null,null,null,20,0,{"q":["rust","async"]}]"#
        );
        // The same words are the same search.
        assert_eq!(
            key,
            list_key(&searching(" rust, ASYNC rust"), Page::default(), None)
        );
    }
}
