//! Articles, their tags and favorites, and the lists that show them.
//!
//! - [`filters`]: the list filters and the feed as conditions on `articles`;
//! - [`queries`]: the pages of summaries, one article, the tag cloud;
//! - [`search`]: full-text search, on each backend's own index;
//! - [`counts`]: the kept counts of ADR 0020 (totals of lists, tags in use);
//! - [`store`]: writing articles, their tags and favorites.

mod counts;
mod filters;
mod queries;
mod search;
mod store;

pub(crate) use counts::recount;
