//! The fee engine: every example of the issue to the penny, the rules document, and fee
//! schedules on both databases.

use billing::fees::{
    self, BillingFrequency, CensusRolls, Discount, DiscountAmount, FeeRules, FeeRulesInput,
    FeeSchedulePatch, FixedPrice, Limit, NewFeeSchedule, PhaseAmount, PhaseAmounts, ProRata,
    QuoteError, SchoolFacts, Selector, VatTreatment, quote,
};
use chrono::{NaiveDate, TimeZone, Utc};
use kernel::{
    AcademicYear, Actor, ApiKeyActor, ApiKeyId, Clock, DomainError, ErrorCode, FeeScheduleId,
    FixedClock, Money, Role, Scope, TierId, UserActor, UserId,
};
use membership::school::types::{EstablishmentType, Phase, Roll, RollCensus};
use proptest::prelude::*;
use sea_orm::sea_query::{Alias, Query};
use sea_orm::{ConnectionTrait, TransactionTrait};
use testkit::TestDb;

// --- helpers ---------------------------------------------------------------------------------

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("valid date")
}

fn y2026() -> AcademicYear {
    AcademicYear::starting(2026).expect("year")
}

fn roll(n: u32, census: RollCensus) -> Roll {
    let census_date = match census {
        RollCensus::October => d(2026, 10, 1),
        RollCensus::January => d(2027, 1, 21),
    };
    Roll {
        number_on_roll: n,
        census,
        census_date,
    }
}

fn school(phase: Phase, n: Option<u32>, census: RollCensus) -> SchoolFacts {
    SchoolFacts {
        phase,
        establishment_type: EstablishmentType::Community,
        has_sixth_form: false,
        rolls: n.map_or_else(CensusRolls::default, |n| CensusRolls::only(roll(n, census))),
        is_new_school: false,
    }
}

fn pence(m: Money) -> i64 {
    m.pence()
}

fn details(q: &fees::Quote) -> Vec<String> {
    q.working
        .iter()
        .map(|s| format!("{}: {}", s.label, s.detail))
        .collect()
}

// --- roll history per census (#22 item 5) ----------------------------------------------------

/// A school whose October and January rolls are both on record is priced by each schedule
/// on its own census, and the quote says which roll it multiplied: recording a January
/// census no longer unprices an October schedule (it used to answer "roll is from the
/// January census" and block the run).
#[test]
fn each_schedule_reads_the_roll_of_its_own_census() {
    let history = [
        roll(300, RollCensus::October),
        roll(320, RollCensus::January),
    ];
    let school = |history: &[Roll]| SchoolFacts {
        rolls: CensusRolls::newest(history.iter().copied(), y2026().last_day()),
        ..school(Phase::Primary, None, RollCensus::October)
    };
    let both = school(&history);

    let october = quote(
        &FeeRules::haringey_2026(),
        y2026(),
        &both,
        d(2026, 9, 1),
        BillingFrequency::Annual,
    )
    .expect("October schedule prices on the October roll");
    assert_eq!(october.roll, Some(history[0]));
    assert_eq!(pence(october.annual_fee), 300 * 1_900);
    assert!(
        details(&october)
            .contains(&"Roll: 300 pupils (October census 2026, taken 1 Oct 2026)".to_owned())
    );

    let january = quote(
        &FeeRules::kent_provider(),
        y2026(),
        &both,
        d(2026, 9, 1),
        BillingFrequency::Annual,
    )
    .expect("January schedule prices on the January roll");
    assert_eq!(january.roll, Some(history[1]));

    let fe_fixed = quote(
        &FeeRules::haringey_2026(),
        y2026(),
        &SchoolFacts {
            phase: Phase::SixthFormFe,
            establishment_type: EstablishmentType::FurtherEducation,
            ..both
        },
        d(2026, 9, 1),
        BillingFrequency::Annual,
    )
    .expect("fixed price");
    assert_eq!(fe_fixed.roll, None, "a fixed price multiplies no roll");
}

/// The newest roll of each census counts, and only censuses taken by the end of the year
/// priced: a 2027/28 October census does not reprice 2026/27.
#[test]
fn the_newest_census_taken_by_the_years_end_counts() {
    let oct = |y, n| Roll {
        number_on_roll: n,
        census: RollCensus::October,
        census_date: d(y, 10, 1),
    };
    let jan = |y, n| Roll {
        number_on_roll: n,
        census: RollCensus::January,
        census_date: d(y, 1, 20),
    };
    let history = [
        oct(2025, 280),
        oct(2026, 300),
        oct(2027, 340),
        jan(2026, 290),
        jan(2027, 310),
    ];
    let rolls = CensusRolls::newest(history, y2026().last_day());
    assert_eq!(rolls.at(RollCensus::October), Some(oct(2026, 300)));
    assert_eq!(rolls.at(RollCensus::January), Some(jan(2027, 310)));
    assert_eq!(
        rolls.read(None),
        Some(jan(2027, 310)),
        "no census named: the newest of either"
    );
    assert_eq!(rolls.read(Some(RollCensus::October)), Some(oct(2026, 300)));

    let older = CensusRolls::newest(
        history,
        AcademicYear::starting(2025).expect("year").last_day(),
    );
    assert_eq!(older.at(RollCensus::October), Some(oct(2025, 280)));
    assert_eq!(older.at(RollCensus::January), Some(jan(2026, 290)));
    assert_eq!(
        CensusRolls::newest(history, d(2025, 9, 1)),
        CensusRolls::default()
    );
}

/// `rollBelow` reads the roll at the rules' census: a school small in October and large in
/// January gets a small-school minimum on an October schedule only.
#[test]
fn roll_below_reads_the_rules_census() {
    let small_in_october = SchoolFacts {
        rolls: CensusRolls::newest(
            [
                roll(150, RollCensus::October),
                roll(250, RollCensus::January),
            ],
            y2026().last_day(),
        ),
        ..school(Phase::Primary, None, RollCensus::October)
    };
    let small = Selector {
        roll_below: Some(200),
        ..Selector::default()
    };
    assert!(small.matches(&small_in_october, Some(RollCensus::October)));
    assert!(!small.matches(&small_in_october, Some(RollCensus::January)));
    assert!(
        !small.matches(&small_in_october, None),
        "newest is January's 250"
    );
}

