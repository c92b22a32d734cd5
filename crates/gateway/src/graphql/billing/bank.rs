//! Bank statements (`billing::ledger::bank`): finance uploads its bank's CSV export, sees
//! what each new money-in line is proposed to pay, and confirms, re-directs or dismisses it.
//! Finance and admins only; everyone else is FORBIDDEN.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject, Upload};
use billing::ledger::bank::{self, BankLine, Confirmation, LineFilter, Statement};
use chrono::{DateTime, Utc};
use kernel::{BankLineId, BankStatementId, BillingAccountId, DomainError, InvoiceId};

use super::types::{AccountNode, AllocationNode, InvoiceNode, PaymentNode};
use crate::graphql::context::ContextExt;
use crate::graphql::errors::{UserError, payload, to_graphql};
use crate::graphql::int::saturating;
use crate::graphql::relay::{
    GlobalId, NoEdgeFields, connection, expect_arg, expect_input, page_args,
};
use crate::graphql::scalars::{Date, MoneyValue};

/// Where a statement line stands.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "bank::LineStatus")]
pub enum BankStatementLineStatus {
    /// Trellis proposes what it pays; not a receipt until confirmed.
    Proposed,
    /// Nothing to propose: confirm it naming the account (and invoice).
    Unmatched,
    /// A receipt now (`payment`), paying what was confirmed.
    Confirmed,
    /// Not a receipt of the partnership's (interest, a transfer between its own accounts).
    Dismissed,
}

/// Why a line was proposed to pay an invoice.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "bank::MatchReason")]
pub enum BankMatchReason {
    /// The reference quotes the invoice's number.
    InvoiceNumber,
    /// Exactly what the invoice owes, from a payer named in the description.
    AmountAndPayer,
}

#[derive(Debug, Clone)]
pub struct BankStatementNode(pub Statement);

/// One uploaded bank statement.
#[Object(name = "BankStatement")]
impl BankStatementNode {
    /// Global id: opaque and stable; `node(id:)` finds it again.
    pub async fn id(&self) -> ID {
        self.0.id.to_global()
    }

    /// The name of the file as uploaded.
    async fn file_name(&self) -> &str {
        &self.0.file_name
    }

    /// When the statement was uploaded.
    async fn imported_at(&self) -> DateTime<Utc> {
        self.0.imported_at
    }

    /// Money-in lines it brought in.
    async fn lines_new(&self) -> i32 {
        saturating(self.0.lines_new)
    }

    /// Money-in lines an earlier statement had already brought in (not brought in again).
    async fn lines_known(&self) -> i32 {
        saturating(self.0.lines_known)
    }

    /// Money-out lines: not receipts, not kept.
    async fn lines_out(&self) -> i32 {
        saturating(self.0.lines_out)
    }

    /// The first day of money in it covers.
    async fn first_day(&self) -> Option<Date> {
        self.0.first_day.map(Date)
    }

    /// The last day of money in it covers.
    async fn last_day(&self) -> Option<Date> {
        self.0.last_day.map(Date)
    }
}

#[derive(Debug, Clone)]
pub struct BankLineNode(pub BankLine);

/// One money-in line of a bank statement.
#[Object(name = "BankStatementLine")]
impl BankLineNode {
    /// Global id: opaque and stable; `node(id:)` finds it again.
    pub async fn id(&self) -> ID {
        self.0.id.to_global()
    }

    /// The statement it came in with.
    async fn statement_id(&self) -> ID {
        self.0.statement_id.to_global()
    }

    /// Its line in that file (the header is line 1).
    async fn line(&self) -> i32 {
        saturating(self.0.line)
    }

    /// The day the bank took the money: the receipt's date.
    async fn posted_on(&self) -> Date {
        Date(self.0.posted_on)
    }

    /// What the bank says: the payer and their reference.
    async fn description(&self) -> &str {
        &self.0.description
    }

    /// The money in on this line.
    async fn amount(&self) -> MoneyValue {
        self.0.amount.into()
    }

    /// Where the line is; see `BankStatementLineStatus`.
    async fn status(&self) -> BankStatementLineStatus {
        self.0.status.into()
    }

    /// Why it was proposed; null when nothing was.
    async fn match_reason(&self) -> Option<BankMatchReason> {
        self.0.match_reason.map(Into::into)
    }

