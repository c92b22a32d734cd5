//! Moving money. Finance and admins record, allocate, credit and refund; a school's leader
//! may add its purchase-order number to its own open invoice. Every mutation that moves money
//! takes an `idempotencyKey`: a repeat with the same key and input returns the first result
//! and changes nothing; the same key with a different input is a CONFLICT user error.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use billing::ledger::{
    self, AccountChanges, Address, Allocation, BillingAccount, CreditAmount, CreditNote, Invoice,
    ManualLine, NewBillingAccount, NewCreditNote, NewManualInvoice, NewPayment, NewRefund, Payment,
    Refund, accounts, invoices, payments,
};
use billing::run::{self, InvoicingRun};
use kernel::{AcademicYear, BillingAccountId, DomainError, InvoiceId, Money, PaymentId, SchoolId};

use super::enums::{BillingAccountKind, PaymentMethod, ReceiptMethod};
use super::fees::VatTreatment;
use super::types::{
    AccountNode, AllocationNode, CreditNoteNode, InvoicePayload, InvoicingRunNode, PaymentNode,
    RefundNode, today,
};
use crate::events::{self, Event};
use crate::graphql::context::ContextExt;
use crate::graphql::errors::{UserError, payload};
use crate::graphql::int;
use crate::graphql::relay::expect_input;
use crate::graphql::scalars::{AcademicYearScalar, Date};

/// A postal address for invoices.
#[derive(InputObject, Debug, Clone)]
pub struct AddressInput {
    /// Street lines and town: one to six lines of at most 100 characters each.
    pub lines: Vec<String>,
    /// A UK postcode in any case and spacing; stored as e.g. `N10 2HN`.
    pub postcode: String,
}

impl From<AddressInput> for Address {
    fn from(a: AddressInput) -> Self {
        Self {
            lines: a.lines,
            postcode: a.postcode,
        }
    }
}

/// Input to `billingAccountCreate`.
#[derive(InputObject, Debug)]
pub struct BillingAccountCreateInput {
    /// SCHOOL for a school paying for itself (then exactly one school id), TRUST for a group.
    pub kind: BillingAccountKind,
    /// The payer's name, as invoices address it: at most 200 characters.
    pub name: String,
    /// Who its invoices are addressed to: at most 200 characters.
    pub contact_name: String,
    /// Where invoices, receipts and reminders are emailed: an email address, at most 254
    /// characters.
    pub contact_email: String,
    /// The postal address printed on its invoices.
    pub address: AddressInput,
    /// How it usually pays.
    pub default_payment_method: PaymentMethod,
    /// The schools it pays for; each school is billed through exactly one account.
    pub school_ids: Vec<ID>,
}

/// Input to `billingAccountUpdate`. Fields left out are unchanged.
#[derive(InputObject, Debug)]
pub struct BillingAccountUpdateInput {
    /// The account to change: a `BillingAccount` id.
    pub id: ID,
    /// A new name: at most 200 characters.
    pub name: Option<String>,
    /// A new contact: at most 200 characters.
    pub contact_name: Option<String>,
    /// A new contact email address: at most 254 characters.
    pub contact_email: Option<String>,
    /// A new postal address, replacing the whole address.
    pub address: Option<AddressInput>,
    /// A new usual way of paying.
    pub default_payment_method: Option<PaymentMethod>,
}

/// Input to `billingAccountAttachSchool`.
#[derive(InputObject, Debug)]
pub struct BillingAccountAttachSchoolInput {
    /// The paying account: a `BillingAccount` id. A SCHOOL account that already pays for a school
    /// refuses another (CONFLICT).
    pub account_id: ID,
    /// The school to bill through it: a `School` id, not yet billed through any account (TAKEN
    /// otherwise).
    pub school_id: ID,
}

