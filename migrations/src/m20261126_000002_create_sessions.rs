//! Sign-in sessions and their refresh tokens, for the SQL session store.

use sea_orm_migration::prelude::*;

/// Creates `sessions` and `refresh_tokens`.
#[derive(Debug, DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    UserId,
    UserAgent,
    CreatedAt,
    LastUsedAt,
    ExpiresAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    Hash,
    SessionId,
    CreatedAt,
    RetiredAt,
}

/// A key chosen by the application (a random session id, a token hash), not generated
/// by the database.
fn text_key(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).text().not_null().primary_key().take()
}

fn timestamp(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .timestamp_with_time_zone()
        .not_null()
        .take()
}

fn optional_timestamp(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).timestamp_with_time_zone().null().take()
}

/// A foreign key that deletes the referencing rows along with the referenced one: a
/// deleted user takes their sessions, a deleted session its tokens.
fn cascade(
    name: &str,
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(ForeignKeyAction::Cascade)
        .on_update(ForeignKeyAction::NoAction)
        .take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(text_key(Sessions::Id))
                    .col(ColumnDef::new(Sessions::UserId).big_integer().not_null())
                    .col(ColumnDef::new(Sessions::UserAgent).text().null())
                    .col(timestamp(Sessions::CreatedAt))
                    .col(timestamp(Sessions::LastUsedAt))
                    .col(timestamp(Sessions::ExpiresAt))
                    .col(optional_timestamp(Sessions::RevokedAt))
                    .foreign_key(&mut cascade(
                        "sessions_user_id_fkey",
                        (Sessions::Table, Sessions::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .take(),
            )
            .await?;
        // Serves the foreign key and "a user's sessions, most recently used first".
        manager
            .create_index(
                Index::create()
                    .name("sessions_user_id_last_used_at_idx")
                    .table(Sessions::Table)
                    .col(Sessions::UserId)
                    .col(Sessions::LastUsedAt)
                    .take(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RefreshTokens::Table)
                    .col(text_key(RefreshTokens::Hash))
                    .col(ColumnDef::new(RefreshTokens::SessionId).text().not_null())
                    .col(timestamp(RefreshTokens::CreatedAt))
                    .col(optional_timestamp(RefreshTokens::RetiredAt))
                    .foreign_key(&mut cascade(
                        "refresh_tokens_session_id_fkey",
                        (RefreshTokens::Table, RefreshTokens::SessionId),
                        (Sessions::Table, Sessions::Id),
                    ))
                    .take(),
            )
            .await?;
        // Without it, deleting a session (or a user) would scan every token to cascade.
        manager
            .create_index(
                Index::create()
                    .name("refresh_tokens_session_id_idx")
                    .table(RefreshTokens::Table)
                    .col(RefreshTokens::SessionId)
                    .take(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Tokens before sessions, so no foreign key is left pointing at a dropped table;
        // indexes go with their tables.
        for table in [
            RefreshTokens::Table.into_iden(),
            Sessions::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).take())
                .await?;
        }
        Ok(())
    }

    /// Forces a transaction on SQLite too, so a failed migration leaves no half-built
    /// schema on either engine.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
