//! Stripe in GraphQL: mirroring an invoice on demand, and the mirror's links and payment
//! state on `Invoice`. The provider is schema data ([`PaymentMirror`]), set when Stripe is
//! configured; without it the mutation says so and the fields are null.

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use billing::mirror::{self, MirroredInvoice};
use billing::provider::PaymentProvider;
use billing::reconciliation;
use kernel::{DomainError, ErrorCode, InvoiceId};

use super::types::{InvoiceNode, InvoicePayload, PaymentNode};
use crate::graphql::context::{ContextExt, RequestContext};
use crate::graphql::errors::{UserError, payload};
use crate::graphql::relay::expect_input;
use crate::graphql::scalars::{Date, MoneyValue};

/// The configured payment provider invoices are mirrored to (Stripe), if any.
#[derive(Clone)]
pub struct PaymentMirror(pub Option<Arc<dyn PaymentProvider>>);

impl std::fmt::Debug for PaymentMirror {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("PaymentMirror")
            .field(&self.0.as_ref().map(|p| p.name()))
            .finish()
    }
}

/// The provider, when one is configured.
pub fn provider(ctx: &Context<'_>) -> Option<Arc<dyn PaymentProvider>> {
    ctx.data_opt::<PaymentMirror>().and_then(|m| m.0.clone())
}

/// Mirrors a ledger change at the provider after it committed. The ledger is the book of
/// record, so a provider failure does not undo the change: it is logged, and
/// `invoiceMirror` (or the next change) retries with the same idempotency keys.
pub async fn follow(ctx: &Context<'_>, rc: &RequestContext, change: Change) {
    let Some(provider) = provider(ctx) else {
        return;
    };
    let result = match change {
        Change::Issued(id) => {
            mirror::mirror_invoice(&rc.db, &rc.actor, rc.clock.as_ref(), provider.as_ref(), id)
                .await
                .map(|_| ())
        }
        Change::Void(id) => mirror::mirror_void(&rc.db, &rc.actor, provider.as_ref(), id)
            .await
            .map(|_| ()),
        Change::CreditNote(id) => {
            mirror::mirror_credit_note(&rc.db, &rc.actor, provider.as_ref(), id)
                .await
                .map(|_| ())
        }
        Change::Year(year) => {
            mirror::mirror_year(&rc.db, &rc.actor, rc.clock.as_ref(), provider.as_ref(), year)
                .await
                .map(|done| {
                    for (id, why) in done.failed {
                        tracing::warn!(invoice = %id, error = %why, "mirroring an invoice to the payment provider failed");
                    }
                })
        }
    };
    if let Err(err) = result {
        tracing::warn!(error = %err.chain(), ?change, "mirroring a ledger change to the payment provider failed");
    }
}

/// A committed ledger change the provider should follow.
#[derive(Debug, Clone, Copy)]
pub enum Change {
    /// Finance issued one invoice by hand.
    Issued(InvoiceId),
    Void(InvoiceId),
    CreditNote(kernel::CreditNoteId),
    /// The invoicing run of this year issued invoices.
    Year(kernel::AcademicYear),
}

/// Input to `invoiceMirror`.
#[derive(InputObject, Debug)]
pub struct InvoiceMirrorInput {
    /// Global id of the invoice.
    pub id: ID,
}

/// The domain names the invoice `invoiceId`; this input calls it `id`.
fn input_named_id(err: DomainError, domain_field: &str) -> DomainError {
    match err {
        DomainError::Invalid(mut problems) => {
            for problem in &mut problems {
                if problem.field.iter().map(String::as_str).eq([domain_field]) {
                    problem.field = vec!["id".to_owned()];
                }
            }
            DomainError::Invalid(problems)
        }
        other => other,
    }
}

/// Input to `invoicePayByCard`.
#[derive(InputObject, Debug)]
pub struct InvoicePayByCardInput {
    /// Global id of the invoice.
    pub invoice_id: ID,
    /// The same key on a retry gives the same PaymentIntent, never a second charge.
    pub idempotency_key: String,
}

/// A card payment started at Stripe, for the portal to confirm with Stripe.js.
#[derive(SimpleObject, Debug)]
pub struct CardPayment {
    /// Stripe's PaymentIntent id (`pi_…`).
    pub payment_intent_ref: String,
    /// Hand to Stripe.js `confirmCardPayment`; null once no action is needed.
    pub client_secret: Option<String>,
    /// `REQUIRES_ACTION`, `SUCCEEDED`, `PENDING` or `FAILED`.
    pub status: String,
}

