//! Which open invoice a money-in line most likely pays: a proposal for finance to confirm,
//! never applied by itself.
//!
//! 1. **An invoice number in the reference.** Schools are asked to quote it; banks keep the
//!    reference but may drop its hyphens or spaces (`TRL2026000012`), so numbers are compared
//!    with only letters and digits kept, after any prefix the numbering has used.
//! 2. **The exact amount outstanding and the payer's name.** Among open invoices owing exactly
//!    the amount, those whose account's name — or the name of a school on the account — is in
//!    the description. Banks cut payer names short (`HOLLY PARK PRIMAR`), so a name matches
//!    when its first two significant words (not "school", "primary", "the"…) each begin a word
//!    of the description. Termly instalments owe the same amount: of one account's, the
//!    earliest due is proposed. Candidates on two accounts are no proposal.

use std::collections::HashMap;

use chrono::NaiveDate;
use kernel::{BillingAccountId, InvoiceId};

use super::MatchReason;

/// An invoice that can take money, as matching needs it.
#[derive(Debug, Clone)]
pub(crate) struct OpenInvoice {
    pub id: InvoiceId,
    pub account_id: BillingAccountId,
    pub number: String,
    pub outstanding: i64,
    pub due_on: NaiveDate,
}

/// What a line is proposed to pay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Proposal {
    pub reason: MatchReason,
    pub account: BillingAccountId,
    /// `None` when the reference names several invoices of one account: finance chooses.
    pub invoice: Option<InvoiceId>,
}

/// Words of a school's or an account's name that say nothing about which one it is.
const COMMON: &[&str] = &[
    "THE",
    "AND",
    "OF",
    "FOR",
    "SCHOOL",
    "SCHOOLS",
    "PRIMARY",
    "SECONDARY",
    "ACADEMY",
    "INFANT",
    "INFANTS",
    "JUNIOR",
    "JUNIORS",
    "NURSERY",
    "COLLEGE",
    "HIGH",
    "CHURCH",
    "ENGLAND",
    "CATHOLIC",
    "TRUST",
    "FEDERATION",
    "PARTNERSHIP",
    "LTD",
    "LIMITED",
    "GOVERNORS",
    "ACCOUNT",
    "FUND",
    "SAINT",
    "MULTI",
    "ACADEMIES",
    "COMMUNITY",
    "FOUNDATION",
    "VOLUNTARY",
    "AIDED",
];

/// The open invoices and payers of one import, indexed once.
pub(crate) struct Matcher {
    invoices: Vec<OpenInvoice>,
    by_number: HashMap<String, usize>,
    by_amount: HashMap<i64, Vec<usize>>,
    prefixes: Vec<String>,
    /// Each account's names, as their significant words.
    payers: HashMap<BillingAccountId, Vec<Vec<String>>>,
}

impl Matcher {
    /// `names` are every account's name and its schools' names; `prefixes` every invoice
    /// number prefix in use.
    pub fn new(
        invoices: Vec<OpenInvoice>,
        names: &[(BillingAccountId, String)],
        prefixes: &[String],
    ) -> Self {
        let by_number = invoices
            .iter()
            .enumerate()
            .map(|(i, inv)| (compact(&inv.number), i))
            .collect();
        let mut by_amount: HashMap<i64, Vec<usize>> = HashMap::new();
        for (i, inv) in invoices.iter().enumerate() {
            by_amount.entry(inv.outstanding).or_default().push(i);
        }
        let mut payers: HashMap<BillingAccountId, Vec<Vec<String>>> = HashMap::new();
        for (account, name) in names {
            let words: Vec<String> = words(name)
                .filter(|w| w.len() >= 3 && !COMMON.contains(&w.as_str()))
                .take(2)
                .collect();
            if !words.is_empty() {
                payers.entry(*account).or_default().push(words);
            }
        }
        let mut prefixes: Vec<String> = prefixes.iter().map(|p| compact(p)).collect();
        prefixes.sort();
        prefixes.dedup();
        Self {
            invoices,
            by_number,
            by_amount,
            prefixes,
            payers,
        }
    }

    /// The proposal for a line of `amount_pence` (money in) described as `description`.
    pub fn propose(&self, description: &str, amount_pence: i64) -> Option<Proposal> {
        self.by_reference(description)
            .or_else(|| self.by_amount_and_payer(description, amount_pence))
    }

    fn by_reference(&self, description: &str) -> Option<Proposal> {
        let text = compact(description);
        let mut found: Vec<&OpenInvoice> = Vec::new();
        for prefix in &self.prefixes {
            for (at, _) in text.match_indices(prefix.as_str()) {
                let rest = &text[at + prefix.len()..];
                // `{year}{six digits}`: the numbering's own shape.
                let digits = rest
                    .get(..10)
                    .filter(|d| d.bytes().all(|b| b.is_ascii_digit()));
                if let Some(digits) = digits
                    && let Some(&i) = self.by_number.get(&format!("{prefix}{digits}"))
                    && !found.iter().any(|f| f.id == self.invoices[i].id)
                {
                    found.push(&self.invoices[i]);
                }
            }
        }
        let first = found.first()?;
        if found.iter().any(|f| f.account_id != first.account_id) {
            return None;
        }
        Some(Proposal {
            reason: MatchReason::InvoiceNumber,
            account: first.account_id,
            invoice: (found.len() == 1).then_some(first.id),
        })
    }

