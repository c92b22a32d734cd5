//! GraphiQL at `/graphiql`, served entirely by Trellis: no CDN, no network beyond this origin.
//!
//! The pinned production builds of GraphiQL 4 and React 18 are vendored under
//! `assets/graphiql/` (versions, npm integrities and licences there; `vendor.sh` re-fetches
//! and checks them) and embedded in the binary. The page carries a strict
//! Content-Security-Policy (scripts and styles from this origin only, requests to this origin
//! only, no inline script), every asset its Subresource Integrity hash, and asset URLs carry
//! the content hash so browsers may cache them for good. GraphiQL opens with one tab per user
//! group's example operation from `schema/examples/` (`defaultTabs`).

use std::sync::LazyLock;

use axum::extract::{Path, Query};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::Deserialize;
use sha2::{Digest as _, Sha256, Sha384};

/// One embedded file.
#[derive(Debug)]
pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
}

/// Everything the page loads, in the order it loads it.
pub const ASSETS: &[Asset] = &[
    Asset {
        name: "graphiql.min.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../assets/graphiql/graphiql.min.css"),
    },
    Asset {
        name: "trellis-graphiql.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../assets/graphiql/trellis-graphiql.css"),
    },
    Asset {
        name: "react.production.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/graphiql/react.production.min.js"),
    },
    Asset {
        name: "react-dom.production.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/graphiql/react-dom.production.min.js"),
    },
    Asset {
        name: "graphiql.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/graphiql/graphiql.min.js"),
    },
    Asset {
        name: "trellis-graphiql.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/graphiql/trellis-graphiql.js"),
    },
];

/// The example operations per user group (`schema/examples/`), GraphiQL's starting tabs in
/// this order. A test checks that this list and the directory agree.
pub const EXAMPLES: &[(&str, &str)] = &[
    (
        "portal-head.graphql",
        include_str!("../../../../schema/examples/portal-head.graphql"),
    ),
    (
        "portal-staff.graphql",
        include_str!("../../../../schema/examples/portal-staff.graphql"),
    ),
    (
        "finance.graphql",
        include_str!("../../../../schema/examples/finance.graphql"),
    ),
    (
        "admin.graphql",
        include_str!("../../../../schema/examples/admin.graphql"),
    ),
    (
        "integrator.graphql",
        include_str!("../../../../schema/examples/integrator.graphql"),
    ),
];

/// The page's Content-Security-Policy. Styles allow `'unsafe-inline'` because GraphiQL's
/// editors (CodeMirror) and Radix set style attributes; scripts never run inline.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// What the page needs of each asset, computed once.
struct Hashed {
    asset: &'static Asset,
    /// First 16 hex digits of the SHA-256: the cache-busting `?v=`.
    version: String,
    /// `sha384-…` for the `integrity` attribute.
    integrity: String,
}

static HASHED: LazyLock<Vec<Hashed>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|asset| {
            let sha256 = Sha256::digest(asset.bytes);
            let version = sha256.iter().take(8).fold(String::new(), |mut s, b| {
                use std::fmt::Write as _;
                let _ = write!(s, "{b:02x}");
                s
            });
            let integrity = format!(
                "sha384-{}",
                base64::engine::general_purpose::STANDARD.encode(Sha384::digest(asset.bytes))
            );
            Hashed {
                asset,
                version,
                integrity,
            }
        })
        .collect()
});

static PAGE: LazyLock<String> = LazyLock::new(page);

/// The `defaultTabs` GraphiQL opens with, as JSON safe inside a `<script>` data block.
#[must_use]
pub fn default_tabs_json() -> String {
    let tabs: Vec<serde_json::Value> = EXAMPLES
        .iter()
        .map(|(_, query)| serde_json::json!({ "query": query }))
        .collect();
    // `<` only occurs inside JSON strings, where `\u003c` means the same and cannot close
    // the script element.
    serde_json::Value::Array(tabs)
        .to_string()
        .replace('<', "\\u003c")
}

fn page() -> String {
    use std::fmt::Write as _;
    let mut head = String::new();
    let mut body = String::new();
    for h in HASHED.iter() {
        let url = format!("/graphiql/assets/{}?v={}", h.asset.name, h.version);
        if h.asset.content_type.starts_with("text/css") {
            let _ = writeln!(
                head,
                r#"    <link rel="stylesheet" href="{url}" integrity="{}" crossorigin="anonymous">"#,
                h.integrity
            );
        } else {
            let _ = writeln!(
                body,
                r#"    <script src="{url}" integrity="{}" crossorigin="anonymous"></script>"#,
                h.integrity
            );
        }
    }
    format!(
        r#"<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <meta name="referrer" content="no-referrer">
    <title>Trellis GraphiQL</title>
    <link rel="icon" href="data:,">
{head}  </head>
  <body>
    <div id="graphiql">Loading GraphiQL…</div>
    <script type="application/json" id="trellis-graphiql-tabs">{tabs}</script>
{body}  </body>
</html>
"#,
        tabs = default_tabs_json()
    )
}

/// `GET /graphiql`: the page.
pub async fn page_handler() -> Response {
    let mut response = PAGE.as_str().to_owned().into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

#[derive(Debug, Deserialize)]
pub struct AssetQuery {
    v: Option<String>,
}

/// `GET /graphiql/assets/{name}`: an embedded file. With the `?v=` of its current content it
/// is cacheable for a year (the page links it so); otherwise browsers revalidate by `ETag`.
pub async fn asset_handler(
    Path(name): Path<String>,
    Query(query): Query<AssetQuery>,
    headers: HeaderMap,
) -> Response {
    let Some(h) = HASHED.iter().find(|h| h.asset.name == name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let etag = format!("\"{}\"", h.version);
    let cache = if query.v.as_deref() == Some(h.version.as_str()) {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut response = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        h.asset.bytes.into_response()
    };
    let out = response.headers_mut();
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(h.asset.content_type),
    );
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    out.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(value) = HeaderValue::from_str(&etag) {
        out.insert(header::ETAG, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_links_every_asset_with_its_integrity_and_no_other_origin() {
        let page = page();
        for h in HASHED.iter() {
            assert!(
                page.contains(&format!(
                    "/graphiql/assets/{}?v={}\" integrity=\"{}\"",
                    h.asset.name, h.version, h.integrity
                )),
                "{} is not linked with its hash",
                h.asset.name
            );
        }
        assert!(
            !page.contains("http://") && !page.contains("https://"),
            "{page}"
        );
        // Data only: no inline script the CSP would have to allow.
        assert_eq!(page.matches("<script>").count(), 0);
        assert!(
            !page.contains("</script><"),
            "tabs JSON must not close the element"
        );
    }

    #[test]
    fn react_is_the_production_build() {
        for name in ["react.production.min.js", "react-dom.production.min.js"] {
            let asset = ASSETS.iter().find(|a| a.name == name).expect("asset");
            let text = std::str::from_utf8(asset.bytes).expect("UTF-8");
            assert!(text.contains("production.min.js"), "{name}");
            assert!(!text.contains("react.development"), "{name}");
        }
    }

    #[test]
    fn default_tabs_hold_every_example() {
        let tabs: serde_json::Value =
            serde_json::from_str(&default_tabs_json()).expect("tabs are JSON");
        assert_eq!(tabs.as_array().map(Vec::len), Some(EXAMPLES.len()));
    }
}
