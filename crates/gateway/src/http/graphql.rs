//! GraphQL over HTTP, as the GraphQL-over-HTTP specification says.
//!
//! async-graphql-axum's extractor answers every request with `application/json` and 200,
//! and runs mutations sent with GET. Clients and caches rely on the spec's rules, so the
//! transport is written out here:
//! * POST with `Content-Type: application/json`; GET for queries only (a mutation gets 405).
//! * The response media type follows `Accept`: `application/graphql-response+json`
//!   (preferred) or `application/json`; anything else gets 406.
//! * With `application/graphql-response+json`, a request that fails before execution (parse
//!   or validation error) gets 400 and a body without `data`; with `application/json`, 200.
//! * A malformed HTTP request (bad JSON, no `query`) gets 400 either way.
//! * File uploads follow the GraphQL multipart request spec (`multipart/form-data` with
//!   `operations`, `map` and one file), with a limit of their own (`upload_limit_bytes`).
//!   The bearer credential is a header a cross-site form cannot send, so accepting this
//!   CORS-"simple" content type opens no CSRF hole.

use std::time::Instant;

use async_graphql::parser::types::{DocumentOperations, OperationType};
use async_graphql::{Request, ServerError, Variables};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use tracing::Instrument as _;

use crate::app::AppState;
use crate::auth::AuthError;
use crate::graphql::batch_scope::BatchScope;
use crate::graphql::context::RequestContext;
use crate::graphql::errors::{Code, code_of};
use crate::graphql::limits::RequestLimits;
use crate::graphql::loaders::{Batching, Loaders};
use crate::http::persisted::{self, Persisted};
use crate::http::rate_limit::{self, PeerIp, Verdict};

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

/// The media type a response is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MediaType {
    GraphqlResponse,
    Json,
}

impl MediaType {
    const fn content_type(self) -> &'static str {
        match self {
            Self::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
            Self::Json => "application/json; charset=utf-8",
        }
    }

    /// Picks the response type from `Accept`, honouring q-values; `None` when the client
    /// accepts neither. No header or a wildcard means legacy `application/json`: clients that
    /// do not ask for `application/graphql-response+json` by name predate it and expect
    /// errors with status 200 (fetch sends `*/*` when the caller sets nothing).
    fn negotiate(headers: &HeaderMap) -> Option<Self> {
        let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
            return Some(Self::Json);
        };
        let mut best: Option<(f32, Self)> = None;
        for item in accept.split(',') {
            let mut parts = item.split(';').map(str::trim);
            let media = parts.next().unwrap_or_default().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.strip_prefix("q="))
                .find_map(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            let candidate = match media.as_str() {
                GRAPHQL_RESPONSE => Self::GraphqlResponse,
                JSON | "application/*" | "*/*" => Self::Json,
                _ => continue,
            };
            if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, candidate));
            }
        }
        best.map(|(_, m)| m)
    }
}

/// A response body with status and media type.
fn respond(status: StatusCode, media: MediaType, body: &Value) -> Response {
    respond_bytes(status, media, body.to_string().into_bytes())
}

/// A response of already-serialised JSON with status and media type.
fn respond_bytes(status: StatusCode, media: MediaType, body: Vec<u8>) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(media.content_type()),
    );
    response
}

/// A request error: the spec's `{"errors": [...]}` without `data`.
fn request_error(status: StatusCode, media: MediaType, message: &str, code: Code) -> Response {
    respond(status, media, &error_body(message, code))
}

/// `{"errors": [{ message, extensions: { code } }]}`.
pub fn error_body(message: &str, code: Code) -> Value {
    json!({ "errors": [{ "message": message, "extensions": { "code": code.as_str() } }] })
}

/// The parameters of a GraphQL request, checked for type.
struct Params {
    query: String,
    operation_name: Option<String>,
    variables: Option<Map<String, Value>>,
    extensions: Option<Map<String, Value>>,
}

