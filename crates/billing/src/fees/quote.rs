//! The quote engine: fee rules + a school's facts -> lines, totals and the working.
//!
//! Pure: no database, no clock, no floats. The same rules, year, facts and start date always
//! give the same quote to the penny, so an invoice can be checked against its quote years
//! later. The order of the steps and the rounding are documented in [`super::rules`].

use chrono::{Datelike, NaiveDate};
use kernel::{AcademicYear, DomainError, ErrorCode, FieldError, Money, Term};
use membership::school::types::{Roll, RollCensus};
use serde::Serialize;

use super::arith::{date_words, div_half_up, money, percent_words};
use super::facts::{SchoolFacts, establishment_words, phase_words};
use super::rules::{DiscountAmount, FeeRules, Limit, ProRata, VatTreatment};
use super::schedule::BillingFrequency;
use crate::ledger::invoices::vat_on;
use crate::ledger::{Instalment, split_instalments};

/// One part of the price: the fee, or a discount off it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuoteLine {
    pub description: String,
    /// Net of VAT; negative for a discount.
    pub amount: Money,
    pub vat: VatTreatment,
    /// The change this line makes to the VAT of the invoices: VAT is charged on the fee
    /// after discounts, so the fee line carries the VAT of the fee alone and each discount
    /// the (negative) difference it makes. The lines add up to [`Quote::vat`].
    pub vat_amount: Money,
}

/// One invoice the quote becomes: the whole year, or one term's instalment. Its net, VAT
/// and total are exactly what the invoicing run issues, to the penny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct QuoteInstalment {
    pub instalment: Instalment,
    pub net: Money,
    /// [`crate::ledger::invoices::vat_on`] of `net`: the ledger's own rule.
    pub vat: Money,
    pub total: Money,
}

/// One step of the working, in the order it was applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkingStep {
    /// What the step is: "Roll", "Per-pupil fee", "Cap", "Pro-rata", "VAT"…
    pub label: String,
    /// The step in words a headteacher can check: "412 × £19.00 = £7,828.00".
    pub detail: String,
    /// The running amount after this step, where the step produces one.
    pub amount: Option<Money>,
}

/// A school's fee for an academic year, with its working.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Quote {
    pub year: AcademicYear,
    pub starts_on: NaiveDate,
    /// How the schedule bills: one invoice, or termly instalments.
    pub frequency: BillingFrequency,
    /// The roll the per-pupil fee multiplied: the school's newest at the schedule's census
    /// taken by the end of the year. `None` when the fee is not per pupil (a flat or fixed
    /// price).
    pub roll: Option<Roll>,
    /// The full year's fee after caps and minimums, before pro-rata and discounts: what the
    /// school would pay had it joined on 1 September.
    pub annual_fee: Money,
    pub lines: Vec<QuoteLine>,
    /// The invoices this fee is billed in (none when discounts leave nothing to pay); their
    /// totals add up to `total`.
    pub instalments: Vec<QuoteInstalment>,
    pub net: Money,
    /// The sum of the instalments' VAT.
    pub vat: Money,
    /// `net + vat`.
    pub total: Money,
    pub working: Vec<WorkingStep>,
}

/// Why a school cannot be quoted under these rules. Each is the caller's to fix (record the
/// roll of the schedule's census, pick the right start date), so each maps to a field error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuoteError {
    #[error(
        "the fee is per pupil on the {} roll, and the school has no {} roll on record for the year",
        census_words(*census),
        census_words(*census)
    )]
    NoRoll { census: RollCensus },
    #[error("{} is outside the academic year {year} (1 September to 31 August)", date_words(*starts_on))]
    StartOutsideYear {
        starts_on: NaiveDate,
        year: AcademicYear,
    },
}

impl QuoteError {
    /// The error as a field error on the input a caller most likely took: the school's roll
    /// (`roll`, `roll.census`) or the start date (`startsOn`).
    #[must_use]
    pub fn field_error(&self) -> FieldError {
        let (field, code) = match self {
            Self::NoRoll { .. } => ("roll", ErrorCode::Required),
            Self::StartOutsideYear { .. } => ("startsOn", ErrorCode::OutOfRange),
        };
        FieldError::new(field, code, self.to_string())
    }
}

