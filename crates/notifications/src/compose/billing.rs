//! Messages about money, each to the billing account's contact: an invoice issued, a receipt
//! allocated, a card payment that failed, time a school gave credited, and overdue reminders.

use std::collections::{HashMap, HashSet};

use billing::ledger::document::InvoiceDocument;
use billing::ledger::{BillingAccount, InvoiceCollection};
use chrono::{DateTime, Utc};
use kernel::outbox::EventKind;
use kernel::{BillingAccountId, DomainError, InvoiceId, SchoolId};
use serde::Serialize;
use uuid::Uuid;

use super::{Event, MessageSettings, draft, each_event};
use crate::format;
use crate::model::{Attachment, Category, Draft, Recipient};

#[derive(Debug, Serialize)]
struct Issued {
    number: String,
    account: String,
    total: String,
    vat: String,
    due: String,
    po_number: Option<String>,
    lines: Vec<String>,
    pay_url: Option<String>,
    /// A card booking's invoice: the booking's card payment settles it.
    by_card: bool,
}

pub(super) async fn compose<C: sea_orm::ConnectionTrait>(
    db: &C,
    settings: &MessageSettings,
    events: &[&Event],
) -> Result<HashMap<Uuid, Vec<Draft>>, DomainError> {
    let of = |kind: EventKind| -> Vec<&Event> {
        events
            .iter()
            .copied()
            .filter(|e| e.kind == Some(kind))
            .collect()
    };
    let mut out = invoices_issued(db, settings, &of(EventKind::InvoiceIssued)).await?;
    out.extend(receipts_allocated(db, settings, &of(EventKind::ReceiptAllocated)).await?);
    out.extend(card_payments_failed(db, settings, &of(EventKind::CardPaymentFailed)).await?);
    out.extend(times_credited(db, settings, &of(EventKind::TimeCredited)).await?);
    Ok(out)
}

/// The billing accounts a batch of messages is about, and each contact who is a Trellis user:
/// read once per batch (two statements), because every money message goes to its account's
/// contact — by address, and to their inbox too when the address is a user's.
struct Contacts {
    accounts: HashMap<BillingAccountId, BillingAccount>,
    users: HashMap<String, membership::people::User>,
}

impl Contacts {
    async fn load<C: sea_orm::ConnectionTrait>(
        db: &C,
        ids: impl IntoIterator<Item = BillingAccountId>,
    ) -> Result<Self, DomainError> {
        let ids: Vec<BillingAccountId> = ids.into_iter().collect();
        let accounts = billing::ledger::accounts::accounts_by_ids(db, &ids).await?;
        let emails: Vec<String> = accounts
            .values()
            .map(|a| a.contact_email.to_lowercase())
            .collect();
        let users = membership::people::users::active_by_emails(db, &emails).await?;
        Ok(Self { accounts, users })
    }

    fn account(&self, id: BillingAccountId) -> Option<&BillingAccount> {
        self.accounts.get(&id)
    }

    /// The account's contact, as a recipient.
    fn of(&self, account: &BillingAccount) -> Recipient {
        let email = account.contact_email.to_lowercase();
        Recipient {
            user_id: self.users.get(&email).map(|u| u.id),
            email,
            name: account.contact_name.clone(),
        }
    }
}

/// The school a message about the account belongs to (whose people may see it), when the
/// account is one school's; a shared account's messages belong to no one school.
fn school_of(account: &BillingAccount) -> Option<SchoolId> {
    match account.school_ids.as_slice() {
        [only] => Some(*only),
        _ => None,
    }
}

/// The allocations one `receipt.allocated` event made (its detail).
fn allocated_by(event: &Event) -> Vec<Uuid> {
    event.detail["allocations"]
        .as_array()
        .map(|ids| {
            ids.iter()
                .filter_map(|v| v.as_str().and_then(|s| Uuid::parse_str(s).ok()))
                .collect()
        })
        .unwrap_or_default()
}

#[derive(Debug, Serialize)]
struct Allocated {
    amount: String,
    reference: String,
    received_on: String,
    account: String,
    lines: Vec<String>,
    unallocated: String,
    has_credit: bool,
}