fn params_from_json(body: Value) -> Result<Params, &'static str> {
    let Value::Object(mut obj) = body else {
        return Err("the request body must be a JSON object");
    };
    let persisted =
        matches!(obj.get("extensions"), Some(Value::Object(e)) if e.contains_key("persistedQuery"));
    let query = match obj.remove("query") {
        Some(Value::String(q)) => q,
        Some(_) => return Err("`query` must be a string"),
        // An automatic persisted query may name its document by hash alone.
        None if persisted => String::new(),
        None => return Err("`query` is required"),
    };
    let operation_name = match obj.remove("operationName") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => return Err("`operationName` must be a string"),
    };
    let variables = match obj.remove("variables") {
        None | Some(Value::Null) => None,
        Some(Value::Object(v)) => Some(v),
        Some(_) => return Err("`variables` must be an object"),
    };
    let extensions = match obj.remove("extensions") {
        None | Some(Value::Null) => None,
        Some(Value::Object(v)) => Some(v),
        Some(_) => return Err("`extensions` must be an object"),
    };
    Ok(Params {
        query,
        operation_name,
        variables,
        extensions,
    })
}

fn params_from_query_string(raw: Option<&str>) -> Result<Params, &'static str> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or_default())
        .map_err(|_| "malformed query string")?;
    let mut obj = Map::new();
    for (key, value) in pairs {
        let value = match key.as_str() {
            "variables" | "extensions" => serde_json::from_str(&value)
                .map_err(|_| "`variables` and `extensions` must be JSON")?,
            _ => Value::String(value),
        };
        obj.insert(key, value);
    }
    params_from_json(Value::Object(obj))
}

/// The operation a GET would run, if the document is within the request limits, parses and
/// names one unambiguously. The document stays parsed in `request` for execution; one that
/// does not pass is left for execution to refuse with the proper error.
fn operation_type(request: &mut Request) -> Option<OperationType> {
    RequestLimits::scan(&request.query).ok()?;
    let operation_name = request.operation_name.clone();
    let doc = request.parsed_query().ok()?;
    match (&doc.operations, operation_name.as_deref()) {
        (DocumentOperations::Single(op), _) => Some(op.node.ty),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name).map(|op| op.node.ty),
        (DocumentOperations::Multiple(_), None) => None,
    }
}

/// A GET may only run queries: a mutation gets 405, a subscription 400.
fn refuse_over_get(operation: Option<OperationType>, media: MediaType) -> Option<Response> {
    match operation? {
        OperationType::Mutation => {
            let mut response = request_error(
                StatusCode::METHOD_NOT_ALLOWED,
                media,
                "mutations must be sent with POST",
                Code::BadRequest,
            );
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
            Some(response)
        }
        OperationType::Subscription => Some(request_error(
            StatusCode::BAD_REQUEST,
            media,
            "subscriptions are not served over GET",
            Code::BadRequest,
        )),
        OperationType::Query => None,
    }
}