// --- the issue's examples, to the penny ------------------------------------------------------

#[derive(Debug)]
enum Expect {
    Fee(i64),
    Error(QuoteError),
}

#[test]
fn haringey_and_kent_examples() {
    let haringey = FeeRules::haringey_2026();
    let kent = FeeRules::kent_provider();
    let oct = RollCensus::October;
    let jan = RollCensus::January;
    let secondary = |sixth| SchoolFacts {
        has_sixth_form: sixth,
        ..school(Phase::Secondary, Some(1_100), oct)
    };
    let fe = SchoolFacts {
        phase: Phase::SixthFormFe,
        establishment_type: EstablishmentType::FurtherEducation,
        has_sixth_form: true,
        rolls: CensusRolls::default(),
        is_new_school: false,
    };
    let cases: Vec<(&str, &FeeRules, SchoolFacts, Expect)> = vec![
        (
            "Haringey 300 pupils: £5,700, no minimum",
            &haringey,
            school(Phase::Primary, Some(300), oct),
            Expect::Fee(570_000),
        ),
        (
            "Haringey 300 pupils, new school: minimum £6,000",
            &haringey,
            school(Phase::Primary, Some(300), oct).new_school(true),
            Expect::Fee(600_000),
        ),
        (
            "Haringey 412 pupils: 412 × £19",
            &haringey,
            school(Phase::Primary, Some(412), oct),
            Expect::Fee(782_800),
        ),
        (
            "Haringey 700 primary: cap £12,500",
            &haringey,
            school(Phase::Primary, Some(700), oct),
            Expect::Fee(1_250_000),
        ),
        (
            "Haringey secondary with sixth form, 1,100: cap £13,000",
            &haringey,
            secondary(true),
            Expect::Fee(1_300_000),
        ),
        (
            "Haringey secondary without sixth form, 1,100: cap £12,500",
            &haringey,
            secondary(false),
            Expect::Fee(1_250_000),
        ),
        (
            "Haringey all-through with sixth form: the secondary cap",
            &haringey,
            SchoolFacts {
                has_sixth_form: true,
                ..school(Phase::AllThrough, Some(1_500), oct)
            },
            Expect::Fee(1_300_000),
        ),
        (
            "Haringey FE college: fixed £7,500, no roll needed",
            &haringey,
            fe,
            Expect::Fee(750_000),
        ),
        (
            "Haringey FE college with a big roll: still £7,500",
            &haringey,
            SchoolFacts {
                rolls: CensusRolls::only(roll(3_000, oct)),
                ..fe
            },
            Expect::Fee(750_000),
        ),
        (
            "Haringey small new school, 150: minimum £6,000",
            &haringey,
            school(Phase::Primary, Some(150), oct).new_school(true),
            Expect::Fee(600_000),
        ),
        (
            "Haringey new school over the minimum pays per pupil",
            &haringey,
            school(Phase::Primary, Some(400), oct).new_school(true),
            Expect::Fee(760_000),
        ),
        (
            "Haringey with only a January roll: no October roll",
            &haringey,
            school(Phase::Primary, Some(300), jan),
            Expect::Error(QuoteError::NoRoll { census: oct }),
        ),
        (
            "Haringey with no roll",
            &haringey,
            school(Phase::Primary, None, oct),
            Expect::Error(QuoteError::NoRoll { census: oct }),
        ),
        (
            "Kent 100 pupils: minimum £750",
            &kent,
            school(Phase::Primary, Some(100), jan),
            Expect::Fee(75_000),
        ),
        (
            "Kent 400 pupils: £2,000",
            &kent,
            school(Phase::Primary, Some(400), jan),
            Expect::Fee(200_000),
        ),
        (
            "Kent 150 pupils: exactly the minimum",
            &kent,
            school(Phase::Primary, Some(150), jan),
            Expect::Fee(75_000),
        ),
        (
            "Kent with only an October roll: no January roll",
            &kent,
            school(Phase::Primary, Some(400), oct),
            Expect::Error(QuoteError::NoRoll { census: jan }),
        ),
        (
            "Kent with no roll",
            &kent,
            school(Phase::Secondary, None, jan),
            Expect::Error(QuoteError::NoRoll { census: jan }),
        ),
    ];
    for (name, rules, facts, expect) in cases {
        let got = quote(
            rules,
            y2026(),
            &facts,
            d(2026, 9, 1),
            BillingFrequency::Annual,
        );
        match expect {
            Expect::Fee(fee) => {
                let q = got.unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(pence(q.annual_fee), fee, "{name}: annual fee");
                assert_eq!(pence(q.net), fee, "{name}: net");
                assert_eq!(pence(q.vat), 0, "{name}: VAT exempt");
                assert_eq!(pence(q.total), fee, "{name}: total");
                assert_eq!(q.lines.len(), 1, "{name}: one line");
                assert_eq!(q.lines[0].description, "Membership fee 2026/27", "{name}");
                assert_eq!(q.lines[0].vat, VatTreatment::Exempt, "{name}");
            }
            Expect::Error(err) => assert_eq!(got, Err(err), "{name}"),
        }
    }
}

