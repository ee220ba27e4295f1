//! The web console at `/console/` and the API's interactive documentation at `/docs/`.
//!
//! Both are static pages, built into the binary, that call the REST API with the token the
//! user gives them, like any other client: serving them needs no token. The console's files
//! are in `console/` beside this crate; a debug build reads them from there, so that they can
//! be changed without rebuilding.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use rust_embed::Embed;
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::error::ApiError;

#[derive(Embed)]
#[folder = "console/"]
struct Assets;

/// What the console's pages may load and call: this origin only, no inline script.
const POLICY: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// `/console/…` and `/docs/…`.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let docs = SwaggerUi::new("/docs").config(
        Config::from("/openapi.json")
            .persist_authorization(true)
            .try_it_out_enabled(true),
    );
    Router::new()
        .route("/console", get(|| async { Redirect::permanent("/console/") }))
        .route("/console/", get(|headers: HeaderMap| async move { asset("index.html", &headers) }))
        .route(
            "/console/{*path}",
            get(|Path(path): Path<String>, headers: HeaderMap| async move { asset(&path, &headers) }),
        )
        .merge(docs)
}

/// One of the console's files, revalidated on every load by its hash, so that a new release's
/// console is seen at once.
fn asset(path: &str, headers: &HeaderMap) -> Response {
    let Some(file) = Assets::get(path) else {
        return ApiError::not_found(format!("the console has no file {path}")).into_response();
    };
    let tag = format!(
        "\"{}\"",
        ontime_core::hex(&file.metadata.sha256_hash()[..12])
    );
    let common = [
        (header::ETAG, header_value(&tag)),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(POLICY),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
    ];
    let unchanged = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag));
    if unchanged {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    let kind = header_value(file.metadata.mimetype());
    (
        common,
        [(header::CONTENT_TYPE, kind)],
        file.data.into_owned(),
    )
        .into_response()
}

fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"))
}
