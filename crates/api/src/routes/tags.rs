//! `GET /tags`.

use conduit_app::Conduit;
use poem_openapi::{OpenApi, payload::Json};

use super::ApiTags;
use crate::dto;

crate::operation_errors!(
    /// Errors of `GET /tags`.
    TagsErrors {
        Unprocessable = 422: "Not returned by this operation; listed because the RealWorld contract lists 422 (`validation_failed`) for every operation.",
    }
);

/// Tags.
#[derive(Debug, Clone)]
pub struct TagsApi {
    /// The application.
    pub app: Conduit,
}

#[OpenApi(tag = "ApiTags::Tags")]
impl TagsApi {
    /// Get tags
    ///
    /// Tags carried by at least one article, most used first (at most 500).
    #[oai(path = "/tags", method = "get", operation_id = "GetTags")]
    async fn tags(&self) -> Result<Json<dto::TagsResponse>, TagsErrors> {
        Ok(Json(dto::TagsResponse {
            tags: self.app.tags().await?,
        }))
    }
}
