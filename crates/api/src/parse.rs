//! From request bodies to use-case inputs: every field goes through its domain value
//! object, and every failure is collected into one 422 answer.

use conduit_app::{CreateArticle, Login, Register, UpdateArticle, UpdateUser};
use conduit_domain::{
    Invalid, ValidationErrors,
    api_key::{ApiKeyName, Scope},
    article::{ArticleBody, ArticleDescription, ArticleTitle, TagName},
    comment::CommentBody,
    time::Timestamp,
    user::{Bio, Email, ImageUrl, Password, Username},
};
use poem_openapi::types::MaybeUndefined;

use crate::dto;

/// A field that may be absent but, when present, may not be `null`.
/// `None` means "rejected" (the error is recorded), `Some(None)` "absent".
fn optional<T>(
    errors: &mut ValidationErrors,
    field: &str,
    value: MaybeUndefined<String>,
    parse: impl FnOnce(&str) -> Result<T, Invalid>,
) -> Option<Option<T>> {
    match value {
        MaybeUndefined::Undefined => Some(None),
        MaybeUndefined::Null => errors.check(field, Err(Invalid::Null)),
        MaybeUndefined::Value(raw) => errors.check(field, parse(&raw)).map(Some),
    }
}

/// A field that may be absent, `null` (clear it) or a value (`""` also clears it).
/// Returns `None` when rejected, `Some(None)` when absent, `Some(Some(new))` otherwise.
fn clearable<T>(
    errors: &mut ValidationErrors,
    field: &str,
    value: MaybeUndefined<String>,
    parse: impl FnOnce(&str) -> Result<Option<T>, Invalid>,
) -> Option<Option<Option<T>>> {
    match value {
        MaybeUndefined::Undefined => Some(None),
        MaybeUndefined::Null => Some(Some(None)),
        MaybeUndefined::Value(raw) => errors.check(field, parse(&raw)).map(Some),
    }
}

/// Registration input.
pub fn register(user: dto::NewUser) -> Result<Register, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let username = errors.check("username", Username::parse(&user.username));
    let email = errors.check("email", Email::parse(&user.email));
    let password = errors.check("password", Password::new_secret(&user.password));
    let input = (|| {
        Some(Register {
            username: username?,
            email: email?,
            password: password?,
        })
    })();
    errors.finish(input)
}

/// Login input.
pub fn login(user: dto::LoginUser) -> Result<Login, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let email = errors.check("email", Email::parse(&user.email));
    let password = errors.check("password", Password::presented(&user.password));
    errors.finish(
        email
            .zip(password)
            .map(|(email, password)| Login { email, password }),
    )
}

/// Account changes.
pub fn update_user(user: dto::UpdateUser) -> Result<UpdateUser, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let email = optional(&mut errors, "email", user.email, Email::parse);
    let username = optional(&mut errors, "username", user.username, Username::parse);
    let password = optional(&mut errors, "password", user.password, Password::new_secret);
    let bio = clearable(&mut errors, "bio", user.bio, Bio::parse);
    let image = clearable(&mut errors, "image", user.image, ImageUrl::parse);
    let input = (|| {
        Some(UpdateUser {
            email: email?,
            username: username?,
            password: password?,
            bio: bio?,
            image: image?,
        })
    })();
    errors.finish(input)
}

/// A new article.
pub fn create_article(article: dto::NewArticle) -> Result<CreateArticle, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let title = errors.check("title", ArticleTitle::parse(&article.title));
    let description = errors.check(
        "description",
        ArticleDescription::parse(&article.description),
    );
    let body = errors.check("body", ArticleBody::parse(&article.body));
    let tags = errors.check(
        "tagList",
        TagName::parse_list(&article.tag_list.unwrap_or_default()),
    );
    let input = (|| {
        Some(CreateArticle {
            title: title?,
            description: description?,
            body: body?,
            tags: tags?,
        })
    })();
    errors.finish(input)
}