/// Result of `billingAccountCreate`, `billingAccountUpdate` or `billingAccountAttachSchool`.
#[derive(SimpleObject, Debug)]
pub struct BillingAccountPayload {
    /// The account as it now stands; null when refused.
    pub billing_account: Option<AccountNode>,
    /// Why nothing changed: REQUIRED or TOO_LONG text, INVALID email, postcode or id, OUT_OF_RANGE
    /// address lines, NOT_FOUND or TAKEN schools, CONFLICT for a second school on a SCHOOL
    /// account.
    pub user_errors: Vec<UserError>,
}

impl BillingAccountPayload {
    fn from(result: Result<BillingAccount, DomainError>) -> async_graphql::Result<Self> {
        let (account, user_errors) = payload(result)?;
        Ok(Self {
            billing_account: account.map(AccountNode),
            user_errors,
        })
    }
}

/// Input to `invoicingRunStart`.
#[derive(InputObject, Debug)]
pub struct InvoicingRunStartInput {
    /// The year whose memberships to invoice, e.g. `2026/27`.
    pub academic_year: AcademicYearScalar,
}

/// Result of `invoicingRunStart`.
#[derive(SimpleObject, Debug)]
pub struct InvoicingRunPayload {
    /// The run as it finished; null when refused.
    pub invoicing_run: Option<InvoicingRunNode>,
    /// Why nothing was invoiced, all on `academicYear`: CONFLICT (already invoiced, a run under
    /// way, a membership without a fee schedule or paying account) or NOT_FOUND (no active
    /// memberships).
    pub user_errors: Vec<UserError>,
}

impl InvoicingRunPayload {
    pub(super) fn from(result: Result<InvoicingRun, DomainError>) -> async_graphql::Result<Self> {
        let (run, user_errors) = payload(result)?;
        Ok(Self {
            invoicing_run: run.map(InvoicingRunNode),
            user_errors,
        })
    }
}

/// One line of a manual invoice.
#[derive(InputObject, Debug)]
pub struct InvoiceLineInput {
    /// What the line bills, as printed: at most 500 characters.
    pub description: String,
    /// At least 1.
    #[graphql(default = 1)]
    pub quantity: i32,
    /// Net of VAT, per unit, in pence: 0 or more, and a line no more than the ledger's limit.
    pub unit_amount_pence: i32,
    /// EXEMPT (the default) or STANDARD; STANDARD needs `vatRateBp` from 1 to 10000.
    #[graphql(default_with = "VatTreatment::Exempt")]
    pub vat_treatment: VatTreatment,
    /// VAT rate in basis points (2000 = 20%); 0 when exempt.
    #[graphql(default)]
    pub vat_rate_bp: i32,
    /// The CFR code the school codes the cost to (e.g. E27).
    pub cfr_code: Option<String>,
    /// The school the line is for: one the account pays for.
    pub school_id: Option<ID>,
}

/// Input to `invoiceCreate`.
#[derive(InputObject, Debug)]
pub struct InvoiceCreateInput {
    /// The account to bill: a `BillingAccount` id.
    pub account_id: ID,
    /// The year it belongs to and is numbered in; defaults to the current academic year.
    pub academic_year: Option<AcademicYearScalar>,
    /// Today or later.
    pub due_on: Date,
    /// The school's purchase-order number, printed on the invoice: at most 50 characters.
    pub po_number: Option<String>,
    /// 1 or more lines; the total must be more than zero.
    pub lines: Vec<InvoiceLineInput>,
    /// Send the same key when retrying: the invoice is issued once. Keys are the caller's
    /// own.
    pub idempotency_key: Option<String>,
}

