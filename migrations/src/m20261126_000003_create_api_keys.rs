//! API key metadata, for listing and revoking keys. The tokens themselves are never
//! stored: they are Biscuits the server can verify from its key alone.

use sea_orm_migration::prelude::*;

/// Creates `api_keys`.
#[derive(Debug, DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    UserId,
    Name,
    Scopes,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
}

fn optional_timestamp(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).timestamp_with_time_zone().null().take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ApiKeys::Table)
                    // Chosen by the application (a random id carried in the token).
                    .col(ColumnDef::new(ApiKeys::Id).text().not_null().primary_key())
                    .col(ColumnDef::new(ApiKeys::UserId).big_integer().not_null())
                    .col(ColumnDef::new(ApiKeys::Name).text().not_null())
                    // Scope names separated by single spaces, in the order granted: a
                    // short closed vocabulary, always read and written whole, so a join
                    // table would buy nothing.
                    .col(ColumnDef::new(ApiKeys::Scopes).text().not_null())
                    .col(
                        ColumnDef::new(ApiKeys::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(optional_timestamp(ApiKeys::ExpiresAt))
                    .col(optional_timestamp(ApiKeys::RevokedAt))
                    // A deleted user takes their keys with them.
                    .foreign_key(
                        ForeignKey::create()
                            .name("api_keys_user_id_fkey")
                            .from(ApiKeys::Table, ApiKeys::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade)
                            .on_update(ForeignKeyAction::NoAction),
                    )
                    .take(),
            )
            .await?;
        // Serves the foreign key and "a user's keys, newest first".
        manager
            .create_index(
                Index::create()
                    .name("api_keys_user_id_created_at_idx")
                    .table(ApiKeys::Table)
                    .col(ApiKeys::UserId)
                    .col(ApiKeys::CreatedAt)
                    .take(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The index goes with its table.
        manager
            .drop_table(Table::drop().table(ApiKeys::Table).take())
            .await
    }

    /// Forces a transaction on SQLite too, so a failed migration leaves no half-built
    /// schema on either engine.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
