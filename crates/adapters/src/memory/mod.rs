//! In-memory storage: every storage port served from plain collections behind one mutex.
//!
//! It exists so that use cases can be tested without a database, so it follows the same
//! contract as the SQL adapter (the shared suite in `tests/contract` runs against both):
//! ids count up from 1 per table, emails and usernames are unique and looked up without
//! regard to case, lists are newest first (by id) and comments oldest first.

pub mod api_keys;
pub mod cache;
pub mod idempotency;
pub mod identity_links;
pub mod one_time;
pub mod sessions;

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    sync::{Mutex, MutexGuard},
};

use async_trait::async_trait;
use conduit_domain::{
    ArticleId, CommentId, StoreError, UniqueField, UserId,
    article::{
        ArticleChanges, ArticleFilter, ArticlePage, ArticleRef, ArticleSummary, ArticleView,
        NewArticle, Page, SearchQuery, Slug,
    },
    comment::{CommentRef, CommentView, NewComment},
    ports::{ArticleQueries, ArticleStore, CommentStore, ProfileStore, UserStore},
    time::Timestamp,
    user::{Email, NewUser, Profile, User, UserChanges, Username},
};

/// Every storage port, in memory. Cheap to create; nothing outlives the value.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<MutexGuard<'_, State>, StoreError> {
        // A panic while the lock was held may have left the tables half-written, so the
        // store refuses further use rather than serve inconsistent data.
        self.state
            .lock()
            .map_err(|_| StoreError::Unexpected("memory store lock poisoned".into()))
    }
}

#[derive(Debug, Default)]
struct State {
    users: BTreeMap<UserId, User>,
    /// `(follower, followee)` pairs.
    follows: BTreeSet<(UserId, UserId)>,
    articles: BTreeMap<ArticleId, ArticleRow>,
    /// `(article, user)` pairs.
    favorites: BTreeSet<(ArticleId, UserId)>,
    comments: BTreeMap<CommentId, CommentRow>,
    last_user_id: i64,
    last_article_id: i64,
    last_comment_id: i64,
}

#[derive(Debug, Clone)]
struct ArticleRow {
    author_id: UserId,
    slug: String,
    title: String,
    description: String,
    body: String,
    tags: Vec<String>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

#[derive(Debug, Clone)]
struct CommentRow {
    article_id: ArticleId,
    author_id: UserId,
    body: String,
    created_at: Timestamp,
}

/// What a foreign key would refuse in the SQL adapter: a reference to a missing row.
fn missing(what: &str) -> StoreError {
    StoreError::Unexpected(format!("{what} does not exist").into())
}

fn same_text(a: &str, b: &str) -> bool {
    a.to_lowercase() == b.to_lowercase()
}

/// Keeps the first of each repeated tag, as a unique (article, tag) link would.
fn distinct_tags<T: AsRef<str>>(tags: &[T]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for tag in tags {
        let tag = tag.as_ref();
        if !out.iter().any(|seen| seen == tag) {
            out.push(tag.to_owned());
        }
    }
    out
}

impl State {
    fn user_named(&self, username: &str) -> Option<&User> {
        self.users
            .values()
            .find(|u| same_text(&u.username, username))
    }

    /// The first unique field that `email` or `username` would collide on, ignoring the
    /// account `except` (an account may keep or re-case its own values).
    fn taken(
        &self,
        email: Option<&Email>,
        username: Option<&Username>,
        except: Option<UserId>,
    ) -> Option<UniqueField> {
        let others = || self.users.values().filter(move |u| Some(u.id) != except);
        if let Some(email) = email
            && others().any(|u| same_text(&u.email, email.as_str()))
        {
            return Some(UniqueField::Email);
        }
        if let Some(username) = username
            && others().any(|u| same_text(&u.username, username.as_str()))
        {
            return Some(UniqueField::Username);
        }
        None
    }

    fn slug_taken(&self, slug: &str, except: Option<ArticleId>) -> bool {
        self.articles
            .iter()
            .any(|(id, row)| Some(*id) != except && row.slug == slug)
    }

    fn profile(&self, user: &User, viewer: Option<UserId>) -> Profile {
        Profile {
            user_id: user.id,
            username: user.username.clone(),
            bio: user.bio.clone(),
            image: user.image.clone(),
            following: viewer.is_some_and(|v| self.follows.contains(&(v, user.id))),
        }
    }

    fn profile_of(&self, id: UserId, viewer: Option<UserId>) -> Result<Profile, StoreError> {
        let user = self.users.get(&id).ok_or_else(|| missing("author"))?;
        Ok(self.profile(user, viewer))
    }

