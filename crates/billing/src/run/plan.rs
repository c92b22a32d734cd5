//! Planning an invoicing run: which invoices, with which lines, each account gets for a year.
//!
//! Pure: given the year's active memberships with their schools, fee schedules and paying
//! accounts, it either returns every invoice to issue or every reason it cannot — so a run
//! with a missing fee schedule or paying account writes nothing at all, rather than invoicing
//! half the partnership and leaving finance to work out who is missing.
//!
//! One problem is the school's own, not the partnership's: a per-pupil fee with no roll on
//! record for the schedule's census. Such a membership is [`Skipped`], with the reason, and
//! everyone else is invoiced; once the roll is recorded the supplementary run invoices it.

use std::collections::{BTreeMap, HashMap};

use chrono::{Duration, NaiveDate};
use kernel::{
    AcademicYear, BillingAccountId, ErrorCode, FieldError, MembershipId, SchoolId, Term, TierId,
};
use membership::memberships::Membership;
use membership::school::School;
use membership::school::types::Roll;

use crate::fees::{self, FeeSchedule, SchoolFacts};
use crate::ledger::{
    Instalment, InvoiceCollection, InvoiceSource, NewInvoice, NewInvoiceLine, VatTreatment,
};

/// Everything the planner reads, loaded by the caller in a fixed number of statements.
#[derive(Debug, Clone, Copy)]
pub struct RunInputs<'a> {
    pub year: AcademicYear,
    /// The date the run is made: due dates count from it.
    pub today: NaiveDate,
    pub memberships: &'a [Membership],
    pub schools: &'a HashMap<SchoolId, School>,
    /// Each school's roll history (every census), so each schedule reads its own census.
    pub rolls: &'a HashMap<SchoolId, Vec<Roll>>,
    pub schedules: &'a HashMap<TierId, FeeSchedule>,
    pub accounts: &'a HashMap<SchoolId, BillingAccountId>,
    /// Tier codes, for messages a person can act on.
    pub tier_codes: &'a HashMap<TierId, String>,
}

/// One invoice the run will issue (or find already issued).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedInvoice {
    pub invoice: NewInvoice,
    /// The memberships it bills.
    pub memberships: Vec<MembershipId>,
}

/// A membership the plan leaves out until its school's own problem is fixed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub membership: MembershipId,
    pub school: SchoolId,
    /// What to fix, naming the school, e.g. "Hazel (100009): … no October roll on record".
    pub reason: String,
}

/// The invoices to issue, and the memberships left out for now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub invoices: Vec<PlannedInvoice>,
    pub skipped: Vec<Skipped>,
}

/// Why a membership is not planned.
enum Unplanned {
    /// The school's own problem: the others go ahead.
    Skip(String),
    /// The partnership's problem (no schedule, no account): nothing goes ahead.
    Block(FieldError),
}

impl From<FieldError> for Unplanned {
    fn from(err: FieldError) -> Self {
        Self::Block(err)
    }
}

