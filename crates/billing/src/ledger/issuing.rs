//! Issuing invoices: check them, take their numbers, and write the invoices, their lines,
//! their audit entries and their outbox events in one transaction.
//!
//! One invoice (finance's manual invoice, a termly booking invoice) and a run's hundreds go
//! through the same path. A national run issued one invoice per transaction cost about 17
//! round trips and a commit each, two minutes for 25,000 schools (issue #18); a chunk of
//! [`ISSUE_CHUNK`] costs about as many statements as one invoice did.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::NaiveDate;
use kernel::BeginWrite as _;
use kernel::money::{checked_add_i64, checked_sum_i64};
use kernel::{
    AcademicYear, Actor, Clock, DomainError, ErrorCode, InvoiceId, InvoiceLineId, Permission,
    Problems, SchoolId,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel as _, QueryFilter,
    QuerySelect, TransactionSession as _, TransactionTrait,
};
use uuid::Uuid;

use super::accounts::schools_of_accounts;
use super::audit::{self, AuditEntity};
use super::entity::{accounts, invoice_lines, invoices};
use super::invoices::{
    CheckedLine, Instalment, Invoice, InvoiceLine, IssueOutcome, NewInvoice, PO_MAX, check_lines,
};
use super::numbering::{Series, next_numbers};
use super::status::InvoiceStatus;
use super::support::{is_unique_violation, lock_accounts, optional_text};

/// Invoices per transaction when many are issued at once. 21 columns each stays under
/// SQLite's 32,766 bound parameters in one INSERT; a crash loses at most one chunk's work,
/// which a rerun then issues.
pub const ISSUE_CHUNK: usize = 500;

/// Invoice lines per INSERT (15 columns each).
const LINES_PER_INSERT: usize = 1_000;

/// One invoice to issue, with a purchase-order number per line (as many as its lines).
struct Request {
    input: NewInvoice,
    line_pos: Vec<Option<String>>,
}

/// Issues an invoice: validates, takes the next number and writes the invoice, its lines,
/// an audit entry and the outbox event in one transaction (a savepoint when `db` is already
/// a transaction).
///
/// Idempotent per (account, year, instalment) for membership instalments: when one exists it
/// is returned with `created = false`, whatever the new request says, so a rerun of an
/// interrupted run completes it without duplicating anything.
pub async fn issue_invoice<C>(
    db: &C,
    actor: &Actor,
    clock: &dyn Clock,
    input: NewInvoice,
) -> Result<IssueOutcome, DomainError>
where
    C: ConnectionTrait + TransactionTrait,
{
    issue_with_line_pos(db, actor, clock, input, &[]).await
}

/// [`issue_invoice`] with a purchase-order number per line (`line_pos[i]` for line `i`;
/// missing entries are `None`): the termly booking invoice, whose lines carry each booking's
/// own PO.
pub(crate) async fn issue_with_line_pos<C>(
    db: &C,
    actor: &Actor,
    clock: &dyn Clock,
    input: NewInvoice,
    line_pos: &[Option<String>],
) -> Result<IssueOutcome, DomainError>
where
    C: ConnectionTrait + TransactionTrait,
{
    let line_pos = (0..input.lines.len())
        .map(|i| line_pos.get(i).cloned().flatten())
        .collect();
    issue_requests(db, actor, clock, vec![Request { input, line_pos }])
        .await?
        .pop()
        .ok_or_else(|| DomainError::internal(kernel::CorruptRow("no outcome of an issue".into())))
}

/// Issues many invoices, as [`issue_invoice`] issues one, in transactions of
/// [`ISSUE_CHUNK`]: the invoicing run's way. Numbers follow the order of `inputs`; the
/// outcomes come back in that order too.
///
/// Each chunk commits on its own. An interrupted call keeps the chunks it committed, and a
/// repeat finds their membership instalments (`created = false`) and issues the rest.
///
/// # Errors
/// The first invalid invoice's `Invalid` (nothing of its chunk is written; earlier chunks
/// stay issued), `Forbidden` without `ManageBilling`, or the database's.
pub async fn issue_invoices<C>(
    db: &C,
    actor: &Actor,
    clock: &dyn Clock,
    inputs: Vec<NewInvoice>,
) -> Result<Vec<IssueOutcome>, DomainError>
where
    C: ConnectionTrait + TransactionTrait,
{
    actor.require(Permission::ManageBilling)?;
    let mut out = Vec::with_capacity(inputs.len());
    let mut inputs = inputs.into_iter().peekable();
    while inputs.peek().is_some() {
        let chunk = inputs
            .by_ref()
            .take(ISSUE_CHUNK)
            .map(|input| Request {
                line_pos: vec![None; input.lines.len()],
                input,
            })
            .collect();
        out.extend(issue_requests(db, actor, clock, chunk).await?);
    }
    Ok(out)
}

