//! Article counts kept as the articles change, so that a list's `articlesCount` and the
//! tag cloud never count millions of rows (docs/performance.md, ADR 0020).
//!
//! One row per counted set: `kind` 0 is every article (`key` 0), 1 the articles with tag
//! `key`, 2 the articles by user `key`, 3 the articles user `key` favorited. The SQL
//! adapter adjusts them in the transaction of every write that changes a set.

use sea_orm_migration::prelude::*;

/// Creates `article_counts` and fills it from the tables as they are.
#[derive(Debug, DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum ArticleCounts {
    Table,
    Kind,
    Key,
    Articles,
}

/// Counts every set from the rows: the same statements as the adapter's recount.
const BACKFILL: [&str; 4] = [
    "INSERT INTO article_counts (kind, key, articles) SELECT 0, 0, COUNT(*) FROM articles",
    "INSERT INTO article_counts (kind, key, articles) \
     SELECT 1, tag_id, COUNT(*) FROM article_tags GROUP BY tag_id",
    "INSERT INTO article_counts (kind, key, articles) \
     SELECT 2, author_id, COUNT(*) FROM articles GROUP BY author_id",
    "INSERT INTO article_counts (kind, key, articles) \
     SELECT 3, user_id, COUNT(*) FROM favorites GROUP BY user_id",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ArticleCounts::Table)
                    .col(
                        ColumnDef::new(ArticleCounts::Kind)
                            .small_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(ArticleCounts::Key).big_integer().not_null())
                    .col(
                        ColumnDef::new(ArticleCounts::Articles)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .primary_key(
                        Index::create()
                            .col(ArticleCounts::Kind)
                            .col(ArticleCounts::Key),
                    )
                    .take(),
            )
            .await?;
        // The tag cloud: the most used tags of one kind first.
        manager
            .create_index(
                Index::create()
                    .name("article_counts_kind_articles_idx")
                    .table(ArticleCounts::Table)
                    .col(ArticleCounts::Kind)
                    .col(ArticleCounts::Articles)
                    .take(),
            )
            .await?;
        let db = manager.get_connection();
        for statement in BACKFILL {
            db.execute_unprepared(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ArticleCounts::Table).take())
            .await
    }
}