#[test]
fn the_working_reads_like_a_letter_to_the_head() {
    let q = quote(
        &FeeRules::haringey_2026(),
        y2026(),
        &school(Phase::Primary, Some(412), RollCensus::October),
        d(2026, 9, 1),
        BillingFrequency::Annual,
    )
    .expect("quote");
    assert_eq!(
        details(&q),
        [
            "School: Primary community school without a sixth form",
            "Roll: 412 pupils (October census 2026, taken 1 Oct 2026)",
            "Per-pupil fee: 412 × £19.00 = £7,828.00",
            "Cap: cap £12,500.00 for every school not reached",
            "Minimum: no minimum applies to this school",
            "Annual fee: £7,828.00 for 2026/27",
            "VAT: exempt",
            "Total: £7,828.00 + £0.00 VAT = £7,828.00",
        ]
    );
    assert_eq!(q.working[2].amount, Some(Money::from_pence(782_800)));
    assert_eq!(q.working[1].amount, None);

    let capped = quote(
        &FeeRules::haringey_2026(),
        y2026(),
        &SchoolFacts {
            has_sixth_form: true,
            ..school(Phase::Secondary, Some(1_100), RollCensus::October)
        },
        d(2026, 9, 1),
        BillingFrequency::Annual,
    )
    .expect("quote");
    assert!(details(&capped).contains(
        &"Cap: capped at £13,000.00 for secondary or all-through schools with a sixth form (was £20,900.00)"
            .to_owned()
    ));
    let small_new = quote(
        &FeeRules::haringey_2026(),
        y2026(),
        &school(Phase::Primary, Some(150), RollCensus::October).new_school(true),
        d(2026, 9, 1),
        BillingFrequency::Annual,
    )
    .expect("quote");
    assert!(details(&small_new).contains(
        &"Minimum: raised to the minimum £6,000.00 for new schools (was £2,850.00)".to_owned()
    ));
    let fe = quote(
        &FeeRules::haringey_2026(),
        y2026(),
        &SchoolFacts {
            phase: Phase::SixthFormFe,
            establishment_type: EstablishmentType::FurtherEducation,
            has_sixth_form: true,
            rolls: CensusRolls::default(),
            is_new_school: false,
        },
        d(2026, 9, 1),
        BillingFrequency::Annual,
    )
    .expect("quote");
    assert!(details(&fe).contains(
        &"Fixed price: FE college: £7,500.00 for further education colleges, instead of the per-pupil fee, cap and minimum"
            .to_owned()
    ));
}

// --- pro-rata ---------------------------------------------------------------------------------

#[test]
fn mid_year_joiners_pay_whole_months_remaining() {
    let haringey = FeeRules::haringey_2026();
    let primary = |n| school(Phase::Primary, Some(n), RollCensus::October);
    // (roll, starts on, months, fee): the month of joining counts in full; half-up pennies.
    let cases = [
        (412, d(2026, 9, 1), 12, 782_800),
        (412, d(2026, 9, 30), 12, 782_800),
        // 782,800 × 8 ÷ 12 = 521,866.67 -> 521,867
        (412, d(2027, 1, 5), 8, 521_867),
        // 782,800 × 4 ÷ 12 = 260,933.33 -> 260,933
        (412, d(2027, 5, 31), 4, 260_933),
        // The cap applies to the annual fee, then pro-rata: 1,250,000 × 5 ÷ 12 = 520,833.33
        (700, d(2027, 4, 1), 5, 520_833),
        (300, d(2027, 8, 31), 1, 47_500),
    ];
    for (n, starts_on, months, fee) in cases {
        let q = quote(
            &haringey,
            y2026(),
            &primary(n),
            starts_on,
            BillingFrequency::Annual,
        )
        .expect("quote");
        assert_eq!(pence(q.net), fee, "{n} from {starts_on}");
        assert_eq!(pence(q.total), fee, "{n} from {starts_on}");
        if months < 12 {
            assert_eq!(
                q.lines[0].description,
                format!(
                    "Membership fee 2026/27 ({months}/12 months from {})",
                    starts_on.format("%-d %b %Y")
                )
            );
        }
    }
    let jan = quote(
        &haringey,
        y2026(),
        &primary(412),
        d(2027, 1, 5),
        BillingFrequency::Annual,
    )
    .expect("quote");
    assert_eq!(pence(jan.annual_fee), 782_800);
    assert!(details(&jan).contains(
        &"Pro-rata: 8/12 months from 5 Jan 2027: £7,828.00 × 8 ÷ 12 = £5,218.67 (to the penny, half-up)"
            .to_owned()
    ));

    // An exact half penny rounds up: 50,001 × 6 ÷ 12 = 25,000.5 -> 25,001.
    let mut odd = FeeRules::kent_provider().into_document();
    odd.per_pupil = Some(PhaseAmounts::flat(50_001));
    odd.floors.clear();
    let odd = FeeRules::new(odd).expect("valid");
    let q = quote(
        &odd,
        y2026(),
        &school(Phase::Primary, Some(1), RollCensus::January),
        d(2027, 3, 2),
        BillingFrequency::Annual,
    )
    .expect("quote");
    assert_eq!(pence(q.net), 25_001);

    // Without pro-rata a late joiner pays the year.
    let mut none = FeeRules::kent_provider().into_document();
    none.pro_rata = ProRata::None;
    let none = FeeRules::new(none).expect("valid");
    let q = quote(
        &none,
        y2026(),
        &school(Phase::Primary, Some(400), RollCensus::January),
        d(2027, 6, 1),
        BillingFrequency::Annual,
    )
    .expect("quote");
    assert_eq!(pence(q.net), 200_000);
    assert_eq!(q.lines[0].description, "Membership fee 2026/27");
}

#[test]
fn a_start_outside_the_year_is_refused() {
    let facts = school(Phase::Primary, Some(412), RollCensus::October);
    for starts_on in [d(2026, 8, 31), d(2027, 9, 1)] {
        let err = quote(
            &FeeRules::haringey_2026(),
            y2026(),
            &facts,
            starts_on,
            BillingFrequency::Annual,
        )
        .expect_err("outside the year");
        assert_eq!(
            err,
            QuoteError::StartOutsideYear {
                starts_on,
                year: y2026()
            }
        );
        let DomainError::Invalid(errors) = DomainError::from(err) else {
            panic!("a field error");
        };
        assert_eq!(errors[0].field, ["startsOn"]);
        assert_eq!(errors[0].code, ErrorCode::OutOfRange);
    }
    let DomainError::Invalid(errors) = DomainError::from(QuoteError::NoRoll {
        census: RollCensus::October,
    }) else {
        panic!("a field error");
    };
    assert_eq!(errors[0].field, ["roll"]);
    assert_eq!(errors[0].code, ErrorCode::Required);
    assert_eq!(
        QuoteError::NoRoll {
            census: RollCensus::October,
        }
        .to_string(),
        "the fee is per pupil on the October census roll, and the school has no October census roll on record for the year"
    );
}

// --- discounts, base fees, phases and VAT -----------------------------------------------------

fn standard_rules() -> FeeRulesInput {
    FeeRulesInput {
        version: 1,
        census: Some(RollCensus::October),
        per_pupil: Some(PhaseAmounts::flat(1_900)),
        base_fee: None,
        fixed_prices: vec![],
        caps: vec![],
        floors: vec![],
        pro_rata: ProRata::WholeMonths,
        discounts: vec![
            Discount {
                label: "Founding member".into(),
                off: DiscountAmount::Percent {
                    basis_points: 1_000,
                },
                when: Selector::default(),
            },
            Discount {
                label: "Loyalty".into(),
                off: DiscountAmount::Fixed {
                    amount_pence: 10_000,
                },
                when: Selector {
                    new_school: Some(false),
                    ..Selector::default()
                },
            },
        ],
        vat: VatTreatment::standard(),
    }
}

