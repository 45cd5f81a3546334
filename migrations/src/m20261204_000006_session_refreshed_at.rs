//! `sessions.refreshed_at`: when a session was signed in or last refreshed. Access tokens
//! are bound to their session (ADR 0009); a refresh supersedes the access tokens issued
//! before it once their freshness window ends, which needs this instant apart from
//! `last_used_at` (that one also moves when an access token is used).

use sea_orm_migration::prelude::*;

/// Adds `sessions.refreshed_at`, nullable: existing sessions read it as `created_at`.
#[derive(Debug, DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Sessions {
    Table,
    RefreshedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Sessions::Table)
                    .add_column(
                        ColumnDef::new(Sessions::RefreshedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Sessions::Table)
                    .drop_column(Sessions::RefreshedAt)
                    .take(),
            )
            .await
    }
}