fn auth_failure(media: MediaType, err: &AuthError) -> Response {
    if let AuthError::Unavailable(detail) = err {
        tracing::error!(error = %detail, "authentication backend failed");
        return request_error(
            StatusCode::SERVICE_UNAVAILABLE,
            media,
            &err.to_string(),
            Code::ServiceUnavailable,
        );
    }
    let mut response = request_error(
        StatusCode::UNAUTHORIZED,
        media,
        &err.to_string(),
        Code::Unauthenticated,
    );
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// Errors raised before execution (parse, validation, unknown operation) carry no path;
/// field errors always do.
fn is_request_error(response: &async_graphql::Response) -> bool {
    response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response
            .errors
            .iter()
            .all(|e: &ServerError| e.path.is_empty())
}

/// A 429 with `RATE_LIMITED` and the rate-limit headers.
fn rate_limited(media: MediaType, verdict: &Verdict, retry_after: u64) -> Response {
    let body = json!({ "errors": [{
        "message": format!("too many requests: retry after {retry_after} s"),
        "extensions": { "code": Code::RateLimited.as_str(), "retryAfter": retry_after },
    }] });
    let mut response = respond(StatusCode::TOO_MANY_REQUESTS, media, &body);
    verdict.apply(response.headers_mut());
    response
}

impl Params {
    fn into_request(self) -> Request {
        let mut request = Request::new(self.query);
        if let Some(name) = self.operation_name {
            request = request.operation_name(name);
        }
        if let Some(vars) = self.variables {
            request = request.variables(Variables::from_json(Value::Object(vars)));
        }
        if let Some(ext) = self.extensions {
            for (k, v) in ext {
                if let Ok(value) = async_graphql::Value::from_json(v) {
                    request.extensions.insert(k, value);
                }
            }
        }
        request
    }
}

/// What a request brings: parameters (from JSON or a GET's query string, which may name a
/// persisted query), or a multipart request already built around its upload.
enum Incoming {
    Params(Params),
    Multipart(Request),
}

impl Incoming {
    fn operation_name(&self) -> Option<&str> {
        match self {
            Self::Params(p) => p.operation_name.as_deref(),
            Self::Multipart(r) => r.operation_name.as_deref(),
        }
    }
}

/// Runs one GraphQL request: rate limits, sign-in, persisted queries, execution. Every answer
/// carries the caller's (or address's) rate-limit headers.
async fn execute(
    state: &AppState,
    method: &Method,
    headers: &HeaderMap,
    peer: PeerIp,
    media: MediaType,
    incoming: Incoming,
) -> Response {
    let mut verdict = None;
    let mut response =
        execute_limited(state, method, headers, peer, media, incoming, &mut verdict).await;
    if let Some(verdict) = verdict {
        verdict.apply(response.headers_mut());
    }
    response
}

async fn execute_limited(
    state: &AppState,
    method: &Method,
    headers: &HeaderMap,
    peer: PeerIp,
    media: MediaType,
    incoming: Incoming,
    verdict: &mut Option<Verdict>,
) -> Response {
    let started = Instant::now();
    let actor = match state.auth.authenticate(headers).await {
        Ok(actor) => actor,
        Err(err) => {
            let ip = rate_limit::client_ip(state.client_ip_header.as_ref(), headers, peer);
            *verdict = state.rate_limits.check_anonymous(ip);
            if let Some(retry_after) = verdict.as_ref().and_then(|v| v.retry_after) {
                state.metrics.graphql_operation(
                    "anonymous",
                    started.elapsed().as_secs_f64(),
                    [Code::RateLimited.as_str()],
                    [],
                );
                return rate_limited(media, verdict.as_ref().expect("checked"), retry_after);
            }
            // An unauthenticated caller's operation names are not recorded: anyone could
            // otherwise fill the bounded set of names with junk.
            let operation = if incoming.operation_name().is_some() {
                "other"
            } else {
                "anonymous"
            };
            let response = auth_failure(media, &err);
            let code = if matches!(err, AuthError::Unavailable(_)) {
                Code::ServiceUnavailable
            } else {
                Code::Unauthenticated
            };
            state.metrics.graphql_operation(
                operation,
                started.elapsed().as_secs_f64(),
                [code.as_str()],
                [],
            );
            return response;
        }
    };
    let operation = state.metrics.operation_label(incoming.operation_name());
    *verdict = state.rate_limits.check_caller(&actor.caller_id());
    if let Some(retry_after) = verdict.as_ref().and_then(|v| v.retry_after) {
        state.metrics.graphql_operation(
            &operation,
            started.elapsed().as_secs_f64(),
            [Code::RateLimited.as_str()],
            [],
        );
        return rate_limited(media, verdict.as_ref().expect("checked"), retry_after);
    }
    let (mut request, register, document) = match incoming {
        // An upload is not a persisted query: it runs as sent.
        Incoming::Multipart(request) => (request, None, None),
        Incoming::Params(mut params) => {
            // An automatic persisted query: run the document its hash names, or register it.
            let persisted = match persisted::take(&mut params.extensions, Some(&params.query)) {
                Ok(p) => p,
                Err(msg) => {
                    return request_error(StatusCode::BAD_REQUEST, media, msg, Code::BadRequest);
                }
            };
            let register = match (persisted, &state.persisted) {
                (None, _) => None,
                (Some(_), None) => {
                    return request_error(
                        StatusCode::BAD_REQUEST,
                        media,
                        "persisted queries are turned off on this server (TRELLIS_PERSISTED_QUERIES_MAX=0)",
                        Code::BadRequest,
                    );
                }
                (Some(Persisted::Lookup(hash)), Some(store)) => {
                    if let Some(text) = store.get(&hash) {
                        params.query = text.to_string();
                        None
                    } else {
                        let status = if media == MediaType::GraphqlResponse {
                            StatusCode::BAD_REQUEST
                        } else {
                            StatusCode::OK
                        };
                        state.metrics.graphql_operation(
                            &operation,
                            started.elapsed().as_secs_f64(),
                            [Code::PersistedQueryNotFound.as_str()],
                            [],
                        );
                        return request_error(
                            status,
                            media,
                            "PersistedQueryNotFound",
                            Code::PersistedQueryNotFound,
                        );
                    }
                }
                (Some(Persisted::Register(hash)), Some(store)) => Some((hash, store.clone())),
            };
            let document = register.as_ref().map(|_| params.query.clone());
            (params.into_request(), register, document)
        }
    };
    // OpenTelemetry's GraphQL span: `graphql::execute` (or, on the full schema,
    // `spans::OperationSpan`) names it from the parsed document; `operation` is the name the
    // client sent, for the logs.
    let span = tracing::info_span!(
        "graphql",
        otel.name = "GraphQL Operation",
        graphql.operation.name = tracing::field::Empty,
        graphql.operation.type = tracing::field::Empty,
        graphql.document.hash = tracing::field::Empty,
        otel.status_description = tracing::field::Empty,
        operation = request.operation_name.as_deref().unwrap_or("anonymous"),
        actor = %actor_label(&actor),
    );
    // Only now, with the caller known, is a GET's document parsed (to refuse mutations).
    if method == Method::GET
        && let Some(refused) = refuse_over_get(operation_type(&mut request), media)
    {
        return refused;
    }
    // Signed in, within its rate and its document in hand: now it waits for a slot, and holds
    // it until its response is written out as JSON.
    let slot = state.admission.enter().instrument(span.clone()).await;
    // The loaders' batches run in this task, each once its level has asked for every key.
    let batches = BatchScope::new();
    let context = RequestContext {
        loaders: Loaders::new(&state.db, &actor, Batching::Scoped(&batches)),
        actor,
        db: state.db.clone(),
        clock: state.clock.clone(),
    };
    let response = batches
        .run(
            state.schema.execute(
                request
                    .data(context)
                    .data(state.events.clone())
                    .data(state.metrics.clone())
                    .data(state.auth.users.clone()),
            ),
        )
        .instrument(span.clone())
        .await;
    let elapsed = started.elapsed();
    let codes: Vec<&str> = response.errors.iter().map(error_code).collect();
    let user_codes = user_error_codes(&response.data);
    state.metrics.graphql_operation(
        &operation,
        elapsed.as_secs_f64(),
        codes.iter().copied(),
        user_codes.iter().map(String::as_str),
    );
    span.in_scope(|| {
        for (error, code) in response.errors.iter().zip(&codes) {
            tracing::info!(path = %error_path(error), code, error = %error.message, "graphql error");
        }
        if let Some(code) = codes.first() {
            // An error status carrying the first error's code.
            tracing::Span::current().record("otel.status_description", *code);
        }
        tracing::info!(
            elapsed_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
            errors = codes.len(),
            user_errors = user_codes.len(),
            "graphql operation finished"
        );
    });
    let refused = is_request_error(&response);
    // Remembered only once it passed every limit and validation and ran.
    if let (false, Some((hash, store)), Some(document)) = (refused, register, document) {
        store.put(hash, &document);
    }
    if refused {
        let body = json!({ "errors": response.errors });
        let status = if media == MediaType::GraphqlResponse {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        };
        return respond(status, media, &body);
    }
    let body = serde_json::to_vec(&response).unwrap_or_else(|err| {
        tracing::error!(error = %err, "cannot serialise a GraphQL response");
        error_body("internal error", Code::Internal)
            .to_string()
            .into_bytes()
    });
    drop(slot);
    if body.len() > state.response_limit_bytes {
        tracing::warn!(bytes = body.len(), "response over the limit withheld");
        return request_error(
            StatusCode::OK,
            media,
            &format!(
                "the response would be larger than {} bytes; ask for fewer items or fields",
                state.response_limit_bytes
            ),
            Code::ResponseTooLarge,
        );
    }
    respond_bytes(StatusCode::OK, media, body)
}

/// Where an error arose, as a dotted path (`users.nodes.0.email`); empty for a request error.
fn error_path(error: &ServerError) -> String {
    error
        .path
        .iter()
        .map(|segment| match segment {
            async_graphql::PathSegment::Field(name) => name.clone(),
            async_graphql::PathSegment::Index(i) => i.to_string(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// The `extensions.code` of an error (the `ErrorCodes` extension gives every error one).
fn error_code(error: &ServerError) -> &str {
    code_of(error).unwrap_or(Code::Internal.as_str())
}

/// The codes of the `userErrors` of every mutation payload in the response (top-level fields).
fn user_error_codes(data: &async_graphql::Value) -> Vec<String> {
    let async_graphql::Value::Object(fields) = data else {
        return Vec::new();
    };
    fields
        .values()
        .filter_map(|payload| match payload {
            async_graphql::Value::Object(p) => p.get("userErrors"),
            _ => None,
        })
        .filter_map(|errors| match errors {
            async_graphql::Value::List(list) => Some(list),
            _ => None,
        })
        .flatten()
        .filter_map(|error| match error {
            async_graphql::Value::Object(e) => match e.get("code") {
                Some(async_graphql::Value::Enum(code)) => Some(code.to_string()),
                Some(async_graphql::Value::String(code)) => Some(code.clone()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

fn actor_label(actor: &kernel::Actor) -> String {
    match actor {
        kernel::Actor::User(u) => format!("user:{}", u.id),
        kernel::Actor::ApiKey(k) => format!("key:{}", k.id),
        kernel::Actor::System => "system".to_owned(),
    }
}

/// Middleware: a 413 from the body limits (tower-http's for a declared length, axum's for a
/// streamed one, both plain text) becomes a GraphQL error with `REQUEST_TOO_LARGE` on
/// `/graphql`, so a client reads it like every other refusal.
pub async fn too_large_as_graphql(request: axum::extract::Request, next: Next) -> Response {
    let media = (request.uri().path() == "/graphql")
        .then(|| MediaType::negotiate(request.headers()).unwrap_or(MediaType::Json));
    let response = next.run(request).await;
    // The handler's own 413s are GraphQL already (and name the limit that applied).
    let is_graphql = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(JSON) || v.starts_with(GRAPHQL_RESPONSE));
    match media {
        Some(media) if response.status() == StatusCode::PAYLOAD_TOO_LARGE && !is_graphql => {
            request_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                media,
                "the request body is larger than the server accepts (TRELLIS_BODY_LIMIT_BYTES, or TRELLIS_UPLOAD_LIMIT_BYTES for a file upload)",
                Code::RequestTooLarge,
            )
        }
        _ => response,
    }
}

/// `GET /graphql?query=…`: queries only.
pub async fn get(
    State(state): State<AppState>,
    peer: PeerIp,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let Some(media) = MediaType::negotiate(&headers) else {
        return (
            StatusCode::NOT_ACCEPTABLE,
            "accept application/graphql-response+json or application/json",
        )
            .into_response();
    };
    let run = async {
        match params_from_query_string(raw.as_deref()) {
            Ok(params) => {
                execute(
                    &state,
                    &Method::GET,
                    &headers,
                    peer,
                    media,
                    Incoming::Params(params),
                )
                .await
            }
            Err(msg) => request_error(StatusCode::BAD_REQUEST, media, msg, Code::BadRequest),
        }
    };
    tokio::time::timeout(state.request_timeout, run)
        .await
        .unwrap_or_else(|_| StatusCode::REQUEST_TIMEOUT.into_response())
}

/// `POST /graphql`: a JSON body (at most `body_limit_bytes`, within the request timeout), or a
/// GraphQL multipart request with one file upload (at most `upload_limit_bytes`, within the
/// upload timeout of the route).
pub async fn post(
    State(state): State<AppState>,
    peer: PeerIp,
    request: axum::extract::Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let headers = parts.headers;
    let Some(media) = MediaType::negotiate(&headers) else {
        return (
            StatusCode::NOT_ACCEPTABLE,
            "accept application/graphql-response+json or application/json",
        )
            .into_response();
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if essence == MULTIPART {
        return post_multipart(&state, &headers, peer, media, &content_type, body).await;
    }
    if essence != JSON {
        return request_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            media,
            "send the request as application/json (or multipart/form-data with a file upload)",
            Code::BadRequest,
        );
    }
    let run = async {
        let Ok(body) = axum::body::to_bytes(body, state.body_limit_bytes).await else {
            return too_large(media, "TRELLIS_BODY_LIMIT_BYTES");
        };
        let params = match serde_json::from_slice::<Value>(&body) {
            Ok(value) => params_from_json(value),
            Err(_) => Err("the request body is not valid JSON"),
        };
        match params {
            Ok(params) => {
                execute(
                    &state,
                    &Method::POST,
                    &headers,
                    peer,
                    media,
                    Incoming::Params(params),
                )
                .await
            }
            Err(msg) => request_error(StatusCode::BAD_REQUEST, media, msg, Code::BadRequest),
        }
    };
    tokio::time::timeout(state.request_timeout, run)
        .await
        .unwrap_or_else(|_| StatusCode::REQUEST_TIMEOUT.into_response())
}

const MULTIPART: &str = "multipart/form-data";

fn too_large(media: MediaType, setting: &str) -> Response {
    request_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        media,
        &format!("the request body is larger than the server accepts ({setting})"),
        Code::RequestTooLarge,
    )
}

/// The GraphQL multipart request spec (`operations`, `map`, then the file): the file is
/// streamed to a temporary file by async-graphql, so an upload never sits in memory.
/// One file per request (every import takes one) and one operation (no batches).
async fn post_multipart(
    state: &AppState,
    headers: &HeaderMap,
    peer: PeerIp,
    media: MediaType,
    content_type: &str,
    body: axum::body::Body,
) -> Response {
    use futures::TryStreamExt as _;

    let reader = body
        .into_data_stream()
        .map_err(std::io::Error::other)
        .into_async_read();
    let options = async_graphql::http::MultipartOptions::default()
        .max_file_size(state.upload_limit_bytes)
        .max_num_files(1);
    match async_graphql::http::receive_body(Some(content_type), reader, options).await {
        Ok(request) => {
            execute(
                state,
                &Method::POST,
                headers,
                peer,
                media,
                Incoming::Multipart(request),
            )
            .await
        }
        Err(async_graphql::ParseRequestError::PayloadTooLarge) => {
            too_large(media, "TRELLIS_UPLOAD_LIMIT_BYTES")
        }
        Err(err) => {
            // axum's limit on the streamed body surfaces as an I/O error inside the parser.
            if format!("{err:?}").contains("length limit exceeded") {
                return too_large(media, "TRELLIS_UPLOAD_LIMIT_BYTES");
            }
            request_error(
                StatusCode::BAD_REQUEST,
                media,
                &format!("not a GraphQL multipart request: {err}"),
                Code::BadRequest,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(v).expect("header"));
        h
    }

    #[test]
    fn negotiates_the_response_type() {
        assert_eq!(
            MediaType::negotiate(&HeaderMap::new()),
            Some(MediaType::Json)
        );
        assert_eq!(
            MediaType::negotiate(&accept(GRAPHQL_RESPONSE)),
            Some(MediaType::GraphqlResponse)
        );
        assert_eq!(
            MediaType::negotiate(&accept("application/json")),
            Some(MediaType::Json)
        );
        assert_eq!(
            MediaType::negotiate(&accept(
                "application/json;q=0.9, application/graphql-response+json"
            )),
            Some(MediaType::GraphqlResponse)
        );
        assert_eq!(MediaType::negotiate(&accept("*/*")), Some(MediaType::Json));
        assert_eq!(MediaType::negotiate(&accept("text/html")), None);
    }

    #[test]
    fn checks_parameter_types() {
        assert!(params_from_json(json!({"query": "{ viewer { scopes } }"})).is_ok());
        assert!(params_from_json(json!({"query": 1})).is_err());
        assert!(params_from_json(json!({"query": "{a}", "variables": "x"})).is_err());
        assert!(params_from_json(json!({"query": "{a}", "operationName": 2})).is_err());
        assert!(params_from_json(json!([])).is_err());
        assert!(params_from_query_string(Some("query=%7Ba%7D&variables=%7B%7D")).is_ok());
        assert!(params_from_query_string(Some("variables=%7B%7D")).is_err());
    }

    fn op(query: &str, name: Option<&str>) -> Option<OperationType> {
        let mut request = Request::new(query);
        if let Some(name) = name {
            request = request.operation_name(name);
        }
        operation_type(&mut request)
    }

    #[test]
    fn finds_mutations_for_get() {
        assert_eq!(op("mutation { a }", None), Some(OperationType::Mutation));
        assert_eq!(
            op("query A { a } mutation B { b }", Some("B")),
            Some(OperationType::Mutation)
        );
        assert_eq!(op("{ a }", None), Some(OperationType::Query));
    }

    #[test]
    fn never_parses_a_get_document_beyond_the_limits() {
        // 1,500 nested lists overflowed the parser's stack before any check ran.
        let deep = format!(
            "{{ school(urn: {}1{}) {{ name }} }}",
            "[".repeat(1_500),
            "]".repeat(1_500)
        );
        assert_eq!(op(&deep, None), None);
    }
}
