//! The server span of every HTTP request, in OpenTelemetry's HTTP semantic conventions.
//!
//! Named `METHOD route` (`POST /graphql`, `GET /calendar/{file}`: the route template, never
//! the path, so span names stay few), kind SERVER, with `http.request.method`, `http.route`,
//! `url.path`, `url.scheme`, `server.address`, `network.protocol.version`,
//! `user_agent.original` and, once answered, `http.response.status_code`; a 5xx marks it an
//! error (a 4xx is the client's, per the conventions). A `traceparent`/`tracestate` the
//! caller sends makes it a child of the caller's span, so a portal's trace runs on into
//! Trellis. The request id stays on it for the JSON logs.

use std::time::Duration;

use axum::extract::MatchedPath;
use axum::http::{Method, Request, Response, Version, header};
use opentelemetry_http::HeaderExtractor;
use tracing::Span;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use crate::app::REQUEST_ID;

/// `TraceLayer::make_span_with`.
pub fn make_span<B>(request: &Request<B>) -> Span {
    let method = method_name(request.method());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str);
    let headers = request.headers();
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let name = match route {
        Some(route) => format!("{method} {route}"),
        None => method.to_owned(),
    };
    let span = tracing::info_span!(
        "request",
        otel.name = %name,
        otel.kind = "server",
        otel.status_code = Empty,
        http.request.method = method,
        http.route = route,
        http.response.status_code = Empty,
        url.path = request.uri().path(),
        url.scheme = request.uri().scheme_str().unwrap_or("http"),
        server.address = text(header::HOST.as_str()),
        network.protocol.version = protocol_version(request.version()),
        user_agent.original = text(header::USER_AGENT.as_str()),
        request_id = text(REQUEST_ID.as_str()).unwrap_or_default(),
    );
    if headers.contains_key("traceparent") {
        let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.extract(&HeaderExtractor(headers))
        });
        // Refused only when no OpenTelemetry layer is installed, and then there is no trace.
        let _ = span.set_parent(parent);
    }
    span
}

/// `TraceLayer::on_response`: the status, and a 5xx as the span's error.
pub fn on_response<B>(response: &Response<B>, _latency: Duration, span: &Span) {
    let status = response.status();
    span.record("http.response.status_code", status.as_u16());
    if status.is_server_error() {
        span.record("otel.status_code", "error");
    }
}

/// The method, or `_OTHER` for one outside the known set, as the conventions ask (a made-up
/// method must not make a new span name).
fn method_name(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "_OTHER",
    }
}

const fn protocol_version(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "0.9",
        Version::HTTP_10 => "1.0",
        Version::HTTP_2 => "2",
        Version::HTTP_3 => "3",
        _ => "1.1",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_up_methods_are_other() {
        assert_eq!(method_name(&Method::POST), "POST");
        let odd = Method::from_bytes(b"BREW").expect("method");
        assert_eq!(method_name(&odd), "_OTHER");
    }
}
