//! The layout of cache keys and tags: what each entry is stored under and which
//! invalidations retire it.

use conduit_domain::{
    ArticleId, UserId,
    article::{ArticleFilter, Page, TagName},
    cache::EPOCH_TAG,
    user::Username,
};

/// Every entry that shows an author's profile: retired by any profile change (rare).
pub(super) const PROFILES: &str = "profiles";
/// The popular tags: retired by what can change which tags articles have.
pub(super) const TAGS: &str = "tags";
/// Every list and feed page: retired by a deleted article, which may leave any list.
pub(super) const LISTS: &str = "lists";
/// The unfiltered list: retired by a new article.
pub(super) const LIST_ALL: &str = "list:all";
/// Every list filtered by a tag: retired by an edit that replaced an article's tags.
pub(super) const LIST_TAGS: &str = "list:tags";
/// Every list filtered by author: retired by a new article (its author is known by id,
/// the filter by name).
pub(super) const LIST_AUTHORS: &str = "list:authors";
/// Every list filtered by favoriter: retired by any favorite or unfavorite.
pub(super) const LIST_FAVORITES: &str = "list:favorites";
/// Every search: retired by a new or edited article (either may match now).
pub(super) const LIST_SEARCH: &str = "list:search";
/// The feeds of readers who follow more than [`FOLLOWEES_TRACKED`] authors: retired by
/// any new article.
pub(super) const POSTS: &str = "posts";
/// The most authors whose new articles a feed page is retired by one by one; a reader
/// who follows more has a feed retired by every new article ([`POSTS`]).
pub(super) const FOLLOWEES_TRACKED: u64 = 100;
/// Bumped when the layout of cached values or their tags changes, so that instances of
/// two versions (during a rolling deploy) never read each other's entries.
pub(super) const FORMAT: &str = "v2";

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

/// The list of articles with `tag` (without regard to case: over-retiring is harmless).
pub(super) fn list_tag_tag(tag: &str) -> String {
    format!("list:tag:{}", tag.to_lowercase())
}

/// New articles of `author`: what retires the feeds of the readers who follow them.
pub(super) fn posts_tag(author: UserId) -> String {
    format!("posts:{}", author.0)
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

/// The tags of a list page of `filter` seen by `viewer`, which shows the articles
/// `shown`: the page changes when an article joins or leaves the list (a tag per kind of
/// filter, or the unfiltered list's), when an article it shows changes (an edit, a
/// favorite: `article:<id>`), when an author's profile changes, and when the viewer
/// follows or unfollows someone.
pub(super) fn list_tags(
    filter: &ArticleFilter,
    viewer: Option<UserId>,
    shown: impl IntoIterator<Item = ArticleId>,
) -> Vec<String> {
    let mut own = vec![LISTS.to_owned(), PROFILES.to_owned()];
    if let Some(tag) = &filter.tag {
        own.extend([LIST_TAGS.to_owned(), list_tag_tag(tag.as_str())]);
    }
    if filter.author.is_some() {
        own.push(LIST_AUTHORS.to_owned());
    }
    if filter.favorited_by.is_some() {
        own.push(LIST_FAVORITES.to_owned());
    }
    if filter.search.is_some() {
        own.push(LIST_SEARCH.to_owned());
    }
    if own.len() == 2 {
        own.push(LIST_ALL.to_owned());
    }
    own.extend(shown.into_iter().map(article_tag));
    tags(&own, viewer)
}

/// The tags of a page of `viewer`'s feed, which shows the articles `shown`: the feed
/// changes when an author `viewer` follows (`followees`, as read with at most
/// [`FOLLOWEES_TRACKED`] + 1) publishes, when an article it shows changes, when an
/// author's profile changes, and when `viewer` follows or unfollows someone.
pub(super) fn feed_tags(
    viewer: UserId,
    followees: &[UserId],
    shown: impl IntoIterator<Item = ArticleId>,
) -> Vec<String> {
    let mut own = vec![LISTS.to_owned(), PROFILES.to_owned()];
    if followees.len() as u64 > FOLLOWEES_TRACKED {
        own.push(POSTS.to_owned());
    } else {
        own.extend(followees.iter().copied().map(posts_tag));
    }
    own.extend(shown.into_iter().map(article_tag));
    tags(&own, Some(viewer))
}

/// The key of a rendered page of `viewer`'s feed (without the format prefix); its tags
/// are [`feed_tags`].
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

    #[test]
    fn a_feed_follows_its_authors_one_by_one_up_to_a_bound() {
        let few: Vec<UserId> = (1..=3).map(UserId).collect();
        let tags = feed_tags(UserId(9), &few, [ArticleId(5)]);
        for expected in [
            "posts:1",
            "posts:3",
            "article:5",
            "follows:9",
            LISTS,
            PROFILES,
        ] {
            assert!(tags.iter().any(|t| t == expected), "{expected} in {tags:?}");
        }
        assert!(!tags.iter().any(|t| t == POSTS));
        let many: Vec<UserId> = (1..=FOLLOWEES_TRACKED as i64 + 1).map(UserId).collect();
        let tags = feed_tags(UserId(9), &many, []);
        assert!(tags.iter().any(|t| t == POSTS), "{tags:?}");
        assert!(!tags.iter().any(|t| t.starts_with("posts:")), "{tags:?}");
    }

    #[test]
    fn a_list_has_the_tags_of_each_of_its_filters() {
        let all = list_tags(&ArticleFilter::default(), None, [ArticleId(1)]);
        assert!(all.iter().any(|t| t == LIST_ALL) && all.iter().any(|t| t == "article:1"));
        let filter = ArticleFilter {
            tag: Some(TagName::parse("Rust").expect("tag")),
            favorited_by: Some(Username::parse("jake").expect("name")),
            ..ArticleFilter::default()
        };
        let tags = list_tags(&filter, Some(UserId(2)), []);
        for expected in ["list:tag:rust", LIST_TAGS, LIST_FAVORITES, "follows:2"] {
            assert!(tags.iter().any(|t| t == expected), "{expected} in {tags:?}");
        }
        assert!(!tags.iter().any(|t| t == LIST_ALL || t == LIST_AUTHORS));
    }
}
