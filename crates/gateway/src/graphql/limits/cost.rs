//! The cost of a request, reported when the client asks.
//!
//! A request with `extensions: {"cost": true}` gets, in the response's `extensions`,
//! `cost: { complexity, depth, maxComplexity, maxDepth }`: the complexity async-graphql
//! computed in validation — each field one, a connection's selection once per item of its
//! page (`relay::page_cost`: `first`/`last`, else 20) — the figure `TRELLIS_MAX_COMPLEXITY`
//! bounds, and the depth beside `TRELLIS_MAX_DEPTH`. A client can measure an operation before
//! it ships, and see how close to the limit it is. A document refused before validation
//! (too deep, too large, unparsable) has no cost to report.

use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest, NextRequest, NextValidation,
};
use async_graphql::{Request, Response, ServerError, ServerResult, ValidationResult, Value};

/// Installed on the schema with `.extension(CostReport { .. })`.
#[derive(Debug, Clone, Copy)]
pub struct CostReport {
    pub max_complexity: usize,
    pub max_depth: usize,
}

impl ExtensionFactory for CostReport {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(PerRequest {
            limits: *self,
            state: Mutex::new(State::default()),
        })
    }
}

#[derive(Debug, Default)]
struct State {
    asked: bool,
    measured: Option<(usize, usize)>,
}

/// One request's extension: whether it asked, and what validation measured.
#[derive(Debug)]
struct PerRequest {
    limits: CostReport,
    state: Mutex<State>,
}

impl PerRequest {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait::async_trait]
impl Extension for PerRequest {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let response = next.run(ctx).await;
        let (asked, measured) = {
            let state = self.state();
            (state.asked, state.measured)
        };
        match (asked, measured) {
            (true, Some((complexity, depth))) => response.extension(
                "cost",
                Value::from_json(serde_json::json!({
                    "complexity": complexity,
                    "depth": depth,
                    "maxComplexity": self.limits.max_complexity,
                    "maxDepth": self.limits.max_depth,
                }))
                .unwrap_or(Value::Null),
            ),
            _ => response,
        }
    }

    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        // Taken out: the flag is for this extension, not for resolvers.
        let asked = matches!(
            request.extensions.remove("cost"),
            Some(Value::Boolean(true))
        );
        self.state().asked = asked;
        next.run(ctx, request).await
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await?;
        self.state().measured = Some((result.complexity, result.depth));
        Ok(result)
    }
}
