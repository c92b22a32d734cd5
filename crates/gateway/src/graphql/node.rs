//! `node(id:)` and `nodes(ids:)`: any object by its global id.
//!
//! An id the caller may not see resolves to null exactly like an unknown one, so ids cannot
//! be used to probe for the existence of users or keys.

use std::collections::HashMap;

use async_graphql::{Context, ID, Interface, Object};
use billing::ledger;
use kernel::{
    ApiKeyId, BankLineId, BankStatementId, BillingAccountId, ChargeId, CreditNoteId, FeeScheduleId,
    InvoiceId, MembershipId, PartnershipId, PaymentId, SchoolId, TierId, UserId,
};
use kernel::{OfferEntryId, OfferItemId};
use kernel::{ReviewCycleId, ReviewGroupId, ReviewId};
use uuid::Uuid;

use super::access::types::{ApiKeyNode, UserNode};
use super::billing::bank::{BankLineNode, BankStatementNode};
use super::billing::charges::ChargeNode;
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
#[derive(Interface, Debug, Clone)]
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
    Charge(ChargeNode),
    BankStatement(BankStatementNode),
    BankStatementLine(BankLineNode),
}

/// Largest `nodes(ids:)` batch.
const MAX_NODES: usize = 100;

/// One checked read of a domain, its answers wrapped as nodes by uuid: `$read(db, actor, ids)`
/// answers only what the caller may see, so nothing here decides who sees what.
macro_rules! checked {
    ($rc:expr, $uuids:expr, $read:path, $id:ty, |$v:ident| $node:expr) => {{
        let ids: Vec<$id> = $uuids.iter().map(|u| <$id>::from_uuid(*u)).collect();
        $read(&$rc.db, &$rc.actor, &ids)
            .await
            .map_err(to_graphql)?
            .into_iter()
            .map(|(id, $v)| (id.as_uuid(), $node))
            .collect::<HashMap<Uuid, Node>>()
    }};
}

