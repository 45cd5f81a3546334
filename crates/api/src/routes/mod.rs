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
pub(crate) mod operation;
pub mod profiles;
pub mod tags;
pub mod users;

use operation::{Method, Operation};

/// Every operation's descriptor, each named after its `operationId`.
pub(crate) const OPERATIONS: &[&Operation] = &[
    &users::CREATE_USER,
    &users::LOGIN,
    &users::GET_CURRENT_USER,
    &users::UPDATE_CURRENT_USER,
    &auth::REFRESH_TOKEN,
    &auth::LOGOUT,
    &auth::LOGOUT_ALL,
    &auth::LIST_SESSIONS,
    &auth::DELETE_SESSION,
    &oauth::OAUTH_START,
    &oauth::OAUTH_CALLBACK,
    &oauth::OAUTH_LINK,
    &oauth::OAUTH_LINK_CONFIRM,
    &oauth::OAUTH_EXCHANGE,
    &api_keys::CREATE_API_KEY,
    &api_keys::LIST_API_KEYS,
    &api_keys::REVOKE_API_KEY,
    &profiles::GET_PROFILE_BY_USERNAME,
    &profiles::FOLLOW_USER_BY_USERNAME,
    &profiles::UNFOLLOW_USER_BY_USERNAME,
    &articles::GET_ARTICLES,
    &articles::GET_ARTICLES_FEED,
    &articles::CREATE_ARTICLE,
    &articles::GET_ARTICLE,
    &articles::UPDATE_ARTICLE,
    &articles::DELETE_ARTICLE,
    &articles::CREATE_ARTICLE_FAVORITE,
    &articles::DELETE_ARTICLE_FAVORITE,
    &comments::GET_ARTICLE_COMMENTS,
    &comments::CREATE_ARTICLE_COMMENT,
    &comments::DELETE_ARTICLE_COMMENT,
    &tags::GET_TAGS,
];

/// The descriptor of the operation with `operationId` `id`.
pub(crate) fn operation(id: &str) -> Option<&'static Operation> {
    OPERATIONS
        .iter()
        .copied()
        .find(|operation| operation.id == id)
}

/// The descriptor of `method` on `path`, a documented path template (`/articles/{slug}`).
pub(crate) fn operation_at(method: Method, path: &str) -> Option<&'static Operation> {
    OPERATIONS
        .iter()
        .copied()
        .find(|operation| operation.method == method && operation.path == path)
}

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
    paging(limit, offset).map_err(|errors| conduit_domain::Error::Validation(errors).into())
}

/// [`page`], refused with the validation errors.
fn paging(limit: Option<i64>, offset: Option<i64>) -> Result<Page, ValidationErrors> {
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
        return Err(errors);
    }
    // Both values were just checked to be non-negative.
    Ok(Page {
        limit: paging.limit.unsigned_abs(),
        offset: paging.offset.unsigned_abs(),
    })
}

#[cfg(test)]
mod tests {
    use poem_openapi::{OpenApi, registry::MetaOperation};

    use super::{operation::Example, *};
    use crate::security::OptionalAuth;

    /// The operations the handlers declare, with their paths.
    fn declared() -> Vec<(String, MetaOperation)> {
        <crate::stack::Apis as OpenApi>::meta()
            .into_iter()
            .flat_map(|api| api.paths)
            .flat_map(|path| {
                let template = path.path;
                path.operations
                    .into_iter()
                    .map(move |operation| (template.clone(), operation))
            })
            .collect()
    }

    #[test]
    fn every_operation_has_exactly_one_descriptor() {
        let declared = declared();
        assert_eq!(declared.len(), OPERATIONS.len());
        for (path, declared) in declared {
            let id = declared.operation_id.expect("an operationId");
            let descriptors: Vec<_> = OPERATIONS.iter().filter(|d| d.id == id).collect();
            assert_eq!(descriptors.len(), 1, "{id}");
            let descriptor = descriptors[0];
            assert_eq!(descriptor.path, path, "{id}");
            assert_eq!(
                descriptor.method.as_str(),
                declared.method.as_str().to_lowercase(),
                "{id}"
            );
        }
    }

    /// What the handler's types say agrees with its descriptor: a request body where it
    /// declares one, a scope where API keys are accepted (`UserAuth`, `OptionalAuth`), and
    /// the scope `OptionalAuth` checks where anonymous callers are served too.
    #[test]
    fn descriptors_agree_with_the_handlers() {
        for (_, declared) in declared() {
            let id = declared.operation_id.unwrap_or_default();
            let descriptor = operation(id).expect("a descriptor");
            assert_eq!(declared.request.is_some(), descriptor.body, "{id}");
            let keys = declared.security.iter().any(|s| s.contains_key("ApiKey"));
            assert_eq!(keys, descriptor.scope.is_some(), "{id}");
            if declared.security.iter().any(|s| s.is_empty()) {
                assert_eq!(descriptor.scope, Some(OptionalAuth::SCOPE), "{id}");
            }
        }
    }

    #[test]
    fn each_error_status_is_described_once_with_a_fitting_example() {
        for descriptor in OPERATIONS {
            let mut statuses: Vec<u16> = descriptor.cases().map(|case| case.status()).collect();
            statuses.sort_unstable();
            statuses.dedup();
            assert_eq!(
                statuses.len(),
                descriptor.cases().count(),
                "{}",
                descriptor.id
            );
            for case in descriptor.cases() {
                match case.example {
                    Example::MissingScope => {
                        assert!(descriptor.scope.is_some(), "{}", descriptor.id)
                    }
                    // The example is a real refusal, not the catalogue's stand-in.
                    Example::Invalid(refusal) => assert!(refusal().is_some(), "{}", descriptor.id),
                    _ => {}
                }
                let example = descriptor.example(case.status()).expect("an example");
                assert_eq!(example.code.status(), case.status(), "{}", descriptor.id);
            }
        }
    }

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
