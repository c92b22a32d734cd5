//! `POST /webhooks/stripe`: the HTTP edge of `billing::stripe_events`.
//!
//! 2xx only once the event is stored with its effects, in one transaction (applied, ignored,
//! pending — a refund waiting for its payment —, failed — refused, finance sees why — or a
//! replay); 400 for a forged, stale or unsigned delivery, a body that is no event, or one with
//! a NUL character in any string, with nothing stored; 500 when the database failed, with
//! nothing stored, so that Stripe delivers it again. Served only when Stripe is configured.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use billing::stripe_events::{self, Delivery, Received, WebhookError};
use serde_json::{Value, json};

use crate::app::AppState;

pub async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, Json<Value>) {
    let Some(secret) = state.stripe_webhook_secret.as_deref() else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "Stripe is not configured" })),
        );
    };
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    // How long after its creation at Stripe the event reached us, for the lag metric.
    let lag = |created: Option<i64>| {
        created.map_or(0.0, |created| {
            let millis = state.clock.now().timestamp_millis() - created * 1000;
            #[allow(clippy::cast_precision_loss, reason = "lags are far below 2^52 ms")]
            let secs = millis as f64 / 1000.0;
            secs
        })
    };
    match stripe_events::receive(&state.db, state.clock.as_ref(), secret, signature, &body).await {
        Ok(Delivery {
            received,
            created,
            invoice,
        }) => {
            let (outcome, detail) = match received {
                Received::Applied { detail } => ("applied", Some(detail)),
                Received::Ignored { detail } => ("ignored", Some(detail)),
                Received::Pending { detail } => ("pending", Some(detail)),
                Received::Failed { detail } => ("refused", Some(detail)),
                Received::Replayed => ("replayed", None),
            };
            state.metrics.stripe_webhook(outcome, lag(created));
            // Traded bookings paid by this event; a failure is retried by Stripe's redelivery.
            if let Err(err) = crate::http::booking_payments::confirm_paid(&state, invoice).await {
                tracing::error!(error = %err.chain(), "confirming card bookings failed");
                return (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Json(
                        json!({ "error": "stored; confirming its bookings failed and will be retried" }),
                    ),
                );
            }
            (
                StatusCode::OK,
                Json(json!({ "received": true, "outcome": outcome, "detail": detail })),
            )
        }
        Err(err @ (WebhookError::Signature(_) | WebhookError::Payload(_))) => {
            tracing::warn!(error = %err, "refused a Stripe webhook");
            (
                StatusCode::BAD_REQUEST,
                Json(json!({ "error": err.to_string() })),
            )
        }
        Err(WebhookError::Apply(err)) => {
            // Nothing was stored; the event is read here only for the metric's lag.
            let created = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|event| event["created"].as_i64());
            state.metrics.stripe_webhook("failed", lag(created));
            tracing::error!(error = %err.chain(), "storing and applying a Stripe event failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({ "error": "not stored; Stripe will deliver it again" })),
            )
        }
    }
}
