//! A JSON response body that is already encoded, with its entity tag: what the
//! rendered-list cache stores and serves (ADR 0019). To the OpenAPI document it is
//! exactly [`Json<T>`]: same media type, same schema; only the encoding (and the
//! hashing for the `ETag`, see [`crate::conditional`]) is skipped.
//!
//! [`Json<T>`]: poem_openapi::payload::Json

use std::{future::Future, marker::PhantomData, pin::Pin};

use bytes::Bytes;
use conduit_domain::{
    Error, UserId,
    article::{ArticleSelection, Page},
    cache::RenderedPage,
};
use poem::{
    IntoResponse, Response,
    http::{HeaderValue, header},
};
use poem_openapi::{
    ApiResponse,
    payload::{Json, Payload},
    registry::{MetaResponses, MetaSchemaRef, Registry},
    types::{ToJSON, Type},
};

/// The bytes of `T` encoded as JSON, after a one-byte length and the body's entity tag
/// (so that the tag is computed once per rendering, not per answer).
pub struct RenderedJson<T> {
    rendered: Vec<u8>,
    shape: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for RenderedJson<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenderedJson")
            .field("bytes", &self.rendered.len())
            .finish()
    }
}

impl<T: ToJSON> RenderedJson<T> {
    /// Encodes `value` as poem-openapi's `Json` would, with its entity tag in front.
    pub fn encode(value: &T) -> Vec<u8> {
        let body = serde_json::to_vec(&value.to_json()).unwrap_or_default();
        let tag = crate::conditional::entity_tag(&body);
        let mut rendered = Vec::with_capacity(1 + tag.len() + body.len());
        // A tag is 24 characters (a quoted base64 of 16 bytes): it fits in the byte.
        rendered.push(u8::try_from(tag.len()).unwrap_or(0));
        rendered.extend_from_slice(tag.as_bytes());
        rendered.extend_from_slice(&body);
        rendered
    }

    /// Bytes produced by [`RenderedJson::encode`] for a `T` (now or earlier).
    pub fn from_encoded(rendered: Vec<u8>) -> Self {
        RenderedJson {
            rendered,
            shape: PhantomData,
        }
    }
}

impl<T> RenderedJson<T> {
    /// The entity tag and where the body starts; an unreadable envelope (which `encode`
    /// never makes) gives no tag and the bytes as they are.
    fn split(&self) -> (Option<HeaderValue>, usize) {
        let split = self.rendered.split_first().and_then(|(&len, rest)| {
            let len = usize::from(len);
            let tag = rest.get(..len).filter(|tag| tag.first() == Some(&b'"'))?;
            Some((HeaderValue::from_bytes(tag).ok()?, 1 + len))
        });
        split.map_or((None, 0), |(tag, start)| (Some(tag), start))
    }
}

impl<T: Type> Payload for RenderedJson<T> {
    const CONTENT_TYPE: &'static str = <Json<T> as Payload>::CONTENT_TYPE;

    fn check_content_type(content_type: &str) -> bool {
        <Json<T> as Payload>::check_content_type(content_type)
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: Send> IntoResponse for RenderedJson<T> {
    fn into_response(self) -> Response {
        let (tag, start) = self.split();
        let mut response =
            Response::builder().header(header::CONTENT_TYPE, "application/json; charset=utf-8");
        if let Some(tag) = tag {
            response = response.header(header::ETAG, tag);
        }
        response.body(Bytes::from(self.rendered).slice(start..))
    }
}

impl<T: ToJSON> ApiResponse for RenderedJson<T> {
    fn meta() -> MetaResponses {
        <Json<T> as ApiResponse>::meta()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

/// Renders a list page when the cache has none: its bytes and the articles it shows
/// (whose changes retire it).
pub type Render<'a> = Pin<Box<dyn Future<Output = Result<RenderedPage, Error>> + Send + 'a>>;

/// A cache of rendered list pages (ADR 0019), exact like the read cache it shares its
/// invalidation with. The HTTP layer owns the trait; the wiring injects the read cache's.
#[async_trait::async_trait]
pub trait RenderedListCache: Send + Sync + std::fmt::Debug {
    /// The rendered page of `selection` and `page` as `viewer` sees it, from the cache or
    /// from `render` (then stored). `representation` names the rendering (media type and
    /// its version): a change of the response body's shape must change it, so that
    /// instances of two versions never serve each other's bodies.
    async fn read_through<'a>(
        &'a self,
        representation: &'a str,
        selection: &'a ArticleSelection,
        page: Page,
        viewer: Option<UserId>,
        render: Render<'a>,
    ) -> Result<Vec<u8>, Error>;

    /// The rendered page of `viewer`'s feed, from the cache or from `render` (then
    /// stored), as [`RenderedListCache::read_through`].
    async fn read_through_feed<'a>(
        &'a self,
        representation: &'a str,
        viewer: UserId,
        page: Page,
        render: Render<'a>,
    ) -> Result<Vec<u8>, Error>;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The body must be byte for byte what `Json<T>` sends, with the same media type,
    /// and carry the tag the conditional layer would compute for it.
    #[tokio::test]
    async fn answers_exactly_like_json() {
        let value = vec!["a\"b".to_owned(), "é".to_owned()];
        let expected = Json(value.clone()).into_response();
        let ours =
            RenderedJson::<Vec<String>>::from_encoded(RenderedJson::encode(&value)).into_response();
        assert_eq!(
            ours.headers().get(header::CONTENT_TYPE),
            expected.headers().get(header::CONTENT_TYPE)
        );
        let tag = ours.headers().get(header::ETAG).cloned().expect("a tag");
        let ours = ours.into_body().into_bytes().await.expect("body");
        let expected = expected.into_body().into_bytes().await.expect("body");
        assert_eq!(ours, expected);
        assert_eq!(tag, crate::conditional::entity_tag(&expected).as_str());
        assert_eq!(
            <RenderedJson<Vec<String>> as ApiResponse>::meta().responses[0].content[0].content_type,
            <Json<Vec<String>> as ApiResponse>::meta().responses[0].content[0].content_type
        );
    }

    #[tokio::test]
    async fn an_envelope_without_a_tag_is_served_as_it_is() {
        let response = RenderedJson::<Vec<String>>::from_encoded(b"[]".to_vec()).into_response();
        assert!(response.headers().get(header::ETAG).is_none());
        assert_eq!(
            response.into_body().into_bytes().await.expect("body"),
            &b"[]"[..]
        );
    }
}
