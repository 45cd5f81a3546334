//! The whole OAuth sign-in over HTTP, against a real OpenID Connect server running
//! locally (`tools/oidc-mock`), named by TEST_OIDC_ISSUER.

use std::collections::BTreeMap;

use conduit_server::config::{ProviderConfig, ProviderKind};
use reqwest::{StatusCode, redirect::Policy};
use serde_json::json;

use crate::helpers::{Reply, TestApp, assert_error, spawn_app_with};

const FRONTEND: &str = "http://frontend.test/";

/// The issuer to test against; `None` (after a notice) when not configured, and a
/// failure under CI, which must not skip.
fn issuer() -> Option<String> {
    match std::env::var("TEST_OIDC_ISSUER") {
        Ok(url) => Some(url),
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("CI must set TEST_OIDC_ISSUER (start tools/oidc-mock)")
        }
        Err(_) => {
            eprintln!("TEST_OIDC_ISSUER is not set: the OAuth flow test did not run");
            None
        }
    }
}

async fn app_with_provider(issuer: &str) -> TestApp {
    let issuer = issuer.to_owned();
    spawn_app_with(move |config| {
        config.oauth.public_url = "http://conduit.test".into();
        config.oauth.allowed_return_urls = vec![FRONTEND.into()];
        config.oauth.providers = BTreeMap::from([(
            "mock".to_owned(),
            ProviderConfig {
                kind: ProviderKind::Oidc,
                issuer: Some(issuer),
                client_id: "conduit-test".into(),
                client_secret: None,
                scopes: vec![],
            },
        )]);
    })
    .await
}

/// Runs the browser's part: start, the provider's authorize endpoint (which signs the
/// fixed test user in at once), and our callback. Returns the final `Location`.
async fn sign_in(app: &TestApp) -> String {
    sign_in_as(app, None).await.0
}

/// [`sign_in`] as the person `login_hint` names at the mock provider (see
/// `tools/oidc-mock`). Returns the final `Location` and the callback's path and query,
/// as the provider sent the browser to it.
async fn sign_in_as(app: &TestApp, login_hint: Option<&str>) -> (String, String) {
    let start = browser()
        .get(format!("{}/api/auth/oauth/mock/start", app.address))
        .query(&[("returnTo", format!("{FRONTEND}callback"))])
        .send()
        .await
        .expect("sent");
    assert_eq!(start.status(), StatusCode::FOUND);
    let to_provider = start.headers()["location"].to_str().expect("ascii");
    through_provider(app, to_provider, login_hint).await
}

/// A browser that does not follow redirects.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("client")
}

/// The browser's part from the provider's authorization URL on: the provider signs the
/// person `login_hint` names in at once, and sends the browser to our callback. Returns
/// the final `Location` and the callback's path and query.
async fn through_provider(
    app: &TestApp,
    to_provider: &str,
    login_hint: Option<&str>,
) -> (String, String) {
    let browser = browser();
    let mut to_provider = url::Url::parse(to_provider).expect("the provider's URL");
    if let Some(hint) = login_hint {
        to_provider
            .query_pairs_mut()
            .append_pair("login_hint", hint);
    }
    let to_provider = to_provider.to_string();
    assert!(
        to_provider.contains("code_challenge_method=S256") && to_provider.contains("state="),
        "{to_provider}"
    );

    let at_provider = browser.get(&to_provider).send().await.expect("sent");
    assert!(
        at_provider.status().is_redirection(),
        "{}",
        at_provider.status()
    );
    let back = at_provider.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let callback = url::Url::parse(&back).expect("callback URL");
    assert_eq!(callback.path(), "/api/auth/oauth/mock/callback");

    // The provider sent the browser to our public address; deliver it to the test server.
    let callback = format!(
        "{}?{}",
        callback.path(),
        callback.query().unwrap_or_default()
    );
    let ours = browser
        .get(format!("{}{callback}", app.address))
        .send()
        .await
        .expect("sent");
    assert_eq!(ours.status(), StatusCode::FOUND);
    let location = ours.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned();
    (location, callback)
}

/// `POST /auth/oauth/mock/link` as the holder of `token`, coming back to the settings page.
async fn start_link(app: &TestApp, token: Option<&str>) -> Reply {
    app.post(
        "/auth/oauth/mock/link",
        token,
        json!({"returnTo": format!("{FRONTEND}settings")}),
    )
    .await
}