/// Issues `requests` in one transaction.
async fn issue_requests<C>(
    db: &C,
    actor: &Actor,
    clock: &dyn Clock,
    requests: Vec<Request>,
) -> Result<Vec<IssueOutcome>, DomainError>
where
    C: ConnectionTrait + TransactionTrait,
{
    actor.require(Permission::ManageBilling)?;
    // Every issuer of an instalment takes its account's lock before looking, so the second
    // look (under the lock) is the last word. Should an insert still meet the instalment's
    // unique index, the second attempt finds that invoice and returns it.
    match try_issue(db, actor, clock, &requests).await? {
        Ok(out) => Ok(out),
        Err(_) => try_issue(db, actor, clock, &requests)
            .await?
            .map_err(DomainError::internal),
    }
}

/// What [`check`] made of a request: its lines and sums, ready to write.
struct Checked {
    lines: Vec<CheckedLine>,
    line_pos: Vec<Option<String>>,
    po_number: Option<String>,
    net: i64,
    vat: i64,
    total: i64,
}

/// One attempt: `Ok(Err(_))` when an insert met the instalment's unique index (rolled back).
async fn try_issue<C>(
    db: &C,
    actor: &Actor,
    clock: &dyn Clock,
    requests: &[Request],
) -> Result<Result<Vec<IssueOutcome>, DbErr>, DomainError>
where
    C: ConnectionTrait + TransactionTrait,
{
    let mut outcomes: Vec<Option<IssueOutcome>> = vec![None; requests.len()];
    settle_issued(db, requests, &mut outcomes).await?;
    let pending: Vec<usize> = (0..requests.len())
        .filter(|i| outcomes[*i].is_none())
        .collect();
    if pending.is_empty() {
        return Ok(Ok(outcomes.into_iter().flatten().collect()));
    }

    let mut account_ids: Vec<Uuid> = pending
        .iter()
        .map(|i| requests[*i].input.account_id.as_uuid())
        .collect();
    account_ids.sort_unstable();
    account_ids.dedup();
    let schools = schools_of_accounts(db, &account_ids).await?;
    let known: HashSet<Uuid> = accounts::Entity::find()
        .select_only()
        .column(accounts::Column::Id)
        .filter(accounts::Column::Id.is_in(account_ids.iter().copied()))
        .into_tuple::<Uuid>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let today = clock.today();
    let mut checked: HashMap<usize, Checked> = HashMap::with_capacity(pending.len());
    for &i in &pending {
        let account = requests[i].input.account_id.as_uuid();
        let account_schools = schools.get(&account).map_or(&[][..], Vec::as_slice);
        checked.insert(
            i,
            check(
                &requests[i],
                account_schools,
                known.contains(&account),
                today,
            )?,
        );
    }

    let txn = db.begin_write().await?;
    lock_accounts(&txn, &account_ids).await?;
    // Under the locks: a concurrent issue of the same instalment has committed by now.
    settle_issued(&txn, requests, &mut outcomes).await?;
    let to_write: Vec<usize> = pending
        .into_iter()
        .filter(|i| outcomes[*i].is_none())
        .collect();
    if to_write.is_empty() {
        txn.rollback().await?;
        return Ok(Ok(outcomes.into_iter().flatten().collect()));
    }

    let mut numbers = take_numbers(&txn, requests, &to_write).await?;
    let now = clock.now();
    let mut invoice_rows = Vec::with_capacity(to_write.len());
    let mut line_rows = Vec::new();
    let mut issued = Vec::with_capacity(to_write.len());
    for i in to_write {
        let input = &requests[i].input;
        let Checked {
            lines,
            line_pos,
            po_number,
            net,
            vat,
            total,
        } = checked
            .remove(&i)
            .ok_or_else(|| DomainError::internal(kernel::CorruptRow("unchecked invoice".into())))?;
        let number = numbers
            .get_mut(&input.year)
            .and_then(Iterator::next)
            .ok_or_else(|| DomainError::internal(kernel::CorruptRow("no number left".into())))?;
        let id = InvoiceId::new();
        let row = invoices::Model {
            id: id.as_uuid(),
            number,
            account_id: input.account_id.as_uuid(),
            academic_year: input.year.start_year(),
            instalment: input.instalment.as_str().to_owned(),
            status: InvoiceStatus::Open.as_str().to_owned(),
            source: input.source.as_str().to_owned(),
            collection: input.collection.as_str().to_owned(),
            net_pence: net,
            vat_pence: vat,
            total_pence: total,
            paid_pence: 0,
            credited_pence: 0,
            due_on: input.due_on,
            issued_at: now,
            po_number,
            provider_invoice_ref: None,
            hosted_url: None,
            status_reason: None,
            created_at: now,
            updated_at: now,
        };
        let mut lines_of_this = Vec::with_capacity(lines.len());
        for (position, (l, po)) in lines.into_iter().zip(line_pos).enumerate() {
            let line = invoice_lines::Model {
                id: InvoiceLineId::new().as_uuid(),
                invoice_id: id.as_uuid(),
                position: i32::try_from(position).unwrap_or(i32::MAX),
                description: l.description,
                quantity: i64::from(l.quantity),
                unit_pence: l.unit,
                net_pence: l.net,
                vat_treatment: l.line.vat_treatment.as_str().to_owned(),
                vat_rate_bp: i32::try_from(l.line.vat_rate_bp).unwrap_or(i32::MAX),
                vat_pence: l.vat,
                cfr_code: l.cfr,
                school_id: l.line.school_id.map(|s| s.as_uuid()),
                membership_id: l.line.membership_id.map(|m| m.as_uuid()),
                booking_id: l.line.booking_id,
                po_number: po,
            };
            lines_of_this.push(InvoiceLine::from_row(line.clone())?);
            line_rows.push(line.into_active_model());
        }
        issued.push((i, Invoice::from_row(row.clone())?, lines_of_this));
        invoice_rows.push(row.into_active_model());
    }

    for chunk in invoice_rows.chunks(ISSUE_CHUNK) {
        match invoices::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&txn)
            .await
        {
            Ok(_) => {}
            Err(err) if is_unique_violation(&err) => {
                txn.rollback().await?;
                return Ok(Err(err));
            }
            Err(err) => return Err(err.into()),
        }
    }
    for chunk in line_rows.chunks(LINES_PER_INSERT) {
        invoice_lines::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&txn)
            .await?;
    }
    let snapshots: Vec<(Uuid, serde_json::Value)> = issued
        .iter()
        .map(|(_, invoice, lines)| {
            (
                invoice.id.as_uuid(),
                serde_json::json!({ "invoice": invoice, "lines": lines }),
            )
        })
        .collect();
    audit::record_many(
        &txn,
        actor,
        clock,
        "invoice.issue",
        AuditEntity::Invoice,
        snapshots
            .iter()
            .map(|(id, after)| (*id, None::<&()>, Some(after))),
    )
    .await?;
    // The accounts' contacts are told (notifications), once this commits.
    let ids: Vec<Uuid> = snapshots.iter().map(|(id, _)| *id).collect();
    kernel::outbox::record_many(&txn, kernel::outbox::EventKind::InvoiceIssued, &ids, now).await?;
    txn.commit().await?;
    for (i, invoice, _) in issued {
        tracing::debug!(invoice = %invoice.number, account = %invoice.account_id, total = %invoice.total, "invoice issued");
        outcomes[i] = Some(IssueOutcome {
            invoice,
            created: true,
        });
    }
    Ok(Ok(outcomes.into_iter().flatten().collect()))
}

