//! The cancellation policy of a session, as a pure function of how long before the start a
//! booking is cancelled.
//!
//! Three bands, by whole days before the first part starts (rounded down, so 47 hours is one
//! day): at least `free_until_days` → free, everything back; fewer than
//! `no_refund_within_days` → nothing back; in between → `late_fee_percent` of the price is
//! kept. A provider's cancellation is outside the policy: everyone gets everything back.
//!
//! Bookings paid from the core offer are cancelled in units, not money ([`unit_terms`]): the
//! same bands, the late fee as a share of the places used, rounded half up like the money
//! fee (whole units: half of one place keeps that place, half of three keeps two).
//!
//! [`unit_terms`]: CancellationPolicy::unit_terms

use kernel::{ErrorCode, FieldError, Money};
use serde::{Deserialize, Serialize};

const MAX_DAYS: u32 = 365;

/// A session's cancellation terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancellationPolicy {
    /// Free cancellation until this many whole days before the start.
    pub free_until_days: u32,
    /// After that, this share of the price is kept (0–100).
    pub late_fee_percent: u32,
    /// Within this many days nothing is given back. At most `free_until_days`.
    pub no_refund_within_days: u32,
}

impl Default for CancellationPolicy {
    /// The partnership's usual terms: free until two weeks before, half kept after that,
    /// nothing back in the last two days.
    fn default() -> Self {
        Self {
            free_until_days: 14,
            late_fee_percent: 50,
            no_refund_within_days: 2,
        }
    }
}

/// Which band a cancellation falls in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum CancellationBand {
    Free,
    Late,
    NoRefund,
}

/// What a cancellation costs: `fee + refund = amount`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CancellationTerms {
    pub band: CancellationBand,
    /// Kept by the partnership.
    pub fee: Money,
    /// Given back.
    pub refund: Money,
}

/// What a cancellation costs a booking paid from the core offer, in allowance units:
/// `kept + returned = used`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct UnitTerms {
    pub band: CancellationBand,
    /// Units that stay used.
    pub kept: u32,
    /// Units given back to the allowance.
    pub returned: u32,
}

impl CancellationPolicy {
    /// Checks the policy; `field` is where it sits in the input (e.g. `policy`).
    pub fn check(&self, field: &str) -> Result<(), FieldError> {
        if self.late_fee_percent > 100 {
            return Err(FieldError::new(
                &format!("{field}.lateFeePercent"),
                ErrorCode::OutOfRange,
                "must be between 0 and 100",
            ));
        }
        if self.free_until_days > MAX_DAYS {
            return Err(FieldError::new(
                &format!("{field}.freeUntilDays"),
                ErrorCode::OutOfRange,
                format!("must be at most {MAX_DAYS}"),
            ));
        }
        if self.no_refund_within_days > self.free_until_days {
            return Err(FieldError::new(
                &format!("{field}.noRefundWithinDays"),
                ErrorCode::OutOfRange,
                "must not be more than the free cancellation period",
            ));
        }
        Ok(())
    }

    /// The band of a cancellation `days_before` whole days before the start.
    #[must_use]
    pub fn band(&self, days_before: i64) -> CancellationBand {
        if days_before >= i64::from(self.free_until_days) {
            CancellationBand::Free
        } else if days_before < i64::from(self.no_refund_within_days) {
            CancellationBand::NoRefund
        } else {
            CancellationBand::Late
        }
    }

    /// What cancelling `days_before` whole days before the start costs on `amount`; the fee
    /// is rounded half up to the penny.
    #[must_use]
    pub fn terms(&self, days_before: i64, amount: Money) -> CancellationTerms {
        let band = self.band(days_before);
        let fee = match band {
            CancellationBand::Free => 0,
            CancellationBand::NoRefund => amount.pence(),
            CancellationBand::Late => {
                let product = i128::from(amount.pence()) * i128::from(self.late_fee_percent);
                i64::try_from((product + 50) / 100).unwrap_or(amount.pence())
            }
        };
        CancellationTerms {
            band,
            fee: Money::from_pence(fee),
            refund: Money::from_pence(amount.pence() - fee),
        }
    }

    /// What cancelling `days_before` whole days before the start costs a booking that used
    /// `units` of the core offer: the late fee is `late_fee_percent` of the units, rounded half
    /// up to a whole unit.
    #[must_use]
    pub fn unit_terms(&self, days_before: i64, units: u32) -> UnitTerms {
        let band = self.band(days_before);
        let kept = match band {
            CancellationBand::Free => 0,
            CancellationBand::NoRefund => units,
            CancellationBand::Late => {
                // u32 × (≤100) fits in u64; the share is never more than `units`.
                let share =
                    (u64::from(units) * u64::from(self.late_fee_percent.min(100)) + 50) / 100;
                u32::try_from(share).unwrap_or(units).min(units)
            }
        };
        UnitTerms {
            band,
            kept,
            returned: units - kept,
        }
    }