/// Starts a link as the holder of `token` and completes the provider's part as the
/// person `login_hint` names; returns the final `Location` (nothing is linked yet).
async fn link_as(app: &TestApp, token: &str, login_hint: Option<&str>) -> String {
    let url = link_url(app, token).await;
    through_provider(app, &url, login_hint).await.0
}

/// The provider URL of a link started by the holder of `token`.
async fn link_url(app: &TestApp, token: &str) -> String {
    let started = start_link(app, Some(token)).await;
    assert_eq!(started.status, StatusCode::OK, "{:?}", started.body);
    started.body["url"].as_str().expect("a URL").to_owned()
}

/// The link code in the `Location` a link flow ended on.
fn link_code(location: &str) -> String {
    let (page, fragment) = location.split_once('#').expect("a fragment");
    assert_eq!(page, format!("{FRONTEND}settings"));
    fragment
        .strip_prefix("linkCode=")
        .unwrap_or_else(|| panic!("no link code in {fragment}"))
        .to_owned()
}

/// `POST /auth/oauth/link/confirm` with `code`, as the holder of `token`.
async fn confirm(app: &TestApp, token: Option<&str>, code: &str) -> Reply {
    app.post("/auth/oauth/link/confirm", token, json!({"code": code}))
        .await
}

/// Links the identity `login_hint` names to the holder of `token`: the whole flow, with
/// the confirmation.
async fn link_and_confirm(app: &TestApp, token: &str, login_hint: Option<&str>) {
    let code = link_code(&link_as(app, token, login_hint).await);
    let confirmed = confirm(app, Some(token), &code).await;
    assert_eq!(confirmed.status, StatusCode::OK, "{:?}", confirmed.body);
    assert_eq!(confirmed.body, json!({"linked": {"provider": "mock"}}));
}

/// The number of sessions of the holder of `token`.
async fn sessions(app: &TestApp, token: &str) -> usize {
    let listed = app.get("/auth/sessions", Some(token)).await;
    assert_eq!(listed.status, StatusCode::OK, "{:?}", listed.body);
    listed.body["sessions"].as_array().expect("sessions").len()
}

/// Posts a login code to `/auth/oauth/exchange`.
async fn exchange(app: &TestApp, code: &str) -> Reply {
    app.post("/auth/oauth/exchange", None, json!({"code": code}))
        .await
}

fn login_code(location: &str) -> String {
    let (page, fragment) = location.split_once('#').expect("a fragment");
    assert_eq!(page, format!("{FRONTEND}callback"));
    assert!(
        !page.contains("code="),
        "the code travels in the fragment only"
    );
    fragment
        .strip_prefix("code=")
        .unwrap_or_else(|| panic!("no code in {fragment}"))
        .to_owned()
}

#[tokio::test]
async fn a_new_person_signs_in_and_gets_session_tokens() {
    let Some(issuer) = issuer() else { return };
    let app = app_with_provider(&issuer).await;
    let code = login_code(&sign_in(&app).await);

    let exchanged = exchange(&app, &code).await;
    assert_eq!(exchanged.status, StatusCode::OK, "{:?}", exchanged.body);
    assert_eq!(exchanged.body["user"]["email"], "oidc-user@example.com");
    assert_eq!(exchanged.body["user"]["username"], "oidcuser");
    assert!(exchanged.body["user"]["refreshToken"].is_string());
    let token = exchanged.body["user"]["token"]
        .as_str()
        .expect("token")
        .to_owned();
    assert_eq!(
        app.get("/user", Some(&token)).await.body["user"]["username"],
        "oidcuser"
    );

    // A login code works once.
    let again = exchange(&app, &code).await;
    assert_error(&again, 401, "code", "login_code_invalid");

    // Signing in again reaches the same account, by provider identity.
    let second = login_code(&sign_in(&app).await);
    let second = exchange(&app, &second).await;
    assert_eq!(second.body["user"]["username"], "oidcuser");
    app.cleanup().await;
}

