//! Sign-in through third parties: [`OidcProvider`] for any OpenID Connect provider found
//! by discovery, and [`GithubProvider`] for GitHub, which speaks plain OAuth 2.0 and
//! describes people through its REST API instead of an ID token.
//!
//! Both run the authorization-code flow with PKCE (S256) and a random `state`; the
//! OpenID Connect provider adds a nonce that the ID token must carry back.
//!
//! # HTTP
//!
//! Each provider owns a reqwest client that never follows redirects: a token or
//! discovery endpoint that answers with a redirect could otherwise steer the server
//! into requesting an address of the attacker's choosing (SSRF), which is why the
//! oauth2 crate asks for such a client. Plain `http` is accepted so that a local test
//! issuer works; production configuration is expected to name `https` issuers.
//!
//! # Errors
//!
//! A provider that cannot be reached, times out or answers 5xx is
//! [`IdentityError::Unavailable`] (worth retrying later); a provider that answers but
//! refuses the code, or whose answer does not verify, is [`IdentityError::Rejected`].

use std::{borrow::Cow, collections::BTreeSet, time::Duration};

use async_trait::async_trait;
use conduit_domain::{
    error::BoxError,
    identity::{AuthorizationStart, ExternalIdentity, IdentityError},
    ports::IdentityProvider,
};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EmptyExtraTokenFields,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, RequestTokenError, Scope, StandardRevocableToken, StandardTokenResponse,
    TokenResponse as _, TokenUrl,
    basic::{
        BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
        BasicTokenType,
    },
};
use openidconnect::{
    AuthenticationFlow, IssuerUrl, Nonce, TokenResponse as _,
    core::{CoreClient, CoreClientAuthMethod, CoreProviderMetadata, CoreResponseType},
};
use serde::Deserialize;

/// How long one request to a provider may take, connecting included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long connecting to a provider may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Sent with every request; GitHub's API refuses requests without a User-Agent.
const USER_AGENT: &str = concat!("conduit/", env!("CARGO_PKG_VERSION"));

/// The HTTP client every provider uses: no redirects (see the module documentation),
/// bounded waits, a User-Agent.
fn http_client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .user_agent(USER_AGENT)
        .build()
}