    fn summary(
        &self,
        id: ArticleId,
        row: &ArticleRow,
        viewer: Option<UserId>,
    ) -> Result<ArticleSummary, StoreError> {
        let favorites = self
            .favorites
            .range((id, UserId(i64::MIN))..=(id, UserId(i64::MAX)));
        Ok(ArticleSummary {
            id,
            slug: row.slug.clone(),
            title: row.title.clone(),
            description: row.description.clone(),
            tags: row.tags.clone(),
            created_at: row.created_at,
            updated_at: row.updated_at,
            favorited: viewer.is_some_and(|v| self.favorites.contains(&(id, v))),
            favorites_count: favorites.count() as u64,
            author: self.profile_of(row.author_id, viewer)?,
        })
    }

    /// One page of `ids` (already in list order), with the total across all pages.
    fn page(
        &self,
        ids: &[ArticleId],
        page: Page,
        viewer: Option<UserId>,
    ) -> Result<ArticlePage, StoreError> {
        let skip = usize::try_from(page.offset).unwrap_or(usize::MAX);
        let take = usize::try_from(page.limit).unwrap_or(usize::MAX);
        let articles = ids
            .iter()
            .skip(skip)
            .take(take)
            .map(|id| {
                let row = self.articles.get(id).ok_or_else(|| missing("article"))?;
                self.summary(*id, row, viewer)
            })
            .collect::<Result<_, _>>()?;
        Ok(ArticlePage {
            articles,
            total: ids.len() as u64,
        })
    }

    /// Of `ids` (newest first), the newest [`SearchQuery::WINDOW`] articles that hold
    /// every term of `search`, most relevant first, then newest (highest id).
    /// Relevance is a simple score: each occurrence of a term counts 10 in the title, 4
    /// in the description and 1 in the body.
    fn ranked(&self, ids: &[ArticleId], search: &SearchQuery) -> Vec<ArticleId> {
        let window = usize::try_from(SearchQuery::WINDOW).unwrap_or(usize::MAX);
        let mut scored: Vec<(u64, ArticleId)> = ids
            .iter()
            .filter_map(|id| {
                let row = self.articles.get(id)?;
                let fields = [(&row.title, 10), (&row.description, 4), (&row.body, 1)];
                let mut score = 0;
                for term in search.terms() {
                    let found: u64 = fields
                        .iter()
                        .map(|(text, weight)| {
                            let times = SearchQuery::words(text).filter(|w| w == term).count();
                            weight * times as u64
                        })
                        .sum();
                    if found == 0 {
                        return None;
                    }
                    score += found;
                }
                Some((score, *id))
            })
            .take(window)
            .collect();
        scored.sort_by(|a, b| b.cmp(a));
        scored.into_iter().map(|(_, id)| id).collect()
    }

    /// Ids of the articles `keep` accepts, most recent first.
    fn newest_first(&self, keep: impl Fn(ArticleId, &ArticleRow) -> bool) -> Vec<ArticleId> {
        self.articles
            .iter()
            .rev()
            .filter(|(id, row)| keep(**id, row))
            .map(|(id, _)| *id)
            .collect()
    }

    fn comment_view(
        &self,
        id: CommentId,
        row: &CommentRow,
        viewer: Option<UserId>,
    ) -> Result<CommentView, StoreError> {
        Ok(CommentView {
            id,
            body: row.body.clone(),
            created_at: row.created_at,
            updated_at: row.created_at,
            author: self.profile_of(row.author_id, viewer)?,
        })
    }
}

#[async_trait]
impl UserStore for MemoryStore {
    async fn create(&self, user: NewUser) -> Result<User, StoreError> {
        let mut state = self.lock()?;
        if let Some(field) = state.taken(Some(&user.email), Some(&user.username), None) {
            return Err(StoreError::Duplicate(field));
        }
        state.last_user_id += 1;
        let stored = User {
            id: UserId(state.last_user_id),
            username: user.username.into_inner(),
            email: user.email.into_inner(),
            password_hash: user.password_hash,
            bio: None,
            image: None,
            created_at: user.created_at,
            updated_at: user.created_at,
        };
        state.users.insert(stored.id, stored.clone());
        Ok(stored)
    }

    async fn by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        Ok(self.lock()?.users.get(&id).cloned())
    }

    async fn by_email(&self, email: &Email) -> Result<Option<User>, StoreError> {
        let state = self.lock()?;
        let found = state
            .users
            .values()
            .find(|u| same_text(&u.email, email.as_str()));
        Ok(found.cloned())
    }

