//! Tells every replica when a user or their schools change (issue #18, item 2).
//!
//! Each replica keeps signed-in users' role and schools between requests
//! (`gateway::auth::cache`) and must drop them the moment either changes, whoever changes
//! it: another replica, the CLI, psql. Statement triggers on `users` and `user_schools`
//! `pg_notify('trellis_sign_in', '')` for that; PostgreSQL delivers the notification when
//! the change commits, and not at all if it rolls back. A new user needs none (no replica
//! keeps an unknown user), so `users` notifies on update, delete and truncate only.
//!
//! PostgreSQL only: on SQLite the cache is off and every request reads its user.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const TRIGGERS: &str = r"
CREATE OR REPLACE FUNCTION trellis_sign_in_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('trellis_sign_in', '');
  RETURN NULL;
END
$$;
CREATE TRIGGER users_sign_in_changed
  AFTER UPDATE OR DELETE OR TRUNCATE ON users
  FOR EACH STATEMENT EXECUTE FUNCTION trellis_sign_in_changed();
CREATE TRIGGER user_schools_sign_in_changed
  AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON user_schools
  FOR EACH STATEMENT EXECUTE FUNCTION trellis_sign_in_changed();
";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if db.get_database_backend() == DatabaseBackend::Postgres {
            db.execute_unprepared(TRIGGERS).await?;
        }
        Ok(())
    }
}
