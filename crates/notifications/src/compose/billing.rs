//! Messages about money: an invoice issued, to its billing account's contact.

use std::collections::HashMap;

use kernel::outbox::EventKind;
use kernel::{DomainError, InvoiceId};
use serde::Serialize;
use uuid::Uuid;

use super::{Event, MessageSettings, draft};
use crate::format;
use crate::model::{Category, Draft, Recipient};

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
}

pub(super) async fn compose<C: sea_orm::ConnectionTrait>(
    db: &C,
    settings: &MessageSettings,
    events: &[&Event],
) -> Result<HashMap<Uuid, Vec<Draft>>, DomainError> {
    let mut out = HashMap::new();
    if events.is_empty() {
        return Ok(out);
    }
    let ids: Vec<InvoiceId> = events
        .iter()
        .map(|e| InvoiceId::from_uuid(e.subject))
        .collect();
    let invoices = billing::ledger::invoices::invoices_by_ids(db, &ids).await?;
    let lines = billing::ledger::invoices::lines_of_invoices(db, &ids).await?;
    let account_ids: Vec<_> = invoices.values().map(|i| i.account_id).collect();
    let accounts = billing::ledger::accounts::accounts_by_ids(db, &account_ids).await?;
    let emails: Vec<String> = accounts
        .values()
        .map(|a| a.contact_email.to_lowercase())
        .collect();
    let users = membership::people::users::active_by_emails(db, &emails).await?;
    for event in events {
        let id = InvoiceId::from_uuid(event.subject);
        let Some((invoice, account)) = invoices
            .get(&id)
            .and_then(|i| accounts.get(&i.account_id).map(|a| (i, a)))
        else {
            tracing::warn!(event = %event.id, invoice = %id, "outbox event for an invoice that cannot be read: no message");
            out.insert(event.id, Vec::new());
            continue;
        };
        let email = account.contact_email.to_lowercase();
        let recipient = Recipient {
            user_id: users.get(&email).map(|u| u.id),
            email,
            name: account.contact_name.clone(),
        };
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
        };
        let school = (account.school_ids.len() == 1).then(|| account.school_ids[0]);
        let d = draft(
            settings,
            EventKind::InvoiceIssued,
            Category::Invoices,
            school,
            recipient,
            format!(
                "Invoice {} from {}: {} due {}",
                invoice.number, settings.partnership, invoice.total, facts.due
            ),
            "invoice_issued",
            &facts,
        )?;
        out.insert(event.id, vec![d]);
    }
    Ok(out)
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
    let account_ids: Vec<_> = due.iter().map(|(i, _)| i.account_id).collect();
    let accounts = billing::ledger::accounts::accounts_by_ids(db, &account_ids).await?;
    let emails: Vec<String> = accounts
        .values()
        .map(|a| a.contact_email.to_lowercase())
        .collect();
    let users = membership::people::users::active_by_emails(db, &emails).await?;
    let mut out = Vec::new();
    for (invoice, stage) in due {
        let Some(account) = accounts.get(&invoice.account_id) else {
            continue;
        };
        let email = account.contact_email.to_lowercase();
        let recipient = Recipient {
            user_id: users.get(&email).map(|u| u.id),
            email,
            name: account.contact_name.clone(),
        };
        let facts = Overdue {
            number: invoice.number.clone(),
            account: account.name.clone(),
            due: format::day(invoice.due_on),
            outstanding: invoice.outstanding.to_string(),
            days: invoice.days_overdue(today),
            pay_url: invoice.hosted_url.clone(),
        };
        let school = (account.school_ids.len() == 1).then(|| account.school_ids[0]);
        let mut d = draft(
            settings,
            EventKind::InvoiceIssued,
            Category::Reminders,
            school,
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
