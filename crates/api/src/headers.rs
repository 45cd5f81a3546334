//! Security headers on every response, and the Content-Security-Policy of the
//! documentation page.
//!
//! The API answers JSON only, so its policy forbids everything (`default-src 'none'`).
//! The documentation page (Swagger UI, served inline) gets its own policy that allows
//! exactly its inline scripts, by hash, and nothing from elsewhere.

use base64::{Engine, engine::general_purpose::STANDARD};
use poem::{
    Endpoint, IntoResponse, Middleware, Request, Response, Result,
    http::{HeaderMap, HeaderName, HeaderValue, header},
};
use sha2::{Digest, Sha256};

/// The API's policy: nothing may load, nothing may frame it.
pub const API_CSP: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The policy for an HTML page whose only scripts are its inline `<script>` blocks.
pub fn inline_page_csp(html: &str) -> String {
    let hashes: Vec<String> = inline_blocks(html, "script")
        .into_iter()
        .map(|block| {
            format!(
                "'sha256-{}'",
                STANDARD.encode(Sha256::digest(block.as_bytes()))
            )
        })
        .collect();
    format!(
        "default-src 'none'; script-src {}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
         font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
         form-action 'none'",
        hashes.join(" ")
    )
}

/// The contents of every inline `<tag ...>...</tag>` block (those without `src`).
fn inline_blocks<'a>(html: &'a str, tag: &str) -> Vec<&'a str> {
    let open = format!("<{tag}");
    let close = format!("</{tag}>");
    let mut blocks = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find(&open) {
        let after_open = &rest[start..];
        let Some(tag_end) = after_open.find('>') else {
            break;
        };
        let attributes = &after_open[..tag_end];
        let body_and_rest = &after_open[tag_end + 1..];
        let Some(end) = body_and_rest.find(&close) else {
            break;
        };
        if !attributes.contains("src=") {
            blocks.push(&body_and_rest[..end]);
        }
        rest = &body_and_rest[end + close.len()..];
    }
    blocks
}

/// Adds `name` to `Vary` unless it (or `*`) is there, keeping every other value.
pub fn vary_on(headers: &mut HeaderMap, name: &'static str) {
    let present = headers
        .get_all(header::VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|v| v == "*" || v.eq_ignore_ascii_case(name));
    if !present {
        headers.append(header::VARY, HeaderValue::from_static(name));
    }
}

/// Adds the security headers to every response; keeps a CSP the endpoint set itself.
/// `Strict-Transport-Security` is added when the deployment serves TLS (configured per
/// environment, see `HttpConfig::hsts`).
#[derive(Debug, Clone, Default)]
pub struct SecurityHeaders {
    hsts: Option<HeaderValue>,
}

impl SecurityHeaders {
    /// The headers, with `Strict-Transport-Security: max-age=<seconds>;
    /// includeSubDomains` when `hsts_max_age` is given.
    pub fn new(hsts_max_age: Option<u64>) -> Self {
        SecurityHeaders {
            hsts: hsts_max_age.and_then(|seconds| {
                HeaderValue::from_str(&format!("max-age={seconds}; includeSubDomains")).ok()
            }),
        }
    }
}

/// Browser features the API never needs, all denied.
const PERMISSIONS_POLICY: &str = "accelerometer=(), camera=(), geolocation=(), gyroscope=(), \
     magnetometer=(), microphone=(), payment=(), usb=(), interest-cohort=()";

const CROSS_ORIGIN_OPENER_POLICY: HeaderName =
    HeaderName::from_static("cross-origin-opener-policy");
const CROSS_ORIGIN_RESOURCE_POLICY: HeaderName =
    HeaderName::from_static("cross-origin-resource-policy");
const PERMISSIONS_POLICY_HEADER: HeaderName = HeaderName::from_static("permissions-policy");

impl<E: Endpoint> Middleware<E> for SecurityHeaders {
    type Output = SecurityHeadersEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        SecurityHeadersEndpoint {
            inner: ep,
            hsts: self.hsts.clone(),
        }
    }
}

/// The endpoint made by [`SecurityHeaders`].
#[derive(Debug)]
pub struct SecurityHeadersEndpoint<E> {
    inner: E,
    hsts: Option<HeaderValue>,
}

impl<E: Endpoint> Endpoint for SecurityHeadersEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        let sent_credentials = req.headers().contains_key(header::AUTHORIZATION);
        let mut response = self.inner.call(req).await?.into_response();
        let unauthorized = response.status() == poem::http::StatusCode::UNAUTHORIZED;
        let headers = response.headers_mut();
        // RFC 9110: a 401 names the schemes that would work; RFC 6750 adds the error when
        // credentials were sent but rejected.
        if unauthorized && !headers.contains_key(header::WWW_AUTHENTICATE) {
            let challenge = if sent_credentials {
                r#"Token realm="conduit", error="invalid_token", Bearer realm="conduit", error="invalid_token""#
            } else {
                r#"Token realm="conduit", Bearer realm="conduit""#
            };
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        // Names made once (`from_static` is const), not parsed from strings per answer.
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(
            CROSS_ORIGIN_OPENER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
        // Other sites may not embed our answers (no-cors loads); CORS fetches are
        // governed by the CORS headers, not by this.
        headers.insert(
            CROSS_ORIGIN_RESOURCE_POLICY,
            HeaderValue::from_static("same-origin"),
        );
        headers.insert(
            PERMISSIONS_POLICY_HEADER,
            HeaderValue::from_static(PERMISSIONS_POLICY),
        );
        if let Some(hsts) = &self.hsts {
            headers.insert(header::STRICT_TRANSPORT_SECURITY, hsts.clone());
        }
        if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(API_CSP),
            );
        }
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_each_inline_script_and_skips_external_ones() {
        let html = "<html><script>a()</script><script src=\"x.js\"></script><script charset=\"UTF-8\">b()</script></html>";
        assert_eq!(inline_blocks(html, "script"), ["a()", "b()"]);
        let csp = inline_page_csp(html);
        let expected = STANDARD.encode(Sha256::digest(b"a()"));
        assert!(csp.contains(&format!("'sha256-{expected}'")), "{csp}");
        assert_eq!(csp.matches("'sha256-").count(), 2);
        assert!(!csp.contains("unsafe-eval"));
    }
}