async fn receipts_allocated<C: sea_orm::ConnectionTrait>(
    db: &C,
    settings: &MessageSettings,
    events: &[&Event],
) -> Result<HashMap<Uuid, Vec<Draft>>, DomainError> {
    if events.is_empty() {
        return Ok(HashMap::new());
    }
    let ids: Vec<kernel::PaymentId> = events
        .iter()
        .map(|e| kernel::PaymentId::from_uuid(e.subject))
        .collect();
    let allocation_ids: Vec<Uuid> = events.iter().flat_map(|e| allocated_by(e)).collect();
    let payments = billing::ledger::payments::payments_by_ids(db, &ids).await?;
    let allocations = billing::ledger::payments::allocations_by_ids(db, &allocation_ids).await?;
    let invoice_ids: Vec<InvoiceId> = allocations.iter().map(|a| a.invoice_id).collect();
    let invoices = billing::ledger::invoices::invoices_by_ids(db, &invoice_ids).await?;
    let contacts = Contacts::load(db, payments.values().map(|p| p.account_id)).await?;
    each_event(events, "payment", |event| {
        let id = kernel::PaymentId::from_uuid(event.subject);
        let Some((payment, account)) = payments
            .get(&id)
            .and_then(|p| contacts.account(p.account_id).map(|a| (p, a)))
        else {
            return Ok(None);
        };
        let mine: Vec<&billing::ledger::Allocation> = allocations
            .iter()
            .filter(|a| a.payment_id == id && allocated_by(event).contains(&a.id.as_uuid()))
            .collect();
        let amount = kernel::Money::checked_sum("allocated", mine.iter().map(|a| a.amount))?;
        let facts = Allocated {
            amount: amount.to_string(),
            reference: payment.reference.clone(),
            received_on: format::day(payment.received_on),
            account: account.name.clone(),
            lines: mine
                .iter()
                .map(|a| match invoices.get(&a.invoice_id) {
                    Some(invoice) => format!(
                        "{}: {} paid, {} still outstanding",
                        invoice.number, a.amount, invoice.outstanding
                    ),
                    None => format!("{} paid", a.amount),
                })
                .collect(),
            unallocated: payment.unallocated.to_string(),
            has_credit: payment.unallocated.pence() > 0,
        };
        let d = draft(
            settings,
            EventKind::ReceiptAllocated,
            Category::Receipts,
            school_of(account),
            contacts.of(account),
            format!("Payment received: {amount} for {}", account.name),
            "receipt_allocated",
            &facts,
        )?;
        Ok(Some(vec![d]))
    })
}

/// The `invoice.issued` events among `events` whose email should wait for the invoice's
/// hosted payment page (see [`MessageSettings::payment_link_wait`]): a sent invoice still
/// open, not yet at the provider, issued less than the wait ago. A card booking's invoice has
/// no hosted page to wait for. One statement, and none when no
/// provider is configured.
pub(super) async fn awaiting_payment_link<C: sea_orm::ConnectionTrait>(
    db: &C,
    settings: &MessageSettings,
    events: &[&Event],
    now: DateTime<Utc>,
) -> Result<HashSet<Uuid>, DomainError> {
    let Some(wait) = settings.payment_link_wait else {
        return Ok(HashSet::new());
    };
    let young: Vec<&Event> = events
        .iter()
        .copied()
        .filter(|e| e.kind == Some(EventKind::InvoiceIssued) && now - e.occurred_at < wait)
        .collect();
    if young.is_empty() {
        return Ok(HashSet::new());
    }
    let ids: Vec<InvoiceId> = young
        .iter()
        .map(|e| InvoiceId::from_uuid(e.subject))
        .collect();
    let invoices = billing::ledger::invoices::invoices_by_ids(db, &ids).await?;
    Ok(young
        .iter()
        .filter(|e| {
            invoices
                .get(&InvoiceId::from_uuid(e.subject))
                .is_some_and(|i| i.hosted_url.is_none() && i.goes_to_provider())
        })
        .map(|e| e.id)
        .collect())
}

