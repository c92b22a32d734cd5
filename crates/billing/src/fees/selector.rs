//! Which schools a rule applies to, as data.
//!
//! A [`Selector`] is a conjunction over a small, closed set of predicates on
//! [`SchoolFacts`]; every predicate left out matches every school, so the empty selector
//! `{}` is the catch-all:
//!
//! | JSON field           | matches a school when                                   |
//! | -------------------- | ------------------------------------------------------- |
//! | `phases`             | its phase is one of those listed                        |
//! | `establishmentTypes` | its establishment type is one of those listed           |
//! | `hasSixthForm`       | it has (`true`) or has not (`false`) a sixth form       |
//! | `rollBelow`          | its roll at the rules' census (the newest of either when |
//! |                      | they name none) is recorded and below the number        |
//! | `newSchool`          | the caller does (`true`) or does not treat it as new    |
//!
//! The set is closed on purpose: a schedule is checked when it is saved (including whether a
//! minimum and a cap could ever apply to the same school), which an open expression language
//! would make undecidable.

use membership::school::types::{EstablishmentType, Phase, RollCensus};
use serde::{Deserialize, Serialize};

use super::facts::{SchoolFacts, establishment_words, phase_words};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Selector {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phases: Vec<Phase>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub establishment_types: Vec<EstablishmentType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_sixth_form: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roll_below: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_school: Option<bool>,
}

impl Selector {
    /// The catch-all.
    #[must_use]
    pub fn every_school() -> Self {
        Self::default()
    }

    #[must_use]
    pub fn is_catch_all(&self) -> bool {
        *self == Self::default()
    }

    /// Whether the school matches; `census` is the census the rules read rolls at.
    #[must_use]
    pub fn matches(&self, facts: &SchoolFacts, census: Option<RollCensus>) -> bool {
        (self.phases.is_empty() || self.phases.contains(&facts.phase))
            && (self.establishment_types.is_empty()
                || self.establishment_types.contains(&facts.establishment_type))
            && self
                .has_sixth_form
                .is_none_or(|v| v == facts.has_sixth_form)
            && self.roll_below.is_none_or(|n| {
                facts
                    .rolls
                    .read(census)
                    .is_some_and(|roll| roll.number_on_roll < n)
            })
            && self.new_school.is_none_or(|v| v == facts.is_new_school)
    }

    /// Whether some school could match both selectors. Exact for this predicate set: each
    /// predicate constrains a different, independent fact, and two `rollBelow`s always share
    /// a roll of zero.
    #[must_use]
    pub fn overlaps(&self, other: &Self) -> bool {
        fn lists_meet<T: PartialEq>(a: &[T], b: &[T]) -> bool {
            a.is_empty() || b.is_empty() || a.iter().any(|x| b.contains(x))
        }
        fn flags_meet(a: Option<bool>, b: Option<bool>) -> bool {
            match (a, b) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
        }
        lists_meet(&self.phases, &other.phases)
            && lists_meet(&self.establishment_types, &other.establishment_types)
            && flags_meet(self.has_sixth_form, other.has_sixth_form)
            && flags_meet(self.new_school, other.new_school)
    }

    /// "secondary or all-through schools with a sixth form", "every school".
    #[must_use]
    pub fn describe(&self) -> String {
        if self.is_catch_all() {
            return "every school".to_owned();
        }
        let mut noun = String::new();
        if self.new_school == Some(true) {
            noun.push_str("new ");
        }
        if !self.phases.is_empty() {
            let phases: Vec<&str> = self.phases.iter().map(|p| phase_words(*p)).collect();
            noun.push_str(&phases.join(" or "));
            noun.push(' ');
        }
        if self.establishment_types.is_empty() {
            noun.push_str("schools");
        } else {
            let kinds: Vec<String> = self
                .establishment_types
                .iter()
                .map(|k| plural(establishment_words(*k)))
                .collect();
            noun.push_str(&kinds.join(" or "));
        }
        let mut clauses = Vec::new();
        match self.has_sixth_form {
            Some(true) => clauses.push("with a sixth form".to_owned()),
            Some(false) => clauses.push("without a sixth form".to_owned()),
            None => {}
        }
        if let Some(n) = self.roll_below {
            clauses.push(format!("with fewer than {n} pupils"));
        }
        if self.new_school == Some(false) {
            clauses.push("that are not new".to_owned());
        }
        if clauses.is_empty() {
            noun
        } else {
            format!("{noun} {}", clauses.join(" and "))
        }
    }
}

fn plural(words: &str) -> String {
    match words.strip_suffix('y') {
        Some(stem) if words.ends_with("academy") || words.ends_with("nursery") => {
            format!("{stem}ies")
        }
        _ => format!("{words}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fees::facts::CensusRolls;
    use chrono::NaiveDate;
    use membership::school::types::Roll;

    fn facts(phase: Phase, roll: Option<u32>) -> SchoolFacts {
        SchoolFacts {
            phase,
            establishment_type: EstablishmentType::Academy,
            has_sixth_form: false,
            rolls: roll.map_or_else(CensusRolls::default, |n| {
                CensusRolls::only(Roll {
                    number_on_roll: n,
                    census: RollCensus::October,
                    census_date: NaiveDate::from_ymd_opt(2026, 10, 1).expect("date"),
                })
            }),
            is_new_school: false,
        }
    }

    #[test]
    fn predicates_combine_with_and() {
        let small_primaries = Selector {
            phases: vec![Phase::Primary, Phase::Infant],
            roll_below: Some(200),
            ..Selector::default()
        };
        assert!(small_primaries.matches(&facts(Phase::Primary, Some(199)), None));
        assert!(!small_primaries.matches(&facts(Phase::Primary, Some(200)), None));
        assert!(!small_primaries.matches(&facts(Phase::Primary, None), None));
        assert!(!small_primaries.matches(&facts(Phase::Secondary, Some(10)), None));
        assert!(Selector::every_school().matches(&facts(Phase::Pru, None), None));
    }

    #[test]
    fn overlap_is_decided_per_fact() {
        let sixth = Selector {
            has_sixth_form: Some(true),
            ..Selector::default()
        };
        let no_sixth = Selector {
            has_sixth_form: Some(false),
            phases: vec![Phase::Secondary],
            ..Selector::default()
        };
        let primaries = Selector {
            phases: vec![Phase::Primary],
            ..Selector::default()
        };
        assert!(!sixth.overlaps(&no_sixth));
        assert!(sixth.overlaps(&primaries));
        assert!(!no_sixth.overlaps(&primaries));
        assert!(Selector::every_school().overlaps(&no_sixth));
    }

    #[test]
    fn describes_itself_in_words() {
        let s = Selector {
            phases: vec![Phase::Secondary, Phase::AllThrough],
            has_sixth_form: Some(true),
            ..Selector::default()
        };
        assert_eq!(
            s.describe(),
            "secondary or all-through schools with a sixth form"
        );
        let fe = Selector {
            establishment_types: vec![EstablishmentType::FurtherEducation],
            ..Selector::default()
        };
        assert_eq!(fe.describe(), "further education colleges");
        let small_new = Selector {
            new_school: Some(true),
            roll_below: Some(316),
            ..Selector::default()
        };
        assert_eq!(
            small_new.describe(),
            "new schools with fewer than 316 pupils"
        );
        let academies = Selector {
            establishment_types: vec![EstablishmentType::Academy],
            ..Selector::default()
        };
        assert_eq!(academies.describe(), "academies");
    }
}
