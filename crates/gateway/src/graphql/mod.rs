//! The GraphQL schema: one module per domain, merged here.
//!
//! **Architecture invariant:** this is the only place in Trellis that knows GraphQL. Types
//! here wrap domain types (they never derive GraphQL on database entities), resolvers call
//! domain services with the request's [`kernel::Actor`], and errors are mapped in
//! [`errors`].

pub mod access;
pub mod audit;
pub mod batch_scope;
pub mod billing;
pub mod coercion;
mod connections;
pub mod context;
pub mod directory;
pub mod documents;
pub mod errors;
pub mod execute;
pub mod int;
pub mod limits;
pub mod loaders;
pub mod membership;
pub mod node;
pub mod notifications;
pub mod offer;
pub mod peer_review;
pub mod relay;
pub mod response_order;
pub mod scalars;
pub mod spans;
pub mod traded;
pub mod upload;

use async_graphql::{MergedObject, MergedSubscription, Schema, SchemaBuilder};

use crate::config::Config;

/// Every root query field.
#[derive(MergedObject, Default, Debug)]
pub struct Query(
    node::NodeQuery,
    access::AccessQuery,
    directory::DirectoryQuery,
    membership::MembershipQuery,
    billing::BillingQuery,
    audit::AuditQuery,
    offer::OfferQuery,
    peer_review::PeerReviewQuery,
    traded::TradedQuery,
    notifications::NotificationsQuery,
    errors::ErrorCodesQuery,
);

/// Every mutation.
#[derive(MergedObject, Default, Debug)]
pub struct Mutation(
    directory::DirectoryMutation,
    directory::DirectoryImportMutation,
    access::AccessMutation,
    membership::MembershipMutation,
    billing::BillingMutation,
    offer::OfferMutation,
    peer_review::PeerReviewMutation,
    peer_review::support::SupportCreditMutation,
    traded::CatalogueMutation,
    traded::BookingMutation,
    traded::AftercareMutation,
    notifications::NotificationsMutation,
);

/// Every subscription (graphql-ws over `GET /graphql` with a WebSocket upgrade).
#[derive(MergedSubscription, Default, Debug)]
pub struct Subscription(billing::BillingSubscription, traded::TradedSubscription);

pub type TrellisSchema = Schema<Query, Mutation, Subscription>;

fn builder() -> SchemaBuilder<Query, Mutation, Subscription> {
    let builder = Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    .register_output_type::<node::Node>();
    connections::describe(builder)
}

/// The schema as served, with the configured limits and no payment provider to mirror to.
#[must_use]
pub fn schema(config: &Config) -> TrellisSchema {
    schema_with(config, None)
}

/// The schema as served, with the configured limits and, when Stripe is configured, the
/// provider invoices are mirrored to: every extension installed.
#[must_use]
pub fn schema_with(
    config: &Config,
    provider: Option<std::sync::Arc<dyn ::billing::provider::PaymentProvider>>,
) -> TrellisSchema {
    let limits = request_limits(config);
    configured(builder(), config, provider)
        // Outermost, so it codes what every later extension and async-graphql itself raise.
        .extension(errors::ErrorCodes)
        // Next, so nothing parses or walks a document these limits refuse.
        .extension(limits)
        // A mutation input that cannot be coerced answers its payload's `userErrors`.
        .extension(coercion::CoercionErrors)
        // Reports the complexity validation computes when a request asks (`"cost": true`).
        .extension(limits::cost::CostReport {
            max_complexity: config.max_complexity,
            max_depth: config.max_depth,
        })
        // Names the transport's `graphql` span by the operation parsed (innermost, so only a
        // document every limit let through is named); no span per field.
        .extension(spans::OperationSpan)
        .finish()
}

/// What the server runs requests on: [`schema_with`], and the same schema without
/// extensions for queries (see [`execute`]).
#[must_use]
pub fn schemas(
    config: &Config,
    provider: Option<std::sync::Arc<dyn ::billing::provider::PaymentProvider>>,
) -> execute::Schemas {
    let plain = configured(builder(), config, provider.clone()).finish();
    execute::Schemas::new(schema_with(config, provider), plain, request_limits(config))
}

/// The limits checked before async-graphql parses a document.
fn request_limits(config: &Config) -> limits::RequestLimits {
    limits::RequestLimits {
        max_selections: u64::try_from(config.max_complexity).unwrap_or(u64::MAX),
        max_depth: config.max_depth,
    }
}

/// The data resolvers read and async-graphql's own limits, shared by both schemas.
fn configured(
    builder: SchemaBuilder<Query, Mutation, Subscription>,
    config: &Config,
    provider: Option<std::sync::Arc<dyn ::billing::provider::PaymentProvider>>,
) -> SchemaBuilder<Query, Mutation, Subscription> {
    let builder = builder
        .data(billing::stripe::PaymentMirror(provider))
        .data(std::sync::Arc::new(config.message_settings()))
        // A backstop only: `RequestLimits` bounds data by `max_depth` and introspection by
        // its own rules, both no deeper than this.
        .limit_depth(config.max_depth.max(limits::depth::INTROSPECTION_MAX_DEPTH))
        .limit_complexity(config.max_complexity)
        .limit_recursive_depth(32)
        .limit_directives(16);
    if config.introspection {
        builder
    } else {
        builder.disable_introspection()
    }
}

/// The SDL clients integrate against; `schema/trellis.graphql` is this, committed.
#[must_use]
pub fn sdl() -> String {
    builder().finish().sdl()
}