async fn invoices_issued<C: sea_orm::ConnectionTrait>(
    db: &C,
    settings: &MessageSettings,
    events: &[&Event],
) -> Result<HashMap<Uuid, Vec<Draft>>, DomainError> {
    if events.is_empty() {
        return Ok(HashMap::new());
    }
    let ids: Vec<InvoiceId> = events
        .iter()
        .map(|e| InvoiceId::from_uuid(e.subject))
        .collect();
    let invoices = billing::ledger::invoices::invoices_by_ids(db, &ids).await?;
    let lines = billing::ledger::invoices::lines_of_invoices(db, &ids).await?;
    let contacts = Contacts::load(db, invoices.values().map(|i| i.account_id)).await?;
    // The schools the attached documents name: every line's and every account's.
    let mut school_ids: Vec<SchoolId> = lines
        .values()
        .flatten()
        .filter_map(|l| l.school_id)
        .collect();
    school_ids.extend(
        contacts
            .accounts
            .values()
            .flat_map(|a| a.school_ids.iter().copied()),
    );
    let schools = membership::school::names_by_ids(db, &school_ids).await?;
    each_event(events, "invoice", |event| {
        let id = InvoiceId::from_uuid(event.subject);
        let Some((invoice, account)) = invoices
            .get(&id)
            .and_then(|i| contacts.account(i.account_id).map(|a| (i, a)))
        else {
            return Ok(None);
        };
        let recipient = contacts.of(account);
        let facts = Issued {
            number: invoice.number.clone(),
            account: account.name.clone(),
            total: invoice.total.to_string(),
            vat: invoice.vat.to_string(),
            due: format::day(invoice.due_on),
            po_number: invoice.po_number.clone(),
            lines: lines
                .get(&id)
                .map(|ls| {
                    ls.iter()
                        .map(|l| format!("{}: {}", l.description, l.net))
                        .collect()
                })
                .unwrap_or_default(),
            pay_url: invoice.hosted_url.clone(),
            by_card: invoice.collection == InvoiceCollection::Card,
        };
        let mut d = draft(
            settings,
            EventKind::InvoiceIssued,
            Category::Invoices,
            school_of(account),
            recipient,
            format!(
                "Invoice {} from {}: {} due {}",
                invoice.number, settings.partnership, invoice.total, facts.due
            ),
            "invoice_issued",
            &facts,
        )?;
        // The invoice itself, as the document `Invoice.documentUrl` serves.
        let invoice_lines = lines.get(&id).cloned().unwrap_or_default();
        let named = schools
            .iter()
            .filter(|(school, _)| {
                account.school_ids.contains(school)
                    || invoice_lines.iter().any(|l| l.school_id == Some(**school))
            })
            .map(|(school, name)| (*school, name.clone()))
            .collect();
        let document = InvoiceDocument {
            invoice: invoice.clone(),
            lines: invoice_lines,
            account: account.clone(),
            schools: named,
        };
        d.attachment = Some(Attachment {
            name: format!("invoice-{}.pdf", invoice.number),
            content_type: "application/pdf".to_owned(),
            bytes: document.pdf(&settings.letterhead),
        });
        Ok(Some(vec![d]))
    })
}

#[derive(Debug, Serialize)]
struct CardFailed {
    number: String,
    account: String,
    outstanding: String,
    due: String,
    reason: String,
    pay_url: Option<String>,
}

/// The provider's message as the event recorded it (the mirror keeps only the latest).
fn failure_reason(event: &Event) -> String {
    event.detail["reason"]
        .as_str()
        .filter(|r| !r.trim().is_empty())
        .unwrap_or("the card payment was not completed")
        .to_owned()
}

async fn card_payments_failed<C: sea_orm::ConnectionTrait>(
    db: &C,
    settings: &MessageSettings,
    events: &[&Event],
) -> Result<HashMap<Uuid, Vec<Draft>>, DomainError> {
    if events.is_empty() {
        return Ok(HashMap::new());
    }
    let ids: Vec<InvoiceId> = events
        .iter()
        .map(|e| InvoiceId::from_uuid(e.subject))
        .collect();
    let invoices = billing::ledger::invoices::invoices_by_ids(db, &ids).await?;
    let contacts = Contacts::load(db, invoices.values().map(|i| i.account_id)).await?;
    each_event(events, "invoice", |event| {
        let id = InvoiceId::from_uuid(event.subject);
        let Some((invoice, account)) = invoices
            .get(&id)
            .and_then(|i| contacts.account(i.account_id).map(|a| (i, a)))
        else {
            return Ok(None);
        };
        let facts = CardFailed {
            number: invoice.number.clone(),
            account: account.name.clone(),
            outstanding: invoice.outstanding.to_string(),
            due: format::day(invoice.due_on),
            reason: failure_reason(event),
            pay_url: invoice.hosted_url.clone(),
        };
        // Money still owed, like the invoice itself: not mutable.
        let d = draft(
            settings,
            EventKind::CardPaymentFailed,
            Category::Invoices,
            school_of(account),
            contacts.of(account),
            format!(
                "Card payment failed: invoice {} ({} outstanding)",
                invoice.number, invoice.outstanding
            ),
            "card_payment_failed",
            &facts,
        )?;
        Ok(Some(vec![d]))
    })
}

