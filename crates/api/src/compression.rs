//! Response compression (ADR 0024): gzip, Brotli or zstd, chosen from the request's
//! `Accept-Encoding`, for answers of a textual media type at least `min_bytes` long.
//!
//! - **Negotiation** follows RFC 9110 §12.5.3: q-values choose (`q=0` refuses), `*`
//!   stands for every coding not named, `x-gzip` is gzip, and `identity` named with a
//!   higher q than every coding keeps the answer unencoded. Equal q-values go to the
//!   server's preference, [`PREFERENCE`]. No `Accept-Encoding` means no encoding.
//! - **What is compressed:** bodies of `GET` (not `HEAD`) and every other method with a
//!   status other than 1xx, 204, 206 and 304; a JSON, YAML, XML, JavaScript, SVG or
//!   `text/*` type; no `Content-Encoding` already; no `Cache-Control: no-transform`. An
//!   encoded body that is not smaller is not sent.
//! - **`Vary: Accept-Encoding`** is added (never replacing other values) to every answer
//!   that *could* be compressed, whether or not this request asked, and to a `304` whose
//!   representation could be, so that caches keep the variants apart.
//! - **Entity tags:** an encoded answer's `ETag` becomes weak (`W/"…"`): the encodings
//!   are the same representation byte for byte once decoded, and `If-None-Match` is
//!   compared weakly (see [`crate::conditional`]), so a client revalidating with the tag
//!   of a compressed answer gets its `304`. A `304` carries the tag the `200` would have
//!   carried for the same request.
//! - **Memo:** the encoded bytes of answers with a strong tag (a digest of the body:
//!   rendered list pages, every read under `/api`, the API documents) are kept in a small
//!   bounded in-process cache, so a repeated body is compressed once, not per answer.

use std::sync::Arc;

use bytes::Bytes;
use poem::{
    Endpoint, IntoResponse, Middleware, Request, Response, Result,
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
};

use crate::{conditional::NotModified, headers::vary_on};

/// Default `http.compression_min_bytes`: below about a kilobyte the saving is a
/// fraction of one packet, and the time is not worth it.
pub const DEFAULT_MIN_BYTES: usize = 1024;
/// Default `http.compression_cache_bytes`.
pub const DEFAULT_CACHE_BYTES: u64 = 1024 * 1024;

/// A content coding the server can apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Coding {
    /// Zstandard (RFC 8878), level [`ZSTD_LEVEL`].
    Zstd,
    /// Brotli (RFC 7932), quality [`BROTLI_QUALITY`].
    Brotli,
    /// gzip (RFC 1952), level [`GZIP_LEVEL`].
    Gzip,
}

/// Among codings a client accepts equally, the server's choice first: Brotli makes the
/// smallest JSON at the chosen quality, zstd is next and cheapest, gzip is what every
/// client has (measured in docs/performance.md).
pub const PREFERENCE: [Coding; 3] = [Coding::Brotli, Coding::Zstd, Coding::Gzip];

/// Brotli quality (0–11). 11, the library's default, costs ~40 times as much CPU for
/// a few per cent fewer bytes on the API's JSON; 5 is where the size stops falling fast.
pub const BROTLI_QUALITY: u32 = 5;
/// Brotli window (log2 of bytes): bodies are small, a large window buys nothing.
const BROTLI_WINDOW: u32 = 22;
/// zstd level (1–22; the library's default is 3).
pub const ZSTD_LEVEL: i32 = 3;
/// gzip level (0–9; 6 is zlib's default).
pub const GZIP_LEVEL: u32 = 6;

impl Coding {
    /// The token in `Accept-Encoding` and `Content-Encoding`.
    pub fn token(self) -> &'static str {
        match self {
            Coding::Zstd => "zstd",
            Coding::Brotli => "br",
            Coding::Gzip => "gzip",
        }
    }

    fn from_token(token: &str) -> Option<Self> {
        [Coding::Zstd, Coding::Brotli, Coding::Gzip]
            .into_iter()
            .find(|c| token.eq_ignore_ascii_case(c.token()))
            .or_else(|| token.eq_ignore_ascii_case("x-gzip").then_some(Coding::Gzip))
    }

    /// `body` encoded with this coding.
    pub fn encode(self, body: &[u8]) -> std::io::Result<Vec<u8>> {
        use std::io::Write;
        match self {
            Coding::Zstd => zstd::bulk::compress(body, ZSTD_LEVEL),
            Coding::Brotli => {
                let mut out = Vec::with_capacity(body.len() / 4);
                {
                    let mut writer = brotli::CompressorWriter::new(
                        &mut out,
                        4096,
                        BROTLI_QUALITY,
                        BROTLI_WINDOW,
                    );
                    writer.write_all(body)?;
                    writer.flush()?;
                }
                Ok(out)
            }
            Coding::Gzip => {
                let mut encoder = flate2::write::GzEncoder::new(
                    Vec::with_capacity(body.len() / 4),
                    flate2::Compression::new(GZIP_LEVEL),
                );
                encoder.write_all(body)?;
                encoder.finish()
            }
        }
    }
}