/// What `invoicePayByCard` did: the changed record, or `userErrors` saying why nothing changed.
#[derive(SimpleObject, Debug)]
pub struct InvoicePayByCardPayload {
    /// The card payment as the mutation left it; null when `userErrors` says why nothing changed.
    pub card_payment: Option<CardPayment>,
    /// Why nothing changed, each naming the input field and a code; empty when the mutation
    /// succeeded.
    pub user_errors: Vec<UserError>,
}

#[derive(Default, Debug)]
pub struct StripeMutation;

#[Object]
impl StripeMutation {
    /// Send an issued invoice to the payment provider (Stripe): its customer is created once,
    /// the invoice is finalised there and its hosted page and PDF are stored. Safe to repeat:
    /// a retry finds the same Stripe invoice. Finance and admins.
    async fn invoice_mirror(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: InvoiceMirrorInput,
    ) -> async_graphql::Result<InvoicePayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let id: InvoiceId = expect_input(&input.id, "id")?;
            let Some(provider) = provider(ctx) else {
                rc.actor.require(kernel::Permission::ManageBilling)?;
                return Err(DomainError::invalid(
                    "id",
                    ErrorCode::Invalid,
                    "no payment provider is configured (TRELLIS_STRIPE_SECRET_KEY)",
                ));
            };
            mirror::mirror_invoice(&rc.db, &rc.actor, rc.clock.as_ref(), provider.as_ref(), id)
                .await
                .map_err(|err| input_named_id(err, "invoiceId"))?;
            billing::ledger::invoices::invoice(&rc.db, &rc.actor, id).await
        }
        .await;
        let (invoice, user_errors) = payload(result)?;
        Ok(InvoicePayload {
            invoice: invoice.map(InvoiceNode::from),
            user_errors,
        })
    }

    /// Start paying an invoice's outstanding amount by card (a Stripe PaymentIntent); the
    /// portal confirms it with the returned client secret and the ledger records the money
    /// when Stripe's webhook says it arrived. The school's own leader, or finance.
    async fn invoice_pay_by_card(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: InvoicePayByCardInput,
    ) -> async_graphql::Result<InvoicePayByCardPayload> {
        use billing::provider::PaymentOutcome;
        let rc = ctx.trellis()?;
        let result = async {
            let id: InvoiceId = expect_input(&input.invoice_id, "invoiceId")?;
            let Some(provider) = provider(ctx) else {
                return Err(DomainError::invalid(
                    "invoiceId",
                    ErrorCode::Invalid,
                    "card payments need Stripe (TRELLIS_STRIPE_SECRET_KEY)",
                ));
            };
            mirror::start_card_payment(
                &rc.db,
                &rc.actor,
                rc.clock.as_ref(),
                provider.as_ref(),
                id,
                &input.idempotency_key,
            )
            .await
        }
        .await;
        let (started, user_errors) = payload(result)?;
        Ok(InvoicePayByCardPayload {
            card_payment: started.map(|p| {
                let (status, client_secret) = match p.outcome {
                    PaymentOutcome::RequiresAction { client_secret } => {
                        ("REQUIRES_ACTION", Some(client_secret))
                    }
                    PaymentOutcome::Succeeded => ("SUCCEEDED", None),
                    PaymentOutcome::Pending => ("PENDING", None),
                    PaymentOutcome::Failed { .. } => ("FAILED", None),
                };
                CardPayment {
                    payment_intent_ref: p.payment_ref,
                    client_secret,
                    status: status.to_owned(),
                }
            }),
            user_errors,
        })
    }
}

/// The invoice's mirror, through the request's loader.
pub async fn mirror_of(
    ctx: &Context<'_>,
    id: InvoiceId,
) -> async_graphql::Result<Option<MirroredInvoice>> {
    ctx.trellis()?.loaders.invoice_mirrors().load_one(id).await
}

#[derive(Debug)]
pub struct ReconciliationDifferenceNode(pub reconciliation::Difference);

