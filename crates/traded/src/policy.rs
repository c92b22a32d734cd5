//! The cancellation policy of a session, as a pure function of how long before the start a
//! booking is cancelled.
//!
//! Three bands, by whole days before the first part starts (rounded down, so 47 hours is one
//! day): at least `free_until_days` → free, everything back; fewer than
//! `no_refund_within_days` → nothing back; in between → `late_fee_percent` of the price is
//! kept. A provider's cancellation is outside the policy: everyone gets everything back.

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
