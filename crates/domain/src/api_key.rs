//! API keys for machine clients: named, scoped, optionally expiring credentials that act
//! as their owner within their scopes. The token itself is a Biscuit (see ADR 0010); the
//! server keeps only the key's metadata, to list and revoke it.

use std::fmt;

use crate::{Invalid, UserId, time::Timestamp};

/// Identifies an API key; carried inside its token.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ApiKeyId(pub String);

impl fmt::Display for ApiKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What an API key may do. Each write endpoint needs one scope; reads of public data need
/// none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Create, update and delete the owner's articles.
    ArticlesWrite,
    /// Add and delete the owner's comments.
    CommentsWrite,
    /// Favorite and unfavorite articles as the owner.
    FavoritesWrite,
    /// Follow and unfollow as the owner.
    FollowsWrite,
    /// Read the owner's account (`GET /user`) and personal lists (feed).
    UserRead,
    /// Change the owner's account (`PUT /user`).
    UserWrite,
}

impl Scope {
    /// Every scope.
    pub const ALL: [Scope; 6] = [
        Scope::ArticlesWrite,
        Scope::CommentsWrite,
        Scope::FavoritesWrite,
        Scope::FollowsWrite,
        Scope::UserRead,
        Scope::UserWrite,
    ];

    /// The scope's name (`articles:write`).
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::ArticlesWrite => "articles:write",
            Scope::CommentsWrite => "comments:write",
            Scope::FavoritesWrite => "favorites:write",
            Scope::FollowsWrite => "follows:write",
            Scope::UserRead => "user:read",
            Scope::UserWrite => "user:write",
        }
    }

    /// The scope named `raw`.
    pub fn parse(raw: &str) -> Result<Scope, Invalid> {
        Scope::ALL
            .into_iter()
            .find(|s| s.as_str() == raw)
            .ok_or(Invalid::Format {
                expected: "one of articles:write, comments:write, favorites:write, follows:write, user:read, user:write",
            })
    }

    /// A non-empty list of distinct scopes, in the given order.
    pub fn parse_list<S: AsRef<str>>(raw: &[S]) -> Result<Vec<Scope>, Invalid> {
        if raw.is_empty() {
            return Err(Invalid::Blank);
        }
        let mut scopes = Vec::with_capacity(raw.len());
        for item in raw {
            let scope = Scope::parse(item.as_ref())?;
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        Ok(scopes)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A key's name, shown in the owner's list: 1 to 100 characters, one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyName(String);

impl ApiKeyName {
    /// Longest accepted name.
    pub const MAX: usize = 100;

    /// Checks `raw`.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        crate::text::single_line(raw, Self::MAX).map(Self)
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An API key's metadata (never its token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// Id.
    pub id: ApiKeyId,
    /// The user it acts as.
    pub user_id: UserId,
    /// The owner's name for it.
    pub name: String,
    /// What it may do.
    pub scopes: Vec<Scope>,
    /// Creation time.
    pub created_at: Timestamp,
    /// When it stops working, if ever.
    pub expires_at: Option<Timestamp>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
}

/// Why an API key token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiKeyFailure {
    /// Not a token we signed, malformed, expired, or revoked (HTTP 401).
    Invalid,
    /// A token whose signature and checks hold, for the key it names, but whose scopes
    /// (or attenuation) do not allow this operation. Whether that key is still valid
    /// (not revoked) is for the caller to find out before answering 403: authentication
    /// comes before authorization.
    InsufficientScope(crate::ports::VerifiedKey),
}
