//! Invoices and credit notes as documents a school's finance office files and pays from,
//! rendered by Trellis whether or not a payment provider holds a copy: who issues it (the
//! [`Letterhead`]), who is billed, each line with its school, quantity, VAT rate and PO,
//! the VAT summary by rate, the totals and what is still due, the due date, and how to pay —
//! the bank account and the reference to quote.
//!
//! Read with the caller's [`Actor`] under the ledger's one visibility rule (finance and
//! admins every account, a school's people their own), so a document is exactly as private
//! as the invoice it prints.

pub mod letterhead;

use std::collections::{BTreeMap, HashMap};

use documents::{Block, Column, Document, Orientation, Table, format};
use kernel::{Actor, CreditNoteId, DomainError, InvoiceId, SchoolId};
use sea_orm::ConnectionTrait;

pub use letterhead::{
    AccountNumber, BankDetails, Letterhead, LetterheadError, SortCode, VatNumber,
};

use super::accounts::{BillingAccount, accounts_by_ids};
use super::credit_notes::{CreditNote, credit_note};
use super::invoices::{Instalment, Invoice, InvoiceLine, VatTreatment, invoice, lines_of_invoices};
use super::status::InvoiceStatus;

/// An invoice with what its document prints.
#[derive(Debug, Clone)]
pub struct InvoiceDocument {
    pub invoice: Invoice,
    pub lines: Vec<InvoiceLine>,
    pub account: BillingAccount,
    /// Names of the schools its lines are for.
    pub schools: HashMap<SchoolId, String>,
}

/// A credit note with what its document prints.
#[derive(Debug, Clone)]
pub struct CreditNoteDocument {
    pub note: CreditNote,
    /// The invoice it credits.
    pub invoice: Invoice,
    pub account: BillingAccount,
}

async fn account_of<C: ConnectionTrait>(
    db: &C,
    invoice: &Invoice,
) -> Result<BillingAccount, DomainError> {
    accounts_by_ids(db, &[invoice.account_id])
        .await?
        .remove(&invoice.account_id)
        .ok_or(DomainError::NotFound {
            entity: "BillingAccount",
        })
}

/// The invoice `id` as a document, if the caller may see the invoice (`NotFound` otherwise).
pub async fn invoice_document<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    id: InvoiceId,
) -> Result<InvoiceDocument, DomainError> {
    let invoice = invoice(db, actor, id).await?;
    let mut lines = lines_of_invoices(db, &[id])
        .await?
        .remove(&id)
        .unwrap_or_default();
    lines.sort_by_key(|l| l.position);
    let account = account_of(db, &invoice).await?;
    let mut ids: Vec<SchoolId> = lines.iter().filter_map(|l| l.school_id).collect();
    ids.extend(account.school_ids.iter().copied());
    let schools = membership::school::names_by_ids(db, &ids).await?;
    Ok(InvoiceDocument {
        invoice,
        lines,
        account,
        schools,
    })
}

/// The credit note `id` as a document, if the caller may see it (`NotFound` otherwise).
pub async fn credit_note_document<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    id: CreditNoteId,
) -> Result<CreditNoteDocument, DomainError> {
    let note = credit_note(db, actor, id).await?;
    let invoice = invoice(db, actor, note.invoice_id).await?;
    let account = account_of(db, &invoice).await?;
    Ok(CreditNoteDocument {
        note,
        invoice,
        account,
    })
}

/// "20%", "17.5%", or "Exempt".
fn rate(treatment: VatTreatment, bp: u32) -> String {
    match treatment {
        VatTreatment::Exempt => "Exempt".to_owned(),
        VatTreatment::Standard if bp.is_multiple_of(100) => format!("{}%", bp / 100),
        VatTreatment::Standard => {
            let tenths = bp / 10;
            format!("{}.{}%", tenths / 10, tenths % 10)
        }
    }
}

/// The issuer's block: name, address, VAT registration.
fn issuer(letterhead: &Letterhead) -> Block {
    let mut facts = vec![("From".to_owned(), letterhead.name.clone())];
    if !letterhead.address.is_empty() {
        facts.push(("Address".to_owned(), letterhead.address.join(", ")));
    }
    if let Some(vat) = &letterhead.vat_number {
        facts.push(("VAT registration".to_owned(), vat.to_string()));
    }
    Block::Facts(facts)
}