/// Plans every invoice of the run, or explains every membership that cannot be invoiced.
///
/// # Errors
/// One field error (on `academicYear`) per membership without a fee schedule for its tier or
/// without a billing account. A membership its schedule cannot price for want of the school's
/// roll is [`Skipped`] instead.
pub fn plan(inputs: &RunInputs<'_>) -> Result<Plan, Vec<FieldError>> {
    let mut problems = Vec::new();
    let mut skipped = Vec::new();
    // (account, instalment) -> lines, in a stable order so reruns plan identical invoices.
    let mut grouped: BTreeMap<(BillingAccountId, Instalment), Draft> = BTreeMap::new();

    let mut ordered: Vec<&Membership> = inputs.memberships.iter().collect();
    ordered.sort_by_key(|m| {
        let name = inputs.schools.get(&m.school_id).map(|s| s.name.clone());
        (name, m.id)
    });
    for membership in ordered {
        match plan_membership(inputs, membership) {
            Ok(parts) => {
                for part in parts {
                    let draft = grouped
                        .entry((part.account, part.instalment))
                        .or_insert_with(|| Draft {
                            due_on: part.due_on,
                            lines: Vec::new(),
                            memberships: Vec::new(),
                        });
                    draft.due_on = draft.due_on.max(part.due_on);
                    draft.lines.extend(part.lines);
                    draft.memberships.push(membership.id);
                }
            }
            Err(Unplanned::Block(problem)) => problems.push(problem),
            Err(Unplanned::Skip(reason)) => skipped.push(Skipped {
                membership: membership.id,
                school: membership.school_id,
                reason,
            }),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let invoices = grouped
        .into_iter()
        .map(|((account_id, instalment), draft)| PlannedInvoice {
            invoice: NewInvoice {
                account_id,
                year: inputs.year,
                instalment,
                due_on: draft.due_on,
                lines: draft.lines,
                po_number: None,
                source: InvoiceSource::MembershipRun,
                collection: InvoiceCollection::Send,
            },
            memberships: draft.memberships,
        })
        .collect();
    Ok(Plan { invoices, skipped })
}

struct Draft {
    due_on: NaiveDate,
    lines: Vec<NewInvoiceLine>,
    memberships: Vec<MembershipId>,
}

/// One membership's share of one instalment.
struct Part {
    account: BillingAccountId,
    instalment: Instalment,
    due_on: NaiveDate,
    lines: Vec<NewInvoiceLine>,
}

fn plan_membership(inputs: &RunInputs<'_>, m: &Membership) -> Result<Vec<Part>, Unplanned> {
    let school = inputs.schools.get(&m.school_id).ok_or_else(|| {
        problem(format!(
            "membership {} names a school that is not in the directory",
            m.id
        ))
    })?;
    let tier = inputs
        .tier_codes
        .get(&m.tier_id)
        .map_or("its tier", String::as_str);
    let schedule = inputs.schedules.get(&m.tier_id).ok_or_else(|| {
        problem(format!(
            "{} ({}): no {} fee schedule for {tier}",
            school.name, school.urn, inputs.year
        ))
    })?;
    let account = *inputs.accounts.get(&m.school_id).ok_or_else(|| {
        problem(format!(
            "{} ({}): no billing account pays for this school",
            school.name, school.urn
        ))
    })?;
    let history = inputs
        .rolls
        .get(&m.school_id)
        .into_iter()
        .flatten()
        .copied();
    let facts = SchoolFacts::of(school, history, inputs.year);
    let quote = fees::quote(
        &schedule.rules,
        inputs.year,
        &facts,
        m.starts_on,
        schedule.frequency,
    )
    .map_err(|e| {
        let message = format!("{} ({}): {e}", school.name, school.urn);
        match e {
            fees::QuoteError::NoRoll { .. } => Unplanned::Skip(message),
            fees::QuoteError::StartOutsideYear { .. } => Unplanned::Block(problem(message)),
        }
    })?;
    let (treatment, rate) = match schedule.rules.document().vat {
        fees::VatTreatment::Exempt => (VatTreatment::Exempt, 0),
        fees::VatTreatment::Standard { rate_basis_points } => {
            (VatTreatment::Standard, rate_basis_points)
        }
    };

    // One invoice line per instalment the quote priced: the quote's net, after discounts
    // (invoice lines are never negative, and a discount is part of the membership's price),
    // so the ledger's VAT on it is the quote's to the penny.
    let terms_days = Duration::days(i64::from(schedule.payment_terms_days));
    let base = format!("Membership {} ({}) — {}", inputs.year, tier, school.name);
    let parts: Vec<Part> = quote
        .instalments
        .iter()
        .map(|priced| {
            let (due_on, description) = match priced.instalment {
                Instalment::Annual | Instalment::None => (inputs.today + terms_days, base.clone()),
                other => {
                    let start = term_of(other).map_or(inputs.today, |t| t.dates(inputs.year).0);
                    (
                        inputs.today.max(start) + terms_days,
                        format!("{base}, {} instalment", other.as_str().to_lowercase()),
                    )
                }
            };
            Part {
                account,
                instalment: priced.instalment,
                due_on,
                lines: vec![NewInvoiceLine {
                    description,
                    quantity: 1,
                    unit_amount: priced.net,
                    vat_treatment: treatment,
                    vat_rate_bp: rate,
                    cfr_code: Some(MEMBERSHIP_CFR_CODE.to_owned()),
                    school_id: Some(m.school_id),
                    membership_id: Some(m.id),
                    booking_id: None,
                }],
            }
        })
        .collect();
    Ok(parts)
}

/// The CFR (Consistent Financial Reporting) income code schools use for what they pay for
/// services bought from another body: I03 is "income from facilities and services" on the
/// provider's side; schools code the cost to E27 ("bought-in professional services").
/// Membership lines carry E27 so a school's finance office can post them unedited.
pub const MEMBERSHIP_CFR_CODE: &str = "E27";

const fn term_of(instalment: Instalment) -> Option<Term> {
    match instalment {
        Instalment::Autumn => Some(Term::Autumn),
        Instalment::Spring => Some(Term::Spring),
        Instalment::Summer => Some(Term::Summer),
        Instalment::Annual | Instalment::None => None,
    }
}

fn problem(message: String) -> FieldError {
    FieldError::new("academicYear", ErrorCode::Conflict, message)
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use kernel::FeeScheduleId;
    use membership::memberships::MembershipStatus;
    use membership::school::types::{EstablishmentType, Phase, Postcode, Roll, RollCensus, Urn};

    use super::*;
    use crate::fees::{BillingFrequency, FeeRules};

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("date")
    }

    fn year() -> AcademicYear {
        AcademicYear::starting(2026).expect("year")
    }

    fn school(urn: &str, name: &str, roll: Option<u32>) -> School {
        let at = Utc
            .with_ymd_and_hms(2026, 5, 1, 9, 0, 0)
            .single()
            .expect("time");
        School {
            id: SchoolId::new(),
            urn: Urn::parse(urn).expect("urn"),
            name: name.to_owned(),
            phase: Phase::Primary,
            establishment_type: EstablishmentType::Community,
            local_authority: "Haringey".to_owned(),
            postcode: Postcode::parse("N22 6HH").expect("postcode"),
            roll: roll.map(|n| Roll {
                number_on_roll: n,
                census: RollCensus::October,
                census_date: day(2025, 10, 2),
            }),
            has_sixth_form: false,
            is_demo: false,
            status: membership::school::types::SchoolStatus::Open,
            closed_on: None,
            opened_on: None,
            created_at: at,
            updated_at: at,
        }
    }

    fn membership(school: SchoolId, tier: TierId, starts_on: NaiveDate) -> Membership {
        let at = Utc
            .with_ymd_and_hms(2026, 5, 1, 9, 0, 0)
            .single()
            .expect("time");
        Membership {
            id: MembershipId::new(),
            school_id: school,
            year: year(),
            tier_id: tier,
            status: MembershipStatus::Active,
            starts_on,
            ends_on: year().last_day(),
            notice_by: None,
            renewed_from: None,
            decided_at: None,
            decided_by: None,
            cancelled_reason: None,
            principles: Vec::new(),
            created_at: at,
            updated_at: at,
        }
    }

    fn schedule(tier: TierId, frequency: BillingFrequency) -> FeeSchedule {
        let at = Utc
            .with_ymd_and_hms(2026, 5, 1, 9, 0, 0)
            .single()
            .expect("time");
        FeeSchedule {
            id: FeeScheduleId::new(),
            year: year(),
            tier_id: tier,
            name: "Full membership 2026/27".to_owned(),
            rules: FeeRules::haringey_2026(),
            frequency,
            payment_terms_days: 30,
            locked_at: None,
            created_at: at,
            updated_at: at,
        }
    }

    /// A world of schools, all on `frequency`, each membership starting on its given day.
    struct World {
        tier: TierId,
        memberships: Vec<Membership>,
        schools: HashMap<SchoolId, School>,
        schedules: HashMap<TierId, FeeSchedule>,
        accounts: HashMap<SchoolId, BillingAccountId>,
        tier_codes: HashMap<TierId, String>,
    }

    impl World {
        fn new(frequency: BillingFrequency) -> Self {
            let tier = TierId::new();
            Self {
                tier,
                memberships: Vec::new(),
                schools: HashMap::new(),
                schedules: HashMap::from([(tier, schedule(tier, frequency))]),
                accounts: HashMap::new(),
                tier_codes: HashMap::from([(tier, "FULL".to_owned())]),
            }
        }

        /// Each school's roll as its only history.
        fn rolls(&self) -> HashMap<SchoolId, Vec<Roll>> {
            self.schools
                .iter()
                .map(|(id, s)| (*id, s.roll.into_iter().collect()))
                .collect()
        }

        fn add(
            &mut self,
            school: School,
            starts_on: NaiveDate,
            account: Option<BillingAccountId>,
        ) -> SchoolId {
            let id = school.id;
            self.memberships.push(membership(id, self.tier, starts_on));
            self.schools.insert(id, school);
            if let Some(account) = account {
                self.accounts.insert(id, account);
            }
            id
        }

        fn plan(&self) -> Result<Plan, Vec<FieldError>> {
            let rolls = self.rolls();
            plan(&RunInputs {
                year: year(),
                today: day(2026, 9, 15),
                memberships: &self.memberships,
                schools: &self.schools,
                rolls: &rolls,
                schedules: &self.schedules,
                accounts: &self.accounts,
                tier_codes: &self.tier_codes,
            })
        }
    }

    fn gross(p: &PlannedInvoice) -> i64 {
        p.invoice
            .lines
            .iter()
            .map(|l| l.unit_amount.pence() * i64::from(l.quantity))
            .sum()
    }

    #[test]
    fn termly_splits_the_fee_into_three_instalments_to_the_penny() {
        let mut w = World::new(BillingFrequency::Termly);
        // 421 pupils at £19 = £7,999.00: not divisible by three, so the odd pence go first.
        w.add(
            school("100001", "Alder", Some(421)),
            year().first_day(),
            Some(BillingAccountId::new()),
        );
        let planned = w.plan().expect("plan").invoices;
        let instalments: Vec<Instalment> = planned.iter().map(|p| p.invoice.instalment).collect();
        assert_eq!(
            instalments,
            [Instalment::Autumn, Instalment::Spring, Instalment::Summer]
        );
        let amounts: Vec<i64> = planned.iter().map(gross).collect();
        assert_eq!(amounts.iter().sum::<i64>(), 799_900);
        assert_eq!(amounts, [266_634, 266_633, 266_633]);
        // Due 30 days after the run or the term's start, whichever is later.
        let due: Vec<NaiveDate> = planned.iter().map(|p| p.invoice.due_on).collect();
        assert_eq!(due, [day(2026, 10, 15), day(2027, 1, 31), day(2027, 5, 1)]);
    }

    #[test]
    fn a_mid_year_joiner_pays_only_the_terms_it_is_a_member_for() {
        let mut w = World::new(BillingFrequency::Termly);
        w.add(
            school("100001", "Alder", Some(600)),
            day(2027, 1, 5),
            Some(BillingAccountId::new()),
        );
        let planned = w.plan().expect("plan").invoices;
        let instalments: Vec<Instalment> = planned.iter().map(|p| p.invoice.instalment).collect();
        assert_eq!(instalments, [Instalment::Spring, Instalment::Summer]);
        // £11,400 a year, 8 of 12 months: £7,600.
        assert_eq!(planned.iter().map(gross).sum::<i64>(), 760_000);
    }

    #[test]
    fn a_trust_gets_one_invoice_per_instalment_with_a_line_per_school() {
        let mut w = World::new(BillingFrequency::Annual);
        let trust = BillingAccountId::new();
        let a = w.add(
            school("100001", "Alder", Some(300)),
            year().first_day(),
            Some(trust),
        );
        let b = w.add(
            school("100002", "Birch", Some(200)),
            year().first_day(),
            Some(trust),
        );
        let planned = w.plan().expect("plan").invoices;
        assert_eq!(planned.len(), 1);
        let invoice = &planned[0].invoice;
        assert_eq!(invoice.instalment, Instalment::Annual);
        assert_eq!(invoice.due_on, day(2026, 10, 15));
        let schools: Vec<Option<SchoolId>> = invoice.lines.iter().map(|l| l.school_id).collect();
        assert_eq!(schools.len(), 2);
        assert!(schools.contains(&Some(a)) && schools.contains(&Some(b)));
        assert_eq!(planned[0].memberships.len(), 2);
        // Lines in school-name order, so a rerun plans the same invoice.
        assert!(invoice.lines[0].description.ends_with("Alder"));
    }

    #[test]
    fn every_unbillable_membership_is_reported_and_nothing_is_planned() {
        let mut w = World::new(BillingFrequency::Termly);
        w.add(
            school("100001", "Alder", Some(300)),
            year().first_day(),
            Some(BillingAccountId::new()),
        );
        w.add(
            school("100002", "Birch", Some(300)),
            year().first_day(),
            None,
        );
        w.add(
            school("100003", "Cedar", None),
            year().first_day(),
            Some(BillingAccountId::new()),
        );
        let other_tier = TierId::new();
        let elm = school("100004", "Elm", Some(300));
        w.memberships
            .push(membership(elm.id, other_tier, year().first_day()));
        w.accounts.insert(elm.id, BillingAccountId::new());
        w.schools.insert(elm.id, elm);

        let errors = w.plan().expect_err("unbillable");
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors.iter().all(|e| e.field == ["academicYear"]));
        let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
        assert!(messages[0].starts_with("Birch") && messages[0].contains("no billing account"));
        assert!(messages[1].starts_with("Elm") && messages[1].contains("no 2026/27 fee schedule"));
    }

    #[test]
    fn a_school_without_its_census_roll_is_skipped_and_the_rest_planned() {
        let mut w = World::new(BillingFrequency::Termly);
        w.add(
            school("100001", "Alder", Some(300)),
            year().first_day(),
            Some(BillingAccountId::new()),
        );
        let cedar = school("100003", "Cedar", None);
        let cedar_id = cedar.id;
        w.add(cedar, year().first_day(), Some(BillingAccountId::new()));
        let plan = w.plan().expect("plan");
        assert_eq!(plan.invoices.len(), 3, "Alder's three instalments");
        assert!(plan.invoices.iter().all(|p| {
            p.invoice
                .lines
                .iter()
                .all(|l| l.school_id != Some(cedar_id))
        }));
        assert_eq!(plan.skipped.len(), 1);
        assert_eq!(plan.skipped[0].school, cedar_id);
        assert!(
            plan.skipped[0].reason.starts_with("Cedar (100003)")
                && plan.skipped[0].reason.contains("no October census roll"),
            "{}",
            plan.skipped[0].reason
        );
    }

    mod quote_is_what_the_run_invoices {
        //! The one rounding rule, proved end to end without a database: over random
        //! schedules, rolls, discounts, VAT rates, join dates and billing frequencies, the
        //! quote a school is shown equals, to the penny, the invoices the run plans once the
        //! ledger has checked their lines and computed their VAT ([`check_line`], the very
        //! code `issue_invoice` runs).

        use proptest::prelude::*;

        use super::*;
        use crate::fees::{
            Discount, DiscountAmount, FeeRulesInput, PhaseAmounts, ProRata, Selector,
            VatTreatment as FeeVat,
        };
        use crate::ledger::invoices::check_line;

        prop_compose! {
            fn any_rules()(
                rate in 0i64..=5_000,
                base in proptest::option::of(0i64..=500_000),
                percent in proptest::option::of(1u32..=10_000),
                fixed in proptest::option::of(1i64..=500_000),
                vat in prop_oneof![Just(None), (1u32..=10_000).prop_map(Some), Just(Some(2_000))],
                pro_rata in any::<bool>(),
                termly in any::<bool>(),
            ) -> (FeeRulesInput, BillingFrequency) {
                let mut discounts = Vec::new();
                if let Some(basis_points) = percent {
                    discounts.push(Discount {
                        label: "Percent".into(),
                        off: DiscountAmount::Percent { basis_points },
                        when: Selector::default(),
                    });
                }
                if let Some(amount_pence) = fixed {
                    discounts.push(Discount {
                        label: "Fixed".into(),
                        off: DiscountAmount::Fixed { amount_pence },
                        when: Selector::default(),
                    });
                }
                let rules = FeeRulesInput {
                    version: 1,
                    census: Some(RollCensus::October),
                    per_pupil: Some(PhaseAmounts::flat(rate)),
                    base_fee: base.map(PhaseAmounts::flat),
                    fixed_prices: vec![],
                    caps: vec![],
                    floors: vec![],
                    pro_rata: if pro_rata { ProRata::WholeMonths } else { ProRata::None },
                    discounts,
                    vat: vat.map_or(FeeVat::Exempt, |rate_basis_points| FeeVat::Standard {
                        rate_basis_points,
                    }),
                };
                let frequency = if termly { BillingFrequency::Termly } else { BillingFrequency::Annual };
                (rules, frequency)
            }
        }

        proptest! {
            #[test]
            fn to_the_penny(
                (rules, frequency) in any_rules(),
                roll in 0u32..=3_000,
                joins_after in 0i64..365,
            ) {
                let mut w = World::new(frequency);
                let tier = w.tier;
                let schedule = w.schedules.get_mut(&tier).expect("the schedule");
                schedule.rules = FeeRules::new(rules).expect("generated rules are valid");
                let starts_on = year().first_day() + Duration::days(joins_after);
                let id = w.add(
                    school("100001", "Alder", Some(roll)),
                    starts_on,
                    Some(BillingAccountId::new()),
                );
                let quote = fees::quote(
                    &w.schedules[&tier].rules,
                    year(),
                    &SchoolFacts::of(&w.schools[&id], w.schools[&id].roll, year()),
                    starts_on,
                    frequency,
                )
                .expect("quote");
                let planned = w.plan().expect("plan").invoices;

                let mut invoiced = Vec::new();
                for p in &planned {
                    let mut problems = kernel::Problems::default();
                    let (mut net, mut vat) = (0_i64, 0_i64);
                    for line in &p.invoice.lines {
                        let checked = check_line(&mut problems, "", line, &[id])
                            .expect("the run's lines pass the ledger's checks");
                        net += checked.net;
                        vat += checked.vat;
                    }
                    invoiced.push((p.invoice.instalment, net, vat, net + vat));
                }
                let quoted: Vec<(Instalment, i64, i64, i64)> = quote
                    .instalments
                    .iter()
                    .map(|i| (i.instalment, i.net.pence(), i.vat.pence(), i.total.pence()))
                    .collect();
                prop_assert_eq!(&invoiced, &quoted);
                prop_assert_eq!(
                    invoiced.iter().map(|i| i.3).sum::<i64>(),
                    quote.total.pence(),
                    "quote total = invoices' total"
                );
                prop_assert_eq!(
                    quote.lines.iter().map(|l| l.vat_amount.pence()).sum::<i64>(),
                    quote.vat.pence(),
                    "the quote's lines add up to its VAT"
                );
                prop_assert_eq!(
                    quote.lines.iter().map(|l| l.amount.pence()).sum::<i64>(),
                    quote.net.pence()
                );
            }
        }
    }
}
