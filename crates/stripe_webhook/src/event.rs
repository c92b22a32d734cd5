//! A Stripe event as Trellis reads it: the payload parsed strictly, and the readers that
//! turn a field of its object into a typed value or a refusal naming the field.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use kernel::{Clock, DomainError, ErrorCode, Money};
use serde_json::Value;
use thiserror::Error;

/// Signed but not a Stripe event (the webhook answers 400 and stores nothing).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0}")]
pub struct PayloadError(pub String);

/// The parts of an event Trellis reads.
#[derive(Debug, Clone)]
pub struct Event {
    /// Stripe's event id, `evt_…`.
    pub id: String,
    /// The event's type, e.g. `payment_intent.succeeded`.
    pub kind: String,
    /// When Stripe created the event (seconds since the epoch), if it said.
    pub created: Option<i64>,
    /// `data.object`: the object the event is about.
    pub object: Value,
}

/// Whether any string in `value`, object keys included, holds a NUL character.
fn has_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

/// How a JSON value is described in a refusal (never the value itself: it may be long).
fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "a negative or too large number",
        Value::Number(_) => "a fractional number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

impl Event {
    /// Reads a signed payload: JSON, no NUL in any string, an `evt_` id, a type, an
    /// `object` of `"event"` and a `data.object`. Anything else is a [`PayloadError`].
    pub fn parse(payload: &[u8]) -> Result<Self, PayloadError> {
        let value: Value =
            serde_json::from_slice(payload).map_err(|e| PayloadError(e.to_string()))?;
        if has_nul(&value) {
            return Err(PayloadError("a string holds a NUL character".into()));
        }
        let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
        let id = text("id").ok_or_else(|| PayloadError("no event id".into()))?;
        let kind = text("type").ok_or_else(|| PayloadError("no event type".into()))?;
        if !id.starts_with("evt_") || value.get("object").and_then(Value::as_str) != Some("event") {
            return Err(PayloadError("not an event object".into()));
        }
        let object = value
            .pointer("/data/object")
            .cloned()
            .ok_or_else(|| PayloadError("no data.object".into()))?;
        Ok(Self {
            id,
            kind,
            created: value.get("created").and_then(Value::as_i64),
            object,
        })
    }

    pub fn str(&self, pointer: &str) -> Option<&str> {
        self.object.pointer(pointer).and_then(Value::as_str)
    }

    /// How finance reads a field of the event's object: `data.object.amount_received`.
    pub fn field(pointer: &str) -> String {
        format!("data.object{}", pointer.replace('/', "."))
    }

    pub fn missing(&self, pointer: &str) -> DomainError {
        DomainError::invalid(
            &Self::field(pointer),
            ErrorCode::Required,
            format!("missing from {}; nothing was applied", self.kind),
        )
    }

    pub fn malformed(&self, pointer: &str, expected: &str, got: &Value) -> DomainError {
        DomainError::invalid(
            &Self::field(pointer),
            ErrorCode::Invalid,
            format!(
                "expected {expected} in {}, got {}; nothing was applied",
                self.kind,
                json_kind(got)
            ),
        )
    }

    /// A string the effect needs: missing, empty or not a string is a refusal.
    pub fn required_str(&self, pointer: &str) -> Result<&str, DomainError> {
        match self.object.pointer(pointer) {
            None | Some(Value::Null) => Err(self.missing(pointer)),
            Some(Value::String(s)) if s.is_empty() => Err(self.missing(pointer)),
            Some(Value::String(s)) => Ok(s),
            Some(other) => Err(self.malformed(pointer, "a string", other)),
        }
    }

    /// An amount the effect needs, in the partnership's currency: missing, not a whole
    /// non-negative number, or in another currency is a refusal, never zero.
    pub fn amount(&self, pointer: &str) -> Result<Money, DomainError> {
        let pence = match self.object.pointer(pointer) {
            None | Some(Value::Null) => return Err(self.missing(pointer)),
            Some(value) => value.as_i64().filter(|p| *p >= 0).ok_or_else(|| {
                self.malformed(
                    pointer,
                    "a whole, non-negative amount in the currency's smallest unit",
                    value,
                )
            })?,
        };
        self.require_currency()?;
        Ok(Money::from_pence(pence))
    }

