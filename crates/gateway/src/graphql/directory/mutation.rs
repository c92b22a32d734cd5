//! Changing the directory. Partnership admins only; every refusal a caller can fix comes
//! back as `userErrors` with nothing changed.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, SimpleObject};
use kernel::{DomainError, ErrorCode, PartnershipId, SchoolId};
use membership::partnership::{
    self, MemberChange, MemberInput, NewPartnership, PartnershipChanges,
};
use membership::school::inspection::{
    AreaGrade as DomainAreaGrade, Inspection, Outcome, ReportCard,
};
use membership::school::{self, NewSchool, RollInput, SchoolChanges};

use super::enums::{
    Designation, EstablishmentType, MemberRole, OverallGrade, PartnershipKind, Phase,
    ReportCardArea, ReportCardGrade, RollCensus,
};
use super::types::{PartnershipNode, SchoolNode};
use crate::graphql::context::ContextExt;
use crate::graphql::errors::{UserError, field_error, payload};
use crate::graphql::relay::expect_input;
use crate::graphql::scalars::Date;

/// Pupils on roll at a census.
#[derive(InputObject, Debug, Clone, Copy)]
#[graphql(name = "RollInput")]
pub struct RollInputGql {
    /// 0 to 10,000 pupils.
    pub number_on_roll: i32,
    /// Which census the number is from.
    pub census: RollCensus,
    /// 2000-01-01 to 2099-12-31, and not in the future.
    pub census_date: Date,
}

impl From<RollInputGql> for RollInput {
    fn from(r: RollInputGql) -> Self {
        Self {
            number_on_roll: i64::from(r.number_on_roll),
            census: r.census.into(),
            census_date: r.census_date.0,
        }
    }
}

/// Input to `schoolCreate`.
#[derive(InputObject, Debug)]
pub struct SchoolCreateInput {
    /// Six-digit DfE URN.
    pub urn: String,
    /// The school's name.
    pub name: String,
    /// The school's phase of education.
    pub phase: Phase,
    /// How the school is constituted.
    pub establishment_type: EstablishmentType,
    /// The local authority the school is in.
    pub local_authority: String,
    /// The school's postcode, a valid UK postcode.
    pub postcode: String,
    /// Pupils on roll, with the census it is from; optional.
    pub roll: Option<RollInputGql>,
    /// System-leadership designations the school holds.
    #[graphql(default)]
    pub designations: Vec<Designation>,
    /// Whether the school teaches post-16 pupils: only a SECONDARY, ALL_THROUGH or SPECIAL
    /// school can (`INVALID` otherwise). Fee rules may select on it (`hasSixthForm`), e.g. a
    /// higher cap. A GIAS import later sets it from `OfficialSixthForm (name)` by the same rule.
    #[graphql(default)]
    pub has_sixth_form: bool,
    /// The day the school opened or is due to open, when known: from 2000-01-01 to three
    /// years after today (`OUT_OF_RANGE` otherwise). The school is new for fee rules that
    /// select new schools (`newSchool`) in the academic year it opens and the two after.
    pub opened_on: Option<Date>,
}

/// Input to `schoolUpdate`. Fields left out are unchanged; `roll: null` clears the roll.
#[derive(InputObject, Debug)]
pub struct SchoolUpdateInput {
    /// Global id of the school.
    pub id: ID,
    /// The school's name.
    pub name: Option<String>,
    /// The school's phase of education.
    pub phase: Option<Phase>,
    /// How the school is constituted.
    pub establishment_type: Option<EstablishmentType>,
    /// The local authority the school is in.
    pub local_authority: Option<String>,
    /// The school's postcode, a valid UK postcode.
    pub postcode: Option<String>,
    /// A roll is added to the school's `rollHistory` (a second figure for the same census
    /// day replaces the first) and becomes its current `roll`. Fee quotes read the history,
    /// each schedule at its own census. `null` clears the current roll only; the history,
    /// which the fees of past years were priced on, is kept.
    pub roll: MaybeUndefined<RollInputGql>,
    /// Replaces the school's designations.
    pub designations: Option<Vec<Designation>>,
    /// Whether the school teaches post-16 pupils: only a SECONDARY, ALL_THROUGH or SPECIAL
    /// school can, judged on the phase the school will have after this update (`INVALID`
    /// otherwise, so moving a sixth-form secondary to PRIMARY must clear this too).
    pub has_sixth_form: Option<bool>,
    /// The day the school opened or is due to open, bounded as on `schoolCreate`; `null`
    /// forgets it (the school is then not new for fee rules).
    pub opened_on: MaybeUndefined<Date>,
}

/// One evaluation area of a report-card inspection and its grade.
#[derive(InputObject, Debug, Clone, Copy)]
pub struct AreaGradeInput {
    /// The evaluation area.
    pub area: ReportCardArea,
    /// Its grade on the report card's five-point scale.
    pub grade: ReportCardGrade,
}

/// A report-card inspection (from November 2025): each area's grade and whether safeguarding was
/// met.
#[derive(InputObject, Debug)]
pub struct ReportCardInput {
    /// Each evaluation area inspected, once, with its grade.
    pub areas: Vec<AreaGradeInput>,
    /// Whether safeguarding was judged met.
    pub safeguarding_met: bool,
}

