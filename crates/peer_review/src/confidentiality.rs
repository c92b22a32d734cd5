//! Who may read a review's report. One rule, used by every read of this crate and by the
//! gateway's resolvers (which load the same three inputs through [`crate::loaders`]).
//!
//! A report belongs to the host school. It is readable by:
//! * partnership staff who run peer review (and Trellis itself);
//! * leaders of the host school, at every status;
//! * the reviewers on its team, at every status;
//! * once AGREED, leaders of a school the host has recorded consent for (scope SCHOOL);
//! * once PUBLISHED_TO_PARTNERSHIP, every school leader of the partnership, if the host
//!   recorded PARTNERSHIP consent.
//!
//! Nobody else: not another school's leaders, not a reviewer on another team, not finance,
//! not school staff, not API keys.

use kernel::{Actor, Permission};

use crate::records::{Consent, Review, TeamMember};
use crate::types::{ConsentScope, ReviewStatus};

#[must_use]
pub fn may_read_report(
    actor: &Actor,
    review: &Review,
    team: &[TeamMember],
    consents: &[Consent],
) -> bool {
    if actor.can(Permission::ManagePeerReview) {
        return true;
    }
    let Some(user) = actor.as_user() else {
        return false;
    };
    if !actor.can(Permission::ReadPeerReview) {
        return false;
    }
    if user.schools.contains(&review.host_school_id) {
        return true;
    }
    if team
        .iter()
        .any(|m| m.review_id == review.id && m.user_id == user.id)
    {
        return true;
    }
    consents
        .iter()
        .filter(|c| c.review_id == review.id)
        .any(|c| match c.scope {
            ConsentScope::School => {
                review.status.report_is_agreed()
                    && c.school_id.is_some_and(|s| user.schools.contains(&s))
            }
            ConsentScope::Partnership => review.status == ReviewStatus::PublishedToPartnership,
        })
}
