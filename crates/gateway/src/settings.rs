//! Settings Trellis keeps in its own database: today, the generated JWT secret of the
//! embedded default, so tokens minted by `trellis token` keep working across restarts
//! without the operator having to invent and store a secret.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};

const JWT_SECRET_KEY: &str = "jwt_secret";

async fn get(db: &DatabaseConnection, key: &str) -> Result<Option<String>, DbErr> {
    let stmt = Query::select()
        .column(Alias::new("value"))
        .from(Alias::new("settings"))
        .and_where(Expr::col(Alias::new("key")).eq(key))
        .to_owned();
    let row = db.query_one(&stmt).await?;
    row.map(|r| r.try_get::<String>("", "value")).transpose()
}

/// The configured secret, or the one stored in the database, generating and storing it on
/// first use. Safe when several processes start at once: the first insert wins and every
/// process reads the winner back.
pub async fn jwt_secret(
    db: &DatabaseConnection,
    configured: Option<&str>,
) -> Result<Vec<u8>, DbErr> {
    if let Some(secret) = configured {
        return Ok(secret.as_bytes().to_vec());
    }
    if let Some(stored) = get(db, JWT_SECRET_KEY).await? {
        return Ok(stored.into_bytes());
    }
    let mut bytes = [0u8; 48];
    rand::rng().fill_bytes(&mut bytes);
    let insert = Query::insert()
        .into_table(Alias::new("settings"))
        .columns([Alias::new("key"), Alias::new("value")])
        .values_panic([JWT_SECRET_KEY.into(), URL_SAFE_NO_PAD.encode(bytes).into()])
        .on_conflict(
            OnConflict::column(Alias::new("key"))
                .do_nothing()
                .to_owned(),
        )
        .to_owned();
    db.execute(&insert).await?;
    get(db, JWT_SECRET_KEY)
        .await?
        .map(String::into_bytes)
        .ok_or_else(|| DbErr::RecordNotFound("jwt secret after insert".into()))
}