#[test]
fn discounts_and_standard_vat_are_lines_of_their_own() {
    let rules = FeeRules::new(standard_rules()).expect("valid");
    let q = quote(
        &rules,
        y2026(),
        &school(Phase::Primary, Some(412), RollCensus::October),
        d(2026, 9, 1),
        BillingFrequency::Annual,
    )
    .expect("quote");
    let lines: Vec<(&str, i64, i64)> = q
        .lines
        .iter()
        .map(|l| (l.description.as_str(), pence(l.amount), pence(l.vat_amount)))
        .collect();
    assert_eq!(
        lines,
        [
            ("Membership fee 2026/27", 782_800, 156_560),
            ("Founding member", -78_280, -15_656),
            ("Loyalty", -10_000, -2_000),
        ]
    );
    assert!(q.lines.iter().all(|l| l.vat
        == VatTreatment::Standard {
            rate_basis_points: 2_000
        }));
    assert_eq!(
        (pence(q.net), pence(q.vat), pence(q.total)),
        (694_520, 138_904, 833_424)
    );
    assert_eq!(pence(q.annual_fee), 782_800);
    let working = details(&q);
    assert!(working.contains(&"Discount: Founding member: 10% of £7,828.00 = £782.80".to_owned()));
    assert!(working.contains(&"Discount: Loyalty: fixed £100.00".to_owned()));
    assert!(working.contains(
        &"VAT: standard rate 20% of the fee after discounts, £6,945.20 = £1,389.04 (to the penny, half-up)"
            .to_owned()
    ));
    assert!(working.contains(&"Total: £6,945.20 + £1,389.04 VAT = £8,334.24".to_owned()));

    // A new school gets the percentage only.
    let new = quote(
        &rules,
        y2026(),
        &school(Phase::Primary, Some(412), RollCensus::October).new_school(true),
        d(2026, 9, 1),
        BillingFrequency::Annual,
    )
    .expect("quote");
    assert_eq!(new.lines.len(), 2);
    assert_eq!(pence(new.net), 704_520);
}

#[test]
fn vat_is_charged_on_the_fee_after_discounts() {
    let mut input = standard_rules();
    input.per_pupil = Some(PhaseAmounts::flat(1_406));
    input.vat = VatTreatment::Standard {
        rate_basis_points: 1_750,
    };
    input.discounts = vec![Discount {
        label: "Rounding".into(),
        off: DiscountAmount::Fixed { amount_pence: 60 },
        when: Selector::default(),
    }];
    let rules = FeeRules::new(input).expect("valid");
    let q = quote(
        &rules,
        y2026(),
        &school(Phase::Primary, Some(10), RollCensus::October),
        d(2026, 9, 1),
        BillingFrequency::Annual,
    )
    .expect("quote");
    // VAT on the net: 14,000 × 17.5% = 2,450. The fee alone would carry 14,060 × 17.5% =
    // 2,460.5 -> 2,461, so the discount's share is the difference, -11.
    assert_eq!(pence(q.lines[0].vat_amount), 2_461);
    assert_eq!(pence(q.lines[1].vat_amount), -11);
    assert_eq!(
        (pence(q.net), pence(q.vat), pence(q.total)),
        (14_000, 2_450, 16_450)
    );
}

#[test]
fn discounts_never_take_the_fee_below_zero() {
    let mut input = standard_rules();
    input.per_pupil = Some(PhaseAmounts::flat(100));
    input.discounts = vec![
        Discount {
            label: "Half".into(),
            off: DiscountAmount::Percent {
                basis_points: 5_000,
            },
            when: Selector::default(),
        },
        Discount {
            label: "Bursary".into(),
            off: DiscountAmount::Fixed {
                amount_pence: 100_000,
            },
            when: Selector::default(),
        },
        Discount {
            label: "Nothing left".into(),
            off: DiscountAmount::Fixed { amount_pence: 1 },
            when: Selector::default(),
        },
    ];
    let q = quote(
        &FeeRules::new(input).expect("valid"),
        y2026(),
        &school(Phase::Primary, Some(30), RollCensus::October),
        d(2026, 9, 1),
        BillingFrequency::Annual,
    )
    .expect("quote");
    let amounts: Vec<i64> = q.lines.iter().map(|l| pence(l.amount)).collect();
    assert_eq!(amounts, [3_000, -1_500, -1_500]);
    assert_eq!(pence(q.total), 0);
    assert!(details(&q).contains(
        &"Discount: Bursary: fixed £1,000.00, limited to the £15.00 left of the fee".to_owned()
    ));
}

#[test]
fn base_fee_and_rates_by_phase() {
    let mut input = standard_rules();
    input.discounts.clear();
    input.vat = VatTreatment::Exempt;
    input.per_pupil = Some(PhaseAmounts {
        default_pence: 1_500,
        by_phase: vec![PhaseAmount {
            phase: Phase::Nursery,
            pence: 800,
        }],
    });
    input.base_fee = Some(PhaseAmounts {
        default_pence: 100_000,
        by_phase: vec![PhaseAmount {
            phase: Phase::Secondary,
            pence: 250_000,
        }],
    });
    let rules = FeeRules::new(input).expect("valid");
    let fee = |phase, n| {
        pence(
            quote(
                &rules,
                y2026(),
                &school(phase, Some(n), RollCensus::October),
                d(2026, 9, 1),
                BillingFrequency::Annual,
            )
            .expect("quote")
            .net,
        )
    };
    assert_eq!(fee(Phase::Nursery, 50), 100_000 + 50 * 800);
    assert_eq!(fee(Phase::Primary, 200), 100_000 + 200 * 1_500);
    assert_eq!(fee(Phase::Secondary, 900), 250_000 + 900 * 1_500);
    let q = quote(
        &rules,
        y2026(),
        &school(Phase::Primary, Some(200), RollCensus::October),
        d(2026, 9, 1),
        BillingFrequency::Annual,
    )
    .expect("quote");
    assert!(details(&q).contains(&"Base fee: £1,000.00 for primary schools".to_owned()));
    assert!(details(&q).contains(
        &"Per-pupil fee: 200 × £15.00 = £3,000.00; with the base fee £4,000.00".to_owned()
    ));

    // A flat fee needs no roll and no census.
    let flat = FeeRules::new(FeeRulesInput {
        census: None,
        per_pupil: None,
        base_fee: None,
        fixed_prices: vec![FixedPrice {
            label: "Associate membership".into(),
            amount_pence: 50_000,
            when: Selector::default(),
        }],
        ..standard_rules()
    })
    .expect("valid");
    let q = quote(
        &flat,
        y2026(),
        &school(Phase::Primary, None, RollCensus::October),
        d(2026, 9, 1),
        BillingFrequency::Annual,
    )
    .expect("quote");
    assert_eq!(pence(q.annual_fee), 50_000);
}

