//! Real partnerships' pricing, written as fee rules: the demo seed's schedules and the
//! examples the quote tests check to the penny.

use membership::school::types::{EstablishmentType, Phase, RollCensus};

use super::rules::{
    FeeRules, FeeRulesInput, FixedPrice, Limit, PhaseAmounts, ProRata, RULES_VERSION, VatTreatment,
};
use super::selector::Selector;

impl FeeRules {
    /// Haringey Education Partnership, 2026/27: £19 per pupil on the October census roll,
    /// capped at £12,500 (£13,000 for secondaries with a sixth form), FE colleges a fixed
    /// £7,500, small new schools a minimum of £6,000; VAT exempt; mid-year joiners pro-rata.
    ///
    /// Readings of the published terms: "secondaries" includes all-through schools (they
    /// have a secondary phase); FE colleges are the FURTHER_EDUCATION establishment type;
    /// "small" needs no roll threshold of its own, because at £19 a pupil the minimum only
    /// changes anything below 316 pupils.
    #[must_use]
    pub fn haringey_2026() -> Self {
        Self::new(FeeRulesInput {
            version: RULES_VERSION,
            census: Some(RollCensus::October),
            per_pupil: Some(PhaseAmounts::flat(1_900)),
            base_fee: None,
            fixed_prices: vec![FixedPrice {
                label: "FE college".to_owned(),
                amount_pence: 750_000,
                when: Selector {
                    establishment_types: vec![EstablishmentType::FurtherEducation],
                    ..Selector::default()
                },
            }],
            caps: vec![
                Limit {
                    amount_pence: 1_300_000,
                    when: Selector {
                        phases: vec![Phase::Secondary, Phase::AllThrough],
                        has_sixth_form: Some(true),
                        ..Selector::default()
                    },
                },
                Limit {
                    amount_pence: 1_250_000,
                    when: Selector::every_school(),
                },
            ],
            floors: vec![Limit {
                amount_pence: 600_000,
                when: Selector {
                    new_school: Some(true),
                    ..Selector::default()
                },
            }],
            pro_rata: ProRata::WholeMonths,
            discounts: Vec::new(),
            vat: VatTreatment::Exempt,
        })
        .expect("the Haringey preset is valid")
    }

    /// Kent's school-improvement provider: £5 per pupil on the January census roll, a
    /// minimum of £750; VAT exempt; mid-year joiners pro-rata.
    #[must_use]
    pub fn kent_provider() -> Self {
        Self::new(FeeRulesInput {
            version: RULES_VERSION,
            census: Some(RollCensus::January),
            per_pupil: Some(PhaseAmounts::flat(500)),
            base_fee: None,
            fixed_prices: Vec::new(),
            caps: Vec::new(),
            floors: vec![Limit {
                amount_pence: 75_000,
                when: Selector::every_school(),
            }],
            pro_rata: ProRata::WholeMonths,
            discounts: Vec::new(),
            vat: VatTreatment::Exempt,
        })
        .expect("the Kent preset is valid")
    }
}