/// Fills in the outcomes of requests whose membership instalment is already invoiced: the
/// existing invoice, `created = false`. One statement.
async fn settle_issued<C: ConnectionTrait>(
    db: &C,
    requests: &[Request],
    outcomes: &mut [Option<IssueOutcome>],
) -> Result<(), DomainError> {
    let open: Vec<usize> = (0..requests.len())
        .filter(|i| outcomes[*i].is_none() && requests[*i].input.instalment != Instalment::None)
        .collect();
    if open.is_empty() {
        return Ok(());
    }
    let accounts: HashSet<Uuid> = open
        .iter()
        .map(|i| requests[*i].input.account_id.as_uuid())
        .collect();
    let years: HashSet<i32> = open
        .iter()
        .map(|i| requests[*i].input.year.start_year())
        .collect();
    let rows = invoices::Entity::find()
        .filter(invoices::Column::AccountId.is_in(accounts))
        .filter(invoices::Column::AcademicYear.is_in(years))
        .filter(invoices::Column::Instalment.ne(Instalment::None.as_str()))
        .all(db)
        .await?;
    let mut found: HashMap<(Uuid, i32, String), invoices::Model> = rows
        .into_iter()
        .map(|r| ((r.account_id, r.academic_year, r.instalment.clone()), r))
        .collect();
    for i in open {
        let input = &requests[i].input;
        let key = (
            input.account_id.as_uuid(),
            input.year.start_year(),
            input.instalment.as_str().to_owned(),
        );
        if let Some(row) = found.remove(&key) {
            outcomes[i] = Some(IssueOutcome {
                invoice: Invoice::from_row(row)?,
                created: false,
            });
        }
    }
    Ok(())
}

