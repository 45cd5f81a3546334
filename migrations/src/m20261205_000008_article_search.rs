//! Full-text search of articles (`GET /api/articles?q=`), on each engine's own index.
//!
//! - PostgreSQL: `articles.search`, a stored generated `tsvector` of the title (weight
//!   A), the description (B) and the body (C) in the `simple` configuration, under the
//!   GIN index `articles_search_idx`. The database computes it on every write; adding
//!   it rewrites the table once.
//! - SQLite: `articles_fts`, an FTS5 table over the same three columns with `articles`
//!   as its external content (the text is not stored twice), kept in step by three
//!   triggers, and filled from the rows there are. The `unicode61` tokenizer keeps
//!   diacritics, as PostgreSQL's `simple` does.
//!
//! Why `simple` rather than `english`: articles are in any language, and `simple` (no
//! stemming, no stop words) finds the same articles for the same words as SQLite's
//! tokenizer and the in-memory store, so every backend answers a search alike.

use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

/// Adds the search column and index (PostgreSQL) or table and triggers (SQLite).
#[derive(Debug, DeriveMigrationName)]
pub(crate) struct Migration;

const POSTGRES_UP: [&str; 2] = [
    "ALTER TABLE articles ADD COLUMN search tsvector GENERATED ALWAYS AS (\
     setweight(to_tsvector('simple', title), 'A') || \
     setweight(to_tsvector('simple', description), 'B') || \
     setweight(to_tsvector('simple', body), 'C')) STORED",
    "CREATE INDEX articles_search_idx ON articles USING GIN (search)",
];

const POSTGRES_DOWN: [&str; 2] = [
    "DROP INDEX IF EXISTS articles_search_idx",
    "ALTER TABLE articles DROP COLUMN IF EXISTS search",
];

const SQLITE_UP: [&str; 5] = [
    "CREATE VIRTUAL TABLE articles_fts USING fts5(title, description, body, \
     content='articles', content_rowid='id', tokenize='unicode61 remove_diacritics 0')",
    "CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN \
     INSERT INTO articles_fts (rowid, title, description, body) \
     VALUES (new.id, new.title, new.description, new.body); END",
    "CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN \
     INSERT INTO articles_fts (articles_fts, rowid, title, description, body) \
     VALUES ('delete', old.id, old.title, old.description, old.body); END",
    // Only a change of the searched text touches the index (not a favorite's count).
    "CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, description, body \
     ON articles BEGIN \
     INSERT INTO articles_fts (articles_fts, rowid, title, description, body) \
     VALUES ('delete', old.id, old.title, old.description, old.body); \
     INSERT INTO articles_fts (rowid, title, description, body) \
     VALUES (new.id, new.title, new.description, new.body); END",
    "INSERT INTO articles_fts (articles_fts) VALUES ('rebuild')",
];

const SQLITE_DOWN: [&str; 4] = [
    "DROP TRIGGER IF EXISTS articles_fts_update",
    "DROP TRIGGER IF EXISTS articles_fts_delete",
    "DROP TRIGGER IF EXISTS articles_fts_insert",
    "DROP TABLE IF EXISTS articles_fts",
];

async fn run(manager: &SchemaManager<'_>, statements: &[&str]) -> Result<(), DbErr> {
    let db = manager.get_connection();
    for statement in statements {
        db.execute_unprepared(statement).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => run(manager, &POSTGRES_UP).await,
            _ => run(manager, &SQLITE_UP).await,
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => run(manager, &POSTGRES_DOWN).await,
            _ => run(manager, &SQLITE_DOWN).await,
        }
    }
}
