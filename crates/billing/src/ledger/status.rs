//! The invoice life cycle, in one place.
//!
//! ```text
//! DRAFT ──► OPEN ──► PARTIALLY_PAID ──► PAID
//!   │        │  │           │            ▲
//!   │        │  └───────────┴──► UNCOLLECTIBLE
//!   └──► VOID ◄──────────────────────┘ (no money moved)
//! ```
//!
//! Money decides between OPEN, PARTIALLY_PAID and PAID ([`settled_status`]); people decide
//! VOID and UNCOLLECTIBLE. PAID and VOID are final.

use super::support::named_enum;

named_enum!(
    /// Where an invoice is in its life.
    InvoiceStatus {
        /// Being prepared: no number yet. Issuing makes it OPEN.
        Draft => "DRAFT",
        /// Issued and nothing settled yet.
        Open => "OPEN",
        /// Outstanding amount zero: paid, credited, or both.
        Paid => "PAID",
        /// Some payment allocated, some still outstanding.
        PartiallyPaid => "PARTIALLY_PAID",
        /// Cancelled before any money moved against it.
        Void => "VOID",
        /// Written off as bad debt; a late payment may still settle it.
        Uncollectible => "UNCOLLECTIBLE",
    }
);

impl InvoiceStatus {
    /// Whether the invoice may move from `self` to `to`. Staying put is always allowed.
    #[must_use]
    pub const fn can_become(self, to: Self) -> bool {
        use InvoiceStatus::{Draft, Open, Paid, PartiallyPaid, Uncollectible, Void};
        matches!(
            (self, to),
            (Draft, Draft | Open | Void)
                | (Open, Open | PartiallyPaid | Paid | Void | Uncollectible)
                | (PartiallyPaid, PartiallyPaid | Paid | Uncollectible)
                | (Uncollectible, Uncollectible | Paid | Void)
                | (Paid, Paid)
                | (Void, Void)
        )
    }

    /// Whether payments may be allocated to an invoice in this status.
    #[must_use]
    pub const fn accepts_payment(self) -> bool {
        matches!(self, Self::Open | Self::PartiallyPaid | Self::Uncollectible)
    }

    /// Whether credit notes may be raised against it.
    #[must_use]
    pub const fn accepts_credit(self) -> bool {
        matches!(
            self,
            Self::Open | Self::PartiallyPaid | Self::Paid | Self::Uncollectible
        )
    }

    /// Whether a purchase-order number may still be added.
    #[must_use]
    pub const fn accepts_purchase_order(self) -> bool {
        matches!(self, Self::Open | Self::PartiallyPaid)
    }
}

/// The status an issued invoice has after money moved: PAID once nothing is outstanding,
/// otherwise PARTIALLY_PAID if anything was paid, else OPEN. UNCOLLECTIBLE stays so until
/// fully settled.
#[must_use]
pub fn settled_status(current: InvoiceStatus, paid: i64, outstanding: i64) -> InvoiceStatus {
    let by_money = if outstanding == 0 {
        InvoiceStatus::Paid
    } else if paid > 0 {
        InvoiceStatus::PartiallyPaid
    } else {
        InvoiceStatus::Open
    };
    match current {
        InvoiceStatus::Uncollectible if by_money != InvoiceStatus::Paid => current,
        _ => by_money,
    }
}

#[cfg(test)]
mod tests {
    use super::InvoiceStatus::{self, *};
    use super::settled_status;

    #[test]
    fn final_states_are_final() {
        for to in InvoiceStatus::ALL {
            assert_eq!(Paid.can_become(*to), *to == Paid);
            assert_eq!(Void.can_become(*to), *to == Void);
        }
        assert!(Open.can_become(Void));
        assert!(
            !PartiallyPaid.can_become(Void),
            "money moved: credit instead"
        );
        assert!(!Paid.can_become(Open));
    }

    #[test]
    fn money_moves_status_along_the_table() {
        assert_eq!(settled_status(Open, 0, 100), Open);
        assert_eq!(settled_status(Open, 10, 90), PartiallyPaid);
        assert_eq!(settled_status(PartiallyPaid, 100, 0), Paid);
        assert_eq!(settled_status(Open, 0, 0), Paid, "fully credited");
        assert_eq!(settled_status(Uncollectible, 10, 90), Uncollectible);
        assert_eq!(settled_status(Uncollectible, 100, 0), Paid);
        for from in [Open, PartiallyPaid, Uncollectible] {
            for (paid, out) in [(0, 100), (10, 90), (100, 0)] {
                assert!(
                    from.can_become(settled_status(from, paid, out))
                        || (from == PartiallyPaid && paid == 0)
                );
            }
        }
    }
}