// --- the rules document -----------------------------------------------------------------------

#[test]
fn presets_round_trip_through_json() {
    for rules in [
        FeeRules::haringey_2026(),
        FeeRules::kent_provider(),
        FeeRules::new(standard_rules()).expect("valid"),
    ] {
        let json = rules.to_json();
        assert_eq!(FeeRules::from_json(&json), Ok(rules.clone()), "{json}");
        let via_serde: FeeRules = serde_json::from_str(&json).expect("serde");
        assert_eq!(via_serde, rules);
    }
}

#[test]
fn the_haringey_document_as_finance_would_write_it() {
    let json = r#"{
        "version": 1,
        "census": "OCTOBER",
        "perPupil": { "defaultPence": 1900 },
        "fixedPrices": [
            { "label": "FE college", "amountPence": 750000,
              "when": { "establishmentTypes": ["FURTHER_EDUCATION"] } }
        ],
        "caps": [
            { "amountPence": 1300000,
              "when": { "phases": ["SECONDARY", "ALL_THROUGH"], "hasSixthForm": true } },
            { "amountPence": 1250000 }
        ],
        "floors": [ { "amountPence": 600000, "when": { "newSchool": true } } ],
        "proRata": "WHOLE_MONTHS",
        "vat": { "treatment": "EXEMPT" }
    }"#;
    assert_eq!(FeeRules::from_json(json), Ok(FeeRules::haringey_2026()));
    let standard = r#"{ "version": 1, "census": "JANUARY", "perPupil": { "defaultPence": 500 },
        "proRata": "NONE", "vat": { "treatment": "STANDARD" },
        "discounts": [ { "label": "Early", "off": { "kind": "PERCENT", "basisPoints": 250 } } ] }"#;
    let rules = FeeRules::from_json(standard).expect("valid");
    assert_eq!(rules.document().vat, VatTreatment::standard());
    assert_eq!(
        rules.document().discounts[0].off,
        DiscountAmount::Percent { basis_points: 250 }
    );
}

fn fields(err: &fees::InvalidRules) -> Vec<(String, ErrorCode)> {
    err.0.iter().map(|e| (e.field.join("."), e.code)).collect()
}

#[test]
fn invalid_rules_name_every_problem_by_path() {
    let mut input = standard_rules();
    input.version = 2;
    input.census = None;
    input.per_pupil = Some(PhaseAmounts {
        default_pence: -1,
        by_phase: vec![
            PhaseAmount {
                phase: Phase::Primary,
                pence: 100,
            },
            PhaseAmount {
                phase: Phase::Primary,
                pence: 200,
            },
        ],
    });
    input.caps = vec![
        Limit {
            amount_pence: 500_000,
            when: Selector::default(),
        },
        Limit {
            amount_pence: 900_000,
            when: Selector {
                phases: vec![Phase::Secondary],
                ..Selector::default()
            },
        },
    ];
    input.floors = vec![Limit {
        amount_pence: 600_000,
        when: Selector {
            new_school: Some(true),
            roll_below: Some(0),
            ..Selector::default()
        },
    }];
    input.discounts = vec![Discount {
        label: "  ".into(),
        off: DiscountAmount::Percent { basis_points: 0 },
        when: Selector::default(),
    }];
    input.vat = VatTreatment::Standard {
        rate_basis_points: 10_001,
    };
    let err = FeeRules::new(input).expect_err("invalid");
    assert_eq!(
        fields(&err),
        [
            ("version".to_owned(), ErrorCode::Invalid),
            ("perPupil.defaultPence".to_owned(), ErrorCode::OutOfRange),
            ("perPupil.byPhase.1.phase".to_owned(), ErrorCode::Invalid),
            ("census".to_owned(), ErrorCode::Required),
            ("caps.1.when".to_owned(), ErrorCode::Invalid),
            ("floors.0.when.rollBelow".to_owned(), ErrorCode::OutOfRange),
            ("floors.0.amountPence".to_owned(), ErrorCode::Invalid),
            ("discounts.0.label".to_owned(), ErrorCode::Required),
            (
                "discounts.0.off.basisPoints".to_owned(),
                ErrorCode::OutOfRange
            ),
            ("vat.rateBasisPoints".to_owned(), ErrorCode::OutOfRange),
        ]
    );
    let under = err.clone().under("rules");
    assert_eq!(under[1].field, ["rules", "perPupil", "defaultPence"]);
    let DomainError::Invalid(domain) = DomainError::from(err) else {
        panic!("invalid");
    };
    assert_eq!(domain[0].field, ["rules", "version"]);

    // A minimum above a cap only matters when one school could meet both.
    let disjoint = FeeRulesInput {
        caps: vec![Limit {
            amount_pence: 500_000,
            when: Selector {
                has_sixth_form: Some(false),
                ..Selector::default()
            },
        }],
        floors: vec![Limit {
            amount_pence: 600_000,
            when: Selector {
                has_sixth_form: Some(true),
                ..Selector::default()
            },
        }],
        ..standard_rules()
    };
    assert!(FeeRules::new(disjoint).is_ok());

    let nothing = FeeRulesInput {
        per_pupil: None,
        ..standard_rules()
    };
    let err = FeeRules::new(nothing).expect_err("nothing priced");
    assert_eq!(fields(&err), [("perPupil".to_owned(), ErrorCode::Required)]);

    let too_big = FeeRulesInput {
        per_pupil: Some(PhaseAmounts::flat(fees::MAX_AMOUNT_PENCE + 1)),
        ..standard_rules()
    };
    assert_eq!(
        fields(&FeeRules::new(too_big).expect_err("too big")),
        [("perPupil.defaultPence".to_owned(), ErrorCode::OutOfRange)]
    );
}

