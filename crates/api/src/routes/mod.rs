//! The HTTP endpoints, one module per area of the contract. Handlers parse the request
//! into domain values, call one use case and map its result; nothing else.

use conduit_domain::{Invalid, ValidationErrors, article::Page};
use garde::Validate;
use poem_openapi::{ApiResponse, Tags, payload::Json};

use crate::{dto, error::ApiError};

pub mod api_keys;
pub mod articles;
pub mod auth;
pub mod comments;
pub mod cookie;
pub mod oauth;
pub mod profiles;
pub mod tags;
pub mod users;

/// Groups of operations in the documentation, named as in the RealWorld contract.
#[derive(Debug, Tags)]
pub enum ApiTags {
    /// Registration, login and the signed-in user's account.
    #[oai(rename = "User and Authentication")]
    UserAndAuthentication,
    /// Public profiles and following.
    Profile,
    /// Articles and feeds.
    Articles,
    /// Comments on articles.
    Comments,
    /// Favorites.
    Favorites,
    /// Tags.
    Tags,
    /// API keys for machine clients.
    #[oai(rename = "API keys")]
    ApiKeys,
}

/// `201 Created` with the new user.
#[derive(Debug, ApiResponse)]
pub enum UserCreated {
    /// The account was created and signed in: the body carries an access token and a
    /// refresh token (in cookie mode, the refresh token is in the `conduit_refresh` cookie
    /// instead).
    #[oai(status = 201)]
    Created(
        Json<dto::UserResponse>,
        /// In cookie mode, the refresh-token cookie.
        #[oai(header = "Set-Cookie")]
        Option<String>,
    ),
}

/// `200 OK` after a sign-in or refresh.
#[derive(Debug, ApiResponse)]
pub enum SignedIn {
    /// Signed in: the body carries an access token and a refresh token (in cookie mode,
    /// the refresh token is in the `conduit_refresh` cookie instead).
    #[oai(status = 200)]
    Ok(
        Json<dto::UserResponse>,
        /// In cookie mode, the refresh-token cookie.
        #[oai(header = "Set-Cookie")]
        Option<String>,
    ),
}

/// `201 Created` with the new article.
#[derive(Debug, ApiResponse)]
pub enum ArticleCreated {
    /// The article was published.
    #[oai(status = 201)]
    Created(Json<dto::SingleArticleResponse>),
}

/// `201 Created` with the new comment.
#[derive(Debug, ApiResponse)]
pub enum CommentCreated {
    /// The comment was added.
    #[oai(status = 201)]
    Created(Json<dto::SingleCommentResponse>),
}

/// `204 No Content`.
#[derive(Debug, ApiResponse)]
pub enum Deleted {
    /// Done; nothing to return.
    #[oai(status = 204)]
    NoContent,
}

/// Largest page size served.
pub const MAX_LIMIT: i64 = 100;
/// Largest offset served; deeper paging is refused rather than scanned.
pub const MAX_OFFSET: i64 = 1_000_000;

/// Paging bounds clients may ask for: API policy, checked here rather than in the domain.
#[derive(Debug, Validate)]
struct Paging {
    #[garde(range(min = 1, max = MAX_LIMIT))]
    limit: i64,
    #[garde(range(min = 0, max = MAX_OFFSET))]
    offset: i64,
}

/// The page asked for by `limit` (default 20, 1 to 100) and `offset` (default 0, at
/// most 1,000,000), or 422 naming the bad parameter.
pub fn page(limit: Option<i64>, offset: Option<i64>) -> Result<Page, ApiError> {
    let paging = Paging {
        limit: limit.unwrap_or(Page::DEFAULT_LIMIT as i64),
        offset: offset.unwrap_or(0),
    };
    if let Err(report) = paging.validate() {
        // garde says which field failed; the message is ours, in the contract's style.
        let mut errors = ValidationErrors::new();
        for (path, _) in report.iter() {
            let field = path.to_string();
            let (min, max) = if field == "limit" {
                (1, 100)
            } else {
                (0, 1_000_000)
            };
            errors.add(field, Invalid::OutOfRange { min, max });
        }
        return Err(conduit_domain::Error::Validation(errors).into());
    }
    // Both values were just checked to be non-negative.
    Ok(Page {
        limit: paging.limit.unsigned_abs(),
        offset: paging.offset.unsigned_abs(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_defaults_and_bounds() {
        assert_eq!(
            page(None, None).ok(),
            Some(Page {
                limit: 20,
                offset: 0
            })
        );
        assert_eq!(
            page(Some(100), Some(5)).ok(),
            Some(Page {
                limit: 100,
                offset: 5
            })
        );
        for (limit, offset) in [
            (Some(0), None),
            (Some(101), None),
            (None, Some(-1)),
            (None, Some(1_000_001)),
        ] {
            let response =
                poem::IntoResponse::into_response(page(limit, offset).expect_err("rejected"));
            assert_eq!(response.status().as_u16(), 422);
        }
    }
}
