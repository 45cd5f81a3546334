//! One session through the progenitor client generated from docs/openapi.yaml, against a
//! live server: register, sign in, create an article with tags, list it, favorite it,
//! comment, refresh the session, sign out. Every step checks what the server answered,
//! so a wrong document (a type, a status, a field name) or a wrong server fails the run.
//!
//!   conduit-client-check ORIGIN        e.g. conduit-client-check http://127.0.0.1:8080

#[allow(dead_code, unused_imports, clippy::all)]
mod conduit {
    include!(concat!(env!("OUT_DIR"), "/conduit.rs"));
}

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail, ensure};
use conduit::{Client, Error, types};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};

/// A client for the API's base URL (the document's server, `/api`), signed in with
/// `token` when one is given (the RealWorld `Authorization: Token <jwt>` form).
fn client(api: &str, token: Option<&str>) -> Result<Client> {
    let mut headers = HeaderMap::new();
    if let Some(token) = token {
        headers.insert(
            AUTHORIZATION,
            HeaderValue::from_str(&format!("Token {token}"))?,
        );
    }
    let http = reqwest::Client::builder()
        .default_headers(headers)
        .timeout(std::time::Duration::from_secs(30))
        .build()?;
    Ok(Client::new_with_client(api, http))
}

/// The error code of a failed call, or a description of why there is none.
fn error_code<T: std::fmt::Debug>(
    result: Result<T, Error<types::ErrorBody>>,
) -> Result<(u16, types::ErrorCode)> {
    match result {
        Ok(value) => bail!("expected an error, got {value:?}"),
        Err(Error::ErrorResponse(response)) => {
            Ok((response.status().as_u16(), response.into_inner().code))
        }
        Err(other) => bail!("expected an error body, got {other}"),
    }
}

async fn step<T, F: Future<Output = Result<T>>>(name: &str, f: F) -> Result<T> {
    let started = Instant::now();
    let value = f.await.with_context(|| format!("step '{name}' failed"))?;
    println!("  ok  {name} ({} ms)", started.elapsed().as_millis());
    Ok(value)
}

