//! File imports into the directory: the DfE register (GIAS) and census rolls, uploaded with
//! the GraphQL multipart request spec. The imports themselves are `membership::import`'s,
//! the same code the `trellis import` CLI runs; this module only adapts them.

use async_graphql::{Context, InputObject, Object, SimpleObject, Upload};
use kernel::DomainError;
use membership::import::census::{self, Census, CensusReport};
use membership::import::gias::{self, ChangeKind, GiasFilter, GiasReport};

use super::enums::RollCensus;
use super::types::Roll;
use crate::graphql::context::ContextExt;
use crate::graphql::errors::{UserError, payload};
use crate::graphql::scalars::Date;

/// A GIAS establishment extract to import (`edubasealldata*.csv` as DfE ships it).
#[derive(InputObject, Debug)]
pub struct SchoolsImportGiasInput {
    /// The CSV file, sent as a multipart upload.
    pub file: Upload,
    /// Only establishments of these local authorities (`LA (name)`, ignoring case).
    #[graphql(default)]
    pub local_authorities: Vec<String>,
    /// Only these URNs.
    #[graphql(default)]
    pub urns: Vec<String>,
    /// Report what the import would do and write nothing.
    #[graphql(default)]
    pub dry_run: bool,
}

/// A census file (`URN,pupils`) to import.
#[derive(InputObject, Debug)]
pub struct SchoolRollsImportInput {
    /// The CSV file, sent as a multipart upload.
    pub file: Upload,
    /// Which census the file's numbers are from.
    pub census: RollCensus,
    /// The census day, in the census's month and not in the future.
    pub census_date: Date,
    /// Report what the import would do and write nothing.
    #[graphql(default)]
    pub dry_run: bool,
}

/// How an import changes a school.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchoolChangeKind {
    /// A school new to the directory.
    Created,
    /// A school already in the directory whose fields changed.
    Updated,
    /// Updated, and the register now says the school is closed (it is flagged, not deleted).
    Closed,
}

/// One field of a school before and after.
#[derive(SimpleObject, Debug)]
pub struct SchoolFieldChange {
    /// The field that changes.
    pub field: String,
    /// Its value before, as text; null for a new school or an empty field.
    pub before: Option<String>,
    /// Its value after, as text; null when it becomes empty.
    pub after: Option<String>,
}

/// One school an import creates or changes.
#[derive(SimpleObject, Debug)]
pub struct SchoolImportChange {
    /// The school's URN.
    pub urn: String,
    /// The school's name.
    pub name: String,
    /// Created, updated or closed.
    pub kind: SchoolChangeKind,
    /// Each field that changes; for a new school, each it is created with.
    pub fields: Vec<SchoolFieldChange>,
}

/// What a GIAS import did or, on a dry run, would do. Counts are whole-file; `changes`
/// lists the first 1,000 schools.
#[derive(SimpleObject, Debug)]
pub struct GiasImportReport {
    /// True when nothing was written: the report is what the import would do.
    pub dry_run: bool,
    /// Data rows in the file.
    pub rows_read: i32,
    /// Rows the filter (local authority or URNs) selected.
    pub selected: i32,
    /// Schools new to the directory.
    pub created: i32,
    /// Schools in the directory whose fields changed.
    pub updated: i32,
    /// Of the updated, those the register now says are closed (flagged, kept).
    pub closed: i32,
    /// Selected schools already as the file has them.
    pub unchanged: i32,
    /// Establishments of types Trellis does not list (universities, Welsh and overseas
    /// establishments, secure units…).
    pub skipped_not_schools: i32,
    /// Closed establishments that are not in the directory.
    pub skipped_closed: i32,
    /// URNs the filter asked for that the file does not have.
    pub urns_not_in_file: Vec<String>,
    /// MAT partnerships made for trusts not yet in the directory.
    pub trusts_created: Vec<String>,
    /// Schools that joined or left a multi-academy trust.
    pub trust_moves: i32,
    /// Rolls added to the schools' histories.
    pub rolls_recorded: i32,
    /// Ofsted inspections added to the schools' records.
    pub inspections_recorded: i32,
    /// The first schools created, changed or closed, in file order, with each changing field.
    pub changes: Vec<SchoolImportChange>,
    /// How many more changes there are than `changes` lists.
    pub changes_not_listed: i32,
}

