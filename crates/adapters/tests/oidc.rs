//! Sign-in with a real OpenID Connect provider: the local mock of `tools/oidc-mock`
//! (see its README), named by `TEST_OIDC_ISSUER` (such as `http://127.0.0.1:8089`).
//!
//! Unset, the tests pass empty after a notice, except under CI (`CI` set), where they
//! fail instead so that a missing mock cannot pass unnoticed.
//!
//! The mock's authorization endpoint signs in at once and redirects back with a code,
//! so a client that does not follow redirects plays the browser: it reads the code from
//! the `Location` of that redirect.

mod support;

use conduit_adapters::oidc::OidcProvider;
use conduit_domain::{
    identity::{AuthorizationStart, IdentityError},
    ports::IdentityProvider,
};

const REDIRECT_URI: &str = "http://127.0.0.1:3000/api/auth/oidc/callback";
const CLIENT_ID: &str = "conduit-test-client";

/// The issuer to test against, or `None` after a notice.
///
/// # Panics
///
/// When `TEST_OIDC_ISSUER` is unset under CI.
fn issuer() -> Option<String> {
    static NOTICE: std::sync::Once = std::sync::Once::new();
    support::configured(
        "TEST_OIDC_ISSUER",
        "the OpenID Connect tests against tools/oidc-mock",
        &NOTICE,
    )
}

async fn provider(issuer: &str) -> OidcProvider {
    OidcProvider::discover("oidc", issuer, CLIENT_ID, None, vec!["groups".into()])
        .await
        .unwrap_or_else(|e| panic!("discovery at {issuer} failed: {e}"))
}

/// Follows the authorization URL like a browser would, stopping at the redirect back
/// to us, and returns the `code` and `state` it carries.
async fn authorize(start: &AuthorizationStart) -> (String, String) {
    authorize_as(start, None).await
}

/// [`authorize`] with the mock's `login_hint` (see `tools/oidc-mock/server.mjs`).
async fn authorize_as(start: &AuthorizationStart, login_hint: Option<&str>) -> (String, String) {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let mut url = url::Url::parse(&start.url).expect("a URL");
    if let Some(hint) = login_hint {
        url.query_pairs_mut().append_pair("login_hint", hint);
    }
    let response = browser.get(url).send().await.expect("authorize");
    assert!(
        response.status().is_redirection(),
        "authorize answered {}",
        response.status()
    );
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .expect("a Location")
        .to_str()
        .expect("text")
        .to_owned();
    assert!(location.starts_with(REDIRECT_URI), "{location}");
    let back = url::Url::parse(&location).expect("a URL");
    let param = |name: &str| {
        back.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| panic!("no {name} in {location}"))
    };
    (param("code"), param("state"))
}

#[tokio::test]
async fn signs_in_through_the_code_flow_with_pkce_and_nonce() {
    let Some(issuer) = issuer() else { return };
    let oidc = provider(&issuer).await;
    assert_eq!(oidc.id(), "oidc");
    let start = oidc.start(REDIRECT_URI).await.expect("start");

    let url = url::Url::parse(&start.url).expect("a URL");
    let query: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["client_id"], CLIENT_ID);
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["state"], start.state);
    assert_eq!(query["nonce"], start.nonce);
    assert_eq!(query["scope"], "openid email profile groups");
    assert!(!start.nonce.is_empty() && !start.pkce_verifier.is_empty());

    let (code, state) = authorize(&start).await;
    assert_eq!(state, start.state);
    let person = oidc
        .finish(&code, &start.pkce_verifier, &start.nonce, REDIRECT_URI)
        .await
        .expect("finish");
    assert_eq!(person.provider, "oidc");
    assert_eq!(person.subject, "oidc-subject-1");
    assert_eq!(person.email.as_deref(), Some("oidc-user@example.com"));
    assert!(person.email_verified);
    assert_eq!(person.username_hint.as_deref(), Some("oidcuser"));
    assert_eq!(
        person.picture.as_deref(),
        Some("https://example.com/oidc-user.png")
    );
}