/// The objects of one type the caller may see among `uuids`, by uuid. One domain read per
/// type (a fixed number of statements however many ids); `None` for a type that is not ours.
async fn of_type(
    rc: &RequestContext,
    entity: &str,
    uuids: &[Uuid],
) -> async_graphql::Result<Option<HashMap<Uuid, Node>>> {
    use billing::visibility as billing_sight;
    use membership::visibility as directory;
    use offer::visibility as offer_sight;
    use peer_review::visibility as review_sight;
    Ok(Some(match entity {
        SchoolId::ENTITY => checked!(rc, uuids, directory::visible_schools, SchoolId, |s| {
            Node::School(SchoolNode::from(s))
        }),
        PartnershipId::ENTITY => checked!(
            rc,
            uuids,
            directory::visible_partnerships,
            PartnershipId,
            |p| Node::Partnership(PartnershipNode(p))
        ),
        UserId::ENTITY => checked!(rc, uuids, directory::visible_users, UserId, |u| {
            Node::User(UserNode(u))
        }),
        ApiKeyId::ENTITY => checked!(rc, uuids, directory::visible_api_keys, ApiKeyId, |k| {
            Node::ApiKey(ApiKeyNode(k))
        }),
        TierId::ENTITY => checked!(rc, uuids, directory::visible_tiers, TierId, |t| {
            Node::MembershipTier(TierNode(t))
        }),
        MembershipId::ENTITY => checked!(
            rc,
            uuids,
            directory::visible_memberships,
            MembershipId,
            |m| Node::Membership(MembershipNode::new(m))
        ),
        FeeScheduleId::ENTITY => checked!(
            rc,
            uuids,
            billing_sight::visible_schedules,
            FeeScheduleId,
            |s| Node::FeeSchedule(FeeScheduleNode(s))
        ),
        BillingAccountId::ENTITY => checked!(
            rc,
            uuids,
            billing_sight::visible_accounts,
            BillingAccountId,
            |a| Node::BillingAccount(AccountNode(a))
        ),
        InvoiceId::ENTITY => checked!(rc, uuids, billing_sight::visible_invoices, InvoiceId, |i| {
            Node::Invoice(InvoiceNode::from(i))
        }),
        PaymentId::ENTITY => checked!(rc, uuids, billing_sight::visible_payments, PaymentId, |p| {
            Node::Payment(PaymentNode(p))
        }),
        CreditNoteId::ENTITY => checked!(
            rc,
            uuids,
            billing_sight::visible_credit_notes,
            CreditNoteId,
            |n| Node::CreditNote(CreditNoteNode(n))
        ),
        ChargeId::ENTITY => checked!(rc, uuids, billing_sight::visible_charges, ChargeId, |c| {
            Node::Charge(ChargeNode(c))
        }),
        BankLineId::ENTITY => checked!(rc, uuids, ledger::bank::lines_by_ids, BankLineId, |l| {
            Node::BankStatementLine(BankLineNode(l))
        }),
        BankStatementId::ENTITY => checked!(
            rc,
            uuids,
            ledger::bank::statements_by_ids,
            BankStatementId,
            |s| Node::BankStatement(BankStatementNode(s))
        ),
        OfferItemId::ENTITY => checked!(rc, uuids, offer_sight::visible_items, OfferItemId, |i| {
            Node::OfferItem(OfferItemNode(i))
        }),
        OfferEntryId::ENTITY => {
            checked!(rc, uuids, offer_sight::visible_entries, OfferEntryId, |e| {
                Node::OfferLedgerEntry(OfferLedgerEntryNode::from(e))
            })
        }
        ReviewCycleId::ENTITY => checked!(
            rc,
            uuids,
            review_sight::visible_cycles,
            ReviewCycleId,
            |c| Node::ReviewCycle(ReviewCycleNode(c))
        ),
        ReviewGroupId::ENTITY => checked!(
            rc,
            uuids,
            review_sight::visible_groups,
            ReviewGroupId,
            |g| Node::ReviewGroup(ReviewGroupNode(g))
        ),
        ReviewId::ENTITY => checked!(rc, uuids, review_sight::visible_reviews, ReviewId, |r| {
            Node::Review(ReviewNode(r))
        }),
        ServiceId::ENTITY => checked!(rc, uuids, traded::visible_services, ServiceId, |s| {
            Node::Service(ServiceNode::from(s))
        }),
        SessionId::ENTITY => checked!(rc, uuids, traded::visible_sessions, SessionId, |s| {
            Node::Session(SessionNode(s))
        }),
        BookingId::ENTITY => checked!(rc, uuids, traded::visible_bookings, BookingId, |b| {
            Node::Booking(BookingNode(b))
        }),
        AttendeeId::ENTITY => checked!(rc, uuids, traded::visible_attendees, AttendeeId, |a| {
            Node::Attendee(AttendeeNode(a))
        }),
        _ => return Ok(None),
    }))
}

/// Each id's object, in order; null where it does not exist or is not the caller's to see.
async fn resolve(rc: &RequestContext, ids: &[ID]) -> async_graphql::Result<Vec<Option<Node>>> {
    let not_ours = |id: &ID| {
        coded(
            format!("`{}` is not a global id this API issued", id.as_str()),
            Code::BadUserInput,
        )
    };
    let mut decoded = Vec::with_capacity(ids.len());
    // Each type's uuids, with the first id of that type (to name when the type is not ours).
    let mut by_type: HashMap<String, (&ID, Vec<Uuid>)> = HashMap::new();
    for id in ids {
        let (entity, uuid) = decode(id).ok_or_else(|| not_ours(id))?;
        by_type
            .entry(entity.clone())
            .or_insert_with(|| (id, Vec::new()))
            .1
            .push(uuid);
        decoded.push((entity, uuid));
    }
    let mut found: HashMap<String, HashMap<Uuid, Node>> = HashMap::with_capacity(by_type.len());
    for (entity, (first, uuids)) in by_type {
        let nodes = of_type(rc, &entity, &uuids)
            .await?
            .ok_or_else(|| not_ours(first))?;
        found.insert(entity, nodes);
    }
    Ok(decoded
        .into_iter()
        .map(|(entity, uuid)| {
            found
                .get_mut(&entity)
                .and_then(|nodes| nodes.get(&uuid).cloned())
        })
        .collect())
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
        Ok(resolve(ctx.trellis()?, std::slice::from_ref(&id))
            .await?
            .pop()
            .flatten())
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
        resolve(ctx.trellis()?, &ids).await
    }
}
