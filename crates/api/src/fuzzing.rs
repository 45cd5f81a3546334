//! Request-body parsing as the handlers do it, for the fuzz target in `fuzz/`: bytes to
//! JSON and JSON to the request DTO (as poem-openapi's `Json<T>` does), the DTO to the use
//! case's input (`parse`, which also reports fields of the wrong JSON type), and any
//! refusal to the error answer the client would get (`error::normalize`). Not part of
//! the API; hidden from its documentation.

use poem::{IntoResponse, http::StatusCode};
use poem_openapi::{error::ParseRequestPayloadError, types::ParseFromJSON};

use crate::{
    dto,
    error::{self, ApiError},
    parse,
};

/// The request bodies that are parsed field by field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// `POST /users`.
    Register,
    /// `POST /users/login`.
    Login,
    /// `PUT /user`.
    UpdateUser,
    /// `POST /articles`.
    CreateArticle,
    /// `PUT /articles/{slug}`.
    UpdateArticle,
    /// `POST /articles/{slug}/comments`.
    Comment,
    /// `POST /api-keys`.
    ApiKey,
    /// `POST /auth/refresh`.
    Refresh,
    /// `POST /auth/oauth/exchange`.
    LoginCode,
    /// `POST /auth/oauth/{provider}/link`.
    Link,
    /// `POST /auth/oauth/link/confirm`.
    LinkCode,
}

impl Body {
    /// Every body, in a fixed order (a fuzz input's first byte picks one).
    pub const ALL: [Body; 11] = [
        Body::Register,
        Body::Login,
        Body::UpdateUser,
        Body::CreateArticle,
        Body::UpdateArticle,
        Body::Comment,
        Body::ApiKey,
        Body::Refresh,
        Body::LoginCode,
        Body::Link,
        Body::LinkCode,
    ];
}

/// What became of a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Parsed into a use-case input.
    Accepted,
    /// Refused with this status (400 or 422), in the standard error shape.
    Refused(u16),
}

/// Parses `bytes` as `body`, the way its handler does.
pub fn parse_body(body: Body, bytes: &[u8]) -> Outcome {
    match check(body, bytes) {
        Ok(()) => Outcome::Accepted,
        Err(status) => Outcome::Refused(status.as_u16()),
    }
}

/// `Err` holds the status of the answer the client would get.
fn check(body: Body, bytes: &[u8]) -> Result<(), StatusCode> {
    // As poem-openapi's `Json<T>` reads a body: an empty one is `null`.
    let json = if bytes.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(bytes).map_err(|e| unreadable(e.to_string()))?
    };
    match body {
        Body::Register => dto_then(json, |r: dto::NewUserRequest| {
            parse::register(r.user).map(drop)
        }),
        Body::Login => dto_then(json, |r: dto::LoginUserRequest| {
            parse::login(r.user).map(drop)
        }),
        Body::UpdateUser => dto_then(json, |r: dto::UpdateUserRequest| {
            parse::update_user(r.user).map(drop)
        }),
        Body::CreateArticle => dto_then(json, |r: dto::NewArticleRequest| {
            parse::create_article(r.article).map(drop)
        }),
        Body::UpdateArticle => dto_then(json, |r: dto::UpdateArticleRequest| {
            parse::update_article(r.article).map(drop)
        }),
        Body::Comment => dto_then(json, |r: dto::NewCommentRequest| {
            parse::comment(r.comment).map(drop)
        }),
        Body::ApiKey => dto_then(json, |r: dto::NewApiKeyRequest| {
            parse::api_key(r.api_key).map(drop)
        }),
        Body::Refresh => dto_then(json, |r: dto::RefreshRequest| {
            parse::refresh_token(r).map(drop)
        }),
        Body::LoginCode => dto_then(json, |r: dto::LoginCodeRequest| {
            parse::login_code(r).map(drop)
        }),
        Body::Link => dto_then(json, |r: dto::LinkRequest| {
            parse::link_return_to(r).map(drop)
        }),
        Body::LinkCode => dto_then(json, |r: dto::LinkCodeRequest| {
            parse::link_code(r).map(drop)
        }),
    }
}

fn dto_then<T: ParseFromJSON>(
    json: serde_json::Value,
    parse: impl FnOnce(T) -> Result<(), conduit_domain::ValidationErrors>,
) -> Result<(), StatusCode> {
    let dto = T::parse_from_json(Some(json)).map_err(|e| unreadable(e.into_message()))?;
    parse(dto).map_err(|errors| {
        ApiError::from(conduit_domain::Error::from(errors))
            .into_response()
            .status()
    })
}

/// The status the server answers when poem-openapi cannot read a body: the error it
/// raises, through the server's own error mapping.
fn unreadable(reason: String) -> StatusCode {
    error::normalize(ParseRequestPayloadError { reason }.into()).status()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_examples_are_accepted_and_garbage_refused() {
        let register =
            br#"{"user": {"username": "jake", "email": "jake@jake.jake", "password": "jakejake"}}"#;
        assert_eq!(parse_body(Body::Register, register), Outcome::Accepted);
        assert_eq!(parse_body(Body::Register, b"{"), Outcome::Refused(400));
        assert_eq!(parse_body(Body::Register, b"{}"), Outcome::Refused(422));
        let bad_email = br#"{"user": {"username": "jake", "email": "no", "password": "jakejake"}}"#;
        assert_eq!(parse_body(Body::Register, bad_email), Outcome::Refused(422));
        let article =
            br#"{"article": {"title": "T", "description": "D", "body": "B", "tagList": ["a"]}}"#;
        assert_eq!(parse_body(Body::CreateArticle, article), Outcome::Accepted);
        assert_eq!(
            parse_body(Body::UpdateArticle, br#"{"article": {"tagList": null}}"#),
            Outcome::Refused(422)
        );
        for wrong_type in [
            &br#"{"article": {"title": 12, "description": "D", "body": "B"}}"#[..],
            br#"{"article": {"title": "T", "description": true, "body": "B"}}"#,
            br#"{"article": {"title": "T", "description": "D", "body": null}}"#,
            br#"{"article": {"title": "T", "description": "D", "body": "B", "tagList": "a"}}"#,
            br#"{"article": "T"}"#,
        ] {
            assert_eq!(
                parse_body(Body::CreateArticle, wrong_type),
                Outcome::Refused(422)
            );
        }
        assert_eq!(
            parse_body(Body::Refresh, br#"{"refreshToken": 1}"#),
            Outcome::Refused(422)
        );
        assert_eq!(
            parse_body(Body::LoginCode, br#"{"code": "c"}"#),
            Outcome::Accepted
        );
        assert_eq!(
            parse_body(Body::LoginCode, br#"{"code": ["c"]}"#),
            Outcome::Refused(422)
        );
        assert_eq!(
            parse_body(Body::Link, br#"{"returnTo": "https://app.example.com/"}"#),
            Outcome::Accepted
        );
        assert_eq!(
            parse_body(Body::Link, br#"{"returnTo": 1}"#),
            Outcome::Refused(422)
        );
        assert_eq!(
            parse_body(Body::LinkCode, br#"{"code": "rt_x"}"#),
            Outcome::Accepted
        );
        assert_eq!(
            parse_body(Body::LinkCode, br#"{"code": null}"#),
            Outcome::Refused(422)
        );
        assert_eq!(
            parse_body(
                Body::ApiKey,
                br#"{"apiKey": {"name": "n", "scopes": ["user:read"]}}"#
            ),
            Outcome::Accepted
        );
    }
}
