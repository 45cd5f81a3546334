//! Domain events: facts about changes, announced by the use cases after the change is
//! durable (see [`crate::ports::EventPublisher`]).

use crate::{ArticleId, CommentId, UserId};

/// Something that changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainEvent {
    /// A new article, reachable under `slug`.
    ArticlePublished {
        /// The article.
        article: ArticleId,
        /// Its author.
        author: UserId,
        /// Its slug.
        slug: String,
        /// Its tags.
        tags: Vec<String>,
    },
    /// An article's title, description, body or tags changed; its slug may have too.
    ArticleEdited {
        /// The article.
        article: ArticleId,
        /// The slug before the change.
        old_slug: String,
        /// The slug after it (equal to `old_slug` when the title kept it).
        new_slug: String,
        /// Whether its tags were replaced (the article may have left some tags' lists
        /// and joined others).
        tags_changed: bool,
    },
    /// An article was deleted, with its favorites and comments.
    ArticleDeleted {
        /// The article.
        article: ArticleId,
        /// The slug it had.
        slug: String,
    },
    /// `user` favorited or unfavorited `article` (`favorited` tells which).
    FavoriteChanged {
        /// The article.
        article: ArticleId,
        /// Who.
        user: UserId,
        /// Whether it is now a favorite.
        favorited: bool,
    },
    /// `follower` started or stopped following `followee` (`following` tells which).
    FollowChanged {
        /// Who follows.
        follower: UserId,
        /// Who is followed.
        followee: UserId,
        /// Whether `follower` now follows `followee`.
        following: bool,
    },
    /// A comment was added to `article`.
    CommentAdded {
        /// The article.
        article: ArticleId,
        /// The comment.
        comment: CommentId,
    },
    /// A comment of `article` was deleted.
    CommentDeleted {
        /// The article.
        article: ArticleId,
        /// The comment.
        comment: CommentId,
    },
    /// A user's public profile (username, bio or image) may have changed.
    ProfileChanged {
        /// The user.
        user: UserId,
    },
}