/// Pre-account takeover: someone registers a password account with another person's
/// address (never verified: there is no email channel) and waits. The owner's verified
/// sign-in with a provider is refused, not joined to that account: the squatter's
/// password reaches nothing of theirs.
#[tokio::test]
async fn a_verified_sign_in_never_joins_a_password_account_with_its_email() {
    let Some(issuer) = issuer() else { return };
    let app = app_with_provider(&issuer).await;
    let registered = app
        .post("/users", None, json!({"user": {"username": "squatter", "email": "OIDC-User@example.com", "password": "password123"}}))
        .await;
    assert_eq!(
        registered.status,
        StatusCode::CREATED,
        "{:?}",
        registered.body
    );
    let squatter = registered.body["user"]["token"]
        .as_str()
        .expect("token")
        .to_owned();

    // The owner of the address signs in; the provider has verified it.
    let location = sign_in(&app).await;
    assert_eq!(location, format!("{FRONTEND}callback#error=account_exists"));
    // Nothing was linked: the same identity is refused again, and no account was made.
    assert_eq!(
        sign_in(&app).await,
        format!("{FRONTEND}callback#error=account_exists")
    );
    let made = app.get("/profiles/oidcuser", None).await;
    assert_eq!(made.status, StatusCode::NOT_FOUND, "{:?}", made.body);

    // The squatter, signed in with the password, has their own account and session only.
    let me = app.get("/user", Some(&squatter)).await;
    assert_eq!(me.body["user"]["username"], "squatter");
    assert_eq!(sessions(&app, &squatter).await, 1);
    let password = app
        .post(
            "/users/login",
            None,
            json!({"user": {"email": "oidc-user@example.com", "password": "password123"}}),
        )
        .await;
    assert_eq!(password.body["user"]["username"], "squatter");
    app.cleanup().await;
}

/// A signed-in person links a provider explicitly, and confirms the link code the flow
/// ends with; signing in with it then reaches their account, whatever the identity's
/// email (here another address than the account's, then one the provider has not
/// verified). The link starts no session; each link code works once.
#[tokio::test]
async fn a_provider_linked_while_signed_in_signs_in_to_that_account() {
    let Some(issuer) = issuer() else { return };
    let app = app_with_provider(&issuer).await;
    let token = app.register("linker").await;
    assert_eq!(sessions(&app, &token).await, 1);

    let code = link_code(&link_as(&app, &token, None).await);
    let confirmed = confirm(&app, Some(&token), &code).await;
    assert_eq!(confirmed.status, StatusCode::OK, "{:?}", confirmed.body);
    assert_eq!(confirmed.body, json!({"linked": {"provider": "mock"}}));
    assert_eq!(sessions(&app, &token).await, 1, "a link starts no session");
    // A link code works once.
    let again = confirm(&app, Some(&token), &code).await;
    assert_error(&again, 422, "code", "validation_failed");
    // Linking the same identity again is no change.
    link_and_confirm(&app, &token, None).await;

    let code = login_code(&sign_in(&app).await);
    let exchanged = exchange(&app, &code).await;
    assert_eq!(exchanged.status, StatusCode::OK, "{:?}", exchanged.body);
    assert_eq!(exchanged.body["user"]["username"], "linker");
    assert_eq!(exchanged.body["user"]["email"], "linker@test.com");
    assert_eq!(sessions(&app, &token).await, 2);

    link_and_confirm(&app, &token, Some("unverified:elsewhere@example.com")).await;
    let (location, _) = sign_in_as(&app, Some("unverified:elsewhere@example.com")).await;
    let exchanged = exchange(&app, &login_code(&location)).await;
    assert_eq!(exchanged.body["user"]["username"], "linker");
    app.cleanup().await;
}