/// Why a request to a provider got no usable answer at the transport level.
#[derive(Debug, thiserror::Error)]
enum Transport {
    /// Connecting, sending or reading failed.
    #[error(transparent)]
    Http(#[from] reqwest::Error),
    /// The provider answered with a server error. Turned into an error here, before
    /// oauth2 sees it, because oauth2 would report it as an unparsable answer and so as
    /// a refusal; a provider having a bad moment is not refusing anyone.
    #[error("the provider answered {0}")]
    Status(reqwest::StatusCode),
}

/// Sends one of oauth2's requests through our reqwest client and hands back the whole
/// answer; what it means is for oauth2 to decide, except for 5xx (see [`Transport`]).
async fn send(
    http: reqwest::Client,
    request: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, Transport> {
    let response = http.execute(reqwest::Request::try_from(request)?).await?;
    let status = response.status();
    if status.is_server_error() {
        return Err(Transport::Status(status));
    }
    let headers = response.headers().clone();
    let body = response.bytes().await?.to_vec();
    let mut answer = oauth2::HttpResponse::new(body);
    *answer.status_mut() = status;
    *answer.headers_mut() = headers;
    Ok(answer)
}

/// A token endpoint's failure as the port describes it.
fn token_error<E>(err: RequestTokenError<Transport, E>) -> IdentityError
where
    E: oauth2::ErrorResponse + 'static,
{
    match err {
        RequestTokenError::Request(transport) => IdentityError::Unavailable(Box::new(transport)),
        RequestTokenError::ServerResponse(refusal) => {
            IdentityError::Rejected(format!("token endpoint refused the code: {refusal}"))
        }
        RequestTokenError::Parse(parse, _) => {
            IdentityError::Rejected(format!("token endpoint answer is malformed: {parse}"))
        }
        RequestTokenError::Other(other) => {
            IdentityError::Rejected(format!("token endpoint answer is unusable: {other}"))
        }
    }
}

/// `openid email profile`, then the configured scopes, each once.
fn oidc_scopes(configured: &[String]) -> Vec<Scope> {
    // `openid` is added by openidconnect itself.
    let mut seen = BTreeSet::from(["openid".to_owned()]);
    ["email", "profile"]
        .into_iter()
        .map(str::to_owned)
        .chain(configured.iter().cloned())
        .filter(|scope| seen.insert(scope.clone()))
        .map(Scope::new)
        .collect()
}

fn redirect_url(redirect_uri: &str) -> Result<RedirectUrl, url::ParseError> {
    RedirectUrl::new(redirect_uri.to_owned())
}

// ---------------------------------------------------------------------------------------
// OpenID Connect
// ---------------------------------------------------------------------------------------

/// The openidconnect client as discovery leaves it, with the token endpoint made
/// mandatory (the code flow cannot work without one).
type DiscoveredClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
    EndpointMaybeSet,
>;

/// Any OpenID Connect provider, configured from its discovery document.
///
/// Discovery happens once, in [`OidcProvider::discover`]; the provider's signing keys
/// (JWKS) are fetched then too, so a provider that rotates its keys needs the server
/// restarted (or the provider rediscovered) before tokens signed with a new key verify.
pub struct OidcProvider {
    id: String,
    issuer: String,
    client: DiscoveredClient,
    http: reqwest::Client,
    scopes: Vec<String>,
}

impl std::fmt::Debug for OidcProvider {
    // The client holds the secret; show only what identifies the provider.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcProvider")
            .field("id", &self.id)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client.client_id().as_str())
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl OidcProvider {
    /// Fetches `issuer_url`'s discovery document and signing keys and configures the
    /// client `client_id` (with `client_secret` for confidential clients; `None` for
    /// public ones). `id` is our name for the provider; `scopes` are requested in
    /// addition to `openid email profile`.
    ///
    /// Fails when the issuer cannot be reached, its document does not name itself as
    /// `issuer_url` exactly, or it has no token endpoint.
    pub async fn discover(
        id: &str,
        issuer_url: &str,
        client_id: &str,
        client_secret: Option<&str>,
        scopes: Vec<String>,
    ) -> Result<Self, BoxError> {
        let http = http_client()?;
        let issuer = IssuerUrl::new(issuer_url.to_owned())?;
        let fetch = |request| send(http.clone(), request);
        let metadata = CoreProviderMetadata::discover_async(issuer, &fetch)
            .await
            .map_err(|e| format!("OpenID Connect discovery at {issuer_url} failed: {e}"))?;
        let token_url = metadata
            .token_endpoint()
            .cloned()
            .ok_or_else(|| format!("{issuer_url} names no token endpoint"))?;
        // Client authentication: HTTP Basic is the default every provider must support,
        // unless the provider lists what it supports and Basic is not among them.
        let body_only = metadata
            .token_endpoint_auth_methods_supported()
            .is_some_and(|methods| {
                !methods.contains(&CoreClientAuthMethod::ClientSecretBasic)
                    && methods.contains(&CoreClientAuthMethod::ClientSecretPost)
            });
        let mut client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(client_id.to_owned()),
            client_secret.map(|s| ClientSecret::new(s.to_owned())),
        )
        .set_token_uri(token_url);
        if body_only {
            client = client.set_auth_type(AuthType::RequestBody);
        }
        Ok(OidcProvider {
            id: id.to_owned(),
            issuer: issuer_url.to_owned(),
            client,
            http,
            scopes,
        })
    }
}

#[async_trait]
impl IdentityProvider for OidcProvider {
    fn id(&self) -> &str {
        &self.id
    }

    async fn start(&self, redirect_uri: &str) -> Result<AuthorizationStart, BoxError> {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let request = self
            .client
            .authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge)
            .set_redirect_uri(Cow::Owned(redirect_url(redirect_uri)?))
            .add_scopes(oidc_scopes(&self.scopes));
        let (url, state, nonce) = request.url();
        Ok(AuthorizationStart {
            url: url.to_string(),
            state: state.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
            nonce: nonce.secret().clone(),
        })
    }

