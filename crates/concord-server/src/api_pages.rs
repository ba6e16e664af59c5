//! The browser page at `/` and what it reads: its assets (embedded in the binary,
//! no build step) and `GET /clusters`, the clustering view that `concord cluster`
//! writes into `report.html`, computed live and kept until the collection changes.

use crate::error::{ApiError, ApiQuery, ApiResult};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use concord_cluster::report::{View, VIEWER_CSS, VIEWER_JS};
use concord_overlap::{Label, QueryOptions};
use serde::Deserialize;
use std::sync::Arc;
use utoipa::IntoParams;

type S = State<Arc<AppState>>;

const INDEX_HTML: &str = include_str!("../assets/index.html");
const APP_JS: &str = include_str!("../assets/app.js");

/// The page: browse articles, paste text, open the heatmap and clusters.
pub async fn index() -> Html<&'static str> {
    Html(INDEX_HTML)
}

/// The page's scripts and styles.
pub async fn asset(Path(name): Path<String>) -> ApiResult<Response> {
    let (body, kind) = match name.as_str() {
        "viewer.js" => (VIEWER_JS, "text/javascript; charset=utf-8"),
        "app.js" => (APP_JS, "text/javascript; charset=utf-8"),
        "viewer.css" => (VIEWER_CSS, "text/css; charset=utf-8"),
        _ => return Err(ApiError::not_found(format!("no asset {name:?}"))),
    };
    Ok(([(header::CONTENT_TYPE, kind)], body).into_response())
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ClustersQuery {
    /// Weakest label of the passage pairs that link articles and form claims:
    /// `duplicate`, `overlap`, `conflict` or `agree` (default).
    #[param(value_type = Option<String>)]
    pub min_label: Option<Label>,
}

/// Article clusters, cross-article claims (conflicts included), article pairs with
/// their aligned passages, the boilerplate pairs (apart) and the heatmap as SVG: the
/// data of `report.html`, for the collection as it is now.
#[utoipa::path(get, path = "/clusters", params(ClustersQuery),
    responses((status = 200, content_type = "application/json", body = Object), (status = 422, body = crate::error::ErrorBody),
              (status = 501, body = crate::error::ErrorBody)))]
pub async fn clusters(State(s): S, ApiQuery(q): ApiQuery<ClustersQuery>) -> ApiResult<Response> {
    s.check_judge()?;
    let min_label = q.min_label.unwrap_or(Label::Agree);
    if !min_label.is_finding() {
        return Err(ApiError::validation(format!(
            "min_label {} would link articles by topic or shared notices alone; use agree or stronger",
            min_label.as_str()
        )));
    }
    let state = s.clone();
    let json = s
        .blocking(move |live| -> ApiResult<Arc<String>> {
            live.overlaps(|index| {
                let c = index.collection();
                let key = (c.version(), c.slot_epoch(), min_label);
                let mut cache = state.clusters.0.lock().unwrap_or_else(|e| e.into_inner());
                if let Some((k, json)) = cache.as_ref() {
                    if *k == key {
                        return Ok(json.clone());
                    }
                }
                let opts = QueryOptions {
                    min_label,
                    ..Default::default()
                };
                let clustering = concord_cluster::cluster(index, &opts);
                let name = c
                    .dir()
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "collection".into());
                let view = View::new(format!("concord: {name}"), &clustering, c);
                let json = Arc::new(serde_json::to_string(&view).map_err(ApiError::internal)?);
                *cache = Some((key, json.clone()));
                Ok(json)
            })
        })
        .await??;
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        json.as_str().to_owned(),
    )
        .into_response())
}
