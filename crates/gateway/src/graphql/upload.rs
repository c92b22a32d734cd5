//! Files sent with the GraphQL multipart request spec (imports of registers, rolls and bank
//! statements).

use async_graphql::{Context, Upload, UploadValue};
use kernel::{DomainError, ErrorCode};

use super::errors::field_error;

/// The uploaded file with its name, or a user error (`file`, REQUIRED) when the request's
/// map did not attach one.
pub fn uploaded(ctx: &Context<'_>, upload: &Upload) -> Result<UploadValue, DomainError> {
    upload.value(ctx).map_err(|_| {
        field_error(
            "file",
            ErrorCode::Required,
            "attach the file as a multipart upload",
        )
    })
}