/// Login CSRF through a link: an attacker starts a link to their own account and gets
/// another person to open the provider URL. The person signs in at the provider; their
/// browser lands with a link code, which links nothing: confirmed with the person's own
/// token, or with none, it is refused. Their later sign-in with the provider does not
/// reach the attacker's account.
#[tokio::test]
async fn a_link_url_completed_by_someone_else_links_nothing() {
    let Some(issuer) = issuer() else { return };
    let app = app_with_provider(&issuer).await;
    let attacker = app.register("attacker").await;
    let victim = app.register("victim").await;
    let url = link_url(&app, &attacker).await;

    // The victim's browser, with the victim's identity at the provider.
    let (location, _) = through_provider(&app, &url, Some("csrfvictim@example.com")).await;
    let code = link_code(&location);
    let anonymous = confirm(&app, None, &code).await;
    assert_error(&anonymous, 401, "token", "token_missing");
    let theirs = confirm(&app, Some(&victim), &code).await;
    assert_error(&theirs, 422, "code", "validation_failed");
    assert_eq!(
        theirs.body,
        confirm(&app, Some(&victim), "rt_never-issued").await.body,
        "the same refusal as an unknown code's"
    );
    // The refused code is used up: even the attacker, had they got it, links nothing.
    let used = confirm(&app, Some(&attacker), &code).await;
    assert_error(&used, 422, "code", "validation_failed");

    // The victim signs in with the provider later: not into the attacker's account (the
    // identity is linked to nobody, so its verified address, which no account holds,
    // makes the victim an account of their own).
    let (location, _) = sign_in_as(&app, Some("csrfvictim@example.com")).await;
    let exchanged = exchange(&app, &login_code(&location)).await;
    assert_eq!(exchanged.status, StatusCode::OK, "{:?}", exchanged.body);
    assert_eq!(exchanged.body["user"]["username"], "csrfvictim");
    assert_eq!(sessions(&app, &attacker).await, 1);
    let me = app.get("/user", Some(&attacker)).await;
    assert_eq!(me.body["user"]["username"], "attacker");
    app.cleanup().await;
}

/// An identity linked to one account cannot be linked to another.
#[tokio::test]
async fn an_identity_linked_elsewhere_is_not_linked_again() {
    let Some(issuer) = issuer() else { return };
    let app = app_with_provider(&issuer).await;
    // The identity signs in first and gets an account of its own.
    let code = login_code(&sign_in(&app).await);
    assert_eq!(
        exchange(&app, &code).await.body["user"]["username"],
        "oidcuser"
    );

    let other = app.register("other").await;
    let location = link_as(&app, &other, None).await;
    assert_eq!(
        location,
        format!("{FRONTEND}settings#error=identity_in_use")
    );
    let code = login_code(&sign_in(&app).await);
    assert_eq!(
        exchange(&app, &code).await.body["user"]["username"],
        "oidcuser"
    );

    // Linked elsewhere between the callback and the confirmation: the confirmation checks
    // again, and links nothing.
    let code = link_code(&link_as(&app, &other, Some("racer@example.com")).await);
    let (location, _) = sign_in_as(&app, Some("racer@example.com")).await;
    let racer = exchange(&app, &login_code(&location)).await;
    assert_eq!(racer.body["user"]["username"], "racer");
    let late = confirm(&app, Some(&other), &code).await;
    assert_error(&late, 409, "identity", "identity_in_use");
    let (location, _) = sign_in_as(&app, Some("racer@example.com")).await;
    let again = exchange(&app, &login_code(&location)).await;
    assert_eq!(again.body["user"]["username"], "racer");
    app.cleanup().await;
}

/// Starting or confirming a link needs a live session; starting one, an allowed
/// `returnTo`, like a sign-in.
#[tokio::test]
async fn a_link_needs_a_live_session_and_an_allowed_return_address() {
    let Some(issuer) = issuer() else { return };
    let app = app_with_provider(&issuer).await;
    assert_error(&start_link(&app, None).await, 401, "token", "token_missing");
    let (token, _) = app.sign_up("leaving").await;
    assert_eq!(start_link(&app, Some(&token)).await.status, StatusCode::OK);

    let elsewhere = app
        .post(
            "/auth/oauth/mock/link",
            Some(&token),
            json!({"returnTo": "https://evil.example/"}),
        )
        .await;
    assert_error(&elsewhere, 422, "returnTo", "validation_failed");
    let started = app
        .get(
            "/auth/oauth/mock/start?returnTo=https://evil.example/",
            None,
        )
        .await;
    assert_eq!(
        elsewhere.body, started.body,
        "the same refusal as a sign-in's"
    );
    let unknown = app
        .post(
            "/auth/oauth/nobody/link",
            Some(&token),
            json!({"returnTo": FRONTEND}),
        )
        .await;
    assert_error(&unknown, 404, "provider", "not_found");

    // A link code pending when the session ends cannot be confirmed with its token.
    let code = link_code(&link_as(&app, &token, None).await);
    let out = app.post("/auth/logout", Some(&token), json!({})).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{:?}", out.body);
    assert_error(
        &start_link(&app, Some(&token)).await,
        401,
        "token",
        "token_invalid",
    );
    assert_error(
        &confirm(&app, Some(&token), &code).await,
        401,
        "token",
        "token_invalid",
    );
    app.cleanup().await;
}

