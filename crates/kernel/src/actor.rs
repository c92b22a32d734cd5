//! Who is calling, and what they may do.
//!
//! An [`Actor`] is built by the gateway from a verified token or API key *and Trellis's own
//! user records*: the role and school links are loaded from the database, never taken from
//! token claims. Domain services receive the actor and ask it for a [`Permission`]; the
//! role/scope matrix lives here, in one place, so it can be read and tested as a table.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::ids::{ApiKeyId, SchoolId, UserId};

/// A person's role in the partnership.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    /// Partnership staff who run the directory, users, catalogue and cycles.
    PartnershipAdmin,
    /// Partnership finance staff.
    Finance,
    /// A headteacher or school business manager acting for their school(s).
    SchoolLeader,
    /// Other staff of a member school.
    SchoolStaff,
}

impl Role {
    pub const ALL: [Self; 4] = [
        Self::PartnershipAdmin,
        Self::Finance,
        Self::SchoolLeader,
        Self::SchoolStaff,
    ];

    /// The stable name stored in the database and used in the API.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::PartnershipAdmin => "PARTNERSHIP_ADMIN",
            Self::Finance => "FINANCE",
            Self::SchoolLeader => "SCHOOL_LEADER",
            Self::SchoolStaff => "SCHOOL_STAFF",
        }
    }

    /// Whether this role acts for particular schools (and so needs at least one linked).
    #[must_use]
    pub const fn is_school_role(self) -> bool {
        matches!(self, Self::SchoolLeader | Self::SchoolStaff)
    }

    /// Partnership staff see every school's records; school roles see their own.
    #[must_use]
    pub const fn is_partnership_staff(self) -> bool {
        matches!(self, Self::PartnershipAdmin | Self::Finance)
    }

    /// The role/permission matrix. Permissions on school records (memberships, invoices)
    /// are granted here by role; *which* schools' records is a second check,
    /// [`Actor::may_see_school_records`], made by the service that loads them.
    const fn grants(self, permission: Permission) -> bool {
        match permission {
            // Every role reads the core offer too; school roles their own schools' only (a
            // second check, made by the offer services).
            // The traded catalogue is for everyone signed in too.
            Permission::ReadDirectory
            | Permission::ReadMemberships
            | Permission::ReadOffer
            | Permission::ReadCatalogue => true,
            Permission::ManageDirectory
            | Permission::ManageUsers
            | Permission::ManageApiKeys
            | Permission::ManageMemberships
            | Permission::ManagePeerReview
            | Permission::ManageOffer
            | Permission::RecordOfferUsage
            | Permission::ManageCatalogue => matches!(self, Self::PartnershipAdmin),
            Permission::RespondToMembership
            | Permission::SetPurchaseOrder
            | Permission::ReadPeerReview
            | Permission::TakePartInPeerReview
            // Booking commits a school's money, so it is its leaders' (staff request, a leader
            // approves); providing schools' leaders take the register of their own sessions
            // (a second check in `traded`).
            | Permission::BookTraded
            | Permission::RecordAttendance => {
                matches!(self, Self::PartnershipAdmin | Self::SchoolLeader)
            }
            Permission::ReadBilling => !matches!(self, Self::SchoolStaff),
            Permission::ManageBilling => matches!(self, Self::PartnershipAdmin | Self::Finance),
            Permission::RequestBooking => {
                matches!(
                    self,
                    Self::PartnershipAdmin | Self::SchoolLeader | Self::SchoolStaff
                )
            }
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownName(s.to_owned()))
    }
}

/// What an integrator's API key may do. Keys are read-only by design: writes are made by
/// people, so every change in the audit trail has a person behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Scope {
    /// Read schools and partnerships.
    #[serde(rename = "directory:read")]
    DirectoryRead,
    /// Read memberships, tiers and fee quotes of every school.
    #[serde(rename = "membership:read")]
    MembershipRead,
    /// Read billing accounts, invoices, payments and finance reports (e.g. a ledger sync).
    #[serde(rename = "billing:read")]
    BillingRead,
    /// Read the core offer: items, and every school's entitlements, usage and value statements.
    #[serde(rename = "offer:read")]
    OfferRead,
    /// Read the published traded catalogue: services and their sessions (not bookings).
    #[serde(rename = "catalogue:read")]
    CatalogueRead,
}