    fn by_amount_and_payer(&self, description: &str, amount_pence: i64) -> Option<Proposal> {
        let said: Vec<String> = words(description).collect();
        let named = |account: &BillingAccountId| {
            self.payers.get(account).is_some_and(|names| {
                names.iter().any(|name| {
                    name.iter().all(|w| {
                        said.iter()
                            .any(|s| s == w || (s.len() >= 4 && w.starts_with(s.as_str())))
                    })
                })
            })
        };
        let candidates: Vec<&OpenInvoice> = self
            .by_amount
            .get(&amount_pence)?
            .iter()
            .map(|&i| &self.invoices[i])
            .filter(|inv| named(&inv.account_id))
            .collect();
        let first = candidates.first()?;
        if candidates.iter().any(|c| c.account_id != first.account_id) {
            return None;
        }
        let earliest = candidates
            .iter()
            .min_by_key(|c| (c.due_on, c.number.as_str()))?;
        Some(Proposal {
            reason: MatchReason::AmountAndPayer,
            account: earliest.account_id,
            invoice: Some(earliest.id),
        })
    }
}

/// Capital letters and digits only: `TRL-2026-000012` and `trl 2026 000012` are alike.
fn compact(text: &str) -> String {
    text.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Words in capitals, apostrophes dropped (`St Mary's` → `ST`, `MARYS`).
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '\u{2019}'))
        .map(|w| {
            w.chars()
                .filter(|c| c.is_alphanumeric())
                .flat_map(char::to_uppercase)
                .collect::<String>()
        })
        .filter(|w| !w.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, d).expect("day")
    }

    struct World {
        holly: BillingAccountId,
        birch: BillingAccountId,
        invoices: Vec<OpenInvoice>,
    }

    fn world() -> World {
        let holly = BillingAccountId::new();
        let birch = BillingAccountId::new();
        let inv = |account, number: &str, outstanding, due| OpenInvoice {
            id: InvoiceId::new(),
            account_id: account,
            number: number.into(),
            outstanding,
            due_on: day(due),
        };
        World {
            holly,
            birch,
            invoices: vec![
                inv(holly, "TRL-2026-000012", 125_000, 10),
                inv(holly, "TRL-2026-000013", 50_000, 20),
                inv(holly, "TRL-2026-000014", 50_000, 5),
                inv(birch, "TRL-2026-000020", 9_500, 10),
                inv(birch, "INV-2026-000001", 1_000, 10),
            ],
        }
    }

    fn matcher(w: &World) -> Matcher {
        Matcher::new(
            w.invoices.clone(),
            &[
                (w.holly, "Holly Park Primary School".into()),
                (w.birch, "The Birch Academy Trust".into()),
                (w.birch, "St Mary's C of E Primary".into()),
            ],
            &["TRL".into(), "INV".into()],
        )
    }

    #[test]
    fn an_invoice_number_in_the_reference_wins_with_or_without_hyphens() {
        let w = world();
        let m = matcher(&w);
        for text in [
            "HOLLY PARK PRIMAR TRL-2026-000012",
            "bgc trl2026000012 fees",
            "REF TRL 2026 000012",
        ] {
            let p = m.propose(text, 1).expect(text);
            assert_eq!(p.reason, MatchReason::InvoiceNumber);
            assert_eq!(p.invoice, Some(w.invoices[0].id), "{text}");
        }
        // Two of one account's numbers: the account, the invoices for finance to choose.
        let p = m
            .propose("TRL-2026-000012 TRL-2026-000013", 175_000)
            .expect("two");
        assert_eq!((p.account, p.invoice), (w.holly, None));
        // Numbers of two accounts: no proposal.
        assert_eq!(m.propose("TRL-2026-000012 TRL-2026-000020", 1), None);
        // A number that is not open (or not ours).
        assert_eq!(m.propose("TRL-2026-000099", 7), None);
    }

    #[test]
    fn the_exact_amount_and_the_payer_name_propose_the_earliest_due() {
        let w = world();
        let m = matcher(&w);
        let p = m.propose("HOLLY PARK PRIMAR", 50_000).expect("holly");
        assert_eq!(p.reason, MatchReason::AmountAndPayer);
        assert_eq!(p.invoice, Some(w.invoices[2].id), "the earliest due");
        // A school's name on the account counts as the payer's.
        let p = m.propose("ST MARYS C OF E", 9_500).expect("st mary's");
        assert_eq!(p.account, w.birch);
        // The right amount from someone else, or the right payer with another amount.
        assert_eq!(m.propose("OAK TREE SCHOOL", 50_000), None);
        assert_eq!(m.propose("HOLLY PARK PRIMARY", 50_001), None);
        // "Primary School" alone names nobody.
        assert_eq!(m.propose("PRIMARY SCHOOL", 50_000), None);
    }
}
