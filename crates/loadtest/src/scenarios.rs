//! The goose scenarios: one per [`Kind`], each a set of weighted transactions.
//!
//! Requests are named by route template (`/api/articles/{slug}`; goose puts the method
//! in front) so goose adds up every article under one row. Goose counts any answer outside 2xx as a failure, 429
//! included: run the server with rate limiting off (or raised) for a load test.

use std::sync::Arc;

use goose::prelude::*;
use rand::Rng;
use serde_json::{Value, json};

use crate::mix::{Kind, Mix, Wait};
use crate::session::{Account, Session, encode};

/// Articles per list request, as the RealWorld frontends ask.
const PAGE: u64 = 20;
/// Lists start on one of the first pages, at random.
const MAX_PAGES: u64 = 5;

/// What a request returned, once its body has been read.
#[derive(Debug)]
struct Reply {
    /// The status, or `None` when the request did not get an answer.
    status: Option<u16>,
    /// The JSON body of a successful answer.
    json: Option<Value>,
}

impl Reply {
    fn ok(&self) -> bool {
        self.status
            .is_some_and(|status| (200..300).contains(&status))
    }
}

fn session(user: &GooseUser) -> Session {
    user.get_session_data::<Session>()
        .cloned()
        .unwrap_or_default()
}

fn session_mut(user: &mut GooseUser) -> &mut Session {
    if user.get_session_data::<Session>().is_none() {
        user.set_session_data(Session::default());
    }
    user.get_session_data_unchecked_mut::<Session>()
}

/// Sends one request, named `name`, with the user's token if it has one and `body` as
/// JSON, and reads the whole answer (so the connection is reused).
async fn send(
    user: &mut GooseUser,
    method: GooseMethod,
    path: &str,
    name: &'static str,
    body: Option<&Value>,
) -> Result<Reply, Box<TransactionError>> {
    let mut builder = user.get_request_builder(&method, path)?;
    if let Some(token) = user
        .get_session_data::<Session>()
        .and_then(|session| session.token.as_deref())
    {
        builder = builder.header("Authorization", format!("Token {token}"));
    }
    if let Some(body) = body {
        builder = builder.json(body);
    }
    let request = GooseRequest::builder()
        .method(method)
        .path(path)
        .name(name)
        .set_request_builder(builder)
        .build();
    let goose = user.request(request).await?;
    let Ok(response) = goose.response else {
        return Ok(Reply {
            status: None,
            json: None,
        });
    };
    let status = response.status().as_u16();
    let bytes = response.bytes().await.ok();
    let json = if (200..300).contains(&status) {
        bytes.and_then(|bytes| serde_json::from_slice(&bytes).ok())
    } else {
        None
    };
    Ok(Reply {
        status: Some(status),
        json,
    })
}

/// [`send`], then signs in again when the token was refused (access tokens expire after
/// 15 minutes by default), so later requests carry a fresh one.
async fn call(
    user: &mut GooseUser,
    method: GooseMethod,
    path: &str,
    name: &'static str,
    body: Option<&Value>,
) -> Result<Reply, Box<TransactionError>> {
    let reply = send(user, method, path, name, body).await?;
    if reply.status == Some(401)
        && let Some(account) = session(user).account
    {
        log_in(user, &account, "/api/users/login").await?;
    }
    Ok(reply)
}

async fn get(
    user: &mut GooseUser,
    path: &str,
    name: &'static str,
) -> Result<Reply, Box<TransactionError>> {
    call(user, GooseMethod::Get, path, name, None).await
}

/// Keeps the token of a `{"user":{"token":...}}` answer.
fn keep_token(user: &mut GooseUser, account: &Account, reply: &Reply) -> bool {
    let token = reply
        .json
        .as_ref()
        .and_then(|body| body.pointer("/user/token"))
        .and_then(Value::as_str);
    match token {
        Some(token) => {
            let session = session_mut(user);
            session.token = Some(token.to_owned());
            session.account = Some(account.clone());
            true
        }
        None => false,
    }
}

