//! `GET /tags`.

use conduit_app::Conduit;
use poem_openapi::{OpenApi, payload::Json};

use super::{
    ApiTags,
    operation::{ErrorCase, Operation},
};
use crate::dto;

pub(crate) const GET_TAGS: Operation =
    Operation::get("GetTags", "/tags").errors(&[ErrorCase::CONTRACT_422]);
crate::operation_errors!(TagsErrors = GET_TAGS);

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
