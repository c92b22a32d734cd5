//! The GraphQL schema: one module per domain, merged here.
//!
//! **Architecture invariant:** this is the only place in Trellis that knows GraphQL. Types
//! here wrap domain types (they never derive GraphQL on database entities), resolvers call
//! domain services with the request's [`kernel::Actor`], and errors are mapped in
//! [`errors`].

pub mod access;
pub mod billing;
pub mod context;
pub mod directory;
pub mod errors;
pub mod loaders;
pub mod membership;
pub mod node;
pub mod relay;
pub mod scalars;

use async_graphql::{EmptySubscription, MergedObject, Schema, SchemaBuilder};

use crate::config::Config;

/// Every root query field.
#[derive(MergedObject, Default, Debug)]
pub struct Query(
    node::NodeQuery,
    access::AccessQuery,
    directory::DirectoryQuery,
    membership::MembershipQuery,
    billing::BillingQuery,
);

/// Every mutation.
#[derive(MergedObject, Default, Debug)]
pub struct Mutation(
    directory::DirectoryMutation,
    access::AccessMutation,
    membership::MembershipMutation,
    billing::BillingMutation,
);

pub type TrellisSchema = Schema<Query, Mutation, EmptySubscription>;

fn builder() -> SchemaBuilder<Query, Mutation, EmptySubscription> {
    Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        .register_output_type::<node::Node>()
}

/// The schema as served, with the configured limits and, when Stripe is configured, the
/// Stripe provider invoices are mirrored to.
pub fn schema(config: &Config) -> Result<TrellisSchema, ::billing::provider::ProviderError> {
    let provider: Option<std::sync::Arc<dyn ::billing::provider::PaymentProvider>> =
        match config.stripe() {
            Some(stripe) => Some(std::sync::Arc::new(
                ::billing::provider::StripeProvider::new(&stripe)?,
            )),
            None => None,
        };
    let mut builder = builder()
        .data(billing::stripe::PaymentMirror(provider))
        .limit_depth(config.max_depth)
        .limit_complexity(config.max_complexity)
        .limit_recursive_depth(32)
        .limit_directives(16);
    if !config.introspection {
        builder = builder.disable_introspection();
    }
    Ok(builder.finish())
}

/// The SDL clients integrate against; `schema/trellis.graphql` is this, committed.
#[must_use]
pub fn sdl() -> String {
    builder().finish().sdl()
}