impl Scope {
    pub const ALL: [Self; 5] = [
        Self::DirectoryRead,
        Self::MembershipRead,
        Self::BillingRead,
        Self::OfferRead,
        Self::CatalogueRead,
    ];

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::DirectoryRead => "directory:read",
            Self::MembershipRead => "membership:read",
            Self::BillingRead => "billing:read",
            Self::OfferRead => "offer:read",
            Self::CatalogueRead => "catalogue:read",
        }
    }

    const fn grants(self, permission: Permission) -> bool {
        matches!(
            (self, permission),
            (Self::DirectoryRead, Permission::ReadDirectory)
                | (Self::MembershipRead, Permission::ReadMemberships)
                | (Self::BillingRead, Permission::ReadBilling)
                | (Self::OfferRead, Permission::ReadOffer)
                | (Self::CatalogueRead, Permission::ReadCatalogue)
        )
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownName(s.to_owned()))
    }
}

/// A stored role or scope name this build does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown name `{0}`")]
pub struct UnknownName(pub String);

/// Something an actor may be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Read schools, partnerships and their members.
    ReadDirectory,
    /// Create and change schools and partnerships.
    ManageDirectory,
    /// Create, change and deactivate users.
    ManageUsers,
    /// Create and revoke API keys.
    ManageApiKeys,
    /// Read memberships (school roles: their own schools' only).
    ReadMemberships,
    /// Manage tiers, enrol schools, open renewals, change membership status.
    ManageMemberships,
    /// Confirm or decline a renewal and accept the principles, for one's own school.
    RespondToMembership,
    /// Read billing accounts, invoices, payments and balances (school leaders: their own).
    ReadBilling,
    /// Fee schedules, invoicing runs, receipts, allocations, credit notes, refunds, reports.
    ManageBilling,
    /// Add a purchase-order number to an open invoice (school leaders: their own).
    SetPurchaseOrder,
    /// Peer-review cycles, reviewers, group proposals and their confirmation; partnership
    /// staff read every report through this.
    ManagePeerReview,
    /// Read peer-review cycles, partnership-wide themes and the reports the confidentiality
    /// rule lets this caller see (school leaders: their own school's and those they are on).
    ReadPeerReview,
    /// Act in a review: the host school's leaders (self-review, agreeing the report,
    /// consent) and the reviewers on its team (findings, actions). Which review is a second
    /// check the peer-review services make.
    TakePartInPeerReview,
    /// Read the core offer's items and entitlements (school roles: their own schools').
    ReadOffer,
    /// Manage offer items and quantities, derive entitlements, adjust, cash in, draw forward.
    ManageOffer,
    /// Record that part of an entitlement was used (a visit held, a place booked), or reverse it.
    RecordOfferUsage,
    /// Read the traded catalogue: published services and their sessions.
    ReadCatalogue,
    /// Create, change, publish and withdraw services and sessions; cancel sessions; see every
    /// booking and attendee list.
    ManageCatalogue,
    /// Book places for one's own school, approve or decline staff requests, accept waiting-list
    /// offers, cancel and settle (school leaders: their own schools').
    BookTraded,
    /// Ask for a place that the school's leader then approves (school staff: their own school).
    RequestBooking,
    /// Mark attendance on a session's register (school leaders: sessions their school provides).
    RecordAttendance,
}

/// A signed-in person, as loaded from Trellis's users table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserActor {
    pub id: UserId,
    pub email: String,
    pub role: Role,
    pub schools: Vec<SchoolId>,
}

/// An integrator calling with an API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyActor {
    pub id: ApiKeyId,
    pub name: String,
    pub scopes: Vec<Scope>,
}

/// [`Actor::caller_id`] of [`Actor::System`], and of records older than callers being kept.
pub const SYSTEM_CALLER: &str = "system";

/// The caller of an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    User(UserActor),
    ApiKey(ApiKeyActor),
    /// Trellis itself: the operator's CLI (`trellis seed`) and scheduled jobs. Never built
    /// from a request.
    System,
}

impl Actor {
    #[must_use]
    pub fn can(&self, permission: Permission) -> bool {
        match self {
            Self::User(user) => user.role.grants(permission),
            Self::ApiKey(key) => key.scopes.iter().any(|s| s.grants(permission)),
            Self::System => true,
        }
    }

    /// `Ok` when the actor holds `permission`, otherwise a `Forbidden` error that names it.
    pub fn require(&self, permission: Permission) -> Result<(), DomainError> {
        if self.can(permission) {
            Ok(())
        } else {
            Err(DomainError::Forbidden(format!(
                "{permission:?} is not granted to this caller"
            )))
        }
    }

    /// Whether the actor may see records that belong to `school`: partnership staff see
    /// every school's, school roles only their own linked schools', keys none.
    #[must_use]
    pub fn may_see_school_records(&self, school: SchoolId) -> bool {
        match self {
            Self::User(user) => user.role.is_partnership_staff() || user.schools.contains(&school),
            Self::ApiKey(_) => false,
            Self::System => true,
        }
    }