#[tokio::main]
async fn main() -> Result<()> {
    let origin = std::env::args()
        .nth(1)
        .context("usage: conduit-client-check ORIGIN")?;
    let api = format!("{}/api", origin.trim_end_matches('/'));
    let unique = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos() % 1_000_000_000_000;
    let username = format!("rs{unique}");
    let email = format!("{username}@example.com");
    let password = "correct horse battery";
    let tag = format!("rust-client-{unique}");
    let anonymous = client(&api, None)?;

    let registered = step("register", async {
        let user = types::NewUser {
            username: username.as_str().try_into()?,
            email: email.as_str().try_into()?,
            password: password.try_into()?,
        };
        let response = anonymous
            .create_user()
            .body(types::NewUserRequest { user })
            .send()
            .await?;
        ensure!(response.status() == 201, "status {}", response.status());
        let user = response.into_inner().user;
        ensure!(
            user.username == username && user.email == email,
            "registered as {user:?}"
        );
        ensure!(
            user.refresh_token.is_some(),
            "no refresh token after registration"
        );
        Ok(user)
    })
    .await?;

    step(
        "sign-in with a wrong password is 401 invalid_credentials",
        async {
            let user = types::LoginUser {
                email: email.as_str().try_into()?,
                password: "not the password".try_into()?,
            };
            let (status, code) = error_code(
                anonymous
                    .login()
                    .body(types::LoginUserRequest { user })
                    .send()
                    .await,
            )?;
            ensure!(
                status == 401 && code == types::ErrorCode::InvalidCredentials,
                "{status} {code}"
            );
            Ok(())
        },
    )
    .await?;

    let signed_in = step("sign in", async {
        let user = types::LoginUser {
            email: email.as_str().try_into()?,
            password: password.try_into()?,
        };
        let user = anonymous
            .login()
            .body(types::LoginUserRequest { user })
            .send()
            .await?
            .into_inner()
            .user;
        ensure!(user.username == username, "signed in as {}", user.username);
        ensure!(
            user.refresh_token.is_some() && user.refresh_token != registered.refresh_token,
            "refresh token {:?}",
            user.refresh_token
        );
        Ok(user)
    })
    .await?;
    let author = client(&api, Some(&signed_in.token))?;

    let article = step("create an article with tags", async {
        let article = types::NewArticle {
            title: format!("Generated in Rust {unique}").try_into()?,
            description: "A progenitor client".try_into()?,
            body: "Written through the generated client.".try_into()?,
            tag_list: Some(vec![tag.as_str().try_into()?, "generated-clients".try_into()?]),
        };
        let response = author
            .create_article()
            .body(types::NewArticleRequest { article })
            .send()
            .await?;
        ensure!(response.status() == 201, "status {}", response.status());
        let article = response.into_inner().article;
        ensure!(
            article.tag_list == [tag.as_str(), "generated-clients"],
            "tags {:?}",
            article.tag_list
        );
        ensure!(
            article.author.username == username
                && !article.favorited
                && article.favorites_count == 0,
            "{article:?}"
        );
        Ok(article)
    })
    .await?;

    step("list it by tag", async {
        let list = anonymous
            .get_articles()
            .tag(tag.as_str())
            .send()
            .await?
            .into_inner();
        ensure!(
            list.articles_count == 1 && list.articles.len() == 1,
            "{} articles",
            list.articles_count
        );
        let item = &list.articles[0];
        ensure!(
            item.slug == article.slug && item.title == article.title,
            "listed {item:?}"
        );
        ensure!(
            item.tag_list == article.tag_list,
            "listed tags {:?}",
            item.tag_list
        );
        Ok(())
    })
    .await?;

    step("favorite it", async {
        let favorited = author
            .create_article_favorite()
            .slug(article.slug.as_str())
            .send()
            .await?
            .into_inner()
            .article;
        ensure!(
            favorited.favorited && favorited.favorites_count == 1,
            "favorited {} count {}",
            favorited.favorited,
            favorited.favorites_count
        );
        let list = author
            .get_articles()
            .favorited(username.as_str())
            .send()
            .await?
            .into_inner();
        ensure!(
            list.articles.len() == 1 && list.articles[0].slug == article.slug,
            "favorites {:?}",
            list.articles
        );
        ensure!(
            list.articles[0].favorited && list.articles[0].favorites_count == 1,
            "listed {:?}",
            list.articles[0]
        );
        Ok(())
    })
    .await?;

    step("comment", async {
        let text = format!("A comment from Rust {unique}");
        let comment = types::NewComment {
            body: text.as_str().try_into()?,
        };
        let response = author
            .create_article_comment()
            .slug(article.slug.as_str())
            .body(types::NewCommentRequest { comment })
            .send()
            .await?;
        ensure!(response.status() == 201, "status {}", response.status());
        let created = response.into_inner().comment;
        ensure!(
            created.body == text && created.author.username == username,
            "{created:?}"
        );
        let comments = anonymous
            .get_article_comments()
            .slug(article.slug.as_str())
            .send()
            .await?
            .into_inner()
            .comments;
        ensure!(
            comments
                .iter()
                .any(|c| c.id == created.id && c.body == text),
            "comments {comments:?}"
        );
        Ok(())
    })
    .await?;

    let refreshed = step("refresh the session", async {
        let body = types::RefreshRequest {
            refresh_token: signed_in.refresh_token.clone(),
        };
        let user = anonymous
            .refresh_token()
            .body(body)
            .send()
            .await?
            .into_inner()
            .user;
        ensure!(user.username == username, "refreshed as {}", user.username);
        ensure!(
            user.refresh_token.is_some() && user.refresh_token != signed_in.refresh_token,
            "refresh token not rotated"
        );
        let me = client(&api, Some(&user.token))?
            .get_current_user()
            .send()
            .await?
            .into_inner()
            .user;
        ensure!(
            me.username == username && me.email == email,
            "the refreshed token is {me:?}"
        );
        Ok(user)
    })
    .await?;

    step(
        "sign out; the refresh token is then refused with 401",
        async {
            let response = client(&api, Some(&refreshed.token))?
                .logout()
                .send()
                .await?;
            ensure!(response.status() == 204, "status {}", response.status());
            let body = types::RefreshRequest {
                refresh_token: refreshed.refresh_token.clone(),
            };
            let (status, code) = error_code(anonymous.refresh_token().body(body).send().await)?;
            ensure!(
                status == 401 && code == types::ErrorCode::RefreshTokenInvalid,
                "{status} {code}"
            );
            Ok(())
        },
    )
    .await?;

    println!("Rust client (progenitor): session passed");
    Ok(())
}
