//! `/auth/oauth/*`: sign-in with a third-party identity provider (ADR 0011).

use conduit_app::Conduit;
use conduit_domain::{Invalid, Resource, UniqueField, ValidationErrors};
use poem_openapi::{
    ApiResponse, OpenApi,
    param::{Header, Path, Query},
    payload::Json,
};

use crate::{
    dto,
    error::ErrorCode,
    exact::{Field, Mismatch},
    parse,
    security::TokenAuth,
};

use super::{
    ApiTags, SignedIn,
    cookie::{CookiePolicy, sign_in_answer},
    operation::{ErrorCase, Operation},
    users::client,
};

/// 404 for a provider not configured.
const PROVIDER_NOT_FOUND: ErrorCase = ErrorCase::not_found(
    Resource::Provider,
    "No provider with this id is configured (`not_found`, key `provider`).",
);

/// 401 on linking a provider.
const LINK_UNAUTHORIZED: ErrorCase = ErrorCase::code(
    ErrorCode::TokenMissing,
    "No token was sent (`token_missing`), or it is malformed, foreign, expired or of an ended \
     session (`token_invalid`).",
);

/// The refusal of a `returnTo` that is not an allowed address.
fn return_to_refused() -> Option<ValidationErrors> {
    Some(ValidationErrors::single(
        "returnTo",
        Invalid::Rule("is not an allowed address"),
    ))
}

pub(crate) const OAUTH_START: Operation =
    Operation::get("OAuthStart", "/auth/oauth/{provider}/start").errors(&[
        PROVIDER_NOT_FOUND,
        ErrorCase::invalid(
            "`returnTo` is not one of the allowed frontend addresses (`validation_failed`, key \
             `returnTo`).",
            return_to_refused,
        ),
    ]);
crate::operation_errors!(OAuthStartErrors = OAUTH_START);

pub(crate) const OAUTH_CALLBACK: Operation =
    Operation::get("OAuthCallback", "/auth/oauth/{provider}/callback").errors(&[
        PROVIDER_NOT_FOUND,
        ErrorCase::invalid(
            "`state` is unknown, already used, expired or from another provider \
             (`validation_failed`, key `state`); nowhere safe to send the browser.",
            || {
                Some(ValidationErrors::single(
                    "state",
                    Invalid::Rule("is unknown or expired"),
                ))
            },
        ),
    ]);
crate::operation_errors!(OAuthCallbackErrors = OAUTH_CALLBACK);

pub(crate) const OAUTH_LINK: Operation =
    Operation::post("OAuthLink", "/auth/oauth/{provider}/link")
        .json_body()
        .errors(&[
            LINK_UNAUTHORIZED,
            PROVIDER_NOT_FOUND,
            ErrorCase::invalid(
                "`returnTo` is missing, not a string, or not one of the allowed frontend addresses \
             (`validation_failed`, key `returnTo`).",
                return_to_refused,
            ),
        ]);
crate::operation_errors!(OAuthLinkErrors = OAUTH_LINK);

pub(crate) const OAUTH_LINK_CONFIRM: Operation = Operation::post(
    "OAuthLinkConfirm",
    "/auth/oauth/link/confirm",
)
.json_body()
.errors(&[
    LINK_UNAUTHORIZED,
    ErrorCase::taken(
        UniqueField::Identity,
        "The identity was linked to another account meanwhile (`identity_in_use`, key \
             `identity`); nothing was linked.",
    ),
    ErrorCase::invalid(
        "The body has no `code` string, or the link code is unknown, already used, expired, \
             or from a link another account started (`validation_failed`, key `code`); nothing \
             was linked, and the code is used up.",
        || {
            Some(ValidationErrors::single(
                "code",
                Invalid::Rule("is unknown, already used, expired or not yours"),
            ))
        },
    ),
]);
crate::operation_errors!(OAuthLinkConfirmErrors = OAUTH_LINK_CONFIRM);

pub(crate) const OAUTH_EXCHANGE: Operation =
    Operation::post("OAuthExchange", "/auth/oauth/exchange")
        .json_body()
        .errors(&[
            ErrorCase::code(
                ErrorCode::LoginCodeInvalid,
                "The login code is unknown, already used or expired (`login_code_invalid`).",
            ),
            ErrorCase::invalid(
                "The body has no `code` string (`validation_failed`, key `code`).",
                || {
                    parse::login_code(dto::LoginCodeRequest {
                        code: Field::refused(Mismatch::Missing),
                    })
                    .err()
                },
            ),
        ]);
