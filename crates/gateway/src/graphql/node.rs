//! `node(id:)` and `nodes(ids:)`: any object by its global id.
//!
//! An id the caller may not see resolves to null exactly like an unknown one, so ids cannot
//! be used to probe for the existence of users or keys.

use async_graphql::{Context, ID, Interface, Object};
use billing::ledger::{self, BillingAccount};
use kernel::{
    ApiKeyId, BillingAccountId, CreditNoteId, FeeScheduleId, InvoiceId, MembershipId,
    PartnershipId, PaymentId, Permission, SchoolId, TierId, UserId,
};
use kernel::{OfferEntryId, OfferItemId};
use kernel::{ReviewCycleId, ReviewGroupId, ReviewId};
use membership::memberships;
use membership::people::api_keys;

use super::access::types::{ApiKeyNode, UserNode};
use super::billing::fees::FeeScheduleNode;
use super::billing::types::{AccountNode, CreditNoteNode, InvoiceNode, PaymentNode};
use super::context::{ContextExt, RequestContext};
use super::directory::types::{PartnershipNode, SchoolNode};
use super::errors::{Code, coded, to_graphql};
use super::membership::types::{MembershipNode, TierNode};
use super::offer::types::{OfferItemNode, OfferLedgerEntryNode};
use super::peer_review::types::{ReviewCycleNode, ReviewGroupNode, ReviewNode};
use super::relay::decode;
use super::traded::types::{AttendeeNode, BookingNode, ServiceNode, SessionNode};
use kernel::{AttendeeId, BookingId, ServiceId, SessionId};

/// An object with a global id.
#[derive(Interface, Debug)]
#[graphql(field(
    name = "id",
    ty = "ID",
    desc = "Opaque global id; pass it to `node(id:)`."
))]
pub enum Node {
    School(SchoolNode),
    Partnership(PartnershipNode),
    User(UserNode),
    ApiKey(ApiKeyNode),
    MembershipTier(TierNode),
    Membership(MembershipNode),
    FeeSchedule(FeeScheduleNode),
    BillingAccount(AccountNode),
    Invoice(InvoiceNode),
    CreditNote(CreditNoteNode),
    Payment(PaymentNode),
    OfferItem(OfferItemNode),
    OfferLedgerEntry(OfferLedgerEntryNode),
    ReviewCycle(ReviewCycleNode),
    ReviewGroup(ReviewGroupNode),
    Review(ReviewNode),
    Service(ServiceNode),
    Session(SessionNode),
    Booking(BookingNode),
    Attendee(AttendeeNode),
    Charge(super::billing::charges::ChargeNode),
    BankStatement(super::billing::bank::BankStatementNode),
    BankStatementLine(super::billing::bank::BankLineNode),
}

/// Largest `nodes(ids:)` batch.
const MAX_NODES: usize = 100;