impl InvoiceCreateInput {
    fn into_domain(self, today: chrono::NaiveDate) -> Result<NewManualInvoice, DomainError> {
        let account_id: BillingAccountId = expect_input(&self.account_id, "accountId")?;
        let lines = self
            .lines
            .into_iter()
            .enumerate()
            .map(|(i, l)| {
                let field = |name: &str| format!("lines.{i}.{name}");
                Ok(ManualLine {
                    description: l.description,
                    quantity: int::unsigned(l.quantity, &field("quantity"))
                        .map_err(|e| DomainError::Invalid(vec![e]))?,
                    unit_amount: Money::from_pence(i64::from(l.unit_amount_pence)),
                    vat_treatment: l.vat_treatment.into(),
                    vat_rate_bp: int::unsigned(l.vat_rate_bp, &field("vatRateBp"))
                        .map_err(|e| DomainError::Invalid(vec![e]))?,
                    cfr_code: l.cfr_code,
                    school_id: l
                        .school_id
                        .as_ref()
                        .map(|id| expect_input(id, &field("schoolId")))
                        .transpose()?,
                })
            })
            .collect::<Result<Vec<_>, DomainError>>()?;
        Ok(NewManualInvoice {
            account_id,
            year: self
                .academic_year
                .map_or_else(|| AcademicYear::containing(today), |y| y.0),
            due_on: self.due_on.0,
            po_number: self.po_number,
            lines,
            idempotency_key: self.idempotency_key,
        })
    }
}

/// Input to `invoiceSetPurchaseOrder`.
#[derive(InputObject, Debug)]
pub struct InvoiceSetPurchaseOrderInput {
    /// The invoice: an `Invoice` id, OPEN or PARTIALLY_PAID (CONFLICT otherwise).
    pub id: ID,
    /// The purchase-order number, replacing any earlier one: at most 50 characters.
    pub po_number: String,
}

/// Input to `invoiceVoid`.
#[derive(InputObject, Debug)]
pub struct InvoiceVoidInput {
    /// The invoice to cancel: nothing may have been paid or credited against it (CONFLICT
    /// otherwise).
    pub id: ID,
    /// Why it is cancelled, kept as its `statusReason`: at most 500 characters.
    pub reason: String,
}

/// Input to `invoiceMarkUncollectible`.
#[derive(InputObject, Debug)]
pub struct InvoiceMarkUncollectibleInput {
    /// The invoice to write off: OPEN or PARTIALLY_PAID (CONFLICT otherwise).
    pub id: ID,
    /// Why it is written off, kept as its `statusReason`: at most 500 characters.
    pub reason: String,
}

/// Tells subscribers on every replica that a changed invoice changed (after its commit).
async fn publish_invoice(ctx: &Context<'_>, result: &Result<Invoice, DomainError>) {
    if let Ok(invoice) = result {
        events::publish(
            ctx,
            [Event::InvoiceUpdated {
                invoice: invoice.id,
                account: invoice.account_id,
            }],
        )
        .await;
    }
}

/// Input to `creditNoteCreate`.
#[derive(InputObject, Debug)]
pub struct CreditNoteCreateInput {
    /// The invoice to credit: OPEN, PARTIALLY_PAID, PAID or UNCOLLECTIBLE (CONFLICT otherwise).
    pub invoice_id: ID,
    /// Why, printed on the credit note: at most 500 characters.
    pub reason: String,
    /// How much to credit, in pence, VAT included: 1 to 1,000,000,000 (1p to £10,000,000),
    /// and no more than is left to credit; leave out to credit the whole invoice.
    pub amount_pence: Option<i32>,
    /// Send the same key when retrying: the note is raised once. Keys are the caller's
    /// own: another caller's same key is a request of its own.
    pub idempotency_key: Option<String>,
}

/// Result of `creditNoteCreate`.
#[derive(SimpleObject, Debug)]
pub struct CreditNotePayload {
    /// The credit note raised (the first one when the idempotency key repeats); null when refused.
    pub credit_note: Option<CreditNoteNode>,
    /// Why nothing was credited: CONFLICT (a void or fully credited invoice, or a key reused with
    /// another input), OUT_OF_RANGE (more than is left to credit), REQUIRED or TOO_LONG reason.
    pub user_errors: Vec<UserError>,
}

