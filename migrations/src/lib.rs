//! The Conduit database schema, as sea-orm-migration migrations.
//!
//! Every migration is written to run unchanged on SQLite and PostgreSQL: tables and plain
//! indexes come from sea-query builders, and the few statements sea-query cannot express
//! (indexes on expressions) are SQL that both dialects accept verbatim. The one
//! exception is full-text search (`m20261205_000008_article_search`), which each engine
//! does with its own kind of index: one statement list per backend.

use sea_orm_migration::prelude::*;

/// Re-exported so that callers can run [`Migrator`] without depending on
/// sea-orm-migration themselves.
pub use sea_orm_migration::{MigrationStatus, MigratorTrait};

mod m20261126_000001_create_schema;
mod m20261126_000002_create_sessions;
mod m20261126_000003_create_api_keys;
mod m20261126_000004_create_oauth_tables;
mod m20261129_000005_article_counts;
mod m20261204_000006_session_refreshed_at;
mod m20261204_000007_idempotency_records;
mod m20261205_000008_article_search;

/// Runs the Conduit migrations, oldest first.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261126_000001_create_schema::Migration),
            Box::new(m20261126_000002_create_sessions::Migration),
            Box::new(m20261126_000003_create_api_keys::Migration),
            Box::new(m20261126_000004_create_oauth_tables::Migration),
            Box::new(m20261129_000005_article_counts::Migration),
            Box::new(m20261204_000006_session_refreshed_at::Migration),
            Box::new(m20261204_000007_idempotency_records::Migration),
            Box::new(m20261205_000008_article_search::Migration),
        ]
    }
}