/// An address the provider has not verified never reaches the account that holds it
/// (otherwise anyone who typed your email at the provider could sign in as you), and
/// never makes an account.
#[tokio::test]
async fn an_unverified_email_neither_links_nor_makes_an_account() {
    let Some(issuer) = issuer() else { return };
    let app = app_with_provider(&issuer).await;
    let owner = app.register("victim").await;
    let email = app.get("/user", Some(&owner)).await.body["user"]["email"]
        .as_str()
        .expect("an email")
        .to_owned();

    let (location, _) = sign_in_as(&app, Some(&format!("unverified:{email}"))).await;
    assert_eq!(
        location,
        format!("{FRONTEND}callback#error=email_unverified")
    );
    // Nothing was linked: the same identity is refused again. A verified sign-in with the
    // address is not joined to the owner's account either (no account is joined by
    // email); the owner links the provider while signed in.
    let (again, _) = sign_in_as(&app, Some(&format!("unverified:{email}"))).await;
    assert_eq!(again, format!("{FRONTEND}callback#error=email_unverified"));
    let (verified, _) = sign_in_as(&app, Some(&email)).await;
    assert_eq!(verified, format!("{FRONTEND}callback#error=account_exists"));

    // Nor does an unverified address that no account holds make one (pre-account
    // takeover): its real owner can still register, link the provider, and then sign in
    // with it to their own account.
    let (fresh, _) = sign_in_as(&app, Some("unverified:newcomer@example.com")).await;
    assert_eq!(fresh, format!("{FRONTEND}callback#error=email_unverified"));
    let owner = app
        .post(
            "/users",
            None,
            json!({"user": {"username": "newcomer", "email": "newcomer@example.com", "password": "password123"}}),
        )
        .await;
    assert_eq!(owner.status, StatusCode::CREATED, "{:?}", owner.body);
    let owner = owner.body["user"]["token"].as_str().expect("token");
    link_and_confirm(&app, owner, Some("newcomer@example.com")).await;
    let (verified, _) = sign_in_as(&app, Some("newcomer@example.com")).await;
    let exchanged = exchange(&app, &login_code(&verified)).await;
    assert_eq!(exchanged.body["user"]["username"], "newcomer");
    app.cleanup().await;
}

/// A callback's `state` works once: the same callback delivered again is refused, and
/// gives no second login code.
#[tokio::test]
async fn a_callback_replayed_with_its_state_is_refused() {
    let Some(issuer) = issuer() else { return };
    let app = app_with_provider(&issuer).await;
    let (location, callback) = sign_in_as(&app, None).await;
    login_code(&location);
    let path = callback.strip_prefix("/api").expect("under /api");
    let replayed = app.get(path, None).await;
    assert_error(&replayed, 422, "state", "validation_failed");
    app.cleanup().await;
}

/// A provider that fails (its token endpoint answers 503) sends the browser back to the
/// frontend with `#error=temporarily_unavailable`, not to a JSON error on our callback.
#[tokio::test]
async fn a_failing_provider_sends_the_browser_back_with_an_error() {
    let Some(issuer) = issuer() else { return };
    let app = app_with_provider(&issuer).await;
    let (location, _) = sign_in_as(&app, Some("flaw:unavailable")).await;
    assert_eq!(
        location,
        format!("{FRONTEND}callback#error=temporarily_unavailable")
    );
    // A provider that answers but whose ID token does not verify is a refusal.
    let (location, _) = sign_in_as(&app, Some("flaw:signature")).await;
    assert_eq!(location, format!("{FRONTEND}callback#error=access_denied"));
    app.cleanup().await;
}

#[tokio::test]
async fn bad_starts_and_replayed_states_are_refused() {
    let Some(issuer) = issuer() else { return };
    let app = app_with_provider(&issuer).await;
    let elsewhere = app
        .get(
            "/auth/oauth/mock/start?returnTo=https://evil.example/",
            None,
        )
        .await;
    assert_error(&elsewhere, 422, "returnTo", "validation_failed");
    let unknown = app
        .get(
            &format!("/auth/oauth/nobody/start?returnTo={FRONTEND}"),
            None,
        )
        .await;
    assert_error(&unknown, 404, "provider", "not_found");
    let forged = app
        .get("/auth/oauth/mock/callback?code=x&state=forged", None)
        .await;
    assert_error(&forged, 422, "state", "validation_failed");
    app.cleanup().await;
}