/// Takes a block of numbers per academic year, for the requests at `indices` in order.
async fn take_numbers<C: ConnectionTrait>(
    txn: &C,
    requests: &[Request],
    indices: &[usize],
) -> Result<BTreeMap<AcademicYear, std::vec::IntoIter<String>>, DomainError> {
    let mut counts: BTreeMap<AcademicYear, usize> = BTreeMap::new();
    for i in indices {
        *counts.entry(requests[*i].input.year).or_default() += 1;
    }
    let mut out = BTreeMap::new();
    for (year, count) in counts {
        let numbers = next_numbers(txn, Series::Invoice, year, count).await?;
        out.insert(year, numbers.into_iter());
    }
    Ok(out)
}

/// Checks one request against its account (`account_schools`, whether it exists): every
/// problem at once, as `Invalid`.
fn check(
    request: &Request,
    account_schools: &[SchoolId],
    account_known: bool,
    today: NaiveDate,
) -> Result<Checked, DomainError> {
    let input = &request.input;
    let mut problems = Problems::new();
    if !account_known {
        problems.add("accountId", ErrorCode::NotFound, "no such billing account");
    }
    let lines = check_lines(&mut problems, &input.lines, account_schools);
    let line_pos: Vec<Option<String>> = request
        .line_pos
        .iter()
        .enumerate()
        .map(|(i, po)| {
            problems
                .check(optional_text(
                    &format!("lines.{i}.poNumber"),
                    po.as_deref(),
                    PO_MAX,
                ))
                .flatten()
        })
        .collect();
    let po_number = problems.check(optional_text(
        "poNumber",
        input.po_number.as_deref(),
        PO_MAX,
    ));
    if input.due_on < today {
        problems.add("dueOn", ErrorCode::OutOfRange, "the due date has passed");
    }
    problems.check(kernel::dates::in_window("dueOn", input.due_on));
    // At most MAX_LINES lines of at most MAX_LINE_PENCE each: checked all the same.
    let net = checked_sum_i64("invoice net", lines.iter().map(|l| l.net))?;
    let vat = checked_sum_i64("invoice VAT", lines.iter().map(|l| l.vat))?;
    let total = checked_add_i64("invoice total", net, vat)?;
    if lines.len() == input.lines.len() && !lines.is_empty() && total <= 0 {
        problems.add(
            "lines",
            ErrorCode::OutOfRange,
            "the invoice total must be more than zero",
        );
    }
    problems.finish()?;
    Ok(Checked {
        lines,
        line_pos,
        po_number: po_number.flatten(),
        net,
        vat,
        total,
    })
}
