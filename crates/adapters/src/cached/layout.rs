//! The cached form of each domain value: a serializable mirror and the conversions.

use conduit_domain::{
    ArticleId, CommentId, UserId,
    article::{ArticlePage, ArticleRef, ArticleSummary, ArticleView},
    comment::CommentView,
    time::Timestamp,
    user::Profile,
};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use time::OffsetDateTime;

/// A domain value in its cached form. The domain types stay free of serialization;
/// the layout lives here, with [`FORMAT`] naming its version.
pub(super) struct Cached<T>(pub(super) T);

/// The cached layout of each type: a serializable mirror and the conversions.
trait Layout: Sized {
    type Stored: Serialize + DeserializeOwned;
    fn store(&self) -> Self::Stored;
    fn restore(stored: Self::Stored) -> Result<Self, String>;
}

impl<T: Layout> Serialize for Cached<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.store().serialize(serializer)
    }
}

impl<'de, T: Layout> Deserialize<'de> for Cached<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let stored = T::Stored::deserialize(deserializer)?;
        T::restore(stored)
            .map(Cached)
            .map_err(serde::de::Error::custom)
    }
}

fn nanos(at: Timestamp) -> i128 {
    at.as_offset_date_time().unix_timestamp_nanos()
}

fn from_nanos(nanos: i128) -> Result<Timestamp, String> {
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .map(Timestamp::new)
        .map_err(|e| e.to_string())
}

#[derive(Serialize, Deserialize)]
struct StoredProfile {
    id: i64,
    username: String,
    bio: Option<String>,
    image: Option<String>,
    following: bool,
}

impl Layout for Profile {
    type Stored = StoredProfile;
    fn store(&self) -> StoredProfile {
        StoredProfile {
            id: self.user_id.0,
            username: self.username.clone(),
            bio: self.bio.clone(),
            image: self.image.clone(),
            following: self.following,
        }
    }
    fn restore(s: StoredProfile) -> Result<Self, String> {
        Ok(Profile {
            user_id: UserId(s.id),
            username: s.username,
            bio: s.bio,
            image: s.image,
            following: s.following,
        })
    }
}

#[derive(Serialize, Deserialize)]
struct StoredSummary {
    id: i64,
    slug: String,
    title: String,
    description: String,
    tags: Vec<String>,
    created_at: i128,
    updated_at: i128,
    favorited: bool,
    favorites_count: u64,
    author: StoredProfile,
}

impl Layout for ArticleSummary {
    type Stored = StoredSummary;
    fn store(&self) -> StoredSummary {
        StoredSummary {
            id: self.id.0,
            slug: self.slug.clone(),
            title: self.title.clone(),
            description: self.description.clone(),
            tags: self.tags.clone(),
            created_at: nanos(self.created_at),
            updated_at: nanos(self.updated_at),
            favorited: self.favorited,
            favorites_count: self.favorites_count,
            author: self.author.store(),
        }
    }
    fn restore(s: StoredSummary) -> Result<Self, String> {
        Ok(ArticleSummary {
            id: ArticleId(s.id),
            slug: s.slug,
            title: s.title,
            description: s.description,
            tags: s.tags,
            created_at: from_nanos(s.created_at)?,
            updated_at: from_nanos(s.updated_at)?,
            favorited: s.favorited,
            favorites_count: s.favorites_count,
            author: Profile::restore(s.author)?,
        })
    }
}

#[derive(Serialize, Deserialize)]
struct StoredView {
    summary: StoredSummary,
    body: String,
}

impl Layout for ArticleView {
    type Stored = StoredView;
    fn store(&self) -> StoredView {
        StoredView {
            summary: self.summary.store(),
            body: self.body.clone(),
        }
    }
    fn restore(s: StoredView) -> Result<Self, String> {
        Ok(ArticleView {
            summary: ArticleSummary::restore(s.summary)?,
            body: s.body,
        })
    }
}

#[derive(Serialize, Deserialize)]
struct StoredPage {
    articles: Vec<StoredSummary>,
    total: u64,
}

impl Layout for ArticlePage {
    type Stored = StoredPage;
    fn store(&self) -> StoredPage {
        StoredPage {
            articles: self.articles.iter().map(Layout::store).collect(),
            total: self.total,
        }
    }
    fn restore(s: StoredPage) -> Result<Self, String> {
        Ok(ArticlePage {
            articles: s
                .articles
                .into_iter()
                .map(ArticleSummary::restore)
                .collect::<Result<_, _>>()?,
            total: s.total,
        })
    }
}

#[derive(Serialize, Deserialize)]
struct StoredRef {
    id: i64,
    slug: String,
    title: String,
    author_id: i64,
    updated_at: i128,
}

impl Layout for ArticleRef {
    type Stored = StoredRef;
    fn store(&self) -> StoredRef {
        StoredRef {
            id: self.id.0,
            slug: self.slug.clone(),
            title: self.title.clone(),
            author_id: self.author_id.0,
            updated_at: nanos(self.updated_at),
        }
    }
    fn restore(s: StoredRef) -> Result<Self, String> {
        Ok(ArticleRef {
            id: ArticleId(s.id),
            slug: s.slug,
            title: s.title,
            author_id: UserId(s.author_id),
            updated_at: from_nanos(s.updated_at)?,
        })
    }
}

#[derive(Serialize, Deserialize)]
struct StoredComment {
    id: i64,
    body: String,
    created_at: i128,
    updated_at: i128,
    author: StoredProfile,
}

impl Layout for CommentView {
    type Stored = StoredComment;
    fn store(&self) -> StoredComment {
        StoredComment {
            id: self.id.0,
            body: self.body.clone(),
            created_at: nanos(self.created_at),
            updated_at: nanos(self.updated_at),
            author: self.author.store(),
        }
    }
    fn restore(s: StoredComment) -> Result<Self, String> {
        Ok(CommentView {
            id: CommentId(s.id),
            body: s.body,
            created_at: from_nanos(s.created_at)?,
            updated_at: from_nanos(s.updated_at)?,
            author: Profile::restore(s.author)?,
        })
    }
}
