//! Fee rules as data: one versioned JSON document per fee schedule.
//!
//! [`FeeRulesInput`] is the document as written (by finance staff, a seed, or the gateway
//! from GraphQL input); [`FeeRules`] is one that passed [`FeeRules::new`], and the only kind
//! the quote engine accepts. Validation reports every problem at once, each with a path into
//! the document (`perPupil.byPhase.1.pence`, `caps.0.when.rollBelow`), so a caller can put
//! them under its own input field with [`InvalidRules::under`].
//!
//! # How a fee is worked out
//!
//! 1. **Fixed prices** (`fixedPrices`, first match wins): a matching school pays the fixed
//!    amount. Per-pupil rate, base fee, caps and minimums are not used.
//! 2. Otherwise **base fee** by phase (optional) **plus per-pupil rate** by phase (optional)
//!    × the number on roll at the rules' `census`.
//! 3. **Cap** (`caps`, first match wins): the fee is at most the cap.
//! 4. **Minimum** (`floors`, first match wins): the fee is at least the minimum. Validation
//!    refuses a minimum above a cap that could apply to the same school, so 3 and 4 never
//!    fight.
//! 5. **Pro-rata** (`proRata: WHOLE_MONTHS`) for a school joining after 1 September: the
//!    fee × months remaining ÷ 12, where the month of joining counts in full (joining on
//!    5 January leaves January to August: 8/12). Rounded to the penny, half-up.
//! 6. **Discounts**, each its own negative line: a percentage (basis points) of the fee
//!    line, rounded half-up, or a fixed amount; together never more than the fee line.
//! 7. **VAT** (`vat`): EXEMPT, or STANDARD at `rateBasisPoints` (default 2000 = 20%),
//!    charged on each invoice line the fee becomes — the fee after discounts, or each
//!    termly instalment of it — rounded half-up per invoice line (see [`super`], "One
//!    rounding rule"). A quote's fee and discount lines each show the change they make to it.
//!
//! "First match wins" lists are read top to bottom like a price list: put the special cases
//! (secondaries with a sixth form) before the catch-all (`"when": {}`). An entry after a
//! catch-all could never apply and is refused.

use std::fmt;

use kernel::{ErrorCode, FieldError, Money};
use membership::school::types::{Phase, RollCensus};
use serde::{Deserialize, Serialize};

use super::selector::Selector;

/// The only document version this build reads.
pub const RULES_VERSION: u32 = 1;
/// No single amount in a fee schedule may exceed £1,000,000: larger is a typo, and the bound
/// keeps every intermediate sum of the quote far inside `i64`.
pub const MAX_AMOUNT_PENCE: i64 = 100_000_000;
/// The UK standard rate of VAT, 20%.
pub const DEFAULT_VAT_RATE_BASIS_POINTS: u32 = 2000;
const LABEL_MAX: usize = 100;

/// A fee-rules document as written; see the module docs for its meaning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FeeRulesInput {
    /// Must be [`RULES_VERSION`].
    pub version: u32,
    /// The census whose roll the per-pupil rate multiplies. Required with `perPupil`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub census: Option<RollCensus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_pupil: Option<PhaseAmounts>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_fee: Option<PhaseAmounts>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fixed_prices: Vec<FixedPrice>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub caps: Vec<Limit>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub floors: Vec<Limit>,
    pub pro_rata: ProRata,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub discounts: Vec<Discount>,
    pub vat: VatTreatment,
}

/// An amount in pence for every phase, with overrides for some.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PhaseAmounts {
    pub default_pence: i64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub by_phase: Vec<PhaseAmount>,
}

impl PhaseAmounts {
    /// The same amount for every phase.
    #[must_use]
    pub fn flat(pence: i64) -> Self {
        Self {
            default_pence: pence,
            by_phase: Vec::new(),
        }
    }

    /// The amount for `phase`: its override, else the default.
    #[must_use]
    pub fn for_phase(&self, phase: Phase) -> i64 {
        self.by_phase
            .iter()
            .find(|o| o.phase == phase)
            .map_or(self.default_pence, |o| o.pence)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PhaseAmount {
    pub phase: Phase,
    pub pence: i64,
}

/// A fixed fee for the schools selected, instead of the per-pupil calculation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FixedPrice {
    /// Shown in the working, e.g. "FE college".
    pub label: String,
    pub amount_pence: i64,
    pub when: Selector,
}

/// A cap or a minimum for the schools selected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Limit {
    pub amount_pence: i64,
    #[serde(default)]
    pub when: Selector,
}

/// How a school joining after 1 September pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProRata {
    /// The full year's fee, whenever the school joins.
    #[serde(rename = "NONE")]
    None,
    /// The fee × whole months remaining ÷ 12, counting the month of joining in full.
    #[serde(rename = "WHOLE_MONTHS")]
    WholeMonths,
}

/// A reduction shown as its own line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Discount {
    /// Shown on the quote line and the invoice, e.g. "Early-adopter discount".
    pub label: String,
    pub off: DiscountAmount,
    #[serde(default)]
    pub when: Selector,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all_fields = "camelCase", deny_unknown_fields)]
