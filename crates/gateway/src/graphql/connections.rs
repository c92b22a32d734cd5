//! Descriptions of the schema's connection types.
//!
//! async-graphql's `Connection` describes its fields and edges but not itself, and its name is
//! derived from the node type, so there is no doc comment to write. Each connection the schema
//! serves is described here instead, by its concrete type, at schema build.

use async_graphql::SchemaBuilder;
use async_graphql::connection::Connection;

use super::access::query::{ApiKeyCount, UserCount};
use super::access::types::{ApiKeyNode, UserNode};
use super::billing::bank::{BankLineNode, BankStatementNode};
use super::billing::charges::ChargeNode;
use super::billing::drafts::InvoiceDraftNode;
use super::billing::types::{AccountNode, InvoiceNode, PaymentNode};
use super::directory::types::{
    ListCount, MemberFields, PartnershipCount, PartnershipMemberConnectionName,
    PartnershipMemberEdgeName, PartnershipNode, SchoolBookingConnectionName, SchoolBookingEdgeName,
    SchoolCount, SchoolNode, SchoolPartnershipConnectionName, SchoolPartnershipEdgeName,
};
use super::membership::query::MembershipConnection;
use super::notifications::NotificationConnection;
use super::offer::types::{EntryCount, OfferLedgerEntryNode};
use super::peer_review::types::{ReviewCycleNode, ReviewNode};
use super::relay::NoEdgeFields;
use super::traded::query::ServiceCount;
use super::traded::types::{BookingNode, ServiceNode, SessionNode};

/// A page of `N` with the usual fields (`pageInfo`, `edges`, `nodes`) and `C`'s extra ones.
type Page<N, C = NoEdgeFields> = Connection<String, N, C, NoEdgeFields>;

/// What every connection's description ends with: how to page through it.
macro_rules! paged {
    ($what:literal) => {
        concat!(
            $what,
            " Page forwards with `first` and `after: pageInfo.endCursor`, or backwards with ",
            "`last` and `before: pageInfo.startCursor`; cursors are opaque."
        )
    };
}

/// Sets the description of every connection type the schema serves.
pub(super) fn describe<Q, M, S>(builder: SchemaBuilder<Q, M, S>) -> SchemaBuilder<Q, M, S> {
    builder
        .override_output_type_description::<Page<ApiKeyNode, ApiKeyCount>>(paged!(
            "A page of API keys, with the total count."
        ))
        .override_output_type_description::<Page<UserNode, UserCount>>(paged!(
            "A page of user accounts, with the total count."
        ))
        .override_output_type_description::<Page<BankStatementNode>>(paged!(
            "A page of imported bank statements."
        ))
        .override_output_type_description::<Page<BankLineNode>>(paged!(
            "A page of a bank statement's lines."
        ))
        .override_output_type_description::<Page<AccountNode>>(paged!(
            "A page of billing accounts."
        ))
        .override_output_type_description::<Page<ChargeNode>>(paged!(
            "A page of traded-service charges to an account."
        ))
        .override_output_type_description::<Page<InvoiceNode>>(paged!("A page of invoices."))
        .override_output_type_description::<Page<InvoiceDraftNode>>(paged!(
            "A page of an invoicing run's drafts, in review order."
        ))
        .override_output_type_description::<Page<PaymentNode>>(paged!(
            "A page of payments received."
        ))
        .override_output_type_description::<Page<SchoolNode, SchoolCount>>(paged!(
            "A page of schools, with the total count matching the filter."
        ))
        .override_output_type_description::<Page<PartnershipNode, PartnershipCount>>(paged!(
            "A page of partnerships, with the total count matching the filter."
        ))
        .override_output_type_description::<Connection<
            String,
            PartnershipNode,
            ListCount,
            MemberFields,
            SchoolPartnershipConnectionName,
            SchoolPartnershipEdgeName,
        >>(paged!(
            "A page of the partnerships a school belongs to; each edge gives the school's role."
        ))
        .override_output_type_description::<Connection<
            String,
            SchoolNode,
            ListCount,
            MemberFields,
            PartnershipMemberConnectionName,
            PartnershipMemberEdgeName,
        >>(paged!(
            "A page of a partnership's member schools; each edge gives the school's role."
        ))
        .override_output_type_description::<Connection<
            String,
            BookingNode,
            ListCount,
            NoEdgeFields,
            SchoolBookingConnectionName,
            SchoolBookingEdgeName,
        >>(paged!(
            "A page of a school's traded-service bookings, with the total count."
        ))
        .override_output_type_description::<MembershipConnection>(paged!(
            "A page of memberships, with the total count matching the filter."
        ))
        .override_output_type_description::<NotificationConnection>(concat!(
            "A page of notifications: messages Trellis made for people. Page forwards with ",
            "`first` and `after: pageInfo.endCursor`; cursors are opaque."
        ))
        .override_output_type_description::<Page<OfferLedgerEntryNode, EntryCount>>(paged!(
            "A page of an offer's ledger entries (usage, adjustments and reversals), with \
             the total count."
        ))
        .override_output_type_description::<Page<ReviewCycleNode>>(paged!(
            "A page of peer-review cycles."
        ))
        .override_output_type_description::<Page<ReviewNode>>(paged!("A page of peer reviews."))
        .override_output_type_description::<Page<ServiceNode, ServiceCount>>(paged!(
            "A page of traded services in the catalogue, with the total count matching the \
             filter."
        ))
        .override_output_type_description::<Page<SessionNode>>(paged!(
            "A page of sessions of traded services."
        ))
        .override_output_type_description::<Page<BookingNode>>(paged!("A page of bookings."))
}