    /// The account the money is proposed to have come from.
    async fn proposed_account(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<AccountNode>> {
        let Some(id) = self.0.proposed_account else {
            return Ok(None);
        };
        Ok(ctx
            .trellis()?
            .loaders
            .accounts()
            .load_one(id)
            .await?
            .map(AccountNode))
    }

    /// The invoice it is proposed to pay; null when the reference names several of one
    /// account's (choose on confirming) or nothing was proposed.
    async fn proposed_invoice(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<InvoiceNode>> {
        let Some(id) = self.0.proposed_invoice else {
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

    /// The receipt it became, once confirmed.
    async fn payment(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<PaymentNode>> {
        let Some(id) = self.0.payment else {
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

    /// When it was confirmed or dismissed.
    async fn resolved_at(&self) -> Option<DateTime<Utc>> {
        self.0.resolved_at
    }
}

/// Narrows `bankStatementLines`.
#[derive(InputObject, Debug, Default)]
pub struct BankStatementLineFilter {
    /// Only lines in this state (e.g. PROPOSED: what is waiting for you).
    pub status: Option<BankStatementLineStatus>,
    /// Only the lines one statement brought in.
    pub statement_id: Option<ID>,
}

#[derive(Default, Debug)]
pub struct BankQuery;

#[Object]
impl BankQuery {
    /// Uploaded bank statements, oldest first. Finance and admins. `first`/`last` take 1–100.
    #[graphql(complexity = "crate::graphql::relay::page_cost(first, last, child_complexity)")]
    async fn bank_statements(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "At most this many items from the start of the list: 1–100, default 20.")]
        first: Option<i32>,
        #[graphql(desc = "Start after this cursor: the `pageInfo.endCursor` of the page before.")]
        after: Option<String>,
        #[graphql(
            desc = "At most this many items from the end of the list, 1–100; use instead of `first`."
        )]
        last: Option<i32>,
        #[graphql(desc = "End before this cursor: the `pageInfo.startCursor` of the page after.")]
        before: Option<String>,
    ) -> async_graphql::Result<Connection<String, BankStatementNode, NoEdgeFields, NoEdgeFields>>
    {
        let args = page_args(first, after.as_deref(), last, before.as_deref())?;
        let rc = ctx.trellis()?;
        let page = bank::statements(&rc.db, &rc.actor, &args)
            .await
            .map_err(to_graphql)?;
        Ok(connection(page, NoEdgeFields, |s| {
            (
                (s.imported_at, s.id.as_uuid()),
                BankStatementNode(s),
                NoEdgeFields,
            )
        }))
    }

    /// Money-in lines of bank statements, by day. Finance and admins. `first`/`last` take
    /// 1–100.
    #[graphql(complexity = "crate::graphql::relay::page_cost(first, last, child_complexity)")]
    async fn bank_statement_lines(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the list; leave it out to list everything you may see.")] filter: Option<BankStatementLineFilter>,
        #[graphql(desc = "At most this many items from the start of the list: 1–100, default 20.")]
        first: Option<i32>,
        #[graphql(desc = "Start after this cursor: the `pageInfo.endCursor` of the page before.")]
        after: Option<String>,
        #[graphql(
            desc = "At most this many items from the end of the list, 1–100; use instead of `first`."
        )]
        last: Option<i32>,
        #[graphql(desc = "End before this cursor: the `pageInfo.startCursor` of the page after.")]
        before: Option<String>,
    ) -> async_graphql::Result<Connection<String, BankLineNode, NoEdgeFields, NoEdgeFields>> {
        let args = page_args(first, after.as_deref(), last, before.as_deref())?;
        let rc = ctx.trellis()?;
        let f = filter.unwrap_or_default();
        let filter = LineFilter {
            status: f.status.map(Into::into),
            statement: f
                .statement_id
                .as_ref()
                .map(expect_arg::<BankStatementId>)
                .transpose()?,
        };
        let page = bank::lines(&rc.db, &rc.actor, filter, &args)
            .await
            .map_err(to_graphql)?;
        Ok(connection(page, NoEdgeFields, |l| {
            (l.sort_key(), BankLineNode(l), NoEdgeFields)
        }))
    }
}

/// Input to `bankStatementImport`.
#[derive(InputObject, Debug)]
pub struct BankStatementImportInput {
    /// The bank's export, sent as a multipart upload: a CSV file with a header row naming a
    /// date, a description (or reference, payee, memo…) and the amount, signed or as paid in
    /// and paid out; or an ISO 20022 CAMT.053 XML statement.
    pub file: Upload,
}

/// What an upload did.
#[derive(SimpleObject, Debug)]
pub struct BankStatementImportReport {
    /// The statement as recorded.
    pub statement: BankStatementNode,
    /// New lines with a proposal, waiting to be confirmed.
    pub proposed: i32,
    /// New lines with none: confirm them naming the account.
    pub unmatched: i32,
}

/// What `bankStatementImport` did: the changed record, or `userErrors` saying why nothing changed.
#[derive(SimpleObject, Debug)]
pub struct BankStatementImportPayload {
    /// Null when the file was refused (nothing was stored); `userErrors` then say where,
    /// by line and column (`["input", "file", "<line>", "<column>"]`).
    pub report: Option<BankStatementImportReport>,
    /// Why nothing changed, each naming the input field and a code; empty when the mutation
    /// succeeded.
    pub user_errors: Vec<UserError>,
}

/// Input to `bankStatementLineConfirm`.
#[derive(InputObject, Debug)]
pub struct BankStatementLineConfirmInput {
    /// Global id of the line.
    pub line_id: ID,
    /// The account the money came from. Implied by `invoiceId`; with neither, the proposal.
    pub account_id: Option<ID>,
    /// The invoice it pays (up to what it owes; the rest is the account's credit). Leave
    /// out, with `accountId`, to keep the whole receipt as credit.
    pub invoice_id: Option<ID>,
}

/// What `bankStatementLineConfirm` did: the changed record, or `userErrors` saying why nothing
/// changed.
#[derive(SimpleObject, Debug)]
pub struct BankStatementLineConfirmPayload {
    /// The line as the mutation left it; null when `userErrors` says why nothing changed.
    pub line: Option<BankLineNode>,
    /// The receipt the line became (the same one however often it is confirmed).
    pub payment: Option<PaymentNode>,
    /// What the receipt paid.
    pub allocations: Vec<AllocationNode>,
    /// REQUIRED (nothing proposed: name the account), NOT_FOUND (invoice), INVALID (the
    /// invoice is another account's), CONFLICT (the line was dismissed; the invoice takes no
    /// more payment).
    pub user_errors: Vec<UserError>,
}

/// Input to `bankStatementLineDismiss`.
#[derive(InputObject, Debug)]
pub struct BankStatementLineDismissInput {
    /// Global id of the line.
    pub line_id: ID,
}

/// What `bankStatementLineDismiss` did: the changed record, or `userErrors` saying why nothing
/// changed.
#[derive(SimpleObject, Debug)]
pub struct BankStatementLinePayload {
    /// The line as the mutation left it; null when `userErrors` says why nothing changed.
    pub line: Option<BankLineNode>,
    /// CONFLICT: the line is a receipt already (refund or re-allocate it instead).
    pub user_errors: Vec<UserError>,
}

/// Input to `bankStatementLinesConfirmProposed`.
#[derive(InputObject, Debug, Default)]
pub struct BankStatementLinesConfirmProposedInput {
    /// Only this statement's lines; all proposed lines when left out.
    pub statement_id: Option<ID>,
}

/// A proposed line left as it was.
#[derive(SimpleObject, Debug)]
pub struct BankStatementLineSkipped {
    /// Global id of the line.
    pub line_id: ID,
    /// Why (e.g. CONFLICT: its invoice was paid or voided meanwhile).
    pub user_errors: Vec<UserError>,
}

/// What `bankStatementLinesConfirmProposed` did: the changed record, or `userErrors` saying why
/// nothing changed.
#[derive(SimpleObject, Debug)]
pub struct BankStatementLinesConfirmProposedPayload {
    /// The lines whose proposed match was confirmed, each now a receipt.
    pub confirmed: Vec<BankLineNode>,
    /// The lines left as they were, each with why.
    pub skipped: Vec<BankStatementLineSkipped>,
    /// Why nothing changed, each naming the input field and a code; empty when the mutation
    /// succeeded.
    pub user_errors: Vec<UserError>,
}

#[derive(Default, Debug)]
pub struct BankMutation;

#[Object]
impl BankMutation {
    /// Upload a bank statement (finance and admins). Money-in lines not brought in before are
    /// kept, each with what it is proposed to pay; re-uploading the same or an overlapping
    /// statement brings nothing in twice. All or nothing: a file with a problem stores
    /// nothing. No money moves until a line is confirmed.
    async fn bank_statement_import(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: BankStatementImportInput,
    ) -> async_graphql::Result<BankStatementImportPayload> {
        let rc = ctx.trellis()?;
        // Refused before the file is opened.
        rc.actor
            .require(kernel::Permission::ManageBilling)
            .map_err(to_graphql)?;
        let result = match crate::graphql::upload::uploaded(ctx, &input.file) {
            Ok(upload) => {
                bank::import_statement(
                    &rc.db,
                    &rc.actor,
                    rc.clock.as_ref(),
                    &upload.filename,
                    upload.content,
                )
                .await
            }
            Err(e) => Err(e),
        };
        let (report, user_errors) = payload(result)?;
        Ok(BankStatementImportPayload {
            report: report.map(|r| BankStatementImportReport {
                statement: BankStatementNode(r.statement),
                proposed: saturating(r.proposed),
                unmatched: saturating(r.unmatched),
            }),
            user_errors,
        })
    }