/// The coding to answer a request with `Accept-Encoding` values `headers`, or `None`
/// for an unencoded answer.
pub fn negotiate(headers: &HeaderMap) -> Option<Coding> {
    let mut values = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .peekable();
    values.peek()?;
    // q-values in thousandths; `None` when the element is absent.
    let mut named: [Option<u16>; 3] = [None; 3];
    let mut identity = None;
    let mut star = None;
    for element in values.flat_map(|v| v.split(',')) {
        let mut parts = element.split(';');
        let token = parts.next().unwrap_or_default().trim();
        if token.is_empty() {
            continue;
        }
        let Some(q) = quality(parts) else { continue };
        let slot = if token == "*" {
            &mut star
        } else if token.eq_ignore_ascii_case("identity") {
            &mut identity
        } else if let Some(coding) = Coding::from_token(token) {
            &mut named[index(coding)]
        } else {
            continue;
        };
        // A coding listed twice keeps its best weight.
        *slot = Some(slot.map_or(q, |old: u16| old.max(q)));
    }
    let best = PREFERENCE
        .into_iter()
        .filter_map(|coding| Some((coding, named[index(coding)].or(star)?)))
        .filter(|(_, q)| *q > 0)
        // `max_by_key` keeps the last of equals: walk the preference backwards.
        .rev()
        .max_by_key(|(_, q)| *q)?;
    // Identity wins only when the client named it above every coding it accepts.
    match identity {
        Some(q) if q > best.1 => None,
        _ => Some(best.0),
    }
}

fn index(coding: Coding) -> usize {
    match coding {
        Coding::Zstd => 0,
        Coding::Brotli => 1,
        Coding::Gzip => 2,
    }
}

/// The weight of an `Accept-Encoding` element from its parameters, in thousandths:
/// 1000 without `q`; `None` for a malformed one (the element is then ignored).
fn quality<'a>(parameters: impl Iterator<Item = &'a str>) -> Option<u16> {
    let mut q = 1000;
    for parameter in parameters {
        let (name, value) = parameter.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("q") {
            continue;
        }
        // RFC 9110 §12.4.2: "0" to "1", at most three decimals.
        let value = value.trim();
        let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
        if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let thousandths = format!("{fraction:0<3}").parse::<u16>().ok()?;
        q = match whole {
            "0" => thousandths,
            "1" if thousandths == 0 => 1000,
            _ => return None,
        };
    }
    Some(q)
}

/// Whether a body of `content_type` gains from compression (text, not already packed).
fn compressible(content_type: Option<&HeaderValue>) -> bool {
    let Some(essence) = content_type
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::trim)
    else {
        return false;
    };
    // Compared in any case, without a lowercased copy per answer.
    let starts = |prefix: &str| {
        essence
            .get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
    };
    let ends = |suffix: &str| {
        essence
            .len()
            .checked_sub(suffix.len())
            .and_then(|at| essence.get(at..))
            .is_some_and(|tail| tail.eq_ignore_ascii_case(suffix))
    };
    starts("text/")
        || ends("+json")
        || ends("+xml")
        || [
            "application/json",
            "application/yaml",
            "application/x-yaml",
            "application/xml",
            "application/javascript",
            "image/svg+xml",
        ]
        .iter()
        .any(|t| essence.eq_ignore_ascii_case(t))
}

/// Statuses whose body is never encoded: no body, or a part of one.
fn bodiless(status: StatusCode) -> bool {
    status.is_informational()
        || matches!(
            status,
            StatusCode::NO_CONTENT | StatusCode::PARTIAL_CONTENT | StatusCode::NOT_MODIFIED
        )
}

fn no_transform(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|d| d.trim().eq_ignore_ascii_case("no-transform"))
}