#[derive(Debug, Serialize)]
struct TimeCredited {
    amount: String,
    account: String,
    description: String,
    hours: String,
    rate: String,
    unallocated: String,
}

/// Hours for people: "1.5", "2", "0.25".
fn hours(minutes: u32) -> String {
    let text = format!("{:.2}", f64::from(minutes) / 60.0);
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

async fn times_credited<C: sea_orm::ConnectionTrait>(
    db: &C,
    settings: &MessageSettings,
    events: &[&Event],
) -> Result<HashMap<Uuid, Vec<Draft>>, DomainError> {
    if events.is_empty() {
        return Ok(HashMap::new());
    }
    let ids: Vec<kernel::PaymentId> = events
        .iter()
        .map(|e| kernel::PaymentId::from_uuid(e.subject))
        .collect();
    let payments = billing::ledger::payments::payments_by_ids(db, &ids).await?;
    let contacts = Contacts::load(db, payments.values().map(|p| p.account_id)).await?;
    each_event(events, "credit", |event| {
        let id = kernel::PaymentId::from_uuid(event.subject);
        let Some((payment, account)) = payments
            .get(&id)
            .and_then(|p| contacts.account(p.account_id).map(|a| (p, a)))
        else {
            return Ok(None);
        };
        let minutes = event.detail["minutes"]
            .as_u64()
            .and_then(|m| u32::try_from(m).ok())
            .unwrap_or_default();
        let rate = kernel::Money::from_pence(
            event.detail["ratePencePerHour"]
                .as_i64()
                .unwrap_or_default(),
        );
        let facts = TimeCredited {
            amount: payment.amount.to_string(),
            account: account.name.clone(),
            description: event.detail["description"]
                .as_str()
                .unwrap_or("Time given")
                .to_owned(),
            hours: hours(minutes),
            rate: rate.to_string(),
            unallocated: payment.unallocated.to_string(),
        };
        let d = draft(
            settings,
            EventKind::TimeCredited,
            Category::Receipts,
            school_of(account),
            contacts.of(account),
            format!("Credit for your time: {} to {}", facts.amount, account.name),
            "time_credited",
            &facts,
        )?;
        Ok(Some(vec![d]))
    })
}

#[derive(Debug, Serialize)]
struct Overdue {
    number: String,
    account: String,
    due: String,
    outstanding: String,
    days: i64,
    pay_url: Option<String>,
}

/// A reminder for each invoice, at its stage (days past due), keyed so that each invoice
/// has at most one reminder per stage: `(dedupe key, draft)`.
pub(crate) async fn overdue<C: sea_orm::ConnectionTrait>(
    db: &C,
    settings: &MessageSettings,
    due: &[(billing::ledger::Invoice, u32)],
    today: chrono::NaiveDate,
) -> Result<Vec<(String, Draft)>, DomainError> {
    let contacts = Contacts::load(db, due.iter().map(|(i, _)| i.account_id)).await?;
    let mut out = Vec::new();
    for (invoice, stage) in due {
        let Some(account) = contacts.account(invoice.account_id) else {
            continue;
        };
        let recipient = contacts.of(account);
        let facts = Overdue {
            number: invoice.number.clone(),
            account: account.name.clone(),
            due: format::day(invoice.due_on),
            outstanding: invoice.outstanding.to_string(),
            days: invoice.days_overdue(today),
            pay_url: invoice.hosted_url.clone(),
        };
        let mut d = draft(
            settings,
            EventKind::InvoiceIssued,
            Category::Reminders,
            school_of(account),
            recipient,
            format!(
                "Reminder: invoice {} is overdue ({} outstanding)",
                invoice.number, invoice.outstanding
            ),
            "invoice_overdue",
            &facts,
        )?;
        d.kind = "invoice.overdue";
        out.push((format!("overdue:{}:{stage}", invoice.id), d));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::hours;

    #[test]
    fn hours_read_as_people_write_them() {
        assert_eq!(hours(90), "1.5");
        assert_eq!(hours(120), "2");
        assert_eq!(hours(15), "0.25");
        assert_eq!(hours(0), "0");
    }
}