/// Give `overallEffectiveness` for inspections before 10 November 2025 and `reportCard`
/// from then on — exactly one of them.
#[derive(InputObject, Debug)]
pub struct SchoolRecordInspectionInput {
    /// Global id of the school.
    pub school_id: ID,
    /// The day of the inspection.
    pub inspected_on: Date,
    /// For an inspection before November 2025: its overall-effectiveness grade. Give this or
    /// `reportCard`.
    pub overall_effectiveness: Option<OverallGrade>,
    /// For an inspection from November 2025: its report card. Give this or `overallEffectiveness`.
    pub report_card: Option<ReportCardInput>,
}

/// What `schoolCreate`, `schoolUpdate` and `schoolRecordInspection` did: the changed record, or
/// `userErrors` saying why nothing changed.
#[derive(SimpleObject, Debug)]
pub struct SchoolPayload {
    /// The school as it now is; null when nothing changed.
    pub school: Option<SchoolNode>,
    /// Why nothing changed, each naming the input field and a code; empty when the mutation
    /// succeeded.
    pub user_errors: Vec<UserError>,
}

impl SchoolPayload {
    fn from(result: Result<school::School, DomainError>) -> async_graphql::Result<Self> {
        let (school, user_errors) = payload(result)?;
        Ok(Self {
            school: school.map(SchoolNode::from),
            user_errors,
        })
    }
}

/// Input to `partnershipCreate`.
#[derive(InputObject, Debug)]
pub struct PartnershipCreateInput {
    /// The partnership's name.
    pub name: String,
    /// How tightly it binds its schools.
    pub kind: PartnershipKind,
    /// The area it serves (e.g. a borough).
    pub area: String,
    /// What the partnership is, in its own words.
    #[graphql(default)]
    pub description: String,
}

/// Input to `partnershipUpdate`.
#[derive(InputObject, Debug)]
pub struct PartnershipUpdateInput {
    /// Global id of the partnership.
    pub id: ID,
    /// The partnership's name.
    pub name: Option<String>,
    /// How tightly it binds its schools.
    pub kind: Option<PartnershipKind>,
    /// The area it serves.
    pub area: Option<String>,
    /// What the partnership is.
    pub description: Option<String>,
}

/// A school's place in a partnership.
#[derive(InputObject, Debug)]
pub struct PartnershipMemberInput {
    /// Global id of the partnership.
    pub partnership_id: ID,
    /// Global id of the school.
    pub school_id: ID,
    /// The school's role in the partnership.
    #[graphql(default_with = "MemberRole::Member")]
    pub role: MemberRole,
    /// When the school joined, if known.
    pub joined_on: Option<Date>,
}

/// Input to `partnershipMemberRemove`.
#[derive(InputObject, Debug)]
pub struct PartnershipMemberRemoveInput {
    /// Global id of the partnership.
    pub partnership_id: ID,
    /// Global id of the school.
    pub school_id: ID,
}

/// What `partnershipCreate`, `partnershipUpdate`, `partnershipMemberAdd`, `partnershipMemberUpdate`
/// and `partnershipMemberRemove` did: the changed record, or `userErrors` saying why nothing
/// changed.
#[derive(SimpleObject, Debug)]
pub struct PartnershipPayload {
    /// The partnership as the mutation left it; null when `userErrors` says why nothing changed.
    pub partnership: Option<PartnershipNode>,
    /// Why nothing changed, each naming the input field and a code; empty when the mutation
    /// succeeded.
    pub user_errors: Vec<UserError>,
}

impl PartnershipPayload {
    fn from(result: Result<partnership::Partnership, DomainError>) -> async_graphql::Result<Self> {
        let (partnership, user_errors) = payload(result)?;
        Ok(Self {
            partnership: partnership.map(PartnershipNode),
            user_errors,
        })
    }
}

fn member_input(input: &PartnershipMemberInput) -> Result<MemberInput, DomainError> {
    Ok(MemberInput {
        partnership: expect_input::<PartnershipId>(&input.partnership_id, "partnershipId")?,
        school: expect_input::<SchoolId>(&input.school_id, "schoolId")?,
        role: input.role.into(),
        joined_on: input.joined_on.map(|d| d.0),
    })
}

#[derive(Default, Debug)]
pub struct DirectoryMutation;

#[Object]
impl DirectoryMutation {
    /// Adds a school to the directory. Partnership admins.
    async fn school_create(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: SchoolCreateInput,
    ) -> async_graphql::Result<SchoolPayload> {
        let rc = ctx.trellis()?;
        let new = NewSchool {
            urn: input.urn,
            name: input.name,
            phase: input.phase.into(),
            establishment_type: input.establishment_type.into(),
            local_authority: input.local_authority,
            postcode: input.postcode,
            roll: input.roll.map(Into::into),
            designations: input.designations.into_iter().map(Into::into).collect(),
            has_sixth_form: input.has_sixth_form,
            opened_on: input.opened_on.map(|d| d.0),
            is_demo: false,
        };
        SchoolPayload::from(school::create(&rc.db, rc.clock.as_ref(), &rc.actor, new).await)
    }