/// The billed account's block.
fn billed(account: &BillingAccount) -> Block {
    let mut address = account.address.lines.clone();
    address.push(account.address.postcode.clone());
    Block::Facts(vec![
        ("To".to_owned(), account.name.clone()),
        (
            "For the attention of".to_owned(),
            account.contact_name.clone(),
        ),
        ("Address".to_owned(), address.join(", ")),
    ])
}

fn money(m: kernel::Money) -> String {
    format::money(m.pence())
}

impl InvoiceDocument {
    fn title(&self) -> String {
        match self.invoice.status {
            InvoiceStatus::Draft => "Draft invoice".to_owned(),
            InvoiceStatus::Void => format!("Invoice {} (void)", self.invoice.number),
            _ => format!("Invoice {}", self.invoice.number),
        }
    }

    /// The document as a PDF under `letterhead`.
    #[must_use]
    pub fn pdf(&self, letterhead: &Letterhead) -> Vec<u8> {
        let inv = &self.invoice;
        let mut doc = Document::new(self.title(), Orientation::Portrait).footer(format!(
            "{} – invoice {} – {}",
            letterhead.name, inv.number, self.account.name
        ));
        doc.push(issuer(letterhead));
        doc.push(billed(&self.account));
        let mut facts = vec![
            ("Invoice number".to_owned(), inv.number.clone()),
            (
                "Invoice date".to_owned(),
                format::date(format::local_day(inv.issued_at)),
            ),
            ("Due date".to_owned(), format::date(inv.due_on)),
            ("Academic year".to_owned(), inv.academic_year.to_string()),
        ];
        if inv.instalment != Instalment::None {
            let term = match inv.instalment {
                Instalment::Autumn => "Autumn",
                Instalment::Spring => "Spring",
                Instalment::Summer => "Summer",
                Instalment::Annual | Instalment::None => "Annual",
            };
            facts.push(("Instalment".to_owned(), term.to_owned()));
        }
        if let Some(po) = &inv.po_number {
            facts.push(("Purchase order".to_owned(), po.clone()));
        }
        let schools: Vec<&str> = self
            .account
            .school_ids
            .iter()
            .filter_map(|s| self.schools.get(s).map(String::as_str))
            .collect();
        if !schools.is_empty() {
            facts.push(("School".to_owned(), schools.join(", ")));
        }
        doc.push(Block::Facts(facts));

        let several_schools = self.account.school_ids.len() > 1;
        let mut lines = Table::new(vec![
            Column::text("Description", 4.0),
            Column::number("Qty", 0.6),
            Column::number("Unit price", 1.2),
            Column::number("Net", 1.2),
            Column::text("VAT rate", 0.9),
            Column::number("VAT", 1.0),
            Column::number("Total", 1.2),
        ]);
        for line in &self.lines {
            let mut description = line.description.clone();
            if several_schools && let Some(name) = line.school_id.and_then(|s| self.schools.get(&s))
            {
                description = format!("{name}: {description}");
            }
            if let Some(po) = &line.po_number {
                description = format!("{description} (PO {po})");
            }
            lines.row(vec![
                description,
                line.quantity.to_string(),
                money(line.unit_amount),
                money(line.net),
                rate(line.vat_treatment, line.vat_rate_bp),
                money(line.vat),
                format::money(line.net.pence() + line.vat.pence()),
            ]);
        }
        doc.push(Block::Table(lines));

        // VAT by rate, as a VAT invoice summarises it.
        let mut by_rate: BTreeMap<(bool, u32), (i64, i64)> = BTreeMap::new();
        for line in &self.lines {
            let key = (
                line.vat_treatment == VatTreatment::Standard,
                line.vat_rate_bp,
            );
            let entry = by_rate.entry(key).or_default();
            entry.0 += line.net.pence();
            entry.1 += line.vat.pence();
        }
        let mut vat = Table::new(vec![
            Column::text("VAT rate", 1.0),
            Column::number("Net", 1.0),
            Column::number("VAT", 1.0),
        ]);
        for ((standard, bp), (net, tax)) in by_rate {
            let treatment = if standard {
                VatTreatment::Standard
            } else {
                VatTreatment::Exempt
            };
            vat.row(vec![
                rate(treatment, bp),
                format::money(net),
                format::money(tax),
            ]);
        }
        doc.push(Block::Heading("VAT summary".to_owned()));
        doc.push(Block::Table(vat));

        let mut totals = vec![
            ("Net".to_owned(), money(inv.net)),
            ("VAT".to_owned(), money(inv.vat)),
            ("Total".to_owned(), money(inv.total)),
        ];
        if inv.paid.pence() > 0 {
            totals.push(("Paid".to_owned(), money(inv.paid)));
        }
        if inv.credited.pence() > 0 {
            totals.push(("Credited".to_owned(), money(inv.credited)));
        }
        totals.push(("Amount due".to_owned(), money(inv.outstanding)));
        doc.push(Block::Facts(totals));

        doc.push(Block::Heading("How to pay".to_owned()));
        match inv.status {
            InvoiceStatus::Void => {
                doc.push(Block::Text(
                    "This invoice has been cancelled: nothing is due.".to_owned(),
                ));
            }
            _ if inv.outstanding.pence() == 0 => {
                doc.push(Block::Text("Nothing is due: thank you.".to_owned()));
            }
            _ => {
                doc.push(Block::Text(format!(
                    "Please pay {} by {}, quoting {} as the reference.",
                    money(inv.outstanding),
                    format::date(inv.due_on),
                    inv.number
                )));
                let how = match &letterhead.bank {
                    Some(bank) => Block::Facts(vec![
                        ("Account name".to_owned(), bank.account_name.clone()),
                        ("Sort code".to_owned(), bank.sort_code.to_string()),
                        ("Account number".to_owned(), bank.account_number.to_string()),
                        ("Reference".to_owned(), inv.number.clone()),
                    ]),
                    None => Block::Text(format!(
                        "For bank details, contact {}'s finance team.",
                        letterhead.name
                    )),
                };
                doc.push(how);
                if let Some(url) = &inv.hosted_url {
                    doc.push(Block::Text(format!("Or pay online: {url}")));
                }
            }
        }
        doc.pdf()
    }
}

