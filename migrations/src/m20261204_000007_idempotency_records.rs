//! Idempotency keys (the `Idempotency-Key` header, ADR 0025): one row per caller and
//! key, holding the claim of the request that runs and then its answer.
//!
//! Times are epoch milliseconds in a `BIGINT`, not timestamps: the claim statement
//! compares them in SQL (is the row reclaimable?), and SQLite keeps timestamps as text
//! that does not compare correctly.

use sea_orm_migration::prelude::*;

/// Creates `idempotency_records`.
#[derive(Debug, DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum IdempotencyRecords {
    Table,
    Scope,
    Key,
    Token,
    Fingerprint,
    ExpiresAtMs,
    Status,
    Headers,
    Body,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(IdempotencyRecords::Table)
                    // The caller (`user:<id>`) and the key it sent.
                    .col(ColumnDef::new(IdempotencyRecords::Scope).text().not_null())
                    .col(ColumnDef::new(IdempotencyRecords::Key).text().not_null())
                    // Names the claim: only its holder completes or releases it.
                    .col(ColumnDef::new(IdempotencyRecords::Token).text().not_null())
                    .col(
                        ColumnDef::new(IdempotencyRecords::Fingerprint)
                            .text()
                            .not_null(),
                    )
                    // The lease's end while in flight, the retention's end once done:
                    // from then on the row may be claimed again (or purged).
                    .col(
                        ColumnDef::new(IdempotencyRecords::ExpiresAtMs)
                            .big_integer()
                            .not_null(),
                    )
                    // NULL while the first request runs.
                    .col(ColumnDef::new(IdempotencyRecords::Status).integer().null())
                    // A JSON array of [name, value] pairs.
                    .col(ColumnDef::new(IdempotencyRecords::Headers).text().null())
                    .col(ColumnDef::new(IdempotencyRecords::Body).blob().null())
                    .primary_key(
                        Index::create()
                            .col(IdempotencyRecords::Scope)
                            .col(IdempotencyRecords::Key),
                    )
                    .take(),
            )
            .await?;
        // Serves the purge of expired rows.
        manager
            .create_index(
                Index::create()
                    .name("idempotency_records_expires_at_ms_idx")
                    .table(IdempotencyRecords::Table)
                    .col(IdempotencyRecords::ExpiresAtMs)
                    .take(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(IdempotencyRecords::Table).take())
            .await
    }

    /// Forces a transaction on SQLite too, so a failed migration leaves no half-built
    /// schema on either engine.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