crate::operation_errors!(OAuthExchangeErrors = OAUTH_EXCHANGE);

/// `302 Found`: the browser goes on to `Location`.
#[derive(Debug, ApiResponse)]
pub enum Redirected {
    /// Follow `Location`.
    #[oai(status = 302)]
    Found(
        /// Where the browser goes next.
        #[oai(header = "Location")]
        String,
    ),
}

/// Sign-in with identity providers.
#[derive(Debug, Clone)]
pub struct OAuthApi {
    /// The application.
    pub app: Conduit,
    /// The refresh-token cookie, when on.
    pub cookie: Option<CookiePolicy>,
}

#[OpenApi(tag = "ApiTags::UserAndAuthentication")]
impl OAuthApi {
    /// Start signing in with a provider
    ///
    /// Redirects the browser to the provider (authorization code flow with PKCE and
    /// `state`; OpenID Connect `nonce` where the provider speaks it). When the person has
    /// signed in there, the browser comes back to `returnTo` with `#code=<login code>`
    /// in the URL fragment; post the code to `/auth/oauth/exchange`. Otherwise the
    /// fragment is `#error=<reason>`: `access_denied` (the person or the provider
    /// refused, or the provider's answer failed verification), `invalid_request` (the
    /// provider sent no code), `email_required` (the provider gave no usable email),
    /// `email_unverified` (the provider has not verified the email: no account is made
    /// from it; register with a password, or verify the address at the provider),
    /// `account_exists` (an account already holds this email and this identity is not
    /// linked to it: sign in to that account, with its password or a provider already
    /// linked, and link this provider from there with `POST /auth/oauth/{provider}/link`;
    /// an account is never joined by email), `account_creation_failed` or
    /// `temporarily_unavailable` (try again).
    #[oai(
        path = "/auth/oauth/:provider/start",
        method = "get",
        operation_id = "OAuthStart"
    )]
    async fn start(
        &self,
        /// The provider's id, as configured (`github`, or an OpenID Connect provider).
        provider: Path<String>,
        /// The frontend page to come back to; must start with an allowed address.
        #[oai(name = "returnTo")]
        return_to: Query<String>,
    ) -> Result<Redirected, OAuthStartErrors> {
        let redirect = self.app.oauth_start(&provider.0, &return_to.0).await?;
        Ok(Redirected::Found(redirect.0))
    }

    /// Provider callback
    ///
    /// Where the provider sends the browser back. Not for clients to call: it exchanges
    /// the code, then either signs in (the identity's linked account, or a new account
    /// for a verified email no account holds; never an existing account by its email)
    /// and redirects to the frontend with a one-time login code in the URL fragment,
    /// which servers never see; or, for a link started with
    /// `POST /auth/oauth/{provider}/link`, redirects with a one-time link code
    /// (`#linkCode=<code>`) and links nothing until it is confirmed.
    #[oai(
        path = "/auth/oauth/:provider/callback",
        method = "get",
        operation_id = "OAuthCallback"
    )]
    async fn callback(
        &self,
        /// The provider's id.
        provider: Path<String>,
        /// The authorization code.
        code: Query<Option<String>>,
        /// The `state` from the start of the flow.
        state: Query<String>,
        /// Set by the provider when the person refused or the provider failed.
        error: Query<Option<String>>,
    ) -> Result<Redirected, OAuthCallbackErrors> {
        let back = self
            .app
            .oauth_callback(&provider.0, code.0.as_deref(), &state.0, error.0.as_deref())
            .await?;
        Ok(Redirected::Found(frontend_location(back)))
    }

    /// Link a provider to the signed-in account
    ///
    /// Starts linking an identity at `provider` to the caller's account, so that signing in
    /// with that provider later reaches this account. Answers the provider's authorization
    /// URL: navigate the browser to it (a navigation cannot carry the `Authorization`
    /// header, hence this call first). It is a one-time address, good for ten minutes.
    /// When the person has signed in at the provider, the browser comes back to
    /// `returnTo` with `#linkCode=<code>`: nothing is linked yet. The frontend, signed in
    /// as the same user, posts the code to `/auth/oauth/link/confirm`, which links the
    /// identity. A link URL completed in someone else's browser thus links nothing: their
    /// link code is refused unless the user who started the link posts it (login CSRF).
    /// No session is started and no login code is given. Otherwise the fragment is
    /// `#error=<reason>`: `identity_in_use` (this identity is linked to another account),
    /// `account_not_found` (the account was deleted meanwhile), or one of the sign-in's
    /// reasons (`access_denied`, `invalid_request`, `temporarily_unavailable`). The
    /// identity's email need not match the account's nor be verified: the caller proves
    /// they hold both, by completing the provider's part and confirming signed in.
    #[oai(
        path = "/auth/oauth/:provider/link",
        method = "post",
        operation_id = "OAuthLink"
    )]
    async fn link(
        &self,
        auth: TokenAuth,
        /// The provider's id, as configured (`github`, or an OpenID Connect provider).
        provider: Path<String>,
        body: Json<dto::LinkRequest>,
    ) -> Result<Json<dto::LinkStarted>, OAuthLinkErrors> {
        let user = auth.user(&self.app).await?;
        let return_to = parse::link_return_to(body.0).map_err(conduit_domain::Error::from)?;
        let redirect = self
            .app
            .oauth_link_start(user, &provider.0, &return_to)
            .await?;
        Ok(Json(dto::LinkStarted { url: redirect.0 }))
    }

    /// Confirm a provider link
    ///
    /// Links the identity a link flow ended with (`#linkCode=<code>` on the frontend page;
    /// see `POST /auth/oauth/{provider}/link`) to the caller's account. Only the user who
    /// started the link can confirm it: anyone else's code, or an unknown, used or
    /// expired one, is refused with 422 and links nothing. Each code works once, within a
    /// minute. Confirming an identity already linked to the caller is no change; one
    /// linked to another account meanwhile is refused with 409 (`identity_in_use`).
    #[oai(
        path = "/auth/oauth/link/confirm",
        method = "post",
        operation_id = "OAuthLinkConfirm"
    )]
    async fn link_confirm(
        &self,
        auth: TokenAuth,
        body: Json<dto::LinkCodeRequest>,
    ) -> Result<Json<dto::LinkConfirmed>, OAuthLinkConfirmErrors> {
        let user = auth.user(&self.app).await?;
        let code = parse::link_code(body.0).map_err(conduit_domain::Error::from)?;
        let linked = self.app.oauth_link_confirm(user, &code).await?;
        Ok(Json(dto::LinkConfirmed {
            linked: dto::LinkedIdentity {
                provider: linked.provider,
            },
        }))
    }

    /// Exchange a login code for tokens
    ///
    /// Turns the one-time login code of an OAuth sign-in into the same answer as a
    /// password login (access token and refresh token, a new session). Each code works
    /// once, within a minute.
    #[oai(
        path = "/auth/oauth/exchange",
        method = "post",
        operation_id = "OAuthExchange"
    )]
    async fn exchange(
        &self,
        body: Json<dto::LoginCodeRequest>,
        /// Shown later in the session list.
        #[oai(name = "User-Agent")]
        user_agent: Header<Option<String>>,
    ) -> Result<SignedIn, OAuthExchangeErrors> {
        let code = parse::login_code(body.0).map_err(conduit_domain::Error::from)?;
        let signed_in = self.app.oauth_exchange(&code, client(user_agent)).await?;
        let (body, cookie) = sign_in_answer(self.cookie, signed_in);
        Ok(SignedIn::Ok(Json(body), cookie))
    }
}

/// Where the callback sends the browser: the frontend address the flow started with, and
/// how it ended in the URL fragment (which servers never see): `#code=<login code>`,
/// `#linkCode=<link code>` or `#error=<reason>`.
fn frontend_location(back: conduit_app::OAuthReturn) -> String {
    use conduit_app::OAuthOutcome;

    let fragment = match back.outcome {
        OAuthOutcome::SignedIn { code } => format!("code={code}"),
        OAuthOutcome::LinkPending { link_code } => format!("linkCode={link_code}"),
        OAuthOutcome::Failed(failure) => format!("error={}", failure.code()),
    };
    format!("{}#{fragment}", back.return_to.as_str())
}