#[test]
fn documents_of_the_wrong_shape_are_refused() {
    for json in [
        r#"{"version":1,"census":"OCTOBER","perPupil":{"defaultPence":1900},"proRata":"NONE","vat":{"treatment":"EXEMPT"},"cpas":[]}"#,
        r#"{"version":1,"census":"MAY","perPupil":{"defaultPence":1900},"proRata":"NONE","vat":{"treatment":"EXEMPT"}}"#,
        r#"{"version":1,"perPupil":{"defaultPence":1900},"vat":{"treatment":"EXEMPT"}}"#,
        r#"{"version":1,"census":"OCTOBER","perPupil":{"defaultPence":1900},"proRata":"NONE","vat":{"treatment":"ZERO"}}"#,
        "not json",
    ] {
        let err = FeeRules::from_json(json).expect_err(json);
        assert_eq!(err.0.len(), 1, "{json}");
        assert!(err.0[0].field.is_empty(), "{json}");
        assert_eq!(err.clone().under("rules")[0].field, ["rules"]);
    }
    // Deserialising validates too.
    let invalid = r#"{"version":2,"census":"OCTOBER","perPupil":{"defaultPence":1900},"proRata":"NONE","vat":{"treatment":"EXEMPT"}}"#;
    assert!(serde_json::from_str::<FeeRules>(invalid).is_err());
}

// --- properties -------------------------------------------------------------------------------

fn any_phase() -> impl Strategy<Value = Phase> {
    proptest::sample::select(Phase::ALL)
}

prop_compose! {
    fn rules_and_limits()(
        rate in 0i64..=20_000,
        cap in 0i64..=5_000_000,
        sixth_cap_extra in 0i64..=1_000_000,
        floor_share in 0u32..=100,
        vat in prop_oneof![Just(None), (0u32..=10_000).prop_map(Some)],
        per_phase in proptest::option::of((any_phase(), 0i64..=20_000)),
    ) -> (FeeRules, i64, i64, i64) {
        let floor = cap * i64::from(floor_share) / 100;
        let sixth_cap = cap + sixth_cap_extra;
        let input = FeeRulesInput {
            version: 1,
            census: Some(RollCensus::October),
            per_pupil: Some(PhaseAmounts {
                default_pence: rate,
                by_phase: per_phase.map(|(phase, pence)| PhaseAmount { phase, pence }).into_iter().collect(),
            }),
            base_fee: None,
            fixed_prices: vec![],
            caps: vec![
                Limit { amount_pence: sixth_cap, when: Selector { has_sixth_form: Some(true), ..Selector::default() } },
                Limit { amount_pence: cap, when: Selector::default() },
            ],
            floors: vec![Limit { amount_pence: floor, when: Selector::default() }],
            pro_rata: ProRata::WholeMonths,
            discounts: vec![],
            vat: vat.map_or(VatTreatment::Exempt, |rate_basis_points| VatTreatment::Standard { rate_basis_points }),
        };
        (FeeRules::new(input).expect("generated rules are valid"), floor, cap, sixth_cap)
    }
}

proptest! {
    #[test]
    fn fees_stay_between_minimum_and_cap_and_add_up(
        (rules, floor, cap, sixth_cap) in rules_and_limits(),
        phase in any_phase(),
        sixth in any::<bool>(),
        n in 0u32..=Roll::MAX,
        more in 0u32..=500,
        starts_on in (0i64..365).prop_map(|days| d(2026, 9, 1) + chrono::Duration::days(days)),
    ) {
        let facts = SchoolFacts {
            has_sixth_form: sixth,
            ..school(phase, Some(n), RollCensus::October)
        };
        let q = quote(&rules, y2026(), &facts, d(2026, 9, 1), BillingFrequency::Annual).expect("quote");
        let applicable_cap = if sixth { sixth_cap } else { cap };
        prop_assert!(pence(q.annual_fee) >= floor);
        prop_assert!(pence(q.annual_fee) <= applicable_cap);
        prop_assert_eq!(q.net, q.annual_fee);
        prop_assert_eq!(pence(q.net) + pence(q.vat), pence(q.total));
        prop_assert_eq!(q.lines.iter().map(|l| pence(l.amount)).sum::<i64>(), pence(q.net));
        prop_assert_eq!(q.lines.iter().map(|l| pence(l.vat_amount)).sum::<i64>(), pence(q.vat));

        let bigger = SchoolFacts { rolls: CensusRolls::only(roll(n + more, RollCensus::October)), ..facts };
        let q2 = quote(&rules, y2026(), &bigger, d(2026, 9, 1), BillingFrequency::Annual).expect("quote");
        prop_assert!(q2.annual_fee.pence() >= q.annual_fee.pence(), "monotone in roll");
        prop_assert!(q2.total.pence() >= q.total.pence(), "monotone in roll, VAT included");

        let late = quote(&rules, y2026(), &facts, starts_on, BillingFrequency::Annual).expect("quote");
        prop_assert_eq!(late.annual_fee, q.annual_fee);
        prop_assert!(late.net.pence() <= q.net.pence(), "pro-rata never raises the fee");
        prop_assert!(late.net.pence() >= 0);
        prop_assert_eq!(pence(late.net) + pence(late.vat), pence(late.total));
    }

    #[test]
    fn discounted_quotes_add_up(
        rate in 0i64..=20_000,
        n in 0u32..=Roll::MAX,
        percent in 1u32..=10_000,
        fixed in 1i64..=2_000_000,
        vat_rate in 0u32..=10_000,
        days in 0i64..365,
    ) {
        let rules = FeeRules::new(FeeRulesInput {
            per_pupil: Some(PhaseAmounts::flat(rate)),
            discounts: vec![
                Discount { label: "P".into(), off: DiscountAmount::Percent { basis_points: percent }, when: Selector::default() },
                Discount { label: "F".into(), off: DiscountAmount::Fixed { amount_pence: fixed }, when: Selector::default() },
            ],
            vat: VatTreatment::Standard { rate_basis_points: vat_rate },
            ..standard_rules()
        }).expect("valid");
        let starts_on = d(2026, 9, 1) + chrono::Duration::days(days);
        let q = quote(&rules, y2026(), &school(Phase::Primary, Some(n), RollCensus::October), starts_on, BillingFrequency::Annual)
            .expect("quote");
        prop_assert!(q.net.pence() >= 0, "discounts never exceed the fee");
        prop_assert!(q.lines[0].amount.pence() >= 0);
        prop_assert!(q.lines[1..].iter().all(|l| l.amount.pence() < 0));
        prop_assert_eq!(pence(q.net) + pence(q.vat), pence(q.total));
        prop_assert_eq!(q.lines.iter().map(|l| pence(l.amount)).sum::<i64>(), pence(q.net));
        prop_assert_eq!(q.lines.iter().map(|l| pence(l.vat_amount)).sum::<i64>(), pence(q.vat));
    }

    #[test]
    fn rules_documents_round_trip((rules, _, _, _) in rules_and_limits()) {
        prop_assert_eq!(FeeRules::from_json(&rules.to_json()), Ok(rules));
    }
}