    async fn finish(
        &self,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
        redirect_uri: &str,
    ) -> Result<ExternalIdentity, IdentityError> {
        let redirect = redirect_url(redirect_uri)
            .map_err(|e| IdentityError::Rejected(format!("bad redirect URI: {e}")))?;
        let fetch = |request| send(self.http.clone(), request);
        let tokens = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .set_redirect_uri(Cow::Owned(redirect))
            .request_async(&fetch)
            .await
            .map_err(token_error)?;
        let id_token = tokens
            .id_token()
            .ok_or_else(|| IdentityError::Rejected("the provider sent no ID token".into()))?;
        // Checks the signature against the discovered keys, the issuer, that we are the
        // audience (and the authorized party when there are several audiences), the
        // expiry and issue time, and the nonce.
        let verifier = self.client.id_token_verifier();
        let claims = id_token
            .claims(&verifier, &Nonce::new(nonce.to_owned()))
            .map_err(|e| IdentityError::Rejected(format!("the ID token does not verify: {e}")))?;
        let email = claims.email().map(|e| e.as_str().to_owned());
        Ok(ExternalIdentity {
            provider: self.id.clone(),
            subject: claims.subject().as_str().to_owned(),
            // A verification flag without an address vouches for nothing.
            email_verified: email.is_some() && claims.email_verified().unwrap_or(false),
            email,
            username_hint: claims
                .preferred_username()
                .map(|u| u.as_str().to_owned())
                .or_else(|| {
                    claims
                        .name()
                        .and_then(|n| n.get(None))
                        .map(|n| n.as_str().to_owned())
                }),
            picture: claims
                .picture()
                .and_then(|p| p.get(None))
                .map(|p| p.as_str().to_owned()),
        })
    }
}

// ---------------------------------------------------------------------------------------
// GitHub
// ---------------------------------------------------------------------------------------

/// An oauth2 client with authorization and token endpoints, for GitHub's token answers.
type GithubClient = oauth2::Client<
    BasicErrorResponse,
    StandardTokenResponse<EmptyExtraTokenFields, BasicTokenType>,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// Where GitHub lives: the site (authorization and token endpoints) and the REST API.
/// [`Default`] is github.com; tests point both at a server of their own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GithubUrls {
    /// The site: `{web}/login/oauth/authorize` and `{web}/login/oauth/access_token`.
    pub web: String,
    /// The REST API: `{api}/user` and `{api}/user/emails`.
    pub api: String,
}

impl Default for GithubUrls {
    fn default() -> Self {
        GithubUrls {
            web: "https://github.com".to_owned(),
            api: "https://api.github.com".to_owned(),
        }
    }
}

/// Sign-in with GitHub (an OAuth App or a GitHub App's user authorization).
///
/// GitHub issues no ID token, so the person is read from `GET /user` (subject: the
/// numeric `id`, which survives renames; username hint: `login`; picture: `avatar_url`)
/// and `GET /user/emails` (the primary address, verified only if GitHub says so).
pub struct GithubProvider {
    id: String,
    client: GithubClient,
    http: reqwest::Client,
    api: String,
    scopes: Vec<String>,
}

impl std::fmt::Debug for GithubProvider {
    // The client holds the secret; show only what identifies the provider.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubProvider")
            .field("id", &self.id)
            .field("client_id", &self.client.client_id().as_str())
            .field("api", &self.api)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

/// The parts of `GET /user` we use.
#[derive(Debug, Deserialize)]
struct GithubUser {
    id: u64,
    login: String,
    avatar_url: Option<String>,
    /// The public profile address, if the person chose one; not known to be verified.
    email: Option<String>,
}

/// One entry of `GET /user/emails`.
#[derive(Debug, Deserialize)]
struct GithubEmail {
    email: String,
    primary: bool,
    verified: bool,
}

impl GithubProvider {
    /// A GitHub OAuth App `client_id` / `client_secret` at `urls` (github.com by
    /// default). `id` is our name for the provider. `scopes` replace the default
    /// `read:user user:email` when not empty; without `user:email` only a public
    /// profile address can be seen, and never as verified.
    pub fn new(
        id: &str,
        client_id: &str,
        client_secret: &str,
        scopes: Vec<String>,
        urls: GithubUrls,
    ) -> Result<Self, BoxError> {
        let web = urls.web.trim_end_matches('/');
        let client = oauth2::Client::new(ClientId::new(client_id.to_owned()))
            .set_client_secret(ClientSecret::new(client_secret.to_owned()))
            .set_auth_uri(AuthUrl::new(format!("{web}/login/oauth/authorize"))?)
            .set_token_uri(TokenUrl::new(format!("{web}/login/oauth/access_token"))?)
            // GitHub documents the secret as a form parameter of the token request.
            .set_auth_type(AuthType::RequestBody);
        let scopes = if scopes.is_empty() {
            vec!["read:user".to_owned(), "user:email".to_owned()]
        } else {
            scopes
        };
        Ok(GithubProvider {
            id: id.to_owned(),
            client,
            http: http_client()?,
            api: urls.api.trim_end_matches('/').to_owned(),
            scopes,
        })
    }