    /// The object's currency must be the partnership's; Stripe writes it lower-case (`gbp`).
    pub fn require_currency(&self) -> Result<(), DomainError> {
        let currency = self.required_str("/currency")?;
        let ours = Money::zero().currency().code();
        if currency.eq_ignore_ascii_case(ours) {
            return Ok(());
        }
        Err(DomainError::invalid(
            &Self::field("/currency"),
            ErrorCode::Invalid,
            format!(
                "the amount is in {}, not {ours}: Trellis keeps its ledger in {ours} only, so nothing was applied",
                currency.to_ascii_uppercase()
            ),
        ))
    }

    /// Refuses an object that names a currency other than the partnership's (for events whose
    /// amount Trellis does not take but whose object it acts on).
    pub fn refuse_other_currency(&self) -> Result<(), DomainError> {
        match self.object.pointer("/currency") {
            None | Some(Value::Null) => Ok(()),
            Some(_) => self.require_currency(),
        }
    }

    /// A field that Stripe sends as an id or, expanded, as an object with an id.
    pub fn id_of(&self, pointer: &str) -> Option<String> {
        match self.object.pointer(pointer)? {
            Value::String(s) => Some(s.clone()),
            Value::Object(o) => o.get("id").and_then(Value::as_str).map(str::to_owned),
            _ => None,
        }
    }

    pub fn meta(&self, key: &str) -> Option<&str> {
        self.object
            .get("metadata")
            .and_then(|m| m.get(key))
            .and_then(Value::as_str)
    }

    /// A Trellis id in the metadata: absent is `None` (not Trellis's object); present but not
    /// an id is a refusal (someone wrote it wrong; finance should see it).
    pub fn meta_id(&self, key: &str) -> Result<Option<uuid::Uuid>, DomainError> {
        let Some(raw) = self.object.get("metadata").and_then(|m| m.get(key)) else {
            return Ok(None);
        };
        match raw {
            Value::Null => Ok(None),
            Value::String(s) => s.parse::<uuid::Uuid>().map(Some).map_err(|_| {
                DomainError::invalid(
                    &format!("data.object.metadata.{key}"),
                    ErrorCode::Invalid,
                    format!("not a Trellis id in {}; nothing was applied", self.kind),
                )
            }),
            other => Err(self.malformed(&format!("/metadata/{key}"), "a string", other)),
        }
    }

    /// The PaymentIntent the event's money belongs to, when it names one.
    pub fn payment_ref(&self) -> Option<String> {
        if self.kind.starts_with("payment_intent.") {
            self.id_of("/id")
        } else {
            self.id_of("/payment_intent")
        }
    }

    /// The day the money moved, never after today (receipts cannot be dated in the future).
    pub fn day(&self, clock: &dyn Clock) -> Result<NaiveDate, DomainError> {
        let created = self.created.ok_or_else(|| {
            DomainError::invalid(
                "created",
                ErrorCode::Required,
                format!("{} has no creation time; nothing was applied", self.kind),
            )
        })?;
        let today = clock.today();
        Utc.timestamp_opt(created, 0)
            .single()
            .map(|t: DateTime<Utc>| t.date_naive().min(today))
            .ok_or_else(|| {
                DomainError::invalid(
                    "created",
                    ErrorCode::Invalid,
                    format!(
                        "{} has no valid creation time; nothing was applied",
                        self.kind
                    ),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::Event;

    proptest::proptest! {
        /// A signed payload can still be anything: parsing answers, it never panics.
        #[test]
        fn any_payload_parses_or_is_refused(
            payload in proptest::collection::vec(proptest::num::u8::ANY, 0..1024),
        ) {
            let _ = Event::parse(&payload);
        }

        /// JSON of the right outline with arbitrary values is refused or read, never a panic.
        #[test]
        fn any_event_shaped_json_parses_or_is_refused(
            id in "\\PC{0,40}",
            kind in "(payment_intent\\.succeeded|charge\\.refunded|invoice\\.paid|checkout\\.session\\.completed|\\PC{0,20})",
            amount in proptest::num::i64::ANY,
            currency in "\\PC{0,5}",
        ) {
            let payload = serde_json::json!({
                "id": id, "type": kind, "created": amount,
                "data": { "object": { "id": id, "amount": amount, "amount_received": amount,
                    "amount_refunded": amount, "currency": currency, "metadata": { "trellis_invoice_id": id } } }
            });
            let _ = Event::parse(payload.to_string().as_bytes());
        }
    }
}