/// A difference the reconciliation found between Trellis and Stripe.
#[Object(name = "ReconciliationDifference")]
impl ReconciliationDifferenceNode {
    /// Global id: opaque and stable.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Invoices: `MISSING_AT_PROVIDER`, `MISSING_IN_TRELLIS`, `AMOUNT_MISMATCH`,
    /// `STATUS_MISMATCH`, `OUTSTANDING_MISMATCH`. Payments: `PAYMENT_MISSING_AT_PROVIDER`,
    /// `PAYMENT_MISSING_IN_TRELLIS`, `PAYMENT_AMOUNT_MISMATCH`, `PAYMENT_STATUS_MISMATCH`,
    /// `REFUND_MISMATCH`. Payouts: `PAYOUT_MISMATCH`.
    async fn kind(&self) -> String {
        self.0.kind.to_string()
    }

    /// The Trellis invoice concerned, when there is one.
    async fn invoice(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<InvoiceNode>> {
        let Some(id) = self.0.invoice_id else {
            return Ok(None);
        };
        Ok(ctx
            .trellis()?
            .loaders
            .invoices()
            .load_one(id)
            .await?
            .map(InvoiceNode::from))
    }

    /// Stripe's invoice id (`in_…`).
    async fn provider_invoice_ref(&self) -> Option<&str> {
        self.0.provider_invoice_ref.as_deref()
    }

    /// Stripe's payment-side object: the PaymentIntent or charge (`pi_…`, `ch_…`) of a
    /// payment or refund difference, the payout (`po_…`) of a payout difference.
    async fn provider_ref(&self) -> Option<&str> {
        self.0.provider_ref.as_deref()
    }

    /// The Trellis receipt concerned, when there is one.
    async fn payment(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<PaymentNode>> {
        let Some(id) = self.0.payment_id else {
            return Ok(None);
        };
        Ok(ctx
            .trellis()?
            .loaders
            .payments()
            .load_one(id)
            .await?
            .map(PaymentNode))
    }

    /// What Trellis says (an amount or a status).
    async fn trellis_value(&self) -> Option<&str> {
        self.0.trellis_value.as_deref()
    }

    /// What Stripe says.
    async fn provider_value(&self) -> Option<&str> {
        self.0.provider_value.as_deref()
    }

    /// What differs, in a sentence.
    async fn detail(&self) -> &str {
        &self.0.detail
    }

    /// When a reconciliation found it.
    async fn found_at(&self) -> chrono::DateTime<chrono::Utc> {
        self.0.found_at
    }

    /// When finance marked it resolved; null while open.
    async fn resolved_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.0.resolved_at
    }

    /// Finance's note on how it was resolved.
    async fn resolution_note(&self) -> Option<&str> {
        self.0.resolution_note.as_deref()
    }
}

#[derive(Debug)]
pub struct ReconciliationRunNode(pub reconciliation::ReconciliationRun);

/// One reconciliation run.
#[Object(name = "ReconciliationRun")]
impl ReconciliationRunNode {
    /// Global id: opaque and stable.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// When it started.
    async fn started_at(&self) -> chrono::DateTime<chrono::Utc> {
        self.0.started_at
    }

    /// When it finished; null while running.
    async fn finished_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.0.finished_at
    }

    /// How many invoices were compared with Stripe.
    async fn invoices_compared(&self) -> i32 {
        crate::graphql::int::saturating(self.0.invoices_compared)
    }

    /// Receipts Stripe took in the period, compared with Stripe's charges and refunds.
    async fn payments_compared(&self) -> i32 {
        crate::graphql::int::saturating(self.0.payments_compared)
    }

    /// How many Stripe payouts were compared with the receipts.
    async fn payouts_compared(&self) -> i32 {
        crate::graphql::int::saturating(self.0.payouts_compared)
    }

    /// Differences this run found that were not already open.
    async fn differences_found(&self) -> i32 {
        crate::graphql::int::saturating(self.0.differences_found)
    }
}

/// What `reconciliationRun` did: the changed record, or `userErrors` saying why nothing changed.
#[derive(SimpleObject, Debug)]
pub struct ReconciliationRunPayload {
    /// The reconciliation run as the mutation left it; null when `userErrors` says why nothing
    /// changed.
    pub reconciliation_run: Option<ReconciliationRunNode>,
    /// Why nothing changed, each naming the input field and a code; empty when the mutation
    /// succeeded.
    pub user_errors: Vec<UserError>,
}