/// Input to `paymentRecord`.
#[derive(InputObject, Debug)]
pub struct PaymentRecordInput {
    /// The paying account: a `BillingAccount` id.
    pub account_id: ID,
    /// How the money arrived.
    pub method: ReceiptMethod,
    /// The bank reference the payer gave.
    pub reference: String,
    /// 2000-01-01 to 2099-12-31, and not in the future.
    pub received_on: Date,
    /// In pence: 1 to 1,000,000,000 (1p to £10,000,000).
    pub amount_pence: i32,
    /// Repeats with this key, by the same caller, return the first payment; another
    /// caller's same key is a request of its own.
    pub idempotency_key: Option<String>,
}

/// Result of `paymentRecord`.
#[derive(SimpleObject, Debug)]
pub struct PaymentPayload {
    /// The receipt recorded (the first one when the idempotency key repeats); null when refused.
    pub payment: Option<PaymentNode>,
    /// Why nothing was recorded: OUT_OF_RANGE (amount, or a date in the future), REQUIRED or
    /// TOO_LONG reference, NOT_FOUND account, CONFLICT (a key reused with another input).
    pub user_errors: Vec<UserError>,
}

/// One part of `paymentAllocate`: how much of the receipt goes to one invoice.
#[derive(InputObject, Debug)]
pub struct AllocationInput {
    /// An OPEN, PARTIALLY_PAID or UNCOLLECTIBLE invoice of the receipt's account, at most once per
    /// call.
    pub invoice_id: ID,
    /// In pence: 1 to 1,000,000,000 (1p to £10,000,000), and no more than the invoice owes.
    pub amount_pence: i32,
}

/// Input to `paymentAllocate`.
#[derive(InputObject, Debug)]
pub struct PaymentAllocateInput {
    /// The receipt to allocate from: a `Payment` id.
    pub payment_id: ID,
    /// One receipt often pays several invoices.
    pub allocations: Vec<AllocationInput>,
    /// Repeats with this key, by the same caller, return the first allocation.
    pub idempotency_key: Option<String>,
}

/// Result of `paymentAllocate`.
#[derive(SimpleObject, Debug)]
pub struct PaymentAllocatePayload {
    /// The receipt after allocation.
    pub payment: Option<PaymentNode>,
    /// The allocations made, one per invoice; empty when refused.
    pub allocations: Vec<AllocationNode>,
    /// Why nothing was allocated: NOT_FOUND (the payment, or an invoice not on the payer's
    /// account), CONFLICT (an invoice that takes no payment, or a key reused), OUT_OF_RANGE (more
    /// than an invoice owes or the receipt has left), INVALID (an invoice twice).
    pub user_errors: Vec<UserError>,
}

/// Input to `refundCreate`.
#[derive(InputObject, Debug)]
pub struct RefundCreateInput {
    /// The receipt to refund from: a `Payment` id.
    pub payment_id: ID,
    /// In pence: 1 to 1,000,000,000 (1p to £10,000,000), and no more than the receipt has
    /// unallocated.
    pub amount_pence: i32,
    /// Why the money goes back: at most 500 characters.
    pub reason: String,
    /// Defaults to today; 2000-01-01 to 2099-12-31, not in the future.
    pub refunded_on: Option<Date>,
    /// Repeats with this key, by the same caller, return the first refund.
    pub idempotency_key: Option<String>,
}

/// Result of `refundCreate`.
#[derive(SimpleObject, Debug)]
pub struct RefundPayload {
    /// The refund recorded (the first one when the idempotency key repeats); null when refused.
    pub refund: Option<RefundNode>,
    /// Why nothing was refunded: OUT_OF_RANGE (more than the receipt has unallocated, or a date in
    /// the future or before the receipt), NOT_FOUND payment, REQUIRED or TOO_LONG reason, CONFLICT
    /// (a key reused).
    pub user_errors: Vec<UserError>,
}

#[derive(Default, Debug)]
pub struct LedgerMutation;

