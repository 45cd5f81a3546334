//! Comments on articles.

use crate::{
    ArticleId, CommentId, Invalid, UserId,
    text::{multi_line, string_value},
    time::Timestamp,
    user::Profile,
};

string_value!(
    /// A comment's text: 1 to 10,000 characters, kept as written.
    CommentBody
);

impl CommentBody {
    /// Longest accepted comment.
    pub const MAX: usize = 10_000;
    /// Checks `raw` is not blank and not too long.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        multi_line(raw, Self::MAX).map(Self)
    }
}

/// What adding a comment stores.
#[derive(Debug, Clone)]
pub struct NewComment {
    /// The article commented on.
    pub article_id: ArticleId,
    /// The commenter.
    pub author_id: UserId,
    /// The text.
    pub body: CommentBody,
    /// Creation time.
    pub created_at: Timestamp,
}

/// The facts about a comment that a permission check needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommentRef {
    /// Storage id.
    pub id: CommentId,
    /// The article it belongs to.
    pub article_id: ArticleId,
    /// The commenter.
    pub author_id: UserId,
}

/// A comment as a viewer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentView {
    /// Id, shown to clients.
    pub id: CommentId,
    /// Text.
    pub body: String,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change (comments are not edited, so equal to `created_at`).
    pub updated_at: Timestamp,
    /// The commenter's profile, as the viewer sees it.
    pub author: Profile,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comment_body_rules() {
        assert_eq!(CommentBody::parse(""), Err(Invalid::Blank));
        assert_eq!(
            CommentBody::parse(&"c".repeat(10_001)),
            Err(Invalid::TooLong { max: 10_000 })
        );
        assert_eq!(
            CommentBody::parse("Nice!").map(CommentBody::into_inner),
            Ok("Nice!".into())
        );
    }
}