/// What `reconciliationResolve` did: the changed record, or `userErrors` saying why nothing
/// changed.
#[derive(SimpleObject, Debug)]
pub struct ReconciliationResolvePayload {
    /// The difference as the mutation left it; null when `userErrors` says why nothing changed.
    pub difference: Option<ReconciliationDifferenceNode>,
    /// Why nothing changed, each naming the input field and a code; empty when the mutation
    /// succeeded.
    pub user_errors: Vec<UserError>,
}

/// Input to `reconciliationResolve`.
#[derive(InputObject, Debug)]
pub struct ReconciliationResolveInput {
    /// Global id of the reconciliation difference.
    pub id: ID,
    /// How finance resolved it (required).
    pub note: String,
}

#[derive(Default, Debug)]
pub struct ReconciliationMutation;

#[Object]
impl ReconciliationMutation {
    /// Compare every invoice sent to Stripe, and the period's payments, refunds and payouts,
    /// with Stripe's own lists and record each new difference. Finance and admins.
    async fn reconciliation_run(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<ReconciliationRunPayload> {
        let rc = ctx.trellis()?;
        let offline: Arc<dyn PaymentProvider> = Arc::new(billing::provider::OfflineProvider);
        let provider = provider(ctx).unwrap_or(offline);
        let result =
            reconciliation::run(&rc.db, &rc.actor, rc.clock.as_ref(), provider.as_ref()).await;
        let (run, user_errors) = payload(result)?;
        Ok(ReconciliationRunPayload {
            reconciliation_run: run.map(ReconciliationRunNode),
            user_errors,
        })
    }

    /// Mark a difference resolved, with a note. Finance and admins.
    async fn reconciliation_resolve(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: ReconciliationResolveInput,
    ) -> async_graphql::Result<ReconciliationResolvePayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let id = uuid::Uuid::parse_str(input.id.as_str()).map_err(|_| {
                DomainError::invalid("id", ErrorCode::Invalid, "not a difference id")
            })?;
            reconciliation::resolve(&rc.db, &rc.actor, rc.clock.as_ref(), id, &input.note).await
        }
        .await;
        let (difference, user_errors) = payload(result)?;
        Ok(ReconciliationResolvePayload {
            difference: difference.map(ReconciliationDifferenceNode),
            user_errors,
        })
    }
}

#[derive(Debug)]
pub struct StripePayoutNode(pub reconciliation::Payout);

/// A Stripe payout to the bank, with what it paid out.
#[Object(name = "StripePayout")]
impl StripePayoutNode {
    /// Stripe's payout id (`po_…`), as on the bank statement's reference.
    async fn payout_ref(&self) -> &str {
        &self.0.payout_ref
    }

    /// What reached the bank.
    async fn amount(&self) -> MoneyValue {
        self.0.amount.into()
    }

    /// The day the payout reaches the bank.
    async fn arrival_on(&self) -> Date {
        self.0.arrival_on.into()
    }

    /// `paid`, `pending`, `in_transit`, `failed` or `canceled`, as Stripe says.
    async fn status(&self) -> &str {
        &self.0.status
    }

    /// Its balance transactions: the receipts and refunds it contains, with Stripe's fees.
    async fn lines(&self) -> Vec<StripePayoutLineNode> {
        self.0
            .lines
            .iter()
            .cloned()
            .map(StripePayoutLineNode)
            .collect()
    }
}

#[derive(Debug)]
pub struct StripePayoutLineNode(pub reconciliation::PayoutEntry);

/// One balance transaction of a payout.
#[Object(name = "StripePayoutLine")]
impl StripePayoutLineNode {
    /// Stripe's balance transaction id (`txn_…`).
    async fn transaction_ref(&self) -> &str {
        &self.0.transaction_ref
    }

    /// `charge`, `refund`, … as Stripe names it.
    async fn kind(&self) -> &str {
        &self.0.kind
    }

    /// The charge or refund behind it (`ch_…`, `re_…`).
    async fn source_ref(&self) -> Option<&str> {
        self.0.source_ref.as_deref()
    }

    /// What the school paid.
    async fn amount(&self) -> MoneyValue {
        self.0.amount.into()
    }

    /// Stripe's fee.
    async fn fee(&self) -> MoneyValue {
        self.0.fee.into()
    }

    /// What reached the bank, after Stripe's fee.
    async fn net(&self) -> MoneyValue {
        self.0.net.into()
    }