    async fn update(
        &self,
        id: UserId,
        changes: UserChanges,
        at: Timestamp,
    ) -> Result<Option<User>, StoreError> {
        let mut state = self.lock()?;
        if !state.users.contains_key(&id) {
            return Ok(None);
        }
        if let Some(field) =
            state.taken(changes.email.as_ref(), changes.username.as_ref(), Some(id))
        {
            return Err(StoreError::Duplicate(field));
        }
        let Some(user) = state.users.get_mut(&id) else {
            return Ok(None);
        };
        if let Some(email) = changes.email {
            user.email = email.into_inner();
        }
        if let Some(username) = changes.username {
            user.username = username.into_inner();
        }
        if let Some(hash) = changes.password_hash {
            user.password_hash = hash;
        }
        changes.bio.map(|b| b.into_inner()).apply_to(&mut user.bio);
        changes
            .image
            .map(|i| i.into_inner())
            .apply_to(&mut user.image);
        user.updated_at = at;
        Ok(Some(user.clone()))
    }
}

#[async_trait]
impl ProfileStore for MemoryStore {
    async fn profile(
        &self,
        username: &Username,
        viewer: Option<UserId>,
    ) -> Result<Option<Profile>, StoreError> {
        let state = self.lock()?;
        let found = state.user_named(username.as_str());
        Ok(found.map(|user| state.profile(user, viewer)))
    }

    async fn follow(&self, follower: UserId, followee: UserId) -> Result<(), StoreError> {
        let mut state = self.lock()?;
        if !state.users.contains_key(&follower) || !state.users.contains_key(&followee) {
            return Err(missing("user"));
        }
        state.follows.insert((follower, followee));
        Ok(())
    }

    async fn unfollow(&self, follower: UserId, followee: UserId) -> Result<(), StoreError> {
        self.lock()?.follows.remove(&(follower, followee));
        Ok(())
    }

    async fn followees(&self, follower: UserId, limit: u64) -> Result<Vec<UserId>, StoreError> {
        let state = self.lock()?;
        Ok(state
            .follows
            .range((follower, UserId(i64::MIN))..=(follower, UserId(i64::MAX)))
            .map(|&(_, followee)| followee)
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .collect())
    }
}

#[async_trait]
impl ArticleStore for MemoryStore {
    async fn create(&self, article: NewArticle) -> Result<ArticleId, StoreError> {
        let mut state = self.lock()?;
        if state.slug_taken(article.slug.as_str(), None) {
            return Err(StoreError::Duplicate(UniqueField::Slug));
        }
        if !state.users.contains_key(&article.author_id) {
            return Err(missing("author"));
        }
        state.last_article_id += 1;
        let id = ArticleId(state.last_article_id);
        let row = ArticleRow {
            author_id: article.author_id,
            slug: article.slug.into_inner(),
            title: article.title.into_inner(),
            description: article.description.into_inner(),
            body: article.body.into_inner(),
            tags: distinct_tags(&article.tags),
            created_at: article.created_at,
            updated_at: article.created_at,
        };
        state.articles.insert(id, row);
        Ok(id)
    }

    async fn by_slug(&self, slug: &Slug) -> Result<Option<ArticleRef>, StoreError> {
        let state = self.lock()?;
        let found = state
            .articles
            .iter()
            .find(|(_, row)| row.slug == slug.as_str());
        Ok(found.map(|(id, row)| ArticleRef {
            id: *id,
            slug: row.slug.clone(),
            title: row.title.clone(),
            author_id: row.author_id,
            updated_at: row.updated_at,
        }))
    }

    async fn update(&self, id: ArticleId, changes: ArticleChanges) -> Result<bool, StoreError> {
        let mut state = self.lock()?;
        if !state.articles.contains_key(&id) {
            return Ok(false);
        }
        if let Some(slug) = &changes.slug
            && state.slug_taken(slug.as_str(), Some(id))
        {
            return Err(StoreError::Duplicate(UniqueField::Slug));
        }
        let Some(row) = state.articles.get_mut(&id) else {
            return Ok(false);
        };
        if let Some(slug) = changes.slug {
            row.slug = slug.into_inner();
        }
        if let Some(title) = changes.title {
            row.title = title.into_inner();
        }
        if let Some(description) = changes.description {
            row.description = description.into_inner();
        }
        if let Some(body) = changes.body {
            row.body = body.into_inner();
        }
        if let Some(tags) = changes.tags {
            row.tags = distinct_tags(&tags);
        }
        row.updated_at = changes.updated_at;
        Ok(true)
    }

