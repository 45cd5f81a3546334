//! From request bodies to use-case inputs: every field is read with its documented JSON
//! type (`exact`), then goes through its domain value object, and every failure is
//! collected into one 422 answer, under the field's JSON name.

use conduit_app::{CreateArticle, Login, Register, UpdateArticle, UpdateUser};
use conduit_domain::{
    Invalid, ValidationErrors,
    api_key::{ApiKeyName, Scope},
    article::{ArticleBody, ArticleDescription, ArticleTitle, TagName},
    comment::CommentBody,
    patch::Patch,
    time::Timestamp,
    user::{Bio, Email, ImageUrl, Password, Username},
};
use poem_openapi::types::MaybeUndefined;

use crate::{
    dto,
    exact::{Field, Text},
};

/// The object under a body's one top-level key (`user`, `article`, ...), or a 422 naming
/// that key when it is absent, `null` or not an object.
fn object<T>(key: &str, field: Field<T>) -> Result<T, ValidationErrors> {
    field
        .into_result()
        .map_err(|mismatch| ValidationErrors::single(key, mismatch))
}

/// A field's value read as its documented type; a mismatch is recorded under `field`.
fn typed<T>(errors: &mut ValidationErrors, field: &str, value: Field<T>) -> Option<T> {
    match value.into_result() {
        Ok(value) => Some(value),
        Err(mismatch) => {
            errors.add(field, mismatch);
            None
        }
    }
}

/// A required string field, through its value object.
fn required<T>(
    errors: &mut ValidationErrors,
    field: &str,
    value: Field<Text>,
    parse: impl FnOnce(&str) -> Result<T, Invalid>,
) -> Option<T> {
    let raw = typed(errors, field, value)?;
    errors.check(field, parse(raw.as_str()))
}

/// A list of strings, as plain strings.
fn strings(list: Vec<Text>) -> Vec<String> {
    list.into_iter().map(Text::into_string).collect()
}

/// A field that may be absent but, when present, may not be `null`.
/// `None` means "rejected" (the error is recorded), `Some(None)` "absent".
fn optional<T>(
    errors: &mut ValidationErrors,
    field: &str,
    value: MaybeUndefined<Field<Text>>,
    parse: impl FnOnce(&str) -> Result<T, Invalid>,
) -> Option<Option<T>> {
    match value {
        MaybeUndefined::Undefined => Some(None),
        MaybeUndefined::Null => errors.check(field, Err(Invalid::Null)),
        MaybeUndefined::Value(raw) => required(errors, field, raw, parse).map(Some),
    }
}

/// A field that may be absent (keep it), `null` (clear it) or a value, which clears it
/// when `parse` finds none in it (`""`, say). `None` means "rejected" (the error is
/// recorded).
fn clearable<T>(
    errors: &mut ValidationErrors,
    field: &str,
    value: MaybeUndefined<Field<Text>>,
    parse: impl FnOnce(&str) -> Result<Option<T>, Invalid>,
) -> Option<Patch<T>> {
    match value {
        MaybeUndefined::Undefined => Some(Patch::Keep),
        MaybeUndefined::Null => Some(Patch::Clear),
        MaybeUndefined::Value(raw) => required(errors, field, raw, parse).map(Patch::from),
    }
}

