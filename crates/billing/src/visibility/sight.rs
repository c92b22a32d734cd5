//! How far a caller sees into billing: the one rule every billing read applies.

use std::collections::HashSet;

use kernel::{Actor, DomainError, Permission, SchoolId};

/// Which billing records an actor may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Sight {
    /// Partnership staff, the system, and integrators holding `billing:read`.
    All,
    /// A school user: the accounts holding these schools.
    Schools(HashSet<SchoolId>),
}

impl Sight {
    /// Requires `ReadBilling` and says how far the actor sees.
    pub(crate) fn of(actor: &Actor) -> Result<Self, DomainError> {
        actor.require(Permission::ReadBilling)?;
        Ok(match actor {
            Actor::User(user) if !user.role.is_partnership_staff() => {
                Self::Schools(user.schools.iter().copied().collect())
            }
            Actor::User(_) | Actor::ApiKey(_) | Actor::System => Self::All,
        })
    }

    /// Whether an account paying for `schools` is visible.
    pub(crate) fn sees(&self, schools: &[SchoolId]) -> bool {
        match self {
            Self::All => true,
            Self::Schools(own) => schools.iter().any(|s| own.contains(s)),
        }
    }
}