    /// The Trellis receipt it paid out (or, for a refund, refunded); null when Trellis has none.
    async fn payment(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<PaymentNode>> {
        let Some(id) = self.0.payment_id else {
            return Ok(None);
        };
        Ok(ctx
            .trellis()?
            .loaders
            .payments()
            .load_one(id)
            .await?
            .map(PaymentNode))
    }
}

/// What became of a Stripe event Trellis stored.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum StripeEventOutcome {
    /// Its effect is in the ledger.
    Applied,
    /// Nothing in Trellis follows from it (an unused type, someone else's object). Resending
    /// it from Stripe looks again.
    Ignored,
    /// Refused, nothing of it applied; `detail` says why: the ledger refused its effect, a
    /// field it needs is missing or malformed, or its amount is not in the partnership's
    /// currency. Resending it from Stripe retries.
    Failed,
    /// A refund of a payment Trellis has not recorded yet: applied when the payment's event
    /// arrives, or when Stripe resends it.
    Pending,
}

impl StripeEventOutcome {
    fn stored(self) -> &'static str {
        match self {
            Self::Applied => "APPLIED",
            Self::Ignored => "IGNORED",
            Self::Failed => "FAILED",
            Self::Pending => "PENDING",
        }
    }
}

/// A Stripe webhook event as Trellis stored it.
#[derive(SimpleObject, Debug)]
pub struct StripeEvent {
    /// Stripe's event id (`evt_…`).
    pub id: String,
    /// e.g. `invoice.paid`.
    pub event_type: String,
    /// The Stripe object it is about (`in_…`, `pi_…`, `ch_…`).
    pub object_id: Option<String>,
    /// What the ledger did with it: applied, ignored, failed, or pending (a refund awaiting its
    /// payment's event).
    pub outcome: StripeEventOutcome,
    /// What was done, or why the ledger refused it.
    pub detail: Option<String>,
    /// When Trellis received it.
    pub received_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Default, Debug)]
pub struct ReconciliationQuery;

#[Object]
impl ReconciliationQuery {
    /// What the reconciliation found, newest first: by default only what is still to be
    /// resolved. At most 500. Finance and admins.
    async fn reconciliation_differences(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            default = true,
            desc = "Only differences still to be resolved (the default)."
        )]
        unresolved_only: bool,
        #[graphql(default = 100, desc = "At most this many, newest first: 1–500.")] first: i32,
    ) -> async_graphql::Result<Vec<ReconciliationDifferenceNode>> {
        let first = crate::graphql::int::argument(first, "first")?;
        let rc = ctx.trellis()?;
        let found = reconciliation::differences(&rc.db, &rc.actor, unresolved_only, first)
            .await
            .map_err(crate::graphql::errors::to_graphql)?;
        Ok(found
            .into_iter()
            .map(ReconciliationDifferenceNode)
            .collect())
    }

    /// Stripe's payouts to the bank as the last reconciliation saw them, latest arrival first,
    /// each with the receipts it contains. At most 100. Finance and admins.
    async fn stripe_payouts(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20, desc = "At most this many, latest arrival first: 1–100.")]
        first: i32,
    ) -> async_graphql::Result<Vec<StripePayoutNode>> {
        let first = crate::graphql::int::argument(first, "first")?;
        let rc = ctx.trellis()?;
        let found = reconciliation::payouts(&rc.db, &rc.actor, first)
            .await
            .map_err(crate::graphql::errors::to_graphql)?;
        Ok(found.into_iter().map(StripePayoutNode).collect())
    }

    /// Stripe events by outcome, newest first (by default the FAILED ones: what the ledger
    /// refused, for finance to put right). At most 500. Finance and admins.
    async fn stripe_events(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            default_with = "StripeEventOutcome::Failed",
            desc = "Which events: by default the FAILED ones, for finance to put right."
        )]
        outcome: StripeEventOutcome,
        #[graphql(default = 100, desc = "At most this many, newest first: 1–500.")] first: i32,
    ) -> async_graphql::Result<Vec<StripeEvent>> {
        let first = crate::graphql::int::argument(first, "first")?;
        let rc = ctx.trellis()?;
        let found =
            billing::stripe_events::events_with_outcome(&rc.db, &rc.actor, outcome.stored(), first)
                .await
                .map_err(crate::graphql::errors::to_graphql)?;
        Ok(found
            .into_iter()
            .map(|e| StripeEvent {
                id: e.id,
                event_type: e.event_type,
                object_id: e.object_id,
                outcome,
                detail: e.detail,
                received_at: e.received_at,
            })
            .collect())
    }
}