    /// Changes a school's record. The URN cannot change. Partnership admins.
    async fn school_update(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: SchoolUpdateInput,
    ) -> async_graphql::Result<SchoolPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let id = expect_input::<SchoolId>(&input.id, "id")?;
            let changes = SchoolChanges {
                name: input.name,
                phase: input.phase.map(Into::into),
                establishment_type: input.establishment_type.map(Into::into),
                local_authority: input.local_authority,
                postcode: input.postcode,
                roll: match input.roll {
                    MaybeUndefined::Undefined => None,
                    MaybeUndefined::Null => Some(None),
                    MaybeUndefined::Value(r) => Some(Some(r.into())),
                },
                designations: input
                    .designations
                    .map(|d| d.into_iter().map(Into::into).collect()),
                has_sixth_form: input.has_sixth_form,
                opened_on: match input.opened_on {
                    MaybeUndefined::Undefined => None,
                    MaybeUndefined::Null => Some(None),
                    MaybeUndefined::Value(d) => Some(Some(d.0)),
                },
            };
            school::update(&rc.db, rc.clock.as_ref(), &rc.actor, id, changes).await
        }
        .await;
        SchoolPayload::from(result)
    }

    /// Records an Ofsted inspection. Partnership admins.
    async fn school_record_inspection(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: SchoolRecordInspectionInput,
    ) -> async_graphql::Result<SchoolPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let id = expect_input::<SchoolId>(&input.school_id, "schoolId")?;
            let outcome = match (input.overall_effectiveness, input.report_card) {
                (Some(grade), None) => Outcome::Graded(grade.into()),
                (None, Some(card)) => Outcome::ReportCard(ReportCard {
                    areas: card
                        .areas
                        .into_iter()
                        .map(|a| DomainAreaGrade {
                            area: a.area.into(),
                            grade: a.grade.into(),
                        })
                        .collect(),
                    safeguarding_met: card.safeguarding_met,
                }),
                _ => {
                    return Err(field_error(
                        "overallEffectiveness",
                        ErrorCode::Invalid,
                        "give exactly one of overallEffectiveness and reportCard",
                    ));
                }
            };
            let inspection = Inspection {
                inspected_on: input.inspected_on.0,
                outcome,
            };
            school::record_inspection(&rc.db, rc.clock.as_ref(), &rc.actor, id, inspection).await
        }
        .await;
        SchoolPayload::from(result)
    }

    /// Creates a partnership. Partnership admins.
    async fn partnership_create(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: PartnershipCreateInput,
    ) -> async_graphql::Result<PartnershipPayload> {
        let rc = ctx.trellis()?;
        let new = NewPartnership {
            name: input.name,
            kind: input.kind.into(),
            area: input.area,
            description: input.description,
        };
        PartnershipPayload::from(
            partnership::create(&rc.db, rc.clock.as_ref(), &rc.actor, new).await,
        )
    }

    /// Changes a partnership's details. Partnership admins.
    async fn partnership_update(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: PartnershipUpdateInput,
    ) -> async_graphql::Result<PartnershipPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let id = expect_input::<PartnershipId>(&input.id, "id")?;
            let changes = PartnershipChanges {
                name: input.name,
                kind: input.kind.map(Into::into),
                area: input.area,
                description: input.description,
            };
            partnership::update(&rc.db, rc.clock.as_ref(), &rc.actor, id, changes).await
        }
        .await;
        PartnershipPayload::from(result)
    }

    /// Adds a school to a partnership. Partnership admins.
    async fn partnership_member_add(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: PartnershipMemberInput,
    ) -> async_graphql::Result<PartnershipPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let member = member_input(&input)?;
            partnership::put_member(
                &rc.db,
                rc.clock.as_ref(),
                &rc.actor,
                member,
                MemberChange::Add,
            )
            .await
        }
        .await;
        PartnershipPayload::from(result)
    }

    /// Changes a member school's role or joining date. Partnership admins.
    async fn partnership_member_update(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: PartnershipMemberInput,
    ) -> async_graphql::Result<PartnershipPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let member = member_input(&input)?;
            partnership::put_member(
                &rc.db,
                rc.clock.as_ref(),
                &rc.actor,
                member,
                MemberChange::Update,
            )
            .await
        }
        .await;
        PartnershipPayload::from(result)
    }

    /// Removes a school from a partnership. Partnership admins.
    async fn partnership_member_remove(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: PartnershipMemberRemoveInput,
    ) -> async_graphql::Result<PartnershipPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let partnership_id =
                expect_input::<PartnershipId>(&input.partnership_id, "partnershipId")?;
            let school_id = expect_input::<SchoolId>(&input.school_id, "schoolId")?;
            partnership::remove_member(
                &rc.db,
                rc.clock.as_ref(),
                &rc.actor,
                partnership_id,
                school_id,
            )
            .await
        }
        .await;
        PartnershipPayload::from(result)
    }
}