    /// `GET {api}{path}` with the person's access token, decoded as `T`.
    async fn api_get<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        token: &str,
    ) -> Result<Option<T>, IdentityError> {
        let response = self
            .http
            .get(format!("{}{path}", self.api))
            .bearer_auth(token)
            .header(reqwest::header::ACCEPT, "application/vnd.github+json")
            .send()
            .await
            .map_err(|e| IdentityError::Unavailable(Box::new(e)))?;
        let status = response.status();
        if status.is_server_error() {
            return Err(IdentityError::Unavailable(Box::new(Transport::Status(
                status,
            ))));
        }
        // Forbidden or missing: the token lacks the scope for this resource (the
        // emails, typically). The caller decides whether it can do without.
        if matches!(
            status,
            reqwest::StatusCode::FORBIDDEN | reqwest::StatusCode::NOT_FOUND
        ) {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(IdentityError::Rejected(format!(
                "GitHub answered {status} to {path}"
            )));
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| IdentityError::Unavailable(Box::new(e)))?;
        serde_json::from_slice(&body)
            .map(Some)
            .map_err(|e| IdentityError::Rejected(format!("GitHub's {path} is malformed: {e}")))
    }
}

#[async_trait]
impl IdentityProvider for GithubProvider {
    fn id(&self) -> &str {
        &self.id
    }

    async fn start(&self, redirect_uri: &str) -> Result<AuthorizationStart, BoxError> {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = self
            .client
            .authorize_url(CsrfToken::new_random)
            .set_pkce_challenge(challenge)
            .set_redirect_uri(Cow::Owned(redirect_url(redirect_uri)?))
            .add_scopes(self.scopes.iter().cloned().map(Scope::new))
            .url();
        Ok(AuthorizationStart {
            url: url.to_string(),
            state: state.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
            nonce: String::new(),
        })
    }

    async fn finish(
        &self,
        code: &str,
        pkce_verifier: &str,
        _nonce: &str,
        redirect_uri: &str,
    ) -> Result<ExternalIdentity, IdentityError> {
        let redirect = redirect_url(redirect_uri)
            .map_err(|e| IdentityError::Rejected(format!("bad redirect URI: {e}")))?;
        let fetch = |request| send(self.http.clone(), request);
        // GitHub reports a bad code with 200 and an `error` body, which oauth2 then
        // fails to read as a token: that surfaces as a malformed answer, still Rejected.
        let tokens = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .set_redirect_uri(Cow::Owned(redirect))
            .request_async(&fetch)
            .await
            .map_err(token_error)?;
        let token = tokens.access_token().secret();
        let user: GithubUser = self
            .api_get("/user", token)
            .await?
            .ok_or_else(|| IdentityError::Rejected("GitHub refused to describe the user".into()))?;
        let emails: Vec<GithubEmail> = self
            .api_get("/user/emails", token)
            .await?
            .unwrap_or_default();
        let (email, email_verified) = match emails.into_iter().find(|e| e.primary && e.verified) {
            Some(primary) => (Some(primary.email), true),
            None => (user.email.filter(|e| !e.is_empty()), false),
        };
        Ok(ExternalIdentity {
            provider: self.id.clone(),
            subject: user.id.to_string(),
            email,
            email_verified,
            username_hint: Some(user.login),
            picture: user.avatar_url.filter(|u| !u.is_empty()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oidc_scopes_are_the_defaults_then_the_configured_ones_once_each() {
        let scopes: Vec<String> = oidc_scopes(&[
            "groups".into(),
            "email".into(),
            "openid".into(),
            "groups".into(),
        ])
        .into_iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(scopes, ["email", "profile", "groups"]);
    }

    #[tokio::test]
    async fn github_start_sends_pkce_state_and_scopes() {
        let github = GithubProvider::new(
            "github",
            "client-1",
            "secret-1",
            Vec::new(),
            GithubUrls::default(),
        )
        .expect("provider");
        let start = github
            .start("https://conduit.example/callback")
            .await
            .expect("start");
        let url = url::Url::parse(&start.url).expect("a URL");
        assert_eq!(
            url.as_str().split('?').next(),
            Some("https://github.com/login/oauth/authorize")
        );
        let query: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(query["client_id"], "client-1");
        assert_eq!(query["state"], start.state);
        assert_eq!(query["code_challenge_method"], "S256");
        assert_eq!(
            query["code_challenge"],
            PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(
                start.pkce_verifier.clone()
            ))
            .as_str()
        );
        assert_eq!(query["scope"], "read:user user:email");
        assert_eq!(query["redirect_uri"], "https://conduit.example/callback");
        assert!(start.nonce.is_empty());
        assert!(!format!("{github:?}").contains("secret-1"));
    }
}