/// Makes a strong `ETag` weak (the answer is encoded).
fn weaken_etag(headers: &mut HeaderMap) {
    let weak = headers
        .get(header::ETAG)
        .and_then(|v| v.to_str().ok())
        .filter(|tag| tag.starts_with('"'))
        .and_then(|tag| HeaderValue::from_str(&format!("W/{tag}")).ok());
    if let Some(weak) = weak {
        headers.insert(header::ETAG, weak);
    }
}

/// The compression layer.
#[derive(Debug, Clone)]
pub struct Compression {
    shared: Arc<Shared>,
}

struct Shared {
    min_bytes: usize,
    /// Encoded bodies by (strong tag, body length, coding).
    memo: Option<moka::sync::Cache<(HeaderValue, usize, Coding), Bytes>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("min_bytes", &self.min_bytes)
            .field("memo", &self.memo.is_some())
            .finish()
    }
}

impl Compression {
    /// Compresses answers of at least `min_bytes`, keeping up to `memo_bytes` of encoded
    /// bodies with a strong tag for reuse (0: none).
    pub fn new(min_bytes: usize, memo_bytes: u64) -> Self {
        let memo = (memo_bytes > 0).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(memo_bytes)
                .weigher(|key: &(HeaderValue, usize, Coding), value: &Bytes| {
                    u32::try_from(key.0.len() + value.len() + 64).unwrap_or(u32::MAX)
                })
                .build()
        });
        Compression {
            shared: Arc::new(Shared { min_bytes, memo }),
        }
    }
}

impl Shared {
    /// `body` encoded with `coding`, from the memo when `tag` (strong) names it.
    fn encode(&self, coding: Coding, tag: Option<&HeaderValue>, body: &[u8]) -> Option<Bytes> {
        let encode = || coding.encode(body).ok().map(Bytes::from);
        let strong = tag.filter(|t| t.as_bytes().first() == Some(&b'"'));
        match (&self.memo, strong) {
            (Some(memo), Some(tag)) => {
                let key = (tag.clone(), body.len(), coding);
                if let Some(hit) = memo.get(&key) {
                    return Some(hit);
                }
                let encoded = encode()?;
                memo.insert(key, encoded.clone());
                Some(encoded)
            }
            _ => encode(),
        }
    }
}

impl<E: Endpoint> Middleware<E> for Compression {
    type Output = CompressionEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        CompressionEndpoint {
            inner: ep,
            shared: self.shared.clone(),
        }
    }
}

/// The endpoint made by [`Compression`].
#[derive(Debug)]
pub struct CompressionEndpoint<E> {
    inner: E,
    shared: Arc<Shared>,
}