fn count(n: u64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

impl From<GiasReport> for GiasImportReport {
    fn from(r: GiasReport) -> Self {
        Self {
            dry_run: r.dry_run,
            rows_read: count(r.rows_read),
            selected: count(r.selected),
            created: count(r.created),
            updated: count(r.updated),
            closed: count(r.closed),
            unchanged: count(r.unchanged),
            skipped_not_schools: count(r.skipped_not_schools),
            skipped_closed: count(r.skipped_closed),
            urns_not_in_file: r.urns_not_in_file,
            trusts_created: r.trusts_created,
            trust_moves: count(r.trust_moves),
            rolls_recorded: count(r.rolls_recorded),
            inspections_recorded: count(r.inspections_recorded),
            changes: r
                .changes
                .into_iter()
                .map(|c| SchoolImportChange {
                    urn: c.urn,
                    name: c.name,
                    kind: match c.kind {
                        ChangeKind::Created => SchoolChangeKind::Created,
                        ChangeKind::Updated => SchoolChangeKind::Updated,
                        ChangeKind::Closed => SchoolChangeKind::Closed,
                    },
                    fields: c
                        .fields
                        .into_iter()
                        .map(|f| SchoolFieldChange {
                            field: f.field.to_owned(),
                            before: f.before,
                            after: f.after,
                        })
                        .collect(),
                })
                .collect(),
            changes_not_listed: count(r.changes_not_listed),
        }
    }
}

/// What `schoolsImportGias` did: the changed record, or `userErrors` saying why nothing changed.
#[derive(SimpleObject, Debug)]
pub struct SchoolsImportGiasPayload {
    /// Null when the file was refused; `userErrors` then say why, by line
    /// (`["input", "file", "<line>", "<column>"]`).
    pub report: Option<GiasImportReport>,
    /// Why nothing changed, each naming the input field and a code; empty when the mutation
    /// succeeded.
    pub user_errors: Vec<UserError>,
}

/// One school's current roll before and after a census import.
#[derive(SimpleObject, Debug)]
pub struct RollChange {
    /// The school's URN.
    pub urn: String,
    /// The school's name.
    pub name: String,
    /// The school's current roll before the import; null when it had none.
    pub before: Option<Roll>,
    /// The school's current roll after the import.
    pub after: Roll,
}

/// What a census import did or, on a dry run, would do.
#[derive(SimpleObject, Debug)]
pub struct CensusImportReport {
    /// True when nothing was written: the report is what the import would do.
    pub dry_run: bool,
    /// Data rows in the file.
    pub rows_read: i32,
    /// Schools whose current roll changes (fee quotes of memberships not yet invoiced follow).
    pub updated: i32,
    /// Schools whose current roll already had this figure from this census.
    pub unchanged: i32,
    /// Schools with a roll from a later census: this one joins their history only.
    pub history_only: i32,
    /// The first schools whose current roll changes, with the roll before and after.
    pub changes: Vec<RollChange>,
    /// How many more schools change than `changes` lists.
    pub changes_not_listed: i32,
}

impl From<CensusReport> for CensusImportReport {
    fn from(r: CensusReport) -> Self {
        Self {
            dry_run: r.dry_run,
            rows_read: count(r.rows_read),
            updated: count(r.updated),
            unchanged: count(r.unchanged),
            history_only: count(r.history_only),
            changes: r
                .changes
                .into_iter()
                .map(|c| RollChange {
                    urn: c.urn,
                    name: c.name,
                    before: c.before.map(Roll::from),
                    after: Roll::from(c.after),
                })
                .collect(),
            changes_not_listed: count(r.changes_not_listed),
        }
    }
}

/// What `schoolRollsImport` did: the changed record, or `userErrors` saying why nothing changed.
#[derive(SimpleObject, Debug)]
pub struct SchoolRollsImportPayload {
    /// The report as the mutation left it; null when `userErrors` says why nothing changed.
    pub report: Option<CensusImportReport>,
    /// Why nothing changed, each naming the input field and a code; empty when the mutation
    /// succeeded.
    pub user_errors: Vec<UserError>,
}

/// The uploaded file, or a user error when the request's map did not attach one.
fn uploaded(ctx: &Context<'_>, upload: Upload) -> Result<std::fs::File, DomainError> {
    crate::graphql::upload::uploaded(ctx, &upload).map(|v| v.content)
}

#[derive(Default, Debug)]
pub struct DirectoryImportMutation;

#[Object]
impl DirectoryImportMutation {
    /// Imports establishments from a GIAS extract (partnership admins only): upserts by URN,
    /// flags closed schools, files academies into their trusts' MAT partnerships. All or
    /// nothing; with `dryRun` it reports the diff and writes nothing.
    async fn schools_import_gias(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: SchoolsImportGiasInput,
    ) -> async_graphql::Result<SchoolsImportGiasPayload> {
        let rc = ctx.trellis()?;
        // Refused before the file is opened, like every other door to the import.
        rc.actor
            .require(kernel::Permission::ManageDirectory)
            .map_err(crate::graphql::errors::to_graphql)?;
        let result = match uploaded(ctx, input.file) {
            Ok(file) => {
                gias::import(
                    &rc.db,
                    rc.clock.as_ref(),
                    &rc.actor,
                    file,
                    GiasFilter {
                        local_authorities: input.local_authorities,
                        urns: input.urns,
                    },
                    input.dry_run,
                    &|_| {},
                )
                .await
            }
            Err(e) => Err(e),
        };
        let (report, user_errors) = payload(result)?;
        Ok(SchoolsImportGiasPayload {
            report: report.map(Into::into),
            user_errors,
        })
    }

    /// Imports a census's rolls (`URN,pupils`; partnership admins only). Each school's roll
    /// history keeps every census; the current roll is the newest, and fee quotes of
    /// memberships not yet invoiced follow it. All or nothing; `dryRun` writes nothing.
    async fn school_rolls_import(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: SchoolRollsImportInput,
    ) -> async_graphql::Result<SchoolRollsImportPayload> {
        let rc = ctx.trellis()?;
        rc.actor
            .require(kernel::Permission::ManageDirectory)
            .map_err(crate::graphql::errors::to_graphql)?;
        let result = match uploaded(ctx, input.file) {
            Ok(file) => {
                census::import(
                    &rc.db,
                    rc.clock.as_ref(),
                    &rc.actor,
                    file,
                    Census {
                        census: input.census.into(),
                        date: input.census_date.0,
                    },
                    input.dry_run,
                    &|_| {},
                )
                .await
            }
            Err(e) => Err(e),
        };
        let (report, user_errors) = payload(result)?;
        Ok(SchoolRollsImportPayload {
            report: report.map(Into::into),
            user_errors,
        })
    }
}
