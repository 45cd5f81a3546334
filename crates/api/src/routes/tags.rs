//! `GET /tags`.

use conduit_app::Conduit;
use poem_openapi::{OpenApi, payload::Json};

use super::ApiTags;
use crate::{dto, error::ApiError};

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
    async fn tags(&self) -> Result<Json<dto::TagsResponse>, ApiError> {
        Ok(Json(dto::TagsResponse {
            tags: self.app.tags().await?,
        }))
    }
}