    async fn delete(&self, id: ArticleId) -> Result<bool, StoreError> {
        let mut state = self.lock()?;
        if state.articles.remove(&id).is_none() {
            return Ok(false);
        }
        state.favorites.retain(|(article, _)| *article != id);
        state.comments.retain(|_, c| c.article_id != id);
        Ok(true)
    }

    async fn favorite(&self, user: UserId, article: ArticleId) -> Result<(), StoreError> {
        let mut state = self.lock()?;
        if !state.articles.contains_key(&article) {
            return Err(missing("article"));
        }
        if !state.users.contains_key(&user) {
            return Err(missing("user"));
        }
        state.favorites.insert((article, user));
        Ok(())
    }

    async fn unfavorite(&self, user: UserId, article: ArticleId) -> Result<(), StoreError> {
        self.lock()?.favorites.remove(&(article, user));
        Ok(())
    }
}

#[async_trait]
impl ArticleQueries for MemoryStore {
    async fn article(
        &self,
        id: ArticleId,
        viewer: Option<UserId>,
    ) -> Result<Option<ArticleView>, StoreError> {
        let state = self.lock()?;
        let Some(row) = state.articles.get(&id) else {
            return Ok(None);
        };
        Ok(Some(ArticleView {
            summary: state.summary(id, row, viewer)?,
            body: row.body.clone(),
        }))
    }

    async fn list(
        &self,
        filter: &ArticleFilter,
        page: Page,
        viewer: Option<UserId>,
    ) -> Result<ArticlePage, StoreError> {
        let state = self.lock()?;
        // A name that belongs to nobody matches nothing, whatever the other filters say.
        let resolve = |name: &Option<Username>| match name {
            None => Ok(None),
            Some(name) => state
                .user_named(name.as_str())
                .map(|u| Some(u.id))
                .ok_or(()),
        };
        let (Ok(author), Ok(fan)) = (resolve(&filter.author), resolve(&filter.favorited_by)) else {
            return Ok(ArticlePage::default());
        };
        let mut ids = state.newest_first(|id, row| {
            filter
                .tag
                .as_ref()
                .is_none_or(|tag| row.tags.iter().any(|t| t == tag.as_str()))
                && author.is_none_or(|a| row.author_id == a)
                && fan.is_none_or(|f| state.favorites.contains(&(id, f)))
        });
        if let Some(search) = &filter.search {
            ids = state.ranked(&ids, search);
        }
        state.page(&ids, page, viewer)
    }

    async fn feed(&self, viewer: UserId, page: Page) -> Result<ArticlePage, StoreError> {
        let state = self.lock()?;
        let ids = state.newest_first(|_, row| state.follows.contains(&(viewer, row.author_id)));
        state.page(&ids, page, Some(viewer))
    }

    async fn tags(&self, limit: u64) -> Result<Vec<String>, StoreError> {
        let state = self.lock()?;
        let mut uses: HashMap<&str, u64> = HashMap::new();
        for tag in state.articles.values().flat_map(|row| &row.tags) {
            *uses.entry(tag).or_default() += 1;
        }
        let mut ranked: Vec<(&str, u64)> = uses.into_iter().collect();
        ranked.sort_by(|(a_name, a_uses), (b_name, b_uses)| {
            b_uses.cmp(a_uses).then_with(|| a_name.cmp(b_name))
        });
        let take = usize::try_from(limit).unwrap_or(usize::MAX);
        Ok(ranked
            .into_iter()
            .take(take)
            .map(|(name, _)| name.to_owned())
            .collect())
    }
}

#[async_trait]
impl CommentStore for MemoryStore {
    async fn add(&self, comment: NewComment) -> Result<CommentId, StoreError> {
        let mut state = self.lock()?;
        if !state.articles.contains_key(&comment.article_id) {
            return Err(missing("article"));
        }
        if !state.users.contains_key(&comment.author_id) {
            return Err(missing("author"));
        }
        state.last_comment_id += 1;
        let id = CommentId(state.last_comment_id);
        let row = CommentRow {
            article_id: comment.article_id,
            author_id: comment.author_id,
            body: comment.body.into_inner(),
            created_at: comment.created_at,
        };
        state.comments.insert(id, row);
        Ok(id)
    }

