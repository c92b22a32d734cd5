//! The audit trail of a ledger record, a fee schedule, a membership, a peer review or a
//! traded-service booking: who changed it, when, and what it was before and after.
//!
//! Finance needs it to answer "who voided this invoice?", "why did this receipt move?", "who
//! changed this fee schedule?" or "who cancelled this membership?", a school or a provider
//! "who cancelled this booking?", so every change to those records writes
//! one entry in its own transaction (`kernel::audit`); this module only reads them, and leaves
//! who may read a trail to the record's domain. One record's trail at a time, by the record's
//! global id: a trail is read while looking at one record, so there is no list to batch.

use async_graphql::{Context, Enum, ID, Json, Object};
use billing::ledger::{self, AuditEntity};
use chrono::{DateTime, Utc};
use kernel::{
    BillingAccountId, BookingId, CreditNoteId, FeeScheduleId, InvoiceId, MembershipId, PaymentId,
    RefundId, ReviewId, UserId,
};

use crate::graphql::access::types::UserNode;
use crate::graphql::context::ContextExt;
use crate::graphql::errors::{Code, coded, to_graphql};
use crate::graphql::relay::decode;

/// Who made a change.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "ledger::ActorKind")]
pub enum AuditActorKind {
    /// A signed-in person.
    User,
    /// An integration calling with an API key.
    ApiKey,
    /// Trellis itself (the invoicing run, a scheduled job).
    System,
}

#[derive(Debug)]
pub struct AuditEntryNode(pub ledger::AuditEntry);

/// One change of a ledger record, fee schedule, membership, review or booking.
#[Object(name = "AuditEntry")]
impl AuditEntryNode {
    /// When the change was made.
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }

    /// e.g. `invoice.issue`, `invoice.void`, `payment.allocate`, `refund.create`,
    /// `fee_schedule.update`, `fee_schedule.lock`, `membership.enrol`, `membership.cancel`,
    /// `review.advance`, `booking.create`, `booking.cancel`, `booking.attendance`.
    async fn action(&self) -> &str {
        &self.0.action
    }

    /// Who made the change: a person, an API key or Trellis itself.
    async fn actor_kind(&self) -> AuditActorKind {
        self.0.actor_kind.into()
    }

    /// The person who made the change; null for API keys, the system, or a user since removed.
    async fn actor(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserNode>> {
        if self.0.actor_kind != ledger::ActorKind::User {
            return Ok(None);
        }
        let Some(id) = self.0.actor_id else {
            return Ok(None);
        };
        Ok(ctx
            .trellis()?
            .loaders
            .users()
            .load_one(UserId::from_uuid(id))
            .await?
            .map(UserNode))
    }

    /// The record as it was before the change; null when the change created it.
    async fn before(&self) -> Option<Json<serde_json::Value>> {
        self.0.before.clone().map(Json)
    }

    /// The record as the change left it.
    async fn after(&self) -> Option<Json<serde_json::Value>> {
        self.0.after.clone().map(Json)
    }
}

/// Which kind of ledger record a global id names, if it is one that has a trail.
fn audited(id: &ID) -> Option<(AuditEntity, uuid::Uuid)> {
    let (entity, uuid) = decode(id)?;
    let kind = [
        (BillingAccountId::ENTITY, AuditEntity::BillingAccount),
        (InvoiceId::ENTITY, AuditEntity::Invoice),
        (kernel::InvoiceDraftId::ENTITY, AuditEntity::InvoiceDraft),
        (CreditNoteId::ENTITY, AuditEntity::CreditNote),
        (PaymentId::ENTITY, AuditEntity::Payment),
        (RefundId::ENTITY, AuditEntity::Refund),
    ]
    .into_iter()
    .find_map(|(name, kind)| (name == entity).then_some(kind))?;
    Some((kind, uuid))
}

#[derive(Default, Debug)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// The audit trail of a billing account, invoice, credit note, payment, refund or fee
    /// schedule (finance and admins only: the trail names the people who made changes), of a
    /// membership (whoever may read the membership: its school's people, partnership staff),
    /// of a peer review (whoever may read its report), or of a traded-service booking (whoever
    /// may read the booking: its school, partnership staff, its session's provider), oldest
    /// change first. A membership, review or booking the caller may not read is NOT_FOUND, as
    /// the record itself is.
    async fn audit_trail(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Global id of the audit trail.")] id: ID,
    ) -> async_graphql::Result<Vec<AuditEntryNode>> {
        let rc = ctx.trellis()?;
        // A review's history is the peer-review domain's to give (to whoever may read the
        // report), a booking's the traded domain's (to whoever may read the booking), a
        // membership's the membership domain's; fee schedules' and ledger records' trails
        // are finance's.
        let domain = match decode(&id) {
            Some((entity, uuid)) if entity == FeeScheduleId::ENTITY => Some(
                billing::fees::history(&rc.db, &rc.actor, FeeScheduleId::from_uuid(uuid)).await,
            ),
            Some((entity, uuid)) if entity == MembershipId::ENTITY => Some(
                membership::memberships::history(&rc.db, &rc.actor, MembershipId::from_uuid(uuid))
                    .await,
            ),
            Some((entity, uuid)) if entity == ReviewId::ENTITY => Some(
                peer_review::reviews::history(&rc.db, &rc.actor, ReviewId::from_uuid(uuid)).await,
            ),
            Some((entity, uuid)) if entity == BookingId::ENTITY => {
                Some(traded::history::history(&rc.db, &rc.actor, BookingId::from_uuid(uuid)).await)
            }
            _ => None,
        };
        if let Some(trail) = domain {
            return Ok(trail
                .map_err(to_graphql)?
                .into_iter()
                .map(AuditEntryNode)
                .collect());
        }
        let Some((entity, uuid)) = audited(&id) else {
            return Err(coded(
                format!(
                    "`{}` is not the id of a billing account, invoice, credit note, payment, refund, fee schedule, membership, review or booking",
                    id.as_str()
                ),
                Code::BadUserInput,
            ));
        };
        Ok(ledger::audit_of(&rc.db, &rc.actor, entity, uuid)
            .await
            .map_err(to_graphql)?
            .into_iter()
            .map(AuditEntryNode)
            .collect())
    }
}