async fn log_in(
    user: &mut GooseUser,
    account: &Account,
    name: &'static str,
) -> Result<bool, Box<TransactionError>> {
    session_mut(user).token = None;
    let body = account.login_body();
    let reply = send(
        user,
        GooseMethod::Post,
        "/api/users/login",
        name,
        Some(&body),
    )
    .await?;
    Ok(keep_token(user, account, &reply))
}

/// Registers a fresh account and keeps its token.
async fn sign_up(user: &mut GooseUser) -> TransactionResult {
    let account = Account::random();
    let body = account.registration_body();
    let reply = send(
        user,
        GooseMethod::Post,
        "/api/users",
        "/api/users",
        Some(&body),
    )
    .await?;
    if keep_token(user, &account, &reply) {
        Ok(())
    } else {
        Err(format!("registration failed (status {:?})", reply.status).into())
    }
}

// ---- discovery, shared by every scenario --------------------------------------------

async fn list_global(user: &mut GooseUser) -> TransactionResult {
    let offset = session(user).pool.page_offset(PAGE, MAX_PAGES);
    let path = format!("/api/articles?limit={PAGE}&offset={offset}");
    let reply = get(user, &path, "/api/articles").await?;
    if let Some(body) = reply.json {
        session_mut(user).pool.learn_articles(&body, true);
    }
    Ok(())
}

async fn tags(user: &mut GooseUser) -> TransactionResult {
    let reply = get(user, "/api/tags", "/api/tags").await?;
    if let Some(body) = reply.json {
        session_mut(user).pool.learn_tags(&body);
    }
    Ok(())
}

async fn discover(user: &mut GooseUser) -> TransactionResult {
    session_mut(user);
    list_global(user).await?;
    tags(user).await
}

async fn sign_up_and_discover(user: &mut GooseUser) -> TransactionResult {
    sign_up(user).await?;
    discover(user).await
}

/// How many authors a reader follows when they sign up, so that their feed holds
/// articles and is retired by those authors' new ones, as a real reader's is.
const FOLLOWED_BY_READERS: usize = 3;

/// Signs up, discovers, and follows a few of the authors seen.
async fn sign_up_discover_and_follow(user: &mut GooseUser) -> TransactionResult {
    sign_up_and_discover(user).await?;
    for _ in 0..FOLLOWED_BY_READERS {
        let state = session(user);
        let own = state
            .account
            .as_ref()
            .map(|account| account.username.clone());
        let Some(name) = state.pool.author_other_than(own.as_deref()) else {
            break;
        };
        follow(user, GooseMethod::Post, &name).await?;
    }
    Ok(())
}

/// Follows (`Post`) or unfollows (`Delete`) `name`.
async fn follow(
    user: &mut GooseUser,
    method: GooseMethod,
    name: &str,
) -> Result<Reply, Box<TransactionError>> {
    let path = format!("/api/profiles/{}/follow", encode(name));
    call(user, method, &path, "/api/profiles/{username}/follow", None).await
}

// ---- anonymous browsing -------------------------------------------------------------

async fn list_by_tag(user: &mut GooseUser) -> TransactionResult {
    let Some(tag) = session(user).pool.tag() else {
        return Ok(());
    };
    let path = format!("/api/articles?tag={}&limit={PAGE}", encode(&tag));
    let reply = get(user, &path, "/api/articles?tag={tag}").await?;
    if let Some(body) = reply.json {
        session_mut(user).pool.learn_articles(&body, false);
    }
    Ok(())
}

async fn article(user: &mut GooseUser) -> TransactionResult {
    let Some(slug) = session(user).pool.slug() else {
        return Ok(());
    };
    get(
        user,
        &format!("/api/articles/{slug}"),
        "/api/articles/{slug}",
    )
    .await?;
    Ok(())
}

async fn comments(user: &mut GooseUser) -> TransactionResult {
    let Some(slug) = session(user).pool.slug() else {
        return Ok(());
    };
    let path = format!("/api/articles/{slug}/comments");
    get(user, &path, "/api/articles/{slug}/comments").await?;
    Ok(())
}

async fn profile(user: &mut GooseUser) -> TransactionResult {
    let Some(name) = session(user).pool.author_other_than(None) else {
        return Ok(());
    };
    let path = format!("/api/profiles/{}", encode(&name));
    get(user, &path, "/api/profiles/{username}").await?;
    Ok(())
}