    async fn find(
        &self,
        article: ArticleId,
        id: CommentId,
    ) -> Result<Option<CommentRef>, StoreError> {
        let state = self.lock()?;
        let found = state.comments.get(&id).filter(|c| c.article_id == article);
        Ok(found.map(|c| CommentRef {
            id,
            article_id: c.article_id,
            author_id: c.author_id,
        }))
    }

    async fn delete(&self, id: CommentId) -> Result<bool, StoreError> {
        Ok(self.lock()?.comments.remove(&id).is_some())
    }

    async fn comment(
        &self,
        id: CommentId,
        viewer: Option<UserId>,
    ) -> Result<Option<CommentView>, StoreError> {
        let state = self.lock()?;
        let Some(row) = state.comments.get(&id) else {
            return Ok(None);
        };
        state.comment_view(id, row, viewer).map(Some)
    }

    async fn list(
        &self,
        article: ArticleId,
        viewer: Option<UserId>,
    ) -> Result<Vec<CommentView>, StoreError> {
        let state = self.lock()?;
        state
            .comments
            .iter()
            .filter(|(_, c)| c.article_id == article)
            .map(|(id, c)| state.comment_view(*id, c, viewer))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use conduit_domain::{
        article::{ArticleBody, ArticleDescription, ArticleTitle, Slug},
        comment::CommentBody,
        user::PasswordHash,
    };
    use time::macros::datetime;

    use super::*;

    fn at() -> Timestamp {
        Timestamp::new(datetime!(2024-01-02 03:04:05.678 UTC))
    }

    fn new_user(name: &str) -> NewUser {
        NewUser {
            username: Username::parse(name).expect("valid username"),
            email: Email::parse(&format!("{name}@example.com")).expect("valid email"),
            password_hash: PasswordHash::new("$argon2id$test".into()),
            created_at: at(),
        }
    }

    fn new_article(author_id: UserId, slug: &str) -> NewArticle {
        NewArticle {
            author_id,
            slug: Slug::parse(slug).expect("valid slug"),
            title: ArticleTitle::parse(slug).expect("valid title"),
            description: ArticleDescription::parse("about").expect("valid description"),
            body: ArticleBody::parse("body").expect("valid body"),
            tags: Vec::new(),
            created_at: at(),
        }
    }

    // The SQL adapter's sequences are not observable through the ports, but use-case
    // tests built on this store may rely on predictable ids.
    #[tokio::test]
    async fn ids_count_up_from_one_per_table() {
        let store = MemoryStore::new();
        let first = UserStore::create(&store, new_user("ada"))
            .await
            .expect("created");
        let second = UserStore::create(&store, new_user("bob"))
            .await
            .expect("created");
        assert_eq!((first.id, second.id), (UserId(1), UserId(2)));

        let article = ArticleStore::create(&store, new_article(first.id, "one"))
            .await
            .expect("created");
        assert_eq!(article, ArticleId(1));
        let comment = NewComment {
            article_id: article,
            author_id: second.id,
            body: CommentBody::parse("hi").expect("valid body"),
            created_at: at(),
        };
        assert_eq!(store.add(comment).await.expect("added"), CommentId(1));
    }

    #[tokio::test]
    async fn ids_are_not_reused_after_a_failed_or_deleted_write() {
        let store = MemoryStore::new();
        let ada = UserStore::create(&store, new_user("ada"))
            .await
            .expect("created");
        assert!(UserStore::create(&store, new_user("ADA")).await.is_err());
        let bob = UserStore::create(&store, new_user("bob"))
            .await
            .expect("created");
        assert_eq!(bob.id, UserId(2));

        let one = ArticleStore::create(&store, new_article(ada.id, "one"))
            .await
            .expect("created");
        assert!(ArticleStore::delete(&store, one).await.expect("deleted"));
        let two = ArticleStore::create(&store, new_article(ada.id, "two"))
            .await
            .expect("created");
        assert_eq!(two, ArticleId(2));
    }

    #[tokio::test]
    async fn references_to_missing_rows_are_refused_like_foreign_keys() {
        let store = MemoryStore::new();
        let ada = UserStore::create(&store, new_user("ada"))
            .await
            .expect("created");
        let orphan = ArticleStore::create(&store, new_article(UserId(99), "orphan")).await;
        assert!(matches!(orphan, Err(StoreError::Unexpected(_))));
        assert!(matches!(
            store.follow(ada.id, UserId(99)).await,
            Err(StoreError::Unexpected(_))
        ));
        assert!(matches!(
            store.favorite(ada.id, ArticleId(99)).await,
            Err(StoreError::Unexpected(_))
        ));
    }
}
