//! Billing: fee schedules and quotes, the invoicing run, accounts, invoices, payments,
//! credit notes, refunds and finance reports. The audit trail is [`crate::graphql::audit`]:
//! it serves reviews and bookings as well as ledger records.

pub mod bank;
pub mod charges;
pub mod drafts;
pub mod enums;
pub mod fees;
pub mod moves;
pub mod mutation;
pub mod query;
pub mod stripe;
pub mod subscription;
pub mod supplement;
pub mod types;

use async_graphql::{MergedObject, MergedSubscription};

/// Every billing query field.
#[derive(MergedObject, Default, Debug)]
pub struct BillingQuery(
    fees::FeesQuery,
    query::LedgerQuery,
    stripe::ReconciliationQuery,
    charges::ChargesQuery,
    supplement::SupplementQuery,
    bank::BankQuery,
);

/// Every billing mutation.
#[derive(MergedObject, Default, Debug)]
pub struct BillingMutation(
    fees::FeesMutation,
    mutation::LedgerMutation,
    stripe::StripeMutation,
    stripe::ReconciliationMutation,
    charges::ChargesMutation,
    moves::MovesMutation,
    supplement::SupplementMutation,
    drafts::DraftsMutation,
    bank::BankMutation,
);

/// Every billing subscription.
#[derive(MergedSubscription, Default, Debug)]
pub struct BillingSubscription(subscription::LedgerSubscription);