#[tokio::test]
async fn an_id_token_for_another_nonce_is_rejected() {
    let Some(issuer) = issuer() else { return };
    let oidc = provider(&issuer).await;
    let start = oidc.start(REDIRECT_URI).await.expect("start");
    let (code, _) = authorize(&start).await;
    let err = oidc
        .finish(
            &code,
            &start.pkce_verifier,
            "some-other-nonce",
            REDIRECT_URI,
        )
        .await
        .expect_err("the nonce does not match");
    assert!(matches!(err, IdentityError::Rejected(_)), "{err:?}");
}

/// An ID token is refused unless it is signed by the provider's key, issued by the
/// configured issuer, for our client id, and not expired; a control run with an intact
/// token is accepted.
#[tokio::test]
async fn a_forged_foreign_or_expired_id_token_is_rejected() {
    let Some(issuer) = issuer() else { return };
    let oidc = provider(&issuer).await;
    for flaw in [
        None,
        Some("signature"),
        Some("issuer"),
        Some("audience"),
        Some("expired"),
    ] {
        let start = oidc.start(REDIRECT_URI).await.expect("start");
        let hint = flaw.map(|f| format!("flaw:{f}"));
        let (code, _) = authorize_as(&start, hint.as_deref()).await;
        let outcome = oidc
            .finish(&code, &start.pkce_verifier, &start.nonce, REDIRECT_URI)
            .await;
        match flaw {
            None => assert!(outcome.is_ok(), "the control: {outcome:?}"),
            Some(flaw) => assert!(
                matches!(outcome, Err(IdentityError::Rejected(_))),
                "{flaw}: {outcome:?}"
            ),
        }
    }
}

#[tokio::test]
async fn a_wrong_pkce_verifier_is_rejected() {
    let Some(issuer) = issuer() else { return };
    let oidc = provider(&issuer).await;
    let start = oidc.start(REDIRECT_URI).await.expect("start");
    let (code, _) = authorize(&start).await;
    // Another well-formed verifier: the challenge sent at the start does not match it.
    let other = oidc.start(REDIRECT_URI).await.expect("another start");
    let err = oidc
        .finish(&code, &other.pkce_verifier, &start.nonce, REDIRECT_URI)
        .await
        .expect_err("the verifier does not match");
    assert!(matches!(err, IdentityError::Rejected(_)), "{err:?}");
}

#[tokio::test]
async fn an_unreachable_issuer_fails_discovery() {
    // Nothing listens on port 9 (discard) on the loopback interface here.
    let err = OidcProvider::discover("oidc", "http://127.0.0.1:9", CLIENT_ID, None, Vec::new())
        .await
        .expect_err("nobody there");
    assert!(err.to_string().contains("discovery"), "{err}");
}

/// A provider endpoint that answers with a redirect is not followed: the server never
/// requests the redirect's target (here a listener that counts connections), so a
/// provider, or whoever controls its answers, cannot steer the server's requests.
#[tokio::test]
async fn a_redirect_from_the_provider_is_not_followed() {
    use std::sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    };
    use tokio::{
        io::{AsyncReadExt, AsyncWriteExt},
        net::TcpListener,
    };

    let target = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let target_addr = target.local_addr().expect("an address");
    let reached = Arc::new(AtomicUsize::new(0));
    let counter = reached.clone();
    tokio::spawn(async move {
        while let Ok((_stream, _)) = target.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    let redirecting = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let issuer = format!("http://{}", redirecting.local_addr().expect("an address"));
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = redirecting.accept().await {
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request).await;
            let answer = format!(
                "HTTP/1.1 302 Found\r\nLocation: http://{target_addr}/.well-known/openid-configuration\r\n\
                 Content-Length: 0\r\nConnection: close\r\n\r\n"
            );
            let _ = stream.write_all(answer.as_bytes()).await;
        }
    });

    let refused = OidcProvider::discover("oidc", &issuer, CLIENT_ID, None, Vec::new()).await;
    assert!(refused.is_err(), "discovery through a redirect succeeded");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(
        reached.load(Ordering::SeqCst),
        0,
        "the redirect was followed"
    );
}