// ---- signed-in reading --------------------------------------------------------------

async fn feed(user: &mut GooseUser) -> TransactionResult {
    let path = format!("/api/articles/feed?limit={PAGE}");
    let reply = get(user, &path, "/api/articles/feed").await?;
    if let Some(body) = reply.json {
        session_mut(user).pool.learn_articles(&body, false);
    }
    Ok(())
}

async fn favorited(user: &mut GooseUser) -> TransactionResult {
    let state = session(user);
    let own = state
        .account
        .as_ref()
        .map(|account| account.username.clone());
    // Half the time one's own favorites, else someone else's.
    let name = if rand::rng().random_bool(0.5) {
        own
    } else {
        state.pool.author_other_than(None).or(own)
    };
    let Some(name) = name else {
        return Ok(());
    };
    let path = format!("/api/articles?favorited={}&limit={PAGE}", encode(&name));
    get(user, &path, "/api/articles?favorited={username}").await?;
    Ok(())
}

async fn current_user(user: &mut GooseUser) -> TransactionResult {
    get(user, "/api/user", "/api/user").await?;
    Ok(())
}

// ---- writing ------------------------------------------------------------------------

async fn create_article(user: &mut GooseUser) -> TransactionResult {
    let state = session(user);
    let id: u64 = rand::rng().random();
    let mut tag_list = vec!["loadtest".to_owned()];
    tag_list.extend(state.pool.tag());
    let body = json!({"article": {
        "title": format!("Load test article {id:016x}"),
        "description": "Written by the Conduit load test",
        "body": "A paragraph of text that stands for an article body. ".repeat(20),
        "tagList": tag_list,
    }});
    let reply = call(
        user,
        GooseMethod::Post,
        "/api/articles",
        "/api/articles",
        Some(&body),
    )
    .await?;
    if let Some(article) = reply.json.as_ref().and_then(|body| body.get("article")) {
        session_mut(user).pool.learn_article(article);
    }
    Ok(())
}

async fn comment(user: &mut GooseUser) -> TransactionResult {
    let Some(slug) = session(user).pool.slug() else {
        return Ok(());
    };
    let body = json!({"comment": {"body": "A comment from the load test."}});
    let path = format!("/api/articles/{slug}/comments");
    call(
        user,
        GooseMethod::Post,
        &path,
        "/api/articles/{slug}/comments",
        Some(&body),
    )
    .await?;
    Ok(())
}

async fn favorite_and_unfavorite(user: &mut GooseUser) -> TransactionResult {
    let Some(slug) = session(user).pool.slug() else {
        return Ok(());
    };
    let path = format!("/api/articles/{slug}/favorite");
    let reply = call(
        user,
        GooseMethod::Post,
        &path,
        "/api/articles/{slug}/favorite",
        None,
    )
    .await?;
    if reply.ok() {
        call(
            user,
            GooseMethod::Delete,
            &path,
            "/api/articles/{slug}/favorite",
            None,
        )
        .await?;
    }
    Ok(())
}

async fn follow_and_unfollow(user: &mut GooseUser) -> TransactionResult {
    let state = session(user);
    let own = state
        .account
        .as_ref()
        .map(|account| account.username.as_str());
    let Some(name) = state.pool.author_other_than(own) else {
        return Ok(());
    };
    let reply = follow(user, GooseMethod::Post, &name).await?;
    if reply.ok() {
        follow(user, GooseMethod::Delete, &name).await?;
    }
    Ok(())
}

// ---- login bursts -------------------------------------------------------------------

/// Makes sure the known login account exists, before any user starts: a probe login,
/// and a registration when it fails. Named apart so it does not mix with measured rows.
async fn ensure_login_account(user: &mut GooseUser, account: &Account) -> TransactionResult {
    if log_in(user, account, "setup: /api/users/login").await? {
        return Ok(());
    }
    let body = account.registration_body();
    let reply = send(
        user,
        GooseMethod::Post,
        "/api/users",
        "setup: /api/users",
        Some(&body),
    )
    .await?;
    if keep_token(user, account, &reply) {
        Ok(())
    } else {
        Err(format!(
            "the login account {} could neither sign in nor register (status {:?}); \
             set CONDUIT_LOAD_LOGIN_EMAIL and CONDUIT_LOAD_LOGIN_PASSWORD to a working account",
            account.email, reply.status
        )
        .into())
    }
}

