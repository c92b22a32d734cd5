//! Batched loading for every edge of the graph.
//!
//! Each loader turns the keys requested while resolving one level of a query into one
//! statement, so a list of N schools with their partnerships costs the same number of
//! statements as one school. Loaders are built per request (their cache must never serve
//! one caller another's reads) and are cheap to build.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use async_graphql::dataloader::{DataLoader, Loader};
use kernel::{DomainError, PartnershipId, SchoolId, UserId};
use membership::partnership::{self, Member, Partnership};
use membership::people::{User, users};
use membership::school::inspection::Inspection;
use membership::school::types::Designation;
use membership::school::{self, School};
use sea_orm::DatabaseConnection;

use super::errors::to_graphql;

type LoadResult<K, V> = Result<HashMap<K, V>, async_graphql::Error>;

fn mapped<K, V>(result: Result<HashMap<K, V>, DomainError>) -> LoadResult<K, V> {
    result.map_err(to_graphql)
}

macro_rules! loader {
    ($(#[$meta:meta])* $name:ident, $key:ty => $value:ty, |$db:ident, $keys:ident| $body:expr) => {
        $(#[$meta])*
        #[derive(Debug)]
        pub struct $name(DatabaseConnection);

        impl Loader<$key> for $name {
            type Value = $value;
            type Error = async_graphql::Error;

            async fn load(&self, $keys: &[$key]) -> LoadResult<$key, $value> {
                let $db = &self.0;
                mapped($body.await)
            }
        }
    };
}

loader!(
    /// Schools by id.
    SchoolLoader, SchoolId => School, |db, keys| school::by_ids(db, keys)
);
loader!(
    /// Each school's designations.
    DesignationLoader, SchoolId => Vec<Designation>, |db, keys| school::designations_of(db, keys)
);
loader!(
    /// Each school's inspections, newest first.
    InspectionLoader, SchoolId => Vec<Inspection>, |db, keys| school::inspections_of(db, keys)
);
loader!(
    /// Partnerships by id.
    PartnershipLoader, PartnershipId => Partnership, |db, keys| partnership::by_ids(db, keys)
);
loader!(
    /// Each partnership's members, by school name.
    MembersLoader, PartnershipId => Vec<Member>, |db, keys| partnership::members_of(db, keys)
);
loader!(
    /// Each school's partnerships, by partnership name.
    MembershipsLoader, SchoolId => Vec<Member>, |db, keys| partnership::memberships_of(db, keys)
);
loader!(
    /// Each partnership's lead school.
    LeadLoader, PartnershipId => SchoolId, |db, keys| partnership::leads_of(db, keys)
);
loader!(
    /// Users by id.
    UserLoader, UserId => User, |db, keys| users::by_ids(db, keys)
);
loader!(
    /// The schools each user acts for.
    UserSchoolsLoader, UserId => Vec<SchoolId>, |db, keys| users::schools_of(db, keys)
);

/// Every loader of one request.
pub struct Loaders {
    pub schools: DataLoader<SchoolLoader>,
    pub designations: DataLoader<DesignationLoader>,
    pub inspections: DataLoader<InspectionLoader>,
    pub partnerships: DataLoader<PartnershipLoader>,
    pub members: DataLoader<MembersLoader>,
    pub memberships: DataLoader<MembershipsLoader>,
    pub leads: DataLoader<LeadLoader>,
    pub users: DataLoader<UserLoader>,
    pub user_schools: DataLoader<UserSchoolsLoader>,
}

impl fmt::Debug for Loaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Loaders")
    }
}

impl Loaders {
    #[must_use]
    pub fn new(db: &DatabaseConnection, delay: Duration) -> Self {
        fn make<L: Send + Sync + 'static>(loader: L, delay: Duration) -> DataLoader<L> {
            DataLoader::new(loader, tokio::spawn).delay(delay)
        }
        Self {
            schools: make(SchoolLoader(db.clone()), delay),
            designations: make(DesignationLoader(db.clone()), delay),
            inspections: make(InspectionLoader(db.clone()), delay),
            partnerships: make(PartnershipLoader(db.clone()), delay),
            members: make(MembersLoader(db.clone()), delay),
            memberships: make(MembershipsLoader(db.clone()), delay),
            leads: make(LeadLoader(db.clone()), delay),
            users: make(UserLoader(db.clone()), delay),
            user_schools: make(UserSchoolsLoader(db.clone()), delay),
        }
    }
}