pub enum DiscountAmount {
    /// A share of the fee line (after pro-rata): 1000 is 10%.
    #[serde(rename = "PERCENT")]
    Percent { basis_points: u32 },
    /// A fixed reduction, not pro-rated.
    #[serde(rename = "FIXED")]
    Fixed { amount_pence: i64 },
}

/// How VAT applies to a line. Education services supplied by an eligible body are exempt;
/// a partnership company that is not one charges the standard rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(
    tag = "treatment",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
pub enum VatTreatment {
    #[serde(rename = "EXEMPT")]
    Exempt,
    #[serde(rename = "STANDARD")]
    Standard {
        #[serde(default = "default_vat_rate")]
        rate_basis_points: u32,
    },
}

const fn default_vat_rate() -> u32 {
    DEFAULT_VAT_RATE_BASIS_POINTS
}

impl VatTreatment {
    /// Standard rate at 20%.
    #[must_use]
    pub const fn standard() -> Self {
        Self::Standard {
            rate_basis_points: DEFAULT_VAT_RATE_BASIS_POINTS,
        }
    }

    /// The rate in basis points; 0 when exempt.
    #[must_use]
    pub const fn rate_basis_points(self) -> u32 {
        match self {
            Self::Exempt => 0,
            Self::Standard { rate_basis_points } => rate_basis_points,
        }
    }
}

/// Fee rules that passed validation: the only kind a quote is computed from.
///
/// Serialises as its [`FeeRulesInput`] document; deserialising validates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "FeeRulesInput", into = "FeeRulesInput")]
pub struct FeeRules(FeeRulesInput);

/// Every problem with a fee-rules document, each with its path inside the document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid fee rules: {}", describe(.0))]
pub struct InvalidRules(pub Vec<FieldError>);

fn describe(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl InvalidRules {
    /// The errors with `prefix` (e.g. `"rules"`) in front of each path, for a caller whose
    /// input holds the document under that field.
    #[must_use]
    pub fn under(self, prefix: &str) -> Vec<FieldError> {
        self.0
            .into_iter()
            .map(|mut e| {
                let mut field: Vec<String> = prefix.split('.').map(str::to_owned).collect();
                field.append(&mut e.field);
                e.field = field;
                e
            })
            .collect()
    }
}

/// As the fee-schedule mutations put it: errors under `rules`.
impl From<InvalidRules> for kernel::DomainError {
    fn from(err: InvalidRules) -> Self {
        Self::Invalid(err.under("rules"))
    }
}

impl TryFrom<FeeRulesInput> for FeeRules {
    type Error = InvalidRules;

    fn try_from(input: FeeRulesInput) -> Result<Self, Self::Error> {
        Self::new(input)
    }
}

impl From<FeeRules> for FeeRulesInput {
    fn from(rules: FeeRules) -> Self {
        rules.0
    }
}

impl FeeRules {
    /// Validates `input` (trimming labels) into rules a quote can use.
    pub fn new(mut input: FeeRulesInput) -> Result<Self, InvalidRules> {
        for p in &mut input.fixed_prices {
            p.label = p.label.trim().to_owned();
        }
        for d in &mut input.discounts {
            d.label = d.label.trim().to_owned();
        }
        let mut v = Validator::default();
        v.check(&input);
        if v.0.is_empty() {
            Ok(Self(input))
        } else {
            Err(InvalidRules(v.0))
        }
    }

    /// Parses and validates a JSON document. A document of the wrong shape is one error at
    /// the document itself (an empty path) carrying serde's message.
    pub fn from_json(json: &str) -> Result<Self, InvalidRules> {
        let input: FeeRulesInput = serde_json::from_str(json).map_err(|e| {
            InvalidRules(vec![FieldError {
                field: Vec::new(),
                code: ErrorCode::Invalid,
                message: format!("not a fee-rules document: {e}"),
            }])
        })?;
        Self::new(input)
    }

    /// The document as JSON, as stored.
    #[must_use]
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.0).expect("fee rules always serialise")
    }

    /// The validated document, for reading.
    #[must_use]
    pub fn document(&self) -> &FeeRulesInput {
        &self.0
    }

    #[must_use]
    pub fn into_document(self) -> FeeRulesInput {
        self.0
    }
}

#[derive(Default)]
struct Validator(Vec<FieldError>);

impl Validator {
    fn add(&mut self, path: &str, code: ErrorCode, message: impl Into<String>) {
        self.0.push(FieldError::new(path, code, message));
    }

    fn amount(&mut self, path: &str, pence: i64, min: i64) {
        if !(min..=MAX_AMOUNT_PENCE).contains(&pence) {
            self.add(
                path,
                ErrorCode::OutOfRange,
                format!(
                    "must be between {} and {}",
                    Money::from_pence(min),
                    Money::from_pence(MAX_AMOUNT_PENCE)
                ),
            );
        }
    }

    fn label(&mut self, path: &str, label: &str) {
        if label.is_empty() {
            self.add(path, ErrorCode::Required, "must not be blank");
        } else if label.chars().count() > LABEL_MAX {
            self.add(
                path,
                ErrorCode::TooLong,
                format!("must be at most {LABEL_MAX} characters"),
            );
        }
    }