    /// Everything back, whatever the timing: a provider's cancellation.
    #[must_use]
    pub const fn all_units_back(units: u32) -> UnitTerms {
        UnitTerms {
            band: CancellationBand::Free,
            kept: 0,
            returned: units,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_table() {
        let policy = CancellationPolicy {
            free_until_days: 14,
            late_fee_percent: 50,
            no_refund_within_days: 3,
        };
        let price = Money::from_pence(24_999);
        // (days before, band, fee, refund)
        let table = [
            (60, CancellationBand::Free, 0, 24_999),
            (14, CancellationBand::Free, 0, 24_999),
            (13, CancellationBand::Late, 12_500, 12_499),
            (3, CancellationBand::Late, 12_500, 12_499),
            (2, CancellationBand::NoRefund, 24_999, 0),
            (0, CancellationBand::NoRefund, 24_999, 0),
            (-1, CancellationBand::NoRefund, 24_999, 0),
        ];
        for (days, band, fee, refund) in table {
            let terms = policy.terms(days, price);
            assert_eq!(
                (terms.band, terms.fee.pence(), terms.refund.pence()),
                (band, fee, refund),
                "{days} days before"
            );
        }
    }

    #[test]
    fn the_policy_table_in_units() {
        let policy = CancellationPolicy {
            free_until_days: 14,
            late_fee_percent: 50,
            no_refund_within_days: 2,
        };
        // (days before, units used, band, kept, returned)
        let table = [
            (14, 2, CancellationBand::Free, 0, 2),
            (7, 2, CancellationBand::Late, 1, 1),
            (7, 3, CancellationBand::Late, 2, 1),
            (7, 1, CancellationBand::Late, 1, 0),
            (7, 0, CancellationBand::Late, 0, 0),
            (1, 4, CancellationBand::NoRefund, 4, 0),
            (
                7,
                u32::MAX,
                CancellationBand::Late,
                u32::MAX / 2 + 1,
                u32::MAX / 2,
            ),
        ];
        for (days, units, band, kept, returned) in table {
            assert_eq!(
                policy.unit_terms(days, units),
                UnitTerms {
                    band,
                    kept,
                    returned
                },
                "{units} units {days} days before"
            );
        }
        let light = CancellationPolicy {
            late_fee_percent: 20,
            ..policy
        };
        assert_eq!(
            light.unit_terms(7, 2).returned,
            2,
            "0.4 of a unit rounds to none"
        );
        assert_eq!(
            light.unit_terms(7, 3).returned,
            2,
            "0.6 of a unit rounds to one"
        );
        assert_eq!(
            CancellationPolicy::all_units_back(3),
            UnitTerms {
                band: CancellationBand::Free,
                kept: 0,
                returned: 3
            }
        );
    }

    #[test]
    fn edge_policies() {
        let free_always = CancellationPolicy {
            free_until_days: 0,
            late_fee_percent: 100,
            no_refund_within_days: 0,
        };
        assert_eq!(free_always.band(0), CancellationBand::Free);
        let no_late_band = CancellationPolicy {
            free_until_days: 7,
            late_fee_percent: 25,
            no_refund_within_days: 7,
        };
        assert_eq!(no_late_band.band(7), CancellationBand::Free);
        assert_eq!(no_late_band.band(6), CancellationBand::NoRefund);
        let small_fee = CancellationPolicy {
            free_until_days: 10,
            late_fee_percent: 10,
            no_refund_within_days: 0,
        };
        assert_eq!(
            small_fee.terms(1, Money::from_pence(15)).fee.pence(),
            2,
            "1.5p rounds half up"
        );
        assert_eq!(small_fee.terms(0, Money::zero()).refund, Money::zero());
    }

    #[test]
    fn bad_policies_are_refused() {
        let fields = |p: CancellationPolicy| p.check("policy").map_err(|e| e.field.join("."));
        assert_eq!(
            fields(CancellationPolicy {
                late_fee_percent: 101,
                ..CancellationPolicy::default()
            }),
            Err("policy.lateFeePercent".to_owned())
        );
        assert_eq!(
            fields(CancellationPolicy {
                free_until_days: 2,
                no_refund_within_days: 5,
                late_fee_percent: 0,
            }),
            Err("policy.noRefundWithinDays".to_owned())
        );
        assert_eq!(fields(CancellationPolicy::default()), Ok(()));
    }
}