#[Object]
impl LedgerMutation {
    /// Open a billing account for a school or a trust. Finance and admins.
    async fn billing_account_create(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The account to open.")] input: BillingAccountCreateInput,
    ) -> async_graphql::Result<BillingAccountPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let school_ids = input
                .school_ids
                .iter()
                .enumerate()
                .map(|(i, id)| expect_input::<SchoolId>(id, &format!("schoolIds.{i}")))
                .collect::<Result<Vec<_>, _>>()?;
            let new = NewBillingAccount {
                kind: input.kind.into(),
                name: input.name,
                contact_name: input.contact_name,
                contact_email: input.contact_email,
                address: input.address.into(),
                default_method: input.default_payment_method.into(),
                school_ids,
            };
            accounts::create(&rc.db, &rc.actor, rc.clock.as_ref(), new).await
        }
        .await;
        BillingAccountPayload::from(result)
    }

    /// Change an account's contact, address or payment method. Finance and admins.
    async fn billing_account_update(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The account and the fields to change.")] input: BillingAccountUpdateInput,
    ) -> async_graphql::Result<BillingAccountPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let id: BillingAccountId = expect_input(&input.id, "id")?;
            let changes = AccountChanges {
                name: input.name,
                contact_name: input.contact_name,
                contact_email: input.contact_email,
                address: input.address.map(Into::into),
                default_method: input.default_payment_method.map(Into::into),
                provider_customer_ref: None,
            };
            accounts::update(&rc.db, &rc.actor, rc.clock.as_ref(), id, changes).await
        }
        .await;
        BillingAccountPayload::from(result)
    }

    /// Bill a school through this account (e.g. a school joining a trust). Finance and admins.
    async fn billing_account_attach_school(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The account and the school.")] input: BillingAccountAttachSchoolInput,
    ) -> async_graphql::Result<BillingAccountPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let account: BillingAccountId = expect_input(&input.account_id, "accountId")?;
            let school: SchoolId = expect_input(&input.school_id, "schoolId")?;
            accounts::attach_school(&rc.db, &rc.actor, rc.clock.as_ref(), account, school).await
        }
        .await;
        BillingAccountPayload::from(result)
    }

    /// Invoice every active membership of the year (or finish an interrupted run). A year
    /// already invoiced, or one with a membership without a fee schedule or a paying account,
    /// is refused with nothing written. A school without a roll for its schedule's census is
    /// left out and named in the run's notes; `invoicingSupplementRun` invoices it once the
    /// roll is recorded. Finance and admins.
    async fn invoicing_run_start(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The year to invoice.")] input: InvoicingRunStartInput,
    ) -> async_graphql::Result<InvoicingRunPayload> {
        let rc = ctx.trellis()?;
        let result = run::start(&rc.db, &rc.actor, rc.clock.as_ref(), input.academic_year.0).await;
        if result.is_ok() {
            super::stripe::follow(ctx, rc, super::stripe::Change::Year(input.academic_year.0))
                .await;
        }
        InvoicingRunPayload::from(result)
    }

    /// Raise an invoice by hand, with lines of finance's own: a school that joined after the
    /// year's run, a one-off charge. Numbered in the same series as every invoice, and sent
    /// to the account's contact like any other (mirrored to Stripe when configured). Finance
    /// and admins.
    async fn invoice_create(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The account, due date and lines.")] input: InvoiceCreateInput,
    ) -> async_graphql::Result<InvoicePayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let new = input.into_domain(rc.clock.today())?;
            ledger::issue_manual(&rc.db, &rc.actor, rc.clock.as_ref(), new).await
        }
        .await;
        publish_invoice(ctx, &result).await;
        if let Ok(invoice) = &result {
            super::stripe::follow(ctx, rc, super::stripe::Change::Issued(invoice.id)).await;
        }
        InvoicePayload::from(result)
    }

    /// Put the school's purchase-order number on an unsettled invoice. The school's leader,
    /// or finance.
    async fn invoice_set_purchase_order(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The invoice and its purchase-order number.")]
        input: InvoiceSetPurchaseOrderInput,
    ) -> async_graphql::Result<InvoicePayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let id: InvoiceId = expect_input(&input.id, "id")?;
            invoices::set_purchase_order(&rc.db, &rc.actor, rc.clock.as_ref(), id, &input.po_number)
                .await
        }
        .await;
        InvoicePayload::from(result)
    }

    /// Cancel an invoice nothing has been paid or credited against. Finance and admins.
    async fn invoice_void(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The invoice and why it is cancelled.")] input: InvoiceVoidInput,
    ) -> async_graphql::Result<InvoicePayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let id: InvoiceId = expect_input(&input.id, "id")?;
            invoices::void(&rc.db, &rc.actor, rc.clock.as_ref(), id, &input.reason).await
        }
        .await;
        publish_invoice(ctx, &result).await;
        if let Ok(invoice) = &result {
            super::stripe::follow(ctx, rc, super::stripe::Change::Void(invoice.id)).await;
        }
        InvoicePayload::from(result)
    }

    /// Write off what is left of an invoice. Finance and admins.
    async fn invoice_mark_uncollectible(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The invoice and why it is written off.")]
        input: InvoiceMarkUncollectibleInput,
    ) -> async_graphql::Result<InvoicePayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let id: InvoiceId = expect_input(&input.id, "id")?;
            invoices::mark_uncollectible(&rc.db, &rc.actor, rc.clock.as_ref(), id, &input.reason)
                .await
        }
        .await;
        publish_invoice(ctx, &result).await;
        InvoicePayload::from(result)
    }

    /// Credit all or part of an issued invoice (issued invoices are never edited). What was
    /// already paid becomes account credit. Finance and admins.
    async fn credit_note_create(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The invoice, how much to credit and why.")] input: CreditNoteCreateInput,
    ) -> async_graphql::Result<CreditNotePayload> {
        let rc = ctx.trellis()?;
        let result: Result<CreditNote, DomainError> = async {
            let invoice_id: InvoiceId = expect_input(&input.invoice_id, "invoiceId")?;
            let amount = input.amount_pence.map_or(CreditAmount::Full, |p| {
                CreditAmount::Amount(Money::from_pence(i64::from(p)))
            });
            let new = NewCreditNote {
                invoice_id,
                reason: input.reason,
                amount,
                idempotency_key: input.idempotency_key,
            };
            ledger::credit_notes::credit(&rc.db, &rc.actor, rc.clock.as_ref(), new).await
        }
        .await;
        if let Ok(note) = &result {
            events::publish(
                ctx,
                [Event::InvoiceUpdated {
                    invoice: note.invoice_id,
                    account: note.account_id,
                }],
            )
            .await;
            super::stripe::follow(ctx, rc, super::stripe::Change::CreditNote(note.id)).await;
        }
        let (note, user_errors) = payload(result)?;
        Ok(CreditNotePayload {
            credit_note: note.map(CreditNoteNode),
            user_errors,
        })
    }

    /// Record money received (e.g. a BACS receipt). Finance and admins.
    async fn payment_record(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The receipt to record.")] input: PaymentRecordInput,
    ) -> async_graphql::Result<PaymentPayload> {
        let rc = ctx.trellis()?;
        let result: Result<Payment, DomainError> = async {
            let account_id: BillingAccountId = expect_input(&input.account_id, "accountId")?;
            let new = NewPayment {
                account_id,
                method: input.method.into(),
                reference: input.reference,
                received_on: input.received_on.0,
                amount: Money::from_pence(i64::from(input.amount_pence)),
                provider_payment_ref: None,
                idempotency_key: input.idempotency_key,
            };
            payments::record_payment(&rc.db, &rc.actor, rc.clock.as_ref(), new).await
        }
        .await;
        let (payment, user_errors) = payload(result)?;
        Ok(PaymentPayload {
            payment: payment.map(PaymentNode),
            user_errors,
        })
    }

    /// Apply a receipt to one or several invoices; never more than the receipt has left or an
    /// invoice owes. What stays unallocated is the account's credit. A card booking awaiting
    /// payment whose one-off invoice this pays in full is confirmed at once. Finance and
    /// admins.
    async fn payment_allocate(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The receipt and the invoices its money goes to.")]
        input: PaymentAllocateInput,
    ) -> async_graphql::Result<PaymentAllocatePayload> {
        let rc = ctx.trellis()?;
        let result: Result<(PaymentId, Vec<Allocation>), DomainError> = async {
            let payment_id: PaymentId = expect_input(&input.payment_id, "paymentId")?;
            let split = input
                .allocations
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    let invoice = expect_input::<InvoiceId>(
                        &a.invoice_id,
                        &format!("allocations.{i}.invoiceId"),
                    )?;
                    Ok((invoice, Money::from_pence(i64::from(a.amount_pence))))
                })
                .collect::<Result<Vec<_>, DomainError>>()?;
            let made = payments::allocate(
                &rc.db,
                &rc.actor,
                rc.clock.as_ref(),
                payment_id,
                &split,
                input.idempotency_key.as_deref(),
            )
            .await?;
            Ok((payment_id, made))
        }
        .await;
        let (made, user_errors) = payload(result)?;
        let Some((payment_id, allocations)) = made else {
            return Ok(PaymentAllocatePayload {
                payment: None,
                allocations: Vec::new(),
                user_errors,
            });
        };
        let payment = payments::payment(&rc.db, &rc.actor, payment_id)
            .await
            .map_err(crate::graphql::errors::to_graphql)?;
        let changed: std::collections::BTreeSet<InvoiceId> =
            allocations.iter().map(|a| a.invoice_id).collect();
        // A transfer that pays a card booking's one-off invoice confirms the booking now, not
        // at the next release sweep (which would otherwise find it paid and confirm it then).
        // Idempotent; a failure here is logged and that sweep still confirms it.
        let invoices: Vec<InvoiceId> = changed.iter().copied().collect();
        let confirmed =
            match traded::confirm_paid_bookings(&rc.db, rc.clock.as_ref(), &invoices).await {
                Ok(confirmed) => confirmed,
                Err(err) => {
                    tracing::warn!(error = %err.chain(), "paid bookings not confirmed yet");
                    Vec::new()
                }
            };
        events::publish(
            ctx,
            changed
                .into_iter()
                .map(|invoice| Event::InvoiceUpdated {
                    invoice,
                    account: payment.account_id,
                })
                .chain(
                    confirmed
                        .iter()
                        .map(crate::graphql::traded::booking::updated),
                ),
        )
        .await;
        Ok(PaymentAllocatePayload {
            payment: Some(PaymentNode(payment)),
            allocations: allocations.into_iter().map(AllocationNode).collect(),
            user_errors,
        })
    }

    /// Return unallocated money from a receipt. Finance and admins.
    async fn refund_create(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The receipt, how much to return and why.")] input: RefundCreateInput,
    ) -> async_graphql::Result<RefundPayload> {
        let rc = ctx.trellis()?;
        let refunded_on = match input.refunded_on {
            Some(d) => d.0,
            None => today(ctx)?,
        };
        let result: Result<Refund, DomainError> = async {
            let payment_id: PaymentId = expect_input(&input.payment_id, "paymentId")?;
            let new = NewRefund {
                payment_id,
                amount: Money::from_pence(i64::from(input.amount_pence)),
                reason: input.reason,
                refunded_on,
                provider_refund_ref: None,
                idempotency_key: input.idempotency_key,
            };
            ledger::refund(&rc.db, &rc.actor, rc.clock.as_ref(), new).await
        }
        .await;
        let (refund, user_errors) = payload(result)?;
        Ok(RefundPayload {
            refund: refund.map(RefundNode),
            user_errors,
        })
    }
}