impl From<QuoteError> for DomainError {
    fn from(err: QuoteError) -> Self {
        Self::Invalid(vec![err.field_error()])
    }
}

fn census_words(census: RollCensus) -> &'static str {
    match census {
        RollCensus::October => "October census",
        RollCensus::January => "January census",
    }
}

fn step(label: &str, detail: String, amount: Option<i128>) -> WorkingStep {
    WorkingStep {
        label: label.to_owned(),
        detail,
        amount: amount.map(money),
    }
}

/// Calendar months from the month of `starts_on` to August, both counted: 12 from September,
/// 8 from any day of January, 1 in August.
fn months_remaining(year: AcademicYear, starts_on: NaiveDate) -> i128 {
    let last = year.last_day();
    let index = |d: NaiveDate| i128::from(d.year()) * 12 + i128::from(d.month0());
    index(last) - index(starts_on) + 1
}

fn describe_school(facts: &SchoolFacts) -> String {
    let mut text = format!(
        "{} {}",
        phase_words(facts.phase),
        establishment_words(facts.establishment_type)
    );
    text.push_str(if facts.has_sixth_form {
        " with a sixth form"
    } else {
        " without a sixth form"
    });
    if facts.is_new_school {
        text.push_str(", treated as a new school");
    }
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// Computes the fee for a school joining on `starts_on` in `year`, billed at `frequency`:
/// lines, the invoices it becomes, and the working.
pub fn quote(
    rules: &FeeRules,
    year: AcademicYear,
    facts: &SchoolFacts,
    starts_on: NaiveDate,
    frequency: BillingFrequency,
) -> Result<Quote, QuoteError> {
    if !year.contains(starts_on) {
        return Err(QuoteError::StartOutsideYear { starts_on, year });
    }
    let r = rules.document();
    let mut working = vec![step("School", describe_school(facts), None)];

    let census = r.census;
    let mut roll = None;
    let annual = if let Some(fixed) = r
        .fixed_prices
        .iter()
        .find(|p| p.when.matches(facts, census))
    {
        let amount = i128::from(fixed.amount_pence);
        working.push(step(
            "Fixed price",
            format!(
                "{}: {} for {}, instead of the per-pupil fee, cap and minimum",
                fixed.label,
                money(amount),
                fixed.when.describe()
            ),
            Some(amount),
        ));
        amount
    } else {
        let fee = calculated_fee(r, facts, &mut working)?;
        roll = r
            .per_pupil
            .as_ref()
            .and(census)
            .and_then(|c| facts.rolls.at(c));
        let fee = apply_cap(&r.caps, facts, census, fee, &mut working);
        apply_floor(&r.floors, facts, census, fee, &mut working)
    };
    working.push(step(
        "Annual fee",
        format!("{} for {year}", money(annual)),
        Some(annual),
    ));

    let months = months_remaining(year, starts_on);
    let description = format!("Membership fee {year}");
    let (description, fee) = match r.pro_rata {
        ProRata::WholeMonths if months < 12 => {
            let fee = div_half_up(annual * months, 12);
            working.push(step(
                "Pro-rata",
                format!(
                    "{months}/12 months from {}: {} × {months} ÷ 12 = {} (to the penny, half-up)",
                    date_words(starts_on),
                    money(annual),
                    money(fee)
                ),
                Some(fee),
            ));
            (
                format!(
                    "{description} ({months}/12 months from {})",
                    date_words(starts_on)
                ),
                fee,
            )
        }
        ProRata::None if months < 12 => {
            working.push(step(
                "Pro-rata",
                format!(
                    "none: joining on {} pays the full year's fee",
                    date_words(starts_on)
                ),
                Some(annual),
            ));
            (description, annual)
        }
        ProRata::WholeMonths | ProRata::None => (description, annual),
    };

    let mut nets: Vec<(String, i128)> = vec![(description, fee)];
    let mut discounted: i128 = 0;
    for d in r.discounts.iter().filter(|d| d.when.matches(facts, census)) {
        let (wanted, how) = match d.off {
            DiscountAmount::Percent { basis_points } => {
                let off = div_half_up(fee * i128::from(basis_points), 10_000);
                (
                    off,
                    format!(
                        "{} of {} = {}",
                        percent_words(basis_points),
                        money(fee),
                        money(off)
                    ),
                )
            }
            DiscountAmount::Fixed { amount_pence } => {
                let off = i128::from(amount_pence);
                (off, format!("fixed {}", money(off)))
            }
        };
        let off = wanted.min(fee - discounted);
        let detail = if off < wanted {
            format!(
                "{}: {how}, limited to the {} left of the fee",
                d.label,
                money(off)
            )
        } else {
            format!("{}: {how}", d.label)
        };
        discounted += off;
        working.push(step("Discount", detail, Some(fee - discounted)));
        if off > 0 {
            nets.push((d.label.clone(), -off));
        }
    }

    // VAT: charged on each invoice line the fee becomes, after the discounts (see
    // [`super::rules`], "Rounding"). The lines' VAT telescopes: each line carries the change
    // it makes to the VAT of the running net, so the lines add up to the invoices' VAT.
    let rate = r.vat.rate_basis_points();
    let parts = instalments_of(frequency, year, starts_on);
    let vat_of = |net: i128| -> i128 {
        split_instalments(money(net), parts.len())
            .into_iter()
            .map(|share| i128::from(vat_on(share.pence(), rate)))
            .sum()
    };
    let mut running_net: i128 = 0;
    let mut running_vat: i128 = 0;
    let lines: Vec<(String, i128, i128)> = nets
        .into_iter()
        .map(|(description, net)| {
            running_net += net;
            let vat_after = vat_of(running_net);
            let vat = vat_after - running_vat;
            running_vat = vat_after;
            (description, net, vat)
        })
        .collect();
    let net: i128 = running_net;
    let instalments: Vec<QuoteInstalment> = parts
        .iter()
        .zip(split_instalments(money(net), parts.len()))
        .filter(|(_, share)| share.pence() > 0)
        .map(|(&instalment, share)| {
            let vat = vat_on(share.pence(), rate);
            QuoteInstalment {
                instalment,
                net: share,
                vat: money(i128::from(vat)),
                total: money(i128::from(share.pence()) + i128::from(vat)),
            }
        })
        .collect();
    let vat: i128 = instalments.iter().map(|i| i128::from(i.vat.pence())).sum();
    debug_assert_eq!(
        vat, running_vat,
        "the lines' VAT telescopes to the invoices' VAT"
    );
    let total = net + vat;
    working.push(match r.vat {
        VatTreatment::Exempt => step("VAT", "exempt".to_owned(), Some(0)),
        VatTreatment::Standard { rate_basis_points } if instalments.len() <= 1 => step(
            "VAT",
            format!(
                "standard rate {} of the fee after discounts, {} = {} (to the penny, half-up)",
                percent_words(rate_basis_points),
                money(net),
                money(vat)
            ),
            Some(vat),
        ),
        VatTreatment::Standard { rate_basis_points } => step(
            "VAT",
            format!(
                "standard rate {} of each instalment after discounts, each to the penny, half-up: {}",
                percent_words(rate_basis_points),
                instalments
                    .iter()
                    .map(|i| format!(
                        "{} {} of {}",
                        i.instalment.as_str().to_lowercase(),
                        i.vat,
                        i.net
                    ))
                    .collect::<Vec<_>>()
                    .join(" + ")
            ),
            Some(vat),
        ),
    });
    working.push(step(
        "Total",
        format!("{} + {} VAT = {}", money(net), money(vat), money(total)),
        Some(total),
    ));

    Ok(Quote {
        year,
        starts_on,
        frequency,
        roll,
        annual_fee: money(annual),
        lines: lines
            .into_iter()
            .map(|(description, net, vat)| QuoteLine {
                description,
                amount: money(net),
                vat: r.vat,
                vat_amount: money(vat),
            })
            .collect(),
        instalments,
        net: money(net),
        vat: money(vat),
        total: money(total),
        working,
    })
}

/// The invoices a membership starting on `starts_on` is billed in: one for the year, or one
/// per term the membership reaches (a mid-year joiner pays only the terms it is a member for).
fn instalments_of(
    frequency: BillingFrequency,
    year: AcademicYear,
    starts_on: NaiveDate,
) -> Vec<Instalment> {
    match frequency {
        BillingFrequency::Annual => vec![Instalment::Annual],
        BillingFrequency::Termly => Term::ALL
            .into_iter()
            .filter(|term| term.dates(year).1 >= starts_on)
            .map(|term| match term {
                Term::Autumn => Instalment::Autumn,
                Term::Spring => Instalment::Spring,
                Term::Summer => Instalment::Summer,
            })
            .collect(),
    }
}

/// Base fee plus per-pupil fee, before caps and minimums.
fn calculated_fee(
    r: &super::rules::FeeRulesInput,
    facts: &SchoolFacts,
    working: &mut Vec<WorkingStep>,
) -> Result<i128, QuoteError> {
    let mut fee: i128 = 0;
    let phase = phase_words(facts.phase);
    if let Some(base) = &r.base_fee {
        let amount = i128::from(base.for_phase(facts.phase));
        fee += amount;
        working.push(step(
            "Base fee",
            format!("{} for {phase} schools", money(amount)),
            Some(fee),
        ));
    }
    if let Some(per_pupil) = &r.per_pupil {
        let census = r
            .census
            .expect("validation requires a census with a per-pupil rate");
        let roll = facts
            .rolls
            .at(census)
            .ok_or(QuoteError::NoRoll { census })?;
        working.push(step(
            "Roll",
            format!(
                "{} pupils ({} {}, taken {})",
                roll.number_on_roll,
                census_words(census),
                roll.census_date.year(),
                date_words(roll.census_date)
            ),
            None,
        ));
        let rate = i128::from(per_pupil.for_phase(facts.phase));
        let amount = i128::from(roll.number_on_roll) * rate;
        let detail = format!(
            "{} × {} = {}",
            roll.number_on_roll,
            money(rate),
            money(amount)
        );
        fee += amount;
        working.push(step(
            "Per-pupil fee",
            if r.base_fee.is_some() {
                format!("{detail}; with the base fee {}", money(fee))
            } else {
                detail
            },
            Some(fee),
        ));
    }
    Ok(fee)
}

fn apply_cap(
    caps: &[Limit],
    facts: &SchoolFacts,
    census: Option<RollCensus>,
    fee: i128,
    working: &mut Vec<WorkingStep>,
) -> i128 {
    if caps.is_empty() {
        return fee;
    }
    let Some(cap) = caps.iter().find(|c| c.when.matches(facts, census)) else {
        working.push(step(
            "Cap",
            "no cap applies to this school".to_owned(),
            Some(fee),
        ));
        return fee;
    };
    let limit = i128::from(cap.amount_pence);
    let whom = cap.when.describe();
    if fee > limit {
        working.push(step(
            "Cap",
            format!("capped at {} for {whom} (was {})", money(limit), money(fee)),
            Some(limit),
        ));
        limit
    } else {
        working.push(step(
            "Cap",
            format!("cap {} for {whom} not reached", money(limit)),
            Some(fee),
        ));
        fee
    }
}

fn apply_floor(
    floors: &[Limit],
    facts: &SchoolFacts,
    census: Option<RollCensus>,
    fee: i128,
    working: &mut Vec<WorkingStep>,
) -> i128 {
    if floors.is_empty() {
        return fee;
    }
    let Some(floor) = floors.iter().find(|f| f.when.matches(facts, census)) else {
        working.push(step(
            "Minimum",
            "no minimum applies to this school".to_owned(),
            Some(fee),
        ));
        return fee;
    };
    let limit = i128::from(floor.amount_pence);
    let whom = floor.when.describe();
    if fee < limit {
        working.push(step(
            "Minimum",
            format!(
                "raised to the minimum {} for {whom} (was {})",
                money(limit),
                money(fee)
            ),
            Some(limit),
        ));
        limit
    } else {
        working.push(step(
            "Minimum",
            format!("minimum {} for {whom} already met", money(limit)),
            Some(fee),
        ));
        fee
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_count_the_joining_month() {
        let y = AcademicYear::starting(2026).expect("year");
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("date");
        assert_eq!(months_remaining(y, d(2026, 9, 1)), 12);
        assert_eq!(months_remaining(y, d(2026, 9, 30)), 12);
        assert_eq!(months_remaining(y, d(2026, 12, 31)), 9);
        assert_eq!(months_remaining(y, d(2027, 1, 5)), 8);
        assert_eq!(months_remaining(y, d(2027, 8, 31)), 1);
    }
}