// --- fee schedules on both databases ----------------------------------------------------------

fn clock() -> FixedClock {
    FixedClock::new(
        Utc.with_ymd_and_hms(2026, 6, 1, 9, 0, 0)
            .single()
            .expect("time"),
    )
}

fn user(role: Role) -> Actor {
    Actor::User(UserActor {
        id: UserId::new(),
        email: "someone@trellis.example".into(),
        role,
        schools: vec![],
    })
}

fn key(scopes: Vec<Scope>) -> Actor {
    Actor::ApiKey(ApiKeyActor {
        id: ApiKeyId::new(),
        name: "ledger sync".into(),
        scopes,
    })
}

/// A tier row, written directly: the membership crate's tier service lives elsewhere.
async fn tier(db: &TestDb, code: &str) -> TierId {
    let id = TierId::new();
    let now = Utc
        .with_ymd_and_hms(2026, 5, 1, 9, 0, 0)
        .single()
        .expect("time");
    let insert = Query::insert()
        .into_table(Alias::new("membership_tiers"))
        .columns(
            [
                "id",
                "code",
                "name",
                "description",
                "active",
                "created_at",
                "updated_at",
            ]
            .map(Alias::new),
        )
        .values_panic([
            id.as_uuid().into(),
            code.into(),
            format!("{code} membership").into(),
            "".into(),
            true.into(),
            now.into(),
            now.into(),
        ])
        .to_owned();
    db.conn().execute(&insert).await.expect("insert tier");
    id
}

fn new_schedule(tier_id: TierId, year: i32) -> NewFeeSchedule {
    NewFeeSchedule {
        year: AcademicYear::starting(year).expect("year"),
        tier_id,
        name: "  Full membership 2026/27 ".into(),
        rules: FeeRules::haringey_2026().into_document(),
        frequency: BillingFrequency::Termly,
        payment_terms_days: 30,
    }
}

fn field_errors(err: DomainError) -> Vec<(String, ErrorCode)> {
    match err {
        DomainError::Invalid(errors) => errors
            .into_iter()
            .map(|e| (e.field.join("."), e.code))
            .collect(),
        other => panic!("expected field errors, got {other:?}"),
    }
}

async fn schedules_are_created_and_read(db: TestDb) {
    let full = tier(&db, "FULL").await;
    let associate = tier(&db, "ASSOCIATE").await;
    let clock = clock();
    let finance = user(Role::Finance);
    let created = fees::create_schedule(db.conn(), &finance, &clock, new_schedule(full, 2026))
        .await
        .expect("finance creates");
    assert_eq!(created.name, "Full membership 2026/27");
    assert_eq!(created.rules, FeeRules::haringey_2026());
    assert_eq!(created.frequency, BillingFrequency::Termly);
    assert_eq!(created.payment_terms_days, 30);
    assert!(!created.is_locked());
    assert_eq!(created.created_at, clock.now());

    let admin = user(Role::PartnershipAdmin);
    let kent = fees::create_schedule(
        db.conn(),
        &admin,
        &clock,
        NewFeeSchedule {
            name: "Associate 2026/27".into(),
            rules: FeeRules::kent_provider().into_document(),
            frequency: BillingFrequency::Annual,
            ..new_schedule(associate, 2026)
        },
    )
    .await
    .expect("admins create too");

    let y = y2026();
    assert_eq!(
        fees::schedule_for(db.conn(), y, full).await.expect("read"),
        Some(created.clone())
    );
    assert_eq!(
        fees::schedule_for(db.conn(), y.next(), full)
            .await
            .expect("read"),
        None
    );
    let by_ids = fees::schedules_by_ids(db.conn(), &[created.id, kent.id, FeeScheduleId::new()])
        .await
        .expect("batch");
    assert_eq!(by_ids.len(), 2);
    assert_eq!(by_ids[&kent.id], kent);

    // A price list, not an account: every role and a membership:read key may read it.
    for reader in [
        user(Role::SchoolLeader),
        user(Role::SchoolStaff),
        finance.clone(),
        key(vec![Scope::MembershipRead]),
        key(vec![Scope::BillingRead]),
    ] {
        let list = fees::schedules_for_year(db.conn(), &reader, y)
            .await
            .expect("readable");
        let names: Vec<&str> = list.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["Associate 2026/27", "Full membership 2026/27"]);
    }
    let err = fees::schedules_for_year(db.conn(), &key(vec![Scope::DirectoryRead]), y)
        .await
        .expect_err("directory-only key");
    assert!(matches!(err, DomainError::Forbidden(_)), "{err:?}");
    assert!(
        fees::schedules_for_year(db.conn(), &finance, y.next())
            .await
            .expect("read")
            .is_empty()
    );
}

async fn one_schedule_per_year_and_tier(db: TestDb) {
    let full = tier(&db, "FULL").await;
    let clock = clock();
    let finance = user(Role::Finance);
    fees::create_schedule(db.conn(), &finance, &clock, new_schedule(full, 2026))
        .await
        .expect("first");
    let err = fees::create_schedule(db.conn(), &finance, &clock, new_schedule(full, 2026))
        .await
        .expect_err("duplicate");
    assert_eq!(field_errors(err), [("tierId".to_owned(), ErrorCode::Taken)]);
    fees::create_schedule(db.conn(), &finance, &clock, new_schedule(full, 2027))
        .await
        .expect("next year is another schedule");

    let err = fees::create_schedule(
        db.conn(),
        &finance,
        &clock,
        new_schedule(TierId::new(), 2026),
    )
    .await
    .expect_err("unknown tier");
    assert_eq!(
        field_errors(err),
        [("tierId".to_owned(), ErrorCode::NotFound)]
    );
}