impl<E: Endpoint> Endpoint for CompressionEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        let coding = negotiate(req.headers());
        let head = req.method() == Method::HEAD;
        let mut response = self.inner.call(req).await?.into_response();
        let min_bytes = self.shared.min_bytes;
        if response.status() == StatusCode::NOT_MODIFIED {
            // The headers the 200 would have had: same Vary, same tag.
            let eligible = response
                .data::<NotModified>()
                .is_some_and(|r| r.len >= min_bytes && compressible(r.content_type.as_ref()));
            if eligible {
                vary_on(response.headers_mut(), "Accept-Encoding");
                if coding.is_some() && !head {
                    weaken_etag(response.headers_mut());
                }
            }
            return Ok(response);
        }
        let headers = response.headers();
        if bodiless(response.status())
            || headers.contains_key(header::CONTENT_ENCODING)
            || !compressible(headers.get(header::CONTENT_TYPE))
            || no_transform(headers)
        {
            return Ok(response);
        }
        let body = response.take_body().into_bytes().await?;
        if body.len() < min_bytes {
            response.set_body(body);
            return Ok(response);
        }
        vary_on(response.headers_mut(), "Accept-Encoding");
        let encoded = coding.filter(|_| !head).and_then(|coding| {
            let encoded =
                self.shared
                    .encode(coding, response.headers().get(header::ETAG), &body)?;
            Some((coding, encoded)).filter(|(_, e)| e.len() < body.len())
        });
        match encoded {
            Some((coding, encoded)) => {
                let headers = response.headers_mut();
                headers.insert(
                    header::CONTENT_ENCODING,
                    HeaderValue::from_static(coding.token()),
                );
                headers.remove(header::CONTENT_LENGTH);
                weaken_etag(headers);
                response.set_body(encoded);
            }
            None => response.set_body(body),
        }
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn choose(accept: &str) -> Option<Coding> {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_str(accept).expect("header"),
        );
        negotiate(&headers)
    }

    #[test]
    fn q_values_choose_and_zero_refuses() {
        assert_eq!(negotiate(&HeaderMap::new()), None);
        assert_eq!(choose(""), None);
        assert_eq!(choose("gzip"), Some(Coding::Gzip));
        assert_eq!(choose("X-GZIP"), Some(Coding::Gzip));
        assert_eq!(choose("zstd"), Some(Coding::Zstd));
        assert_eq!(choose("br"), Some(Coding::Brotli));
        assert_eq!(choose("gzip, deflate, br, zstd"), Some(PREFERENCE[0]));
        assert_eq!(choose("br;q=0.5, gzip;q=0.8"), Some(Coding::Gzip));
        assert_eq!(
            choose("br;q=0.5, zstd ; Q=0.9 , gzip;q=0.8"),
            Some(Coding::Zstd)
        );
        assert_eq!(choose("gzip;q=0"), None);
        assert_eq!(choose("gzip;q=0.000, deflate"), None);
        assert_eq!(choose("identity"), None);
        assert_eq!(choose("deflate, compress"), None);
    }

    #[test]
    fn star_and_identity() {
        assert_eq!(choose("*"), Some(PREFERENCE[0]));
        assert_eq!(choose("br;q=0, *"), Some(PREFERENCE[1]));
        assert_eq!(choose("*;q=0"), None);
        assert_eq!(choose("gzip, *;q=0"), Some(Coding::Gzip));
        assert_eq!(choose("gzip;q=0.5, identity"), None);
        assert_eq!(choose("gzip, identity;q=0.5"), Some(Coding::Gzip));
        assert_eq!(choose("gzip, identity;q=0"), Some(Coding::Gzip));
        // Equal weights: compress.
        assert_eq!(choose("identity, gzip"), Some(Coding::Gzip));
    }

    #[test]
    fn malformed_weights_are_ignored() {
        assert_eq!(choose("br;q=2, gzip"), Some(Coding::Gzip));
        assert_eq!(choose("br;q=0.1234, gzip;q=0.1"), Some(Coding::Gzip));
        assert_eq!(choose("br;q=abc"), None);
        assert_eq!(choose("br;q"), None);
        assert_eq!(choose("br;q=1.0"), Some(Coding::Brotli));
        assert_eq!(choose("br;level=1;q=0.5, gzip;q=0.4"), Some(Coding::Brotli));
    }

    #[test]
    fn every_coding_round_trips() {
        let body = br#"{"articles":[{"title":"a"},{"title":"a"},{"title":"a"}]}"#.repeat(50);
        for coding in PREFERENCE {
            let encoded = coding.encode(&body).expect("encodes");
            assert!(encoded.len() < body.len() / 4, "{coding:?}");
            let mut decoded = Vec::new();
            match coding {
                Coding::Zstd => decoded = zstd::stream::decode_all(&encoded[..]).expect("zstd"),
                Coding::Brotli => {
                    brotli::Decompressor::new(&encoded[..], 4096)
                        .read_to_end(&mut decoded)
                        .expect("br");
                }
                Coding::Gzip => {
                    flate2::read::GzDecoder::new(&encoded[..])
                        .read_to_end(&mut decoded)
                        .expect("gzip");
                }
            }
            assert_eq!(decoded, body, "{coding:?}");
        }
    }

    #[test]
    fn media_types() {
        let yes = [
            "application/json; charset=utf-8",
            "text/html",
            "application/problem+json",
            "application/yaml",
        ];
        for t in yes {
            assert!(compressible(Some(&HeaderValue::from_static(t))), "{t}");
        }
        for t in ["image/png", "application/octet-stream", "application/zip"] {
            assert!(!compressible(Some(&HeaderValue::from_static(t))), "{t}");
        }
        assert!(!compressible(None));
    }

    #[test]
    fn media_types_are_compared_in_any_case() {
        for t in [
            "TEXT/Plain",
            "Application/JSON ; charset=utf-8",
            " application/ld+JSON",
            "application/soap+Xml",
            "IMAGE/SVG+XML",
            "Application/X-YAML",
            "+json",
        ] {
            assert!(compressible(Some(&HeaderValue::from_static(t))), "{t}");
        }
        for t in [
            "application/jsonx",
            "xml",
            "json",
            "texts/plain",
            "application/json+zip",
            "",
            ";text/plain",
        ] {
            assert!(!compressible(Some(&HeaderValue::from_static(t))), "{t}");
        }
    }
}