/// Article changes.
pub fn update_article(article: dto::UpdateArticle) -> Result<UpdateArticle, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let title = optional(&mut errors, "title", article.title, ArticleTitle::parse);
    let description = optional(
        &mut errors,
        "description",
        article.description,
        ArticleDescription::parse,
    );
    let body = optional(&mut errors, "body", article.body, ArticleBody::parse);
    let tags = match article.tag_list {
        MaybeUndefined::Undefined => Some(None),
        MaybeUndefined::Null => errors.check("tagList", Err(Invalid::Null)),
        MaybeUndefined::Value(list) => errors
            .check("tagList", TagName::parse_list(&list))
            .map(Some),
    };
    let input = (|| {
        Some(UpdateArticle {
            title: title?,
            description: description?,
            body: body?,
            tags: tags?,
        })
    })();
    errors.finish(input)
}

/// A new API key.
pub fn api_key(key: dto::NewApiKey) -> Result<conduit_app::CreateApiKey, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let name = errors.check("name", ApiKeyName::parse(&key.name));
    let scopes = errors.check("scopes", Scope::parse_list(&key.scopes));
    let expires_at = match key.expires_at {
        None => Some(None),
        Some(raw) => errors
            .check(
                "expiresAt",
                Timestamp::parse_rfc3339(&raw).ok_or(Invalid::Format {
                    expected: "an RFC 3339 date-time such as 2030-01-31T00:00:00Z",
                }),
            )
            .map(Some),
    };
    let input = (|| {
        Some(conduit_app::CreateApiKey {
            name: name?,
            scopes: scopes?,
            expires_at: expires_at?,
        })
    })();
    errors.finish(input)
}

/// A comment's text.
pub fn comment(comment: dto::NewComment) -> Result<CommentBody, ValidationErrors> {
    CommentBody::parse(&comment.body).map_err(|invalid| ValidationErrors::single("body", invalid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_reports_every_bad_field_at_once() {
        let errors = register(dto::NewUser {
            username: String::new(),
            email: "nope".into(),
            password: "short".into(),
        })
        .expect_err("invalid");
        assert_eq!(errors.fields()["username"], ["can't be blank"]);
        assert!(errors.fields()["email"][0].starts_with("is invalid"));
        assert_eq!(
            errors.fields()["password"],
            ["is too short (minimum is 8 characters)"]
        );
    }

    #[test]
    fn update_user_distinguishes_absent_null_and_empty() {
        let base = || dto::UpdateUser {
            email: MaybeUndefined::Undefined,
            password: MaybeUndefined::Undefined,
            username: MaybeUndefined::Undefined,
            bio: MaybeUndefined::Undefined,
            image: MaybeUndefined::Undefined,
        };
        let cleared = update_user(dto::UpdateUser {
            bio: MaybeUndefined::Value(String::new()),
            image: MaybeUndefined::Null,
            ..base()
        })
        .expect("valid");
        assert!(matches!(cleared.bio, Some(None)));
        assert!(matches!(cleared.image, Some(None)));
        assert!(cleared.email.is_none());

        let null_email = update_user(dto::UpdateUser {
            email: MaybeUndefined::Null,
            ..base()
        })
        .expect_err("null email");
        assert_eq!(null_email.fields()["email"], ["can't be null"]);
        let blank_username = update_user(dto::UpdateUser {
            username: MaybeUndefined::Value(String::new()),
            ..base()
        })
        .expect_err("blank username");
        assert_eq!(blank_username.fields()["username"], ["can't be blank"]);
    }

    #[test]
    fn update_article_rejects_null_tag_list_but_accepts_empty() {
        let base = || dto::UpdateArticle {
            title: MaybeUndefined::Undefined,
            description: MaybeUndefined::Undefined,
            body: MaybeUndefined::Undefined,
            tag_list: MaybeUndefined::Undefined,
        };
        let null = update_article(dto::UpdateArticle {
            tag_list: MaybeUndefined::Null,
            ..base()
        });
        assert!(null.is_err_and(|e| e.fields().contains_key("tagList")));
        let empty = update_article(dto::UpdateArticle {
            tag_list: MaybeUndefined::Value(vec![]),
            ..base()
        })
        .expect("valid");
        assert!(matches!(empty.tags, Some(ref t) if t.is_empty()));
    }
}