    fn selector(&mut self, path: &str, selector: &Selector) {
        if selector.roll_below == Some(0) {
            self.add(
                &format!("{path}.rollBelow"),
                ErrorCode::OutOfRange,
                "must be at least 1: no roll is below 0",
            );
        }
    }

    fn phase_amounts(&mut self, path: &str, amounts: &PhaseAmounts) {
        self.amount(&format!("{path}.defaultPence"), amounts.default_pence, 0);
        for (i, o) in amounts.by_phase.iter().enumerate() {
            self.amount(&format!("{path}.byPhase.{i}.pence"), o.pence, 0);
            if amounts.by_phase[..i].iter().any(|e| e.phase == o.phase) {
                self.add(
                    &format!("{path}.byPhase.{i}.phase"),
                    ErrorCode::Invalid,
                    format!("{} is listed twice", o.phase),
                );
            }
        }
    }

    /// A first-match list: entries after a catch-all can never apply.
    fn first_match<'a>(&mut self, path: &str, selectors: impl Iterator<Item = &'a Selector>) {
        let mut catch_all: Option<usize> = None;
        for (i, s) in selectors.enumerate() {
            self.selector(&format!("{path}.{i}.when"), s);
            if let Some(first) = catch_all {
                self.add(
                    &format!("{path}.{i}.when"),
                    ErrorCode::Invalid,
                    format!("never applies: {path}.{first} matches every school first"),
                );
            } else if s.is_catch_all() {
                catch_all = Some(i);
            }
        }
    }

    fn check(&mut self, r: &FeeRulesInput) {
        if r.version != RULES_VERSION {
            self.add(
                "version",
                ErrorCode::Invalid,
                format!("this build reads fee rules version {RULES_VERSION}"),
            );
        }
        if let Some(per_pupil) = &r.per_pupil {
            self.phase_amounts("perPupil", per_pupil);
            if r.census.is_none() {
                self.add(
                    "census",
                    ErrorCode::Required,
                    "a per-pupil rate needs the census whose roll it multiplies",
                );
            }
        }
        if let Some(base) = &r.base_fee {
            self.phase_amounts("baseFee", base);
        }
        if r.per_pupil.is_none()
            && r.base_fee.is_none()
            && !r.fixed_prices.iter().any(|p| p.when.is_catch_all())
        {
            self.add(
                "perPupil",
                ErrorCode::Required,
                "give a per-pupil rate, a base fee, or a fixed price for every school",
            );
        }
        for (i, p) in r.fixed_prices.iter().enumerate() {
            self.label(&format!("fixedPrices.{i}.label"), &p.label);
            self.amount(&format!("fixedPrices.{i}.amountPence"), p.amount_pence, 0);
        }
        self.first_match("fixedPrices", r.fixed_prices.iter().map(|p| &p.when));
        for (name, limits) in [("caps", &r.caps), ("floors", &r.floors)] {
            for (i, l) in limits.iter().enumerate() {
                self.amount(&format!("{name}.{i}.amountPence"), l.amount_pence, 0);
            }
            self.first_match(name, limits.iter().map(|l| &l.when));
        }
        for (i, floor) in r.floors.iter().enumerate() {
            if let Some((j, cap)) = r.caps.iter().enumerate().find(|(_, cap)| {
                cap.amount_pence < floor.amount_pence && cap.when.overlaps(&floor.when)
            }) {
                self.add(
                    &format!("floors.{i}.amountPence"),
                    ErrorCode::Invalid,
                    format!(
                        "the minimum {} is above the cap {} (caps.{j}) for schools both could apply to",
                        Money::from_pence(floor.amount_pence),
                        Money::from_pence(cap.amount_pence)
                    ),
                );
            }
        }
        for (i, d) in r.discounts.iter().enumerate() {
            self.label(&format!("discounts.{i}.label"), &d.label);
            self.selector(&format!("discounts.{i}.when"), &d.when);
            match d.off {
                DiscountAmount::Percent { basis_points } => {
                    if !(1..=10_000).contains(&basis_points) {
                        self.add(
                            &format!("discounts.{i}.off.basisPoints"),
                            ErrorCode::OutOfRange,
                            "must be between 1 (0.01%) and 10000 (100%)",
                        );
                    }
                }
                DiscountAmount::Fixed { amount_pence } => {
                    self.amount(&format!("discounts.{i}.off.amountPence"), amount_pence, 1);
                }
            }
        }
        if let VatTreatment::Standard { rate_basis_points } = r.vat
            && rate_basis_points > 10_000
        {
            self.add(
                "vat.rateBasisPoints",
                ErrorCode::OutOfRange,
                "must be between 0 and 10000 (100%)",
            );
        }
    }
}

impl fmt::Display for VatTreatment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exempt => f.write_str("exempt"),
            Self::Standard { rate_basis_points } => write!(
                f,
                "standard rate {}",
                super::arith::percent_words(*rate_basis_points)
            ),
        }
    }
}
