//! The day a school opened (issue #22, "fee facts as data").
//!
//! Fee rules can select new schools (Haringey's minimum for small new schools), and a
//! school's newness follows from when it opened, which GIAS publishes as `OpenDate` and
//! finance can set through `schoolCreate`/`schoolUpdate`. Nullable: most schools on record
//! opened long ago and their registers do not say when.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::date_null;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Schools {
    Table,
    OpenedOn,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Schools::Table)
                    .add_column(date_null(Schools::OpenedOn))
                    .to_owned(),
            )
            .await
    }
}
