//! Whether a database's schema matches this build.
//!
//! A replica must never serve a database whose migrations are ahead of it (a newer release
//! migrated it; this one would misread the tables) or behind it (the migration job has not
//! run). `/readyz` and `trellis serve` both ask this.

use sea_orm::{DatabaseConnection, DbErr};
use sea_orm_migration::seaql_migrations;
use sea_orm_migration::{MigratorTrait, SchemaManager};

use crate::Migrator;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MigrationStatus {
    /// Every migration this build knows is applied, and no other.
    Current,
    /// These migrations of this build are not applied yet.
    Behind(Vec<String>),
    /// The database has migrations this build does not know: it was migrated by a newer release.
    Ahead(Vec<String>),
}

/// Compares the applied migrations with this build's.
pub async fn status(db: &DatabaseConnection) -> Result<MigrationStatus, DbErr> {
    let known: Vec<String> = Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    let applied: Vec<String> = if SchemaManager::new(db).has_table("seaql_migrations").await? {
        Migrator::get_migration_models(db)
            .await?
            .into_iter()
            .map(|m: seaql_migrations::Model| m.version)
            .collect()
    } else {
        // No migrations table yet: an empty database.
        Vec::new()
    };
    let ahead: Vec<String> = applied
        .iter()
        .filter(|v| !known.contains(v))
        .cloned()
        .collect();
    if !ahead.is_empty() {
        return Ok(MigrationStatus::Ahead(ahead));
    }
    let behind: Vec<String> = known.into_iter().filter(|v| !applied.contains(v)).collect();
    if behind.is_empty() {
        Ok(MigrationStatus::Current)
    } else {
        Ok(MigrationStatus::Behind(behind))
    }
}
