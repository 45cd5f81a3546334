//! `conduit-migrate up | down | status | fresh | ...` against `DATABASE_URL`.

use sea_orm_migration::prelude::*;

#[tokio::main]
async fn main() {
    cli::run_cli(conduit_migrations::Migrator).await;
}