async fn resolve(rc: &RequestContext, id: &ID) -> async_graphql::Result<Option<Node>> {
    let Some((entity, uuid)) = decode(id) else {
        return Err(coded(
            format!("`{}` is not a global id this API issued", id.as_str()),
            Code::BadUserInput,
        ));
    };
    let can = |p| rc.actor.can(p);
    Ok(match entity.as_str() {
        SchoolId::ENTITY if can(Permission::ReadDirectory) => rc
            .loaders
            .schools
            .load_one(SchoolId::from_uuid(uuid))
            .await?
            .map(|s| Node::School(SchoolNode(s))),
        PartnershipId::ENTITY if can(Permission::ReadDirectory) => rc
            .loaders
            .partnerships
            .load_one(PartnershipId::from_uuid(uuid))
            .await?
            .map(|p| Node::Partnership(PartnershipNode(p))),
        UserId::ENTITY
            if can(Permission::ManageUsers)
                || rc.actor.as_user().is_some_and(|u| u.id.as_uuid() == uuid) =>
        {
            rc.loaders
                .users
                .load_one(UserId::from_uuid(uuid))
                .await?
                .map(|u| Node::User(UserNode(u)))
        }
        ApiKeyId::ENTITY if can(Permission::ManageApiKeys) => {
            api_keys::by_ids(&rc.db, &[ApiKeyId::from_uuid(uuid)])
                .await
                .map_err(to_graphql)?
                .into_values()
                .next()
                .map(|k| Node::ApiKey(ApiKeyNode(k)))
        }
        TierId::ENTITY if can(Permission::ReadMemberships) => rc
            .loaders
            .tiers
            .load_one(TierId::from_uuid(uuid))
            .await?
            .map(|t| Node::MembershipTier(TierNode(t))),
        MembershipId::ENTITY if can(Permission::ReadMemberships) => rc
            .loaders
            .memberships_by_id
            .load_one(MembershipId::from_uuid(uuid))
            .await?
            .filter(|m| memberships::may_read(&rc.actor, m.school_id))
            .map(|m| Node::Membership(MembershipNode(m))),
        FeeScheduleId::ENTITY
            if can(Permission::ReadMemberships) || can(Permission::ReadBilling) =>
        {
            billing::fees::schedules_by_ids(&rc.db, &[FeeScheduleId::from_uuid(uuid)])
                .await
                .map_err(to_graphql)?
                .into_values()
                .next()
                .map(|s| Node::FeeSchedule(FeeScheduleNode(s)))
        }
        BillingAccountId::ENTITY => visible_account(rc, BillingAccountId::from_uuid(uuid))
            .await?
            .map(|a| Node::BillingAccount(AccountNode(a))),
        InvoiceId::ENTITY => {
            match rc
                .loaders
                .invoices
                .load_one(InvoiceId::from_uuid(uuid))
                .await?
            {
                Some(invoice) => visible_account(rc, invoice.account_id)
                    .await?
                    .map(|_| Node::Invoice(InvoiceNode(invoice))),
                None => None,
            }
        }
        PaymentId::ENTITY => {
            match rc
                .loaders
                .payments
                .load_one(PaymentId::from_uuid(uuid))
                .await?
            {
                Some(payment) => visible_account(rc, payment.account_id)
                    .await?
                    .map(|_| Node::Payment(PaymentNode(payment))),
                None => None,
            }
        }
        CreditNoteId::ENTITY => {
            match ledger::credit_notes::credit_note(
                &rc.db,
                &rc.actor,
                CreditNoteId::from_uuid(uuid),
            )
            .await
            {
                Ok(note) => Some(Node::CreditNote(CreditNoteNode(note))),
                Err(kernel::DomainError::NotFound { .. } | kernel::DomainError::Forbidden(_)) => {
                    None
                }
                Err(other) => return Err(to_graphql(other)),
            }
        }
        OfferItemId::ENTITY if can(Permission::ReadOffer) => rc
            .loaders
            .offer_items
            .load_one(OfferItemId::from_uuid(uuid))
            .await?
            .map(|i| Node::OfferItem(OfferItemNode(i))),
        OfferEntryId::ENTITY => rc
            .loaders
            .offer_entries
            .load_one(OfferEntryId::from_uuid(uuid))
            .await?
            .filter(|e| offer::may_read(&rc.actor, e.school_id))
            .map(|e| Node::OfferLedgerEntry(OfferLedgerEntryNode(e))),
        ReviewCycleId::ENTITY if can(Permission::ReadPeerReview) => rc
            .loaders
            .review_cycles
            .load_one(ReviewCycleId::from_uuid(uuid))
            .await?
            .map(|c| Node::ReviewCycle(ReviewCycleNode(c))),
        ReviewGroupId::ENTITY if can(Permission::ManagePeerReview) => rc
            .loaders
            .review_groups
            .load_one(ReviewGroupId::from_uuid(uuid))
            .await?
            .map(|g| Node::ReviewGroup(ReviewGroupNode(g))),
        ReviewId::ENTITY => {
            match rc
                .loaders
                .reviews
                .load_one(ReviewId::from_uuid(uuid))
                .await?
            {
                Some(review) if super::peer_review::types::may_read(rc, &review).await? => {
                    Some(Node::Review(ReviewNode(review)))
                }
                _ => None,
            }
        }
        ServiceId::ENTITY if can(Permission::ReadCatalogue) => rc
            .loaders
            .services
            .load_one(ServiceId::from_uuid(uuid))
            .await?
            .filter(|s| traded::may_see_service(&rc.actor, s))
            .map(|s| Node::Service(ServiceNode(s))),
        SessionId::ENTITY if can(Permission::ReadCatalogue) => {
            match rc
                .loaders
                .sessions
                .load_one(SessionId::from_uuid(uuid))
                .await?
            {
                Some(session) => rc
                    .loaders
                    .services
                    .load_one(session.service_id)
                    .await?
                    .filter(|s| traded::may_see_service(&rc.actor, s))
                    .map(|_| Node::Session(SessionNode(session))),
                None => None,
            }
        }
        BookingId::ENTITY => match rc
            .loaders
            .bookings
            .load_one(BookingId::from_uuid(uuid))
            .await?
        {
            Some(booking) if super::traded::types::may_read_booking(rc, &booking).await? => {
                Some(Node::Booking(BookingNode(booking)))
            }
            _ => None,
        },
        AttendeeId::ENTITY => {
            let attendee = rc
                .loaders
                .attendees
                .load_one(AttendeeId::from_uuid(uuid))
                .await?;
            let booking = match &attendee {
                Some(a) => rc.loaders.bookings.load_one(a.booking_id).await?,
                None => None,
            };
            match (attendee, booking) {
                (Some(attendee), Some(booking))
                    if super::traded::types::may_read_booking(rc, &booking).await? =>
                {
                    Some(Node::Attendee(AttendeeNode(attendee)))
                }
                _ => None,
            }
        }
        kernel::ChargeId::ENTITY => {
            match rc
                .loaders
                .charges
                .load_one(kernel::ChargeId::from_uuid(uuid))
                .await?
            {
                Some(charge) => visible_account(rc, charge.account_id)
                    .await?
                    .map(|_| Node::Charge(super::billing::charges::ChargeNode(charge))),
                None => None,
            }
        }
        // Checked reads: the domain answers only what the caller may see.
        kernel::BankLineId::ENTITY => {
            let id = kernel::BankLineId::from_uuid(uuid);
            ledger::bank::lines_by_ids(&rc.db, &rc.actor, &[id])
                .await
                .map_err(to_graphql)?
                .remove(&id)
                .map(|line| Node::BankStatementLine(super::billing::bank::BankLineNode(line)))
        }
        kernel::BankStatementId::ENTITY => {
            let id = kernel::BankStatementId::from_uuid(uuid);
            ledger::bank::statements_by_ids(&rc.db, &rc.actor, &[id])
                .await
                .map_err(to_graphql)?
                .remove(&id)
                .map(|s| Node::BankStatement(super::billing::bank::BankStatementNode(s)))
        }
        SchoolId::ENTITY
        | ServiceId::ENTITY
        | SessionId::ENTITY
        | PartnershipId::ENTITY
        | UserId::ENTITY
        | ApiKeyId::ENTITY
        | TierId::ENTITY
        | MembershipId::ENTITY
        | FeeScheduleId::ENTITY
        | OfferItemId::ENTITY
        | ReviewCycleId::ENTITY
        | ReviewGroupId::ENTITY => None,
        _ => {
            return Err(coded(
                format!("`{}` is not a global id this API issued", id.as_str()),
                Code::BadUserInput,
            ));
        }
    })
}

/// The account, when the caller may read it (and so everything billed to it).
async fn visible_account(
    rc: &RequestContext,
    id: BillingAccountId,
) -> async_graphql::Result<Option<BillingAccount>> {
    Ok(rc
        .loaders
        .accounts
        .load_one(id)
        .await?
        .filter(|a| ledger::accounts::may_read(&rc.actor, a)))
}

#[derive(Default, Debug)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// The object with this global id, or null if it does not exist or is not yours to see.
    async fn node(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Global id of the node.")] id: ID,
    ) -> async_graphql::Result<Option<Node>> {
        resolve(ctx.trellis()?, &id).await
    }

    /// Several objects by global id, in the order asked (at most 100).
    async fn nodes(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Global ids, in any mix of types; the answer lists one entry per id, in order."
        )]
        ids: Vec<ID>,
    ) -> async_graphql::Result<Vec<Option<Node>>> {
        if ids.len() > MAX_NODES {
            return Err(coded(
                format!("at most {MAX_NODES} ids at once"),
                Code::BadUserInput,
            ));
        }
        let rc = ctx.trellis()?;
        let lookups = ids.iter().map(|id| resolve(rc, id));
        futures::future::try_join_all(lookups).await
    }
}
