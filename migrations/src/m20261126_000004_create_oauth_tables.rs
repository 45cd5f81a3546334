//! Sign-in through identity providers: short-lived single-use values (pending logins by
//! `state`, login codes) and the links from provider identities to accounts.

use sea_orm_migration::prelude::*;

/// Creates `one_time_values` and `user_identities`.
#[derive(Debug, DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum OneTimeValues {
    Table,
    Key,
    Value,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum UserIdentities {
    Table,
    Provider,
    Subject,
    UserId,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OneTimeValues::Table)
                    .col(
                        ColumnDef::new(OneTimeValues::Key)
                            .text()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(OneTimeValues::Value).text().not_null())
                    // Compared in the adapter, not in SQL (SQLite keeps timestamps as
                    // text that does not sort), so no index on it.
                    .col(
                        ColumnDef::new(OneTimeValues::ExpiresAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(UserIdentities::Table)
                    .col(ColumnDef::new(UserIdentities::Provider).text().not_null())
                    // The provider's id for the person, opaque to us.
                    .col(ColumnDef::new(UserIdentities::Subject).text().not_null())
                    .col(
                        ColumnDef::new(UserIdentities::UserId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(UserIdentities::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    // One account per identity; an account may have several identities.
                    .primary_key(
                        Index::create()
                            .col(UserIdentities::Provider)
                            .col(UserIdentities::Subject),
                    )
                    // A deleted user takes their identity links with them.
                    .foreign_key(
                        ForeignKey::create()
                            .name("user_identities_user_id_fkey")
                            .from(UserIdentities::Table, UserIdentities::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade)
                            .on_update(ForeignKeyAction::NoAction),
                    )
                    .take(),
            )
            .await?;
        // Serves the foreign key (the cascade) and "a user's identities".
        manager
            .create_index(
                Index::create()
                    .name("user_identities_user_id_idx")
                    .table(UserIdentities::Table)
                    .col(UserIdentities::UserId)
                    .take(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The index goes with its table.
        manager
            .drop_table(Table::drop().table(UserIdentities::Table).take())
            .await?;
        manager
            .drop_table(Table::drop().table(OneTimeValues::Table).take())
            .await
    }

    /// Forces a transaction on SQLite too, so a failed migration leaves no half-built
    /// schema on either engine.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
