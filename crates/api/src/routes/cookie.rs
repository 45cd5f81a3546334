//! The refresh-token cookie for browser clients (off by default; ADR 0009).
//!
//! When on, sign-in and refresh answers set the refresh token in an `HttpOnly`,
//! `SameSite=Strict` cookie scoped to `/api/auth` and leave it out of the body, so script
//! running in the page never sees it; `POST /auth/refresh` reads it from the cookie.

use conduit_app::Authenticated;

use crate::dto;

/// The cookie's name.
pub const NAME: &str = "conduit_refresh";

/// How the cookie is set.
#[derive(Debug, Clone, Copy)]
pub struct CookiePolicy {
    /// `Secure` attribute: only over HTTPS. Turn off only for local HTTP development.
    pub secure: bool,
    /// `Max-Age`, in seconds: the session's absolute lifetime.
    pub max_age_seconds: u64,
}

impl CookiePolicy {
    fn attributes(&self, max_age: u64) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!("; Path=/api/auth; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
    }

    /// The `Set-Cookie` value that stores `token`.
    pub fn set(&self, token: &str) -> String {
        format!("{NAME}={token}{}", self.attributes(self.max_age_seconds))
    }

    /// The `Set-Cookie` value that deletes the cookie.
    pub fn clear(&self) -> String {
        format!("{NAME}={}", self.attributes(0))
    }
}

/// The answer body and, in cookie mode, the `Set-Cookie` header for a sign-in or refresh.
pub fn sign_in_answer(
    policy: Option<CookiePolicy>,
    auth: Authenticated,
) -> (dto::UserResponse, Option<String>) {
    let mut body = dto::UserResponse::from(auth);
    let cookie = policy.and_then(|policy| {
        body.user
            .refresh_token
            .take()
            .map(|token| policy.set(&token))
    });
    (body, cookie)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_attributes() {
        let policy = CookiePolicy {
            secure: true,
            max_age_seconds: 60,
        };
        assert_eq!(
            policy.set("rt_x"),
            "conduit_refresh=rt_x; Path=/api/auth; HttpOnly; SameSite=Strict; Max-Age=60; Secure"
        );
        assert!(policy.clear().contains("Max-Age=0"));
        let insecure = CookiePolicy {
            secure: false,
            ..policy
        };
        assert!(!insecure.set("t").contains("Secure"));
    }
}