impl CreditNoteDocument {
    /// The document as a PDF under `letterhead`.
    #[must_use]
    pub fn pdf(&self, letterhead: &Letterhead) -> Vec<u8> {
        let note = &self.note;
        let mut doc = Document::new(
            format!("Credit note {}", note.number),
            Orientation::Portrait,
        )
        .footer(format!(
            "{} – credit note {} – {}",
            letterhead.name, note.number, self.account.name
        ));
        doc.push(issuer(letterhead));
        doc.push(billed(&self.account));
        doc.push(Block::Facts(vec![
            ("Credit note number".to_owned(), note.number.clone()),
            (
                "Date".to_owned(),
                format::date(format::local_day(note.issued_at)),
            ),
            ("Credits invoice".to_owned(), self.invoice.number.clone()),
            ("Reason".to_owned(), note.reason.clone()),
        ]));
        let mut lines = Table::new(vec![
            Column::text("Description", 4.0),
            Column::number("Net", 1.2),
            Column::number("VAT", 1.0),
            Column::number("Total", 1.2),
        ]);
        for line in &note.lines {
            lines.row(vec![
                line.description.clone(),
                money(line.net),
                money(line.vat),
                format::money(line.net.pence() + line.vat.pence()),
            ]);
        }
        doc.push(Block::Table(lines));
        doc.push(Block::Facts(vec![
            ("Net".to_owned(), money(note.net)),
            ("VAT".to_owned(), money(note.vat)),
            ("Total credited".to_owned(), money(note.total)),
        ]));
        doc.push(Block::Text(format!(
            "This credit reduces what is due on invoice {}; any credit left over is held on \
             the account or refunded.",
            self.invoice.number
        )));
        doc.pdf()
    }
}
