//! The OAuth flow through the use cases, with a provider that signs in whoever the code
//! names.

use std::sync::{
    Arc,
    atomic::{AtomicU32, Ordering},
};

use async_trait::async_trait;
use conduit_domain::{
    error::BoxError,
    identity::{AuthorizationStart, ExternalIdentity, IdentityError},
};

use super::*;
use crate::testing::{conduit, user};

const FRONTEND: &str = "https://app.example/";

/// A provider whose authorization code is the email of the person it signs in (verified);
/// the code `refuse` is refused.
#[derive(Default)]
struct FakeProvider {
    starts: AtomicU32,
}

#[async_trait]
impl IdentityProvider for FakeProvider {
    fn id(&self) -> &str {
        "fake"
    }

    async fn start(&self, _redirect_uri: &str) -> Result<AuthorizationStart, BoxError> {
        let state = format!("state-{}", self.starts.fetch_add(1, Ordering::Relaxed));
        Ok(AuthorizationStart {
            url: format!("https://idp.example/authorize?state={state}"),
            state,
            pkce_verifier: "verifier".into(),
            nonce: "nonce".into(),
        })
    }

    async fn finish(
        &self,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
        _redirect_uri: &str,
    ) -> Result<ExternalIdentity, IdentityError> {
        if code == "refuse" || pkce_verifier != "verifier" || nonce != "nonce" {
            return Err(IdentityError::Rejected("refused".into()));
        }
        Ok(ExternalIdentity {
            provider: "fake".into(),
            subject: format!("subject of {code}"),
            email: Some(code.into()),
            email_verified: true,
            username_hint: None,
            picture: None,
        })
    }
}

/// The application with [`FakeProvider`] configured.
fn app() -> Conduit {
    let mut app = conduit();
    app.ports.oauth = OAuthSettings {
        providers: vec![Arc::new(FakeProvider::default())],
        callback_base: "https://api.example/api/auth/oauth".into(),
        allowed_return_to: vec![FRONTEND.into()],
        state_ttl: time::Duration::minutes(10),
        code_ttl: time::Duration::minutes(1),
    };
    app
}

/// The `state` in a redirect to [`FakeProvider`].
fn state(to_provider: &Redirect) -> &str {
    to_provider.0.rsplit_once("state=").expect("a state").1
}

/// How a callback that sends the browser back to `{FRONTEND}oauth` ended.
fn outcome(back: Result<OAuthReturn, Error>) -> OAuthOutcome {
    let back = back.expect("sent back");
    assert_eq!(back.return_to.as_str(), format!("{FRONTEND}oauth"));
    back.outcome
}

/// Whether `result` is a 422 under `key`.
fn refused<T>(result: Result<T, Error>, key: &str) -> bool {
    matches!(result, Err(Error::Validation(errors)) if errors.fields().contains_key(key))
}

#[tokio::test]
async fn a_sign_in_and_a_link_go_through_the_stored_pending_values() {
    let app = app();
    let return_to = format!("{FRONTEND}oauth");
    let start = app.oauth_start("fake", &return_to).await.expect("started");
    let back = app
        .oauth_callback("fake", Some("new@example.com"), state(&start), None)
        .await;
    let OAuthOutcome::SignedIn { code } = outcome(back) else {
        panic!("signed in")
    };
    let signed_in = app
        .oauth_exchange(&code, ClientInfo::default())
        .await
        .expect("signed in");
    assert_eq!(signed_in.user.email.as_str(), "new@example.com");

    let owner = user(&app, "owner").await;
    let start = app
        .oauth_link_start(owner, "fake", &return_to)
        .await
        .expect("started");
    let back = app
        .oauth_callback("fake", Some("elsewhere@example.com"), state(&start), None)
        .await;
    let OAuthOutcome::LinkPending { link_code } = outcome(back) else {
        panic!("link pending")
    };
    let linked = app
        .oauth_link_confirm(owner, &link_code)
        .await
        .expect("linked");
    assert_eq!(linked.provider, "fake");
}

#[tokio::test]
async fn a_failed_flow_says_why_and_the_frontend_reason_codes_stay() {
    let app = app();
    let return_to = format!("{FRONTEND}oauth");
    user(&app, "taken").await;
    let owner = user(&app, "owner").await;
    let flows = [
        (
            Some("refuse"),
            None,
            OAuthFailure::AccessDenied,
            "access_denied",
        ),
        (
            Some("x@example.com"),
            Some("access_denied"),
            OAuthFailure::AccessDenied,
            "access_denied",
        ),
        (None, None, OAuthFailure::InvalidRequest, "invalid_request"),
        (
            Some("taken@example.com"),
            None,
            OAuthFailure::AccountExists,
            "account_exists",
        ),
    ];
    for (code, provider_error, failure, reason) in flows {
        let start = app.oauth_start("fake", &return_to).await.expect("started");
        let back = app
            .oauth_callback("fake", code, state(&start), provider_error)
            .await;
        assert_eq!(outcome(back), OAuthOutcome::Failed(failure));
        assert_eq!(failure.code(), reason);
    }
    let start = app
        .oauth_link_start(owner, "fake", &return_to)
        .await
        .expect("started");
    let back = app.oauth_callback("fake", None, state(&start), None).await;
    assert_eq!(
        outcome(back),
        OAuthOutcome::Failed(OAuthFailure::InvalidRequest)
    );
}

#[tokio::test]
async fn a_return_address_must_be_allowed_and_hold_no_fragment() {
    let app = app();
    for return_to in [
        "https://elsewhere.example/",
        "https://app.example/#code=x",
        "https://app.example/\nx",
    ] {
        assert!(
            refused(app.oauth_start("fake", return_to).await, "returnTo"),
            "{return_to}"
        );
    }
}

#[tokio::test]
async fn a_corrupt_or_foreign_pending_login_is_an_unknown_state() {
    let app = app();
    let expires = (app.now().as_offset_date_time() + time::Duration::minutes(5)).into();
    let stored = [
        "garbage".to_owned(),
        // The format of an older release: one line per field.
        format!("fake\nverifier\nnonce\n\n{FRONTEND}oauth"),
        // A pending link where a pending login belongs.
        PendingLink {
            user: UserId(1),
            provider: "fake".into(),
            subject: "s".into(),
        }
        .encode(),
    ];
    for (n, value) in stored.into_iter().enumerate() {
        let state = format!("corrupt-{n}");
        app.ports
            .one_time
            .put(&format!("{STATE_PREFIX}{state}"), value, expires)
            .await
            .expect("stored");
        let back = app
            .oauth_callback("fake", Some("new@example.com"), &state, None)
            .await;
        assert!(refused(back, "state"), "{state}");
        // Used up all the same.
        let again = app
            .oauth_callback("fake", Some("new@example.com"), &state, None)
            .await;
        assert!(refused(again, "state"), "{state}");
    }
}

#[tokio::test]
async fn a_corrupt_pending_link_is_an_unknown_link_code() {
    let app = app();
    let owner = user(&app, "owner").await;
    let code = app
        .put_code(LINK_CODE_PREFIX, format!("{}\nfake\nsubject", owner.0))
        .await
        .expect("stored");
    assert!(refused(app.oauth_link_confirm(owner, &code).await, "code"));
}