/// Registration input.
pub fn register(user: Field<dto::NewUser>) -> Result<Register, ValidationErrors> {
    let user = object("user", user)?;
    let mut errors = ValidationErrors::new();
    let username = required(&mut errors, "username", user.username, Username::parse);
    let email = required(&mut errors, "email", user.email, Email::parse);
    let password = required(&mut errors, "password", user.password, Password::new_secret);
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
pub fn login(user: Field<dto::LoginUser>) -> Result<Login, ValidationErrors> {
    let user = object("user", user)?;
    let mut errors = ValidationErrors::new();
    let email = required(&mut errors, "email", user.email, Email::parse);
    let password = required(&mut errors, "password", user.password, Password::presented);
    errors.finish(
        email
            .zip(password)
            .map(|(email, password)| Login { email, password }),
    )
}

/// Account changes.
pub fn update_user(user: Field<dto::UpdateUser>) -> Result<UpdateUser, ValidationErrors> {
    let user = object("user", user)?;
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
pub fn create_article(article: Field<dto::NewArticle>) -> Result<CreateArticle, ValidationErrors> {
    let article = object("article", article)?;
    let mut errors = ValidationErrors::new();
    let title = required(&mut errors, "title", article.title, ArticleTitle::parse);
    let description = required(
        &mut errors,
        "description",
        article.description,
        ArticleDescription::parse,
    );
    let body = required(&mut errors, "body", article.body, ArticleBody::parse);
    // Absent or `null`: no tags.
    let tags = match article.tag_list {
        None => Some(Vec::new()),
        Some(list) => typed(&mut errors, "tagList", list)
            .and_then(|list| errors.check("tagList", TagName::parse_list(&list))),
    };
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
pub fn update_article(
    article: Field<dto::UpdateArticle>,
) -> Result<UpdateArticle, ValidationErrors> {
    let article = object("article", article)?;
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
        MaybeUndefined::Value(list) => typed(&mut errors, "tagList", list)
            .and_then(|list| errors.check("tagList", TagName::parse_list(&list)))
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
pub fn api_key(key: Field<dto::NewApiKey>) -> Result<conduit_app::CreateApiKey, ValidationErrors> {
    let key = object("apiKey", key)?;
    let mut errors = ValidationErrors::new();
    let name = required(&mut errors, "name", key.name, ApiKeyName::parse);
    let scopes = typed(&mut errors, "scopes", key.scopes)
        .and_then(|list| errors.check("scopes", Scope::parse_list(&strings(list))));
    let expires_at = match key.expires_at {
        None => Some(None),
        Some(raw) => required(&mut errors, "expiresAt", raw, |raw| {
            Timestamp::parse_rfc3339(raw).ok_or(Invalid::Format {
                expected: "an RFC 3339 date-time such as 2030-01-31T00:00:00Z",
            })
        })
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
pub fn comment(comment: Field<dto::NewComment>) -> Result<CommentBody, ValidationErrors> {
    let comment = object("comment", comment)?;
    let mut errors = ValidationErrors::new();
    let body = required(&mut errors, "body", comment.body, CommentBody::parse);
    errors.finish(body)
}

/// The refresh token sent in the body, if any (`null` counts as none).
pub fn refresh_token(request: dto::RefreshRequest) -> Result<Option<String>, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let token = match request.refresh_token {
        None => Some(None),
        Some(raw) => typed(&mut errors, "refreshToken", raw).map(|t| Some(t.into_string())),
    };
    errors.finish(token)
}

/// The one-time login code of an OAuth sign-in.
pub fn login_code(request: dto::LoginCodeRequest) -> Result<String, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let code = typed(&mut errors, "code", request.code).map(Text::into_string);
    errors.finish(code)
}

/// The one-time link code of an OAuth link, read like a login code.
pub fn link_code(request: dto::LinkCodeRequest) -> Result<String, ValidationErrors> {
    login_code(dto::LoginCodeRequest { code: request.code })
}

/// The `returnTo` of an OAuth link (whether it is allowed is the use case's to say).
pub fn link_return_to(request: dto::LinkRequest) -> Result<String, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let return_to = typed(&mut errors, "returnTo", request.return_to).map(Text::into_string);
    errors.finish(return_to)
}

#[cfg(test)]
mod tests {
    use poem_openapi::types::ParseFromJSON;
    use serde_json::json;

    use super::*;

    #[test]
    fn registration_reports_every_bad_field_at_once() {
        let errors = register(Field::new(dto::NewUser {
            username: "".into(),
            email: "nope".into(),
            password: "short".into(),
        }))
        .expect_err("invalid");
        assert_eq!(errors.fields()["username"], ["can't be blank"]);
        assert!(errors.fields()["email"][0].starts_with("is invalid"));
        assert_eq!(
            errors.fields()["password"],
            ["is too short (minimum is 8 characters)"]
        );
    }

    /// The DTO as poem-openapi reads it from `json`.
    fn read<T: ParseFromJSON>(json: serde_json::Value) -> T {
        T::parse_from_json(Some(json))
            .map_err(|e| e.into_message())
            .expect("the body's outer shape")
    }

    #[test]
    fn type_mismatches_are_reported_per_field_with_the_rule_breakers() {
        let errors = create_article(read(json!({
            "title": 12, "description": "", "body": true, "tagList": "dragons"
        })))
        .expect_err("invalid");
        assert_eq!(errors.fields()["title"], ["must be a string"]);
        assert_eq!(errors.fields()["description"], ["can't be blank"]);
        assert_eq!(errors.fields()["body"], ["must be a string"]);
        assert_eq!(errors.fields()["tagList"], ["must be an array of strings"]);

        let errors = register(read(json!({"email": null, "password": {}}))).expect_err("invalid");
        assert_eq!(errors.fields()["username"], ["is missing"]);
        assert_eq!(errors.fields()["email"], ["can't be null"]);
        assert_eq!(errors.fields()["password"], ["must be a string"]);

        let errors = comment(read(json!(["text"]))).expect_err("invalid");
        assert_eq!(errors.fields()["comment"], ["must be an object"]);
        let errors = api_key(read(
            json!({"name": "n", "scopes": "user:read", "expiresAt": 1}),
        ))
        .expect_err("invalid");
        assert_eq!(errors.fields()["scopes"], ["must be an array of strings"]);
        assert_eq!(errors.fields()["expiresAt"], ["must be a string"]);
        let errors = refresh_token(read(json!({"refreshToken": 5}))).expect_err("invalid");
        assert_eq!(errors.fields()["refreshToken"], ["must be a string"]);
        assert_eq!(
            refresh_token(read(json!({"refreshToken": null}))).expect("valid"),
            None
        );
        let errors = login_code(read(json!({"code": false}))).expect_err("invalid");
        assert_eq!(errors.fields()["code"], ["must be a string"]);
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
        let cleared = update_user(Field::new(dto::UpdateUser {
            bio: MaybeUndefined::Value("".into()),
            image: MaybeUndefined::Null,
            ..base()
        }))
        .expect("valid");
        assert_eq!(cleared.bio, Patch::Clear);
        assert_eq!(cleared.image, Patch::Clear);
        assert!(cleared.email.is_none());
        let kept = update_user(Field::new(dto::UpdateUser {
            bio: MaybeUndefined::Value(" hi ".into()),
            ..base()
        }))
        .expect("valid");
        assert_eq!(kept.image, Patch::Keep);
        assert!(matches!(kept.bio, Patch::Set(ref b) if b.as_str() == "hi"));

        let null_email = update_user(Field::new(dto::UpdateUser {
            email: MaybeUndefined::Null,
            ..base()
        }))
        .expect_err("null email");
        assert_eq!(null_email.fields()["email"], ["can't be null"]);
        let blank_username = update_user(Field::new(dto::UpdateUser {
            username: MaybeUndefined::Value("".into()),
            ..base()
        }))
        .expect_err("blank username");
        assert_eq!(blank_username.fields()["username"], ["can't be blank"]);
        let numeric_bio = update_user(read(json!({"bio": 7}))).expect_err("a number");
        assert_eq!(numeric_bio.fields()["bio"], ["must be a string"]);
    }

    #[test]
    fn update_article_rejects_null_tag_list_but_accepts_empty() {
        let base = || dto::UpdateArticle {
            title: MaybeUndefined::Undefined,
            description: MaybeUndefined::Undefined,
            body: MaybeUndefined::Undefined,
            tag_list: MaybeUndefined::Undefined,
        };
        let null = update_article(Field::new(dto::UpdateArticle {
            tag_list: MaybeUndefined::Null,
            ..base()
        }));
        assert!(null.is_err_and(|e| e.fields().contains_key("tagList")));
        let empty = update_article(Field::new(dto::UpdateArticle {
            tag_list: MaybeUndefined::Value(Field::new(vec![])),
            ..base()
        }))
        .expect("valid");
        assert!(matches!(empty.tags, Some(ref t) if t.is_empty()));
    }
}