    /// Confirm a line (finance and admins): it becomes a bank-transfer receipt on the
    /// account, dated the day the bank took it, and pays the invoice. Once: confirming it
    /// again answers the same receipt and changes nothing.
    async fn bank_statement_line_confirm(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: BankStatementLineConfirmInput,
    ) -> async_graphql::Result<BankStatementLineConfirmPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let line: BankLineId = expect_input(&input.line_id, "lineId")?;
            let account = input
                .account_id
                .as_ref()
                .map(|id| expect_input::<BillingAccountId>(id, "accountId"))
                .transpose()?;
            let invoice = input
                .invoice_id
                .as_ref()
                .map(|id| expect_input::<InvoiceId>(id, "invoiceId"))
                .transpose()?;
            bank::confirm(
                &rc.db,
                &rc.actor,
                rc.clock.as_ref(),
                line,
                Confirmation { account, invoice },
            )
            .await
        }
        .await;
        let (done, user_errors) = payload(result)?;
        Ok(match done {
            Some(done) => BankStatementLineConfirmPayload {
                line: Some(BankLineNode(done.line)),
                payment: Some(PaymentNode(done.payment)),
                allocations: done.allocations.into_iter().map(AllocationNode).collect(),
                user_errors,
            },
            None => BankStatementLineConfirmPayload {
                line: None,
                payment: None,
                allocations: Vec::new(),
                user_errors,
            },
        })
    }

    /// Mark a line as no receipt of the partnership's (finance and admins).
    async fn bank_statement_line_dismiss(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: BankStatementLineDismissInput,
    ) -> async_graphql::Result<BankStatementLinePayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let line: BankLineId = expect_input(&input.line_id, "lineId")?;
            bank::dismiss(&rc.db, &rc.actor, rc.clock.as_ref(), line).await
        }
        .await;
        let (line, user_errors) = payload(result)?;
        Ok(BankStatementLinePayload {
            line: line.map(BankLineNode),
            user_errors,
        })
    }

    /// Confirm every proposed line that names one invoice (finance and admins), each as
    /// `bankStatementLineConfirm` would; a line that cannot be is left and listed.
    async fn bank_statement_lines_confirm_proposed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: Option<BankStatementLinesConfirmProposedInput>,
    ) -> async_graphql::Result<BankStatementLinesConfirmProposedPayload> {
        let rc = ctx.trellis()?;
        let input = input.unwrap_or_default();
        let result = async {
            let statement = input
                .statement_id
                .as_ref()
                .map(|id| expect_input::<BankStatementId>(id, "statementId"))
                .transpose()?;
            bank::confirm_proposed(&rc.db, &rc.actor, rc.clock.as_ref(), statement).await
        }
        .await;
        let (done, user_errors) = payload(result)?;
        let done = done.unwrap_or_default();
        let mut skipped = Vec::new();
        for (line, err) in done.skipped {
            let (_, errors) = payload::<()>(Err::<(), DomainError>(err))?;
            skipped.push(BankStatementLineSkipped {
                line_id: line.to_global(),
                user_errors: errors,
            });
        }
        Ok(BankStatementLinesConfirmProposedPayload {
            confirmed: done
                .confirmed
                .into_iter()
                .map(|c| BankLineNode(c.line))
                .collect(),
            skipped,
            user_errors,
        })
    }
}
