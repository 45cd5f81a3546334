//! Conditional GETs: an `ETag` on every successful read of the API, and `304 Not
//! Modified` when the client already holds that representation (`If-None-Match`).
//!
//! The tag is a digest of the response body, so it changes exactly when the
//! representation does, whether the body came from the cache or the database and
//! whichever instance served it. Bodies depend on the caller (`favorited`,
//! `following`), so responses say `Cache-Control: private, no-cache` (a browser may
//! keep them but must revalidate, and shared caches must not keep them) and `Vary` on
//! the credentials.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use poem::{
    Body, Endpoint, IntoResponse, Middleware, Request, Response, Result,
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
};
use sha2::{Digest, Sha256};

use crate::headers::vary_on;

/// Adds `ETag` to successful `GET`/`HEAD` responses and answers `If-None-Match`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConditionalGet;

impl<E: Endpoint> Middleware<E> for ConditionalGet {
    type Output = ConditionalGetEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        ConditionalGetEndpoint(ep)
    }
}

/// The endpoint [`ConditionalGet`] makes.
#[derive(Debug)]
pub struct ConditionalGetEndpoint<E>(E);

impl<E: Endpoint> Endpoint for ConditionalGetEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        let reads = matches!(*req.method(), Method::GET | Method::HEAD);
        let if_none_match = req.headers().get(header::IF_NONE_MATCH).cloned();
        let mut response = self.0.call(req).await?.into_response();
        if !reads || response.status() != StatusCode::OK {
            return Ok(response);
        }
        let body = response.take_body().into_bytes().await?;
        // A handler that knows the tag of its body (computed when it was rendered, see
        // `RenderedJson`) has set it already; every other body is hashed here.
        let known = response
            .headers()
            .get(header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let etag = known.unwrap_or_else(|| entity_tag(&body));
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&etag) {
            headers.insert(header::ETAG, value);
        }
        if !headers.contains_key(header::CACHE_CONTROL) {
            headers.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, no-cache"),
            );
        }
        add_vary(headers);
        if if_none_match
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| matches_any(v, &etag))
        {
            response.set_status(StatusCode::NOT_MODIFIED);
            let headers = response.headers_mut();
            let content_type = headers.remove(header::CONTENT_TYPE);
            headers.remove(header::CONTENT_LENGTH);
            // What the 200 would have been, for the layers outside (compression).
            response.set_data(NotModified {
                content_type,
                len: body.len(),
            });
            return Ok(response);
        }
        response.set_body(Body::from_bytes(body));
        Ok(response)
    }
}

/// Attached to a `304` answered here: the media type and length of the representation
/// the client holds, so that outer layers can send the headers the `200` would have had
/// (`Vary: Accept-Encoding`, the tag's strength; see [`crate::compression`]).
#[derive(Debug, Clone)]
pub struct NotModified {
    /// The representation's `Content-Type`.
    pub content_type: Option<HeaderValue>,
    /// Its length in bytes, unencoded.
    pub len: usize,
}

/// A strong entity tag: the first 128 bits of the body's SHA-256, quoted.
pub fn entity_tag(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    format!("\"{}\"", URL_SAFE_NO_PAD.encode(&digest[..16]))
}

/// Whether an `If-None-Match` value names `etag`: `*`, or a list of tags compared
/// weakly (RFC 9110 §13.1.2: a `W/` prefix is ignored).
fn matches_any(if_none_match: &str, etag: &str) -> bool {
    let ours = etag.trim_start_matches("W/");
    if_none_match.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || (!candidate.is_empty() && candidate.trim_start_matches("W/") == ours)
    })
}

/// Adds the credential headers to `Vary`, keeping what is there.
fn add_vary(headers: &mut HeaderMap) {
    for name in ["Authorization", "X-API-Key", "Cookie"] {
        vary_on(headers, name);
    }
}

#[cfg(test)]
mod tests {
    use poem::{EndpointExt, handler};

    use super::*;

    #[handler]
    fn hello() -> &'static str {
        "{\"hello\":\"world\"}"
    }

    #[test]
    fn tags_are_quoted_and_differ_with_the_body() {
        let a = entity_tag(b"one");
        assert!(
            a.starts_with('"') && a.ends_with('"') && a.len() > 10,
            "{a}"
        );
        assert_eq!(a, entity_tag(b"one"));
        assert_ne!(a, entity_tag(b"two"));
    }

    #[test]
    fn if_none_match_lists_are_compared_weakly() {
        let tag = "\"abc\"";
        assert!(matches_any("\"abc\"", tag));
        assert!(matches_any("W/\"abc\"", tag));
        assert!(matches_any("\"x\", \"abc\"", tag));
        assert!(matches_any("*", tag));
        assert!(!matches_any("\"abcd\"", tag));
        assert!(!matches_any("", tag));
        assert!(!matches_any("abc", tag));
    }

    async fn call(method: Method, if_none_match: Option<&str>) -> Response {
        let mut request = Request::builder().method(method);
        if let Some(tag) = if_none_match {
            request = request.header(header::IF_NONE_MATCH, tag);
        }
        hello
            .with(ConditionalGet)
            .call(request.finish())
            .await
            .expect("response")
    }

    #[tokio::test]
    async fn a_matching_tag_gets_304_without_a_body() {
        let first = call(Method::GET, None).await;
        assert_eq!(first.status(), StatusCode::OK);
        let etag = first
            .headers()
            .get(header::ETAG)
            .expect("etag")
            .to_str()
            .expect("ascii")
            .to_owned();
        assert_eq!(
            first.headers().get(header::CACHE_CONTROL).expect("cc"),
            "private, no-cache"
        );
        assert!(
            first
                .headers()
                .get_all(header::VARY)
                .iter()
                .any(|v| v == "Authorization")
        );
        let again = call(Method::GET, Some(&etag)).await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(again.headers().get(header::ETAG).expect("etag"), &etag);
        assert!(
            again
                .into_body()
                .into_bytes()
                .await
                .expect("body")
                .is_empty()
        );

        let other = call(Method::GET, Some("\"stale\"")).await;
        assert_eq!(other.status(), StatusCode::OK);
        assert_eq!(
            other.into_body().into_string().await.expect("body"),
            "{\"hello\":\"world\"}"
        );
    }

    #[tokio::test]
    async fn writes_get_no_tag() {
        let response = call(Method::POST, Some("*")).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.headers().get(header::ETAG).is_none());
    }
}
