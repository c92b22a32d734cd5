//! Managing users and API keys. Admins only.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use kernel::{ApiKeyId, DomainError, SchoolId, UserId};
use membership::people::{NewApiKey, NewUser, UserChanges, api_keys, users};

use super::types::{ApiKeyNode, Role, Scope, UserNode};
use crate::auth::cache::ActorCache;
use crate::graphql::context::ContextExt;
use crate::graphql::errors::{UserError, payload};
use crate::graphql::relay::expect_input;

/// Drops this replica's kept signed-in users (`auth::cache`) after a change to one.
fn forget_signed_in_users(ctx: &Context<'_>) {
    if let Ok(users) = ctx.data::<std::sync::Arc<ActorCache>>() {
        users.forget_all();
    }
}

fn school_ids(ids: &[ID]) -> Result<Vec<SchoolId>, DomainError> {
    ids.iter()
        .map(|id| expect_input::<SchoolId>(id, "schoolIds"))
        .collect()
}

/// Input to `userCreate`.
#[derive(InputObject, Debug)]
pub struct UserCreateInput {
    /// The address the user signs in with; unique.
    pub email: String,
    /// The user's name.
    pub name: String,
    /// What the user may do.
    pub role: Role,
    /// Required for school roles; must be empty for partnership staff.
    #[graphql(default)]
    pub school_ids: Vec<ID>,
}

/// Input to `userUpdate`.
#[derive(InputObject, Debug)]
pub struct UserUpdateInput {
    /// Global id of the user.
    pub id: ID,
    /// The user's name.
    pub name: Option<String>,
    /// What the user may do.
    pub role: Option<Role>,
    /// False to stop the user signing in; their records stay.
    pub active: Option<bool>,
    /// Replaces the user's schools.
    pub school_ids: Option<Vec<ID>>,
}

/// What `userCreate` and `userUpdate` did: the changed record, or `userErrors` saying why nothing
/// changed.
#[derive(SimpleObject, Debug)]
pub struct UserPayload {
    /// The user as the mutation left it; null when `userErrors` says why nothing changed.
    pub user: Option<UserNode>,
    /// Why nothing changed, each naming the input field and a code; empty when the mutation
    /// succeeded.
    pub user_errors: Vec<UserError>,
}

/// Input to `apiKeyCreate`.
#[derive(InputObject, Debug)]
pub struct ApiKeyCreateInput {
    /// Who the key is for, e.g. "Barnet portal".
    pub name: String,
    /// What the key may read or do; at least one scope.
    pub scopes: Vec<Scope>,
}

/// What `apiKeyCreate` did: the changed record, or `userErrors` saying why nothing changed.
#[derive(SimpleObject, Debug)]
pub struct ApiKeyCreatePayload {
    /// The api key as the mutation left it; null when `userErrors` says why nothing changed.
    pub api_key: Option<ApiKeyNode>,
    /// The key itself, shown only here and never again: send it as `Authorization: Bearer trl_…`.
    pub secret: Option<String>,
    /// Why nothing changed, each naming the input field and a code; empty when the mutation
    /// succeeded.
    pub user_errors: Vec<UserError>,
}

/// Input to `apiKeyRevoke`.
#[derive(InputObject, Debug)]
pub struct ApiKeyRevokeInput {
    /// Global id of the api key.
    pub id: ID,
}

/// What `apiKeyRevoke` did: the changed record, or `userErrors` saying why nothing changed.
#[derive(SimpleObject, Debug)]
pub struct ApiKeyPayload {
    /// The api key as the mutation left it; null when `userErrors` says why nothing changed.
    pub api_key: Option<ApiKeyNode>,
    /// Why nothing changed, each naming the input field and a code; empty when the mutation
    /// succeeded.
    pub user_errors: Vec<UserError>,
}

#[derive(Default, Debug)]
pub struct AccessMutation;

#[Object]
impl AccessMutation {
    /// Gives a person access to Trellis.
    async fn user_create(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: UserCreateInput,
    ) -> async_graphql::Result<UserPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let new = NewUser {
                email: input.email,
                name: input.name,
                role: input.role.into(),
                schools: school_ids(&input.school_ids)?,
            };
            users::create(&rc.db, rc.clock.as_ref(), &rc.actor, new).await
        }
        .await;
        let (user, user_errors) = payload(result)?;
        Ok(UserPayload {
            user: user.map(UserNode),
            user_errors,
        })
    }

    /// Changes a person's name, role, schools or whether they may sign in.
    async fn user_update(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: UserUpdateInput,
    ) -> async_graphql::Result<UserPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let id = expect_input::<UserId>(&input.id, "id")?;
            let changes = UserChanges {
                name: input.name,
                role: input.role.map(Into::into),
                active: input.active,
                schools: input.school_ids.as_deref().map(school_ids).transpose()?,
            };
            users::update(&rc.db, rc.clock.as_ref(), &rc.actor, id, changes).await
        }
        .await;
        if result.is_ok() {
            // The NOTIFY of this change reaches the cache soon; the caller's next request
            // must not come first.
            forget_signed_in_users(ctx);
        }
        let (user, user_errors) = payload(result)?;
        Ok(UserPayload {
            user: user.map(UserNode),
            user_errors,
        })
    }

    /// Creates an API key. The secret is in this payload only.
    async fn api_key_create(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: ApiKeyCreateInput,
    ) -> async_graphql::Result<ApiKeyCreatePayload> {
        let rc = ctx.trellis()?;
        let new = NewApiKey {
            name: input.name,
            scopes: input.scopes.into_iter().map(Into::into).collect(),
        };
        let (created, user_errors) =
            payload(api_keys::create(&rc.db, rc.clock.as_ref(), &rc.actor, new).await)?;
        Ok(match created {
            Some(c) => ApiKeyCreatePayload {
                api_key: Some(ApiKeyNode(c.key)),
                secret: Some(c.secret),
                user_errors,
            },
            None => ApiKeyCreatePayload {
                api_key: None,
                secret: None,
                user_errors,
            },
        })
    }

    /// Revokes an API key at once.
    async fn api_key_revoke(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: ApiKeyRevokeInput,
    ) -> async_graphql::Result<ApiKeyPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let id = expect_input::<ApiKeyId>(&input.id, "id")?;
            api_keys::revoke(&rc.db, rc.clock.as_ref(), &rc.actor, id).await
        }
        .await;
        let (key, user_errors) = payload(result)?;
        Ok(ApiKeyPayload {
            api_key: key.map(ApiKeyNode),
            user_errors,
        })
    }
}