    /// Who the caller is, as stored beside what they did once: `user:<id>`, `api_key:<id>` or
    /// `system`. Idempotency keys are scoped by it, so one caller's key never replays another
    /// caller's result.
    #[must_use]
    pub fn caller_id(&self) -> String {
        match self {
            Self::User(user) => format!("user:{}", user.id.as_uuid()),
            Self::ApiKey(key) => format!("api_key:{}", key.id.as_uuid()),
            Self::System => SYSTEM_CALLER.to_owned(),
        }
    }

    #[must_use]
    pub fn as_user(&self) -> Option<&UserActor> {
        match self {
            Self::User(user) => Some(user),
            Self::ApiKey(_) | Self::System => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(role: Role) -> Actor {
        Actor::User(UserActor {
            id: UserId::new(),
            email: "a@b.example".into(),
            role,
            schools: vec![],
        })
    }

    #[test]
    fn permission_matrix() {
        use Permission::*;
        // Columns: the ten directory/membership/billing permissions, then peer review's
        // three, then the offer's three, then traded services' five, in the order of `got`
        // below.
        let rows = [
            (
                Role::PartnershipAdmin,
                [
                    true, true, true, true, true, true, true, true, true, true, true, true, true,
                    true, true, true, true, true, true, true, true,
                ],
            ),
            (
                Role::Finance,
                [
                    true, false, false, false, true, false, false, true, true, false, false, false,
                    false, true, false, false, true, false, false, false, false,
                ],
            ),
            (
                Role::SchoolLeader,
                [
                    true, false, false, false, true, false, true, true, false, true, false, true,
                    true, true, false, false, true, false, true, true, true,
                ],
            ),
            (
                Role::SchoolStaff,
                [
                    true, false, false, false, true, false, false, false, false, false, false,
                    false, false, true, false, false, true, false, false, true, false,
                ],
            ),
        ];
        for (role, expected) in rows {
            let actor = user(role);
            let got = [
                ReadDirectory,
                ManageDirectory,
                ManageUsers,
                ManageApiKeys,
                ReadMemberships,
                ManageMemberships,
                RespondToMembership,
                ReadBilling,
                ManageBilling,
                SetPurchaseOrder,
                ManagePeerReview,
                ReadPeerReview,
                TakePartInPeerReview,
                ReadOffer,
                ManageOffer,
                RecordOfferUsage,
                ReadCatalogue,
                ManageCatalogue,
                BookTraded,
                RequestBooking,
                RecordAttendance,
            ]
            .map(|p| actor.can(p));
            assert_eq!(got, expected, "{role}");
        }
    }

    #[test]
    fn api_keys_get_only_their_scopes_and_never_writes() {
        let none = Actor::ApiKey(ApiKeyActor {
            id: ApiKeyId::new(),
            name: "k".into(),
            scopes: vec![],
        });
        assert!(!none.can(Permission::ReadDirectory));
        let reader = Actor::ApiKey(ApiKeyActor {
            id: ApiKeyId::new(),
            name: "k".into(),
            scopes: vec![Scope::DirectoryRead],
        });
        assert!(reader.can(Permission::ReadDirectory));
        assert!(!reader.can(Permission::ManageDirectory));
        assert!(reader.require(Permission::ManageUsers).is_err());
        let offer = Actor::ApiKey(ApiKeyActor {
            id: ApiKeyId::new(),
            name: "portal".into(),
            scopes: vec![Scope::OfferRead],
        });
        assert!(offer.can(Permission::ReadOffer));
        assert!(!offer.can(Permission::RecordOfferUsage));
        assert!(!offer.can(Permission::ManageOffer));
        assert!(!reader.can(Permission::ReadOffer));
        let catalogue = Actor::ApiKey(ApiKeyActor {
            id: ApiKeyId::new(),
            name: "course finder".into(),
            scopes: vec![Scope::CatalogueRead],
        });
        assert!(catalogue.can(Permission::ReadCatalogue));
        for write in [
            Permission::ManageCatalogue,
            Permission::BookTraded,
            Permission::RequestBooking,
            Permission::RecordAttendance,
        ] {
            assert!(!catalogue.can(write), "{write:?}");
        }
        assert!(!offer.can(Permission::ReadCatalogue));
    }

    #[test]
    fn school_records_are_visible_to_staff_and_own_school_only() {
        let own = SchoolId::new();
        let other = SchoolId::new();
        let leader = Actor::User(UserActor {
            id: UserId::new(),
            email: "h@s.example".into(),
            role: Role::SchoolLeader,
            schools: vec![own],
        });
        assert!(leader.may_see_school_records(own));
        assert!(!leader.may_see_school_records(other));
        assert!(user(Role::Finance).may_see_school_records(other));
    }

    #[test]
    fn names_round_trip() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        for scope in Scope::ALL {
            assert_eq!(scope.as_str().parse::<Scope>(), Ok(scope));
        }
        assert!("ROOT".parse::<Role>().is_err());
    }
}