async fn bad_input_writes_nothing(db: TestDb) {
    let full = tier(&db, "FULL").await;
    let clock = clock();
    let finance = user(Role::Finance);
    let mut input = new_schedule(full, 2026);
    input.name = "   ".into();
    input.payment_terms_days = 400;
    input.rules.per_pupil = Some(PhaseAmounts::flat(-5));
    input.rules.caps[1].when.roll_below = Some(0);
    let err = fees::create_schedule(db.conn(), &finance, &clock, input)
        .await
        .expect_err("invalid");
    assert_eq!(
        field_errors(err),
        [
            ("name".to_owned(), ErrorCode::Required),
            (
                "rules.perPupil.defaultPence".to_owned(),
                ErrorCode::OutOfRange
            ),
            (
                "rules.caps.1.when.rollBelow".to_owned(),
                ErrorCode::OutOfRange
            ),
            ("paymentTermsDays".to_owned(), ErrorCode::OutOfRange),
        ]
    );
    assert!(
        fees::schedules_for_year(db.conn(), &finance, y2026())
            .await
            .expect("read")
            .is_empty()
    );
}

async fn school_leaders_cannot_set_fees(db: TestDb) {
    let full = tier(&db, "FULL").await;
    let clock = clock();
    for actor in [
        user(Role::SchoolLeader),
        user(Role::SchoolStaff),
        key(vec![Scope::BillingRead, Scope::MembershipRead]),
    ] {
        let err = fees::create_schedule(db.conn(), &actor, &clock, new_schedule(full, 2026))
            .await
            .expect_err("forbidden");
        assert!(matches!(err, DomainError::Forbidden(_)), "{err:?}");
    }
    let schedule = fees::create_schedule(
        db.conn(),
        &user(Role::Finance),
        &clock,
        new_schedule(full, 2026),
    )
    .await
    .expect("finance");
    let err = fees::update_schedule(
        db.conn(),
        &user(Role::SchoolLeader),
        &clock,
        schedule.id,
        FeeSchedulePatch {
            name: Some("Cheaper".into()),
            ..FeeSchedulePatch::default()
        },
    )
    .await
    .expect_err("forbidden");
    assert!(matches!(err, DomainError::Forbidden(_)), "{err:?}");
    let unchanged = fees::schedule_for(db.conn(), y2026(), full)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(unchanged, schedule);
}

async fn locked_schedules_refuse_changes(db: TestDb) {
    let full = tier(&db, "FULL").await;
    let clock = clock();
    let finance = user(Role::Finance);
    let schedule = fees::create_schedule(db.conn(), &finance, &clock, new_schedule(full, 2026))
        .await
        .expect("create");

    clock.advance(chrono::Duration::hours(1));
    let updated = fees::update_schedule(
        db.conn(),
        &finance,
        &clock,
        schedule.id,
        FeeSchedulePatch {
            rules: Some(FeeRules::kent_provider().into_document()),
            frequency: Some(BillingFrequency::Annual),
            payment_terms_days: Some(14),
            ..FeeSchedulePatch::default()
        },
    )
    .await
    .expect("unlocked: changes");
    assert_eq!(updated.rules, FeeRules::kent_provider());
    assert_eq!(updated.frequency, BillingFrequency::Annual);
    assert_eq!(updated.payment_terms_days, 14);
    assert_eq!(updated.name, schedule.name);
    assert!(updated.updated_at > schedule.updated_at);

    let err = fees::update_schedule(
        db.conn(),
        &finance,
        &clock,
        schedule.id,
        FeeSchedulePatch {
            rules: Some(FeeRulesInput {
                version: 9,
                ..FeeRules::kent_provider().into_document()
            }),
            ..FeeSchedulePatch::default()
        },
    )
    .await
    .expect_err("invalid rules");
    assert_eq!(
        field_errors(err),
        [("rules.version".to_owned(), ErrorCode::Invalid)]
    );

    // The invoicing run locks inside its own transaction.
    clock.advance(chrono::Duration::hours(1));
    let locked_at = clock.now();
    let txn = db.conn().begin().await.expect("begin");
    let locked = fees::lock_schedule(&txn, &finance, schedule.id, &clock)
        .await
        .expect("lock");
    txn.commit().await.expect("commit");
    assert_eq!(locked.locked_at, Some(locked_at));
    assert_eq!(locked.rules, FeeRules::kent_provider());

    clock.advance(chrono::Duration::hours(1));
    let again = fees::lock_schedule(db.conn(), &finance, schedule.id, &clock)
        .await
        .expect("lock again");
    assert_eq!(
        again.locked_at,
        Some(locked_at),
        "the first lock time stays"
    );

    let err = fees::update_schedule(
        db.conn(),
        &finance,
        &clock,
        schedule.id,
        FeeSchedulePatch {
            name: Some("Renamed".into()),
            ..FeeSchedulePatch::default()
        },
    )
    .await
    .expect_err("locked");
    assert_eq!(field_errors(err), [("id".to_owned(), ErrorCode::Conflict)]);
    let stored = fees::schedule_for(db.conn(), y2026(), full)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(stored, again);

    let err = fees::update_schedule(
        db.conn(),
        &finance,
        &clock,
        FeeScheduleId::new(),
        FeeSchedulePatch::default(),
    )
    .await
    .expect_err("missing");
    assert!(matches!(err, DomainError::NotFound { .. }), "{err:?}");
    let err = fees::lock_schedule(db.conn(), &finance, FeeScheduleId::new(), &clock)
        .await
        .expect_err("missing");
    assert!(matches!(err, DomainError::NotFound { .. }), "{err:?}");
}

testkit::db_tests!(
    schedules_are_created_and_read,
    one_schedule_per_year_and_tier,
    bad_input_writes_nothing,
    school_leaders_cannot_set_fees,
    locked_schedules_refuse_changes,
);
