//! Liveness and readiness for orchestrators.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::app::AppState;

/// The process is up. Deliberately checks nothing else: a liveness probe that fails when
/// the database is down gets healthy pods restarted for nothing.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The database answers and its schema is exactly this build's.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    match migration::status(&state.db).await {
        Ok(migration::MigrationStatus::Current) => {
            (StatusCode::OK, Json(json!({ "status": "ready" })))
        }
        Ok(migration::MigrationStatus::Behind(pending)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "migrations pending", "pending": pending })),
        ),
        Ok(migration::MigrationStatus::Ahead(unknown)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "database is ahead of this build", "unknown": unknown })),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "database unreachable" })),
            )
        }
    }
}