async fn login_burst(user: &mut GooseUser, account: &Account) -> TransactionResult {
    log_in(user, account, "/api/users/login").await?;
    Ok(())
}

/// The login burst as a goose transaction over the known account.
fn login_transaction(account: &Arc<Account>) -> Transaction {
    let account = Arc::clone(account);
    Transaction::new(Arc::new(move |user| {
        let account = Arc::clone(&account);
        Box::pin(async move { login_burst(user, &account).await })
    }))
}

/// The set-up of the known account as a goose transaction.
fn ensure_transaction(account: &Arc<Account>) -> Transaction {
    let account = Arc::clone(account);
    Transaction::new(Arc::new(move |user| {
        let account = Arc::clone(&account);
        Box::pin(async move { ensure_login_account(user, &account).await })
    }))
}

// ---- assembly -----------------------------------------------------------------------

fn weighted(
    transaction: Transaction,
    name: &str,
    weight: usize,
) -> Result<Transaction, GooseError> {
    transaction.set_name(name).set_weight(weight)
}

fn scenario_for(kind: Kind, login: &Arc<Account>) -> Result<Scenario, GooseError> {
    let scenario = Scenario::new(kind.name());
    Ok(match kind {
        Kind::Browse => scenario
            .register_transaction(transaction!(discover).set_name("discover").set_on_start())
            .register_transaction(weighted(transaction!(list_global), "articles", 4)?)
            .register_transaction(weighted(transaction!(list_by_tag), "articles by tag", 2)?)
            .register_transaction(weighted(transaction!(article), "article", 4)?)
            .register_transaction(weighted(transaction!(comments), "comments", 2)?)
            .register_transaction(weighted(transaction!(tags), "tags", 2)?)
            .register_transaction(weighted(transaction!(profile), "profile", 1)?),
        Kind::Read => scenario
            .register_transaction(
                transaction!(sign_up_discover_and_follow)
                    .set_name("sign up")
                    .set_on_start(),
            )
            .register_transaction(weighted(transaction!(feed), "feed", 3)?)
            .register_transaction(weighted(transaction!(list_global), "articles", 1)?)
            .register_transaction(weighted(transaction!(favorited), "favorited", 1)?)
            .register_transaction(weighted(transaction!(article), "article", 3)?)
            .register_transaction(weighted(transaction!(current_user), "current user", 1)?),
        Kind::Write => scenario
            .register_transaction(
                transaction!(sign_up_and_discover)
                    .set_name("sign up")
                    .set_on_start(),
            )
            .register_transaction(weighted(transaction!(create_article), "write article", 2)?)
            .register_transaction(weighted(transaction!(comment), "comment", 2)?)
            .register_transaction(weighted(
                transaction!(favorite_and_unfavorite),
                "favorite",
                2,
            )?)
            .register_transaction(weighted(transaction!(follow_and_unfollow), "follow", 1)?)
            // Writers also read the list now and then, which shows them new slugs.
            .register_transaction(weighted(transaction!(list_global), "articles", 1)?),
        Kind::Login => scenario.register_transaction(login_transaction(login).set_name("login")),
    })
}

/// Registers the scenarios of `mix` (and, when logins run, the set-up of the known
/// account) on `attack`, with `wait` between each user's transactions.
pub fn register(
    mut attack: GooseAttack,
    mix: &Mix,
    wait: Wait,
    login: Account,
) -> Result<GooseAttack, GooseError> {
    let login = Arc::new(login);
    for (kind, weight) in mix.enabled() {
        let mut scenario = scenario_for(kind, &login)?.set_weight(weight)?;
        if !wait.is_zero() {
            scenario = scenario.set_wait_time(wait.min, wait.max)?;
        }
        attack = attack.register_scenario(scenario);
    }
    if mix.weight(Kind::Login) > 0 {
        attack = attack.test_start(ensure_transaction(&login).set_name("ensure login account"));
    }
    Ok(attack)
}
