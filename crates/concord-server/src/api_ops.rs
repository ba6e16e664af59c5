//! Operations endpoints: `GET /health`, `GET /info`, `GET /metrics` (Prometheus) and
//! `GET /openapi.json`.

use crate::error::ApiResult;
use crate::state::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use serde::Serialize;
use std::sync::Arc;
use utoipa::{OpenApi, ToSchema};

type S = State<Arc<AppState>>;

#[derive(Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
}

/// Liveness: answers while the server runs (never behind the API key).
#[utoipa::path(get, path = "/health", responses((status = 200, body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}

#[derive(Serialize, ToSchema)]
pub struct CollectionInfo {
    pub dir: String,
    pub documents: usize,
    pub passages: usize,
    /// Committed generation on disk.
    pub generation: u64,
    /// Changes durable in the change log, not yet folded into a generation.
    pub pending_changes: usize,
}

/// One served model.
#[derive(Serialize, ToSchema)]
pub struct ModelInfo {
    /// What requests name it by (the `model` field).
    pub name: String,
    pub dir: String,
    /// `bert`, `xlm-roberta` or `roberta`.
    pub model_type: String,
    pub dimension: usize,
    /// Longest window, start and end tokens included (longer texts are cut into windows).
    pub max_tokens: usize,
    /// `mean`, `cls` or `last-token`.
    pub pooling: &'static str,
    /// The prompts `query` and `passage` put in front of a text.
    pub prompts: PromptsInfo,
    /// Whether the pair judge labels overlaps with it (only the collection's model is
    /// used for overlaps).
    pub judge_calibrated: bool,
}

#[derive(Serialize, ToSchema)]
pub struct PromptsInfo {
    pub query: String,
    pub passage: String,
}

#[derive(Serialize, ToSchema)]
pub struct Info {
    pub version: &'static str,
    /// The collection's model: its name, as requests give it.
    pub model_id: String,
    pub model_dir: String,
    pub dimension: usize,
    /// `cpu` or `cuda:N`.
    pub device: String,
    /// The forward pass: `fused-int8` or `fused-f32` on the CPU, `candle` on a GPU.
    pub engine: &'static str,
    /// The instruction set of the CPU kernels: `avx512`, `avx2` or `baseline`
    /// (the processor's best, or lower where `CONCORD_MAX_CPU_ISA` caps it).
    pub cpu_isa: &'static str,
    /// The integer kernel of `fused-int8`: `avx512-vnni` or `avx2`.
    pub int8_kernel: Option<&'static str>,
    pub weights: String,
    /// Token budget of one inference batch.
    pub max_batch_tokens: usize,
    /// Tokens the inference queue holds (unfinished jobs) before answering 429.
    pub max_queue_tokens: usize,
    /// Tokens one request may ask the model to run (413 above).
    pub max_request_tokens: usize,
    /// Texts one request may send.
    pub max_client_batch_size: usize,
    /// Characters one text may have.
    pub max_input_chars: usize,
    pub collection: CollectionInfo,
    /// Every served model, the collection's first.
    pub models: Vec<ModelInfo>,
}

/// The model, device, limits and collection size.
#[utoipa::path(get, path = "/info", responses((status = 200, body = Info)))]
pub async fn info(State(s): S) -> ApiResult<Json<Info>> {
    let collection = s
        .blocking(|live| {
            let c = live.read();
            CollectionInfo {
                dir: c.dir().display().to_string(),
                documents: c.doc_count(),
                passages: c.passage_count(),
                generation: c.generation(),
                pending_changes: c.pending_changes(),
            }
        })
        .await?;
    let models = s
        .models
        .iter()
        .map(|m| {
            let e = &m.embedder;
            ModelInfo {
                name: m.name.clone(),
                dir: e.model_dir().display().to_string(),
                model_type: e.config().model_type.into(),
                dimension: e.dim(),
                max_tokens: e.config().max_sequence(),
                pooling: e.profile().pooling.label(),
                prompts: PromptsInfo {
                    query: e.profile().prompts.query.clone(),
                    passage: e.profile().prompts.passage.clone(),
                },
                judge_calibrated: m.judge_refusal.is_none(),
            }
        })
        .collect();
    let m = s.collection_model();
    let e = &m.embedder;
    let runtime = e.runtime();
    Ok(Json(Info {
        version: env!("CARGO_PKG_VERSION"),
        model_id: m.name.clone(),
        model_dir: e.model_dir().display().to_string(),
        dimension: e.dim(),
        device: s.device.clone(),
        engine: runtime.engine.label(),
        cpu_isa: runtime.cpu_isa.label(),
        int8_kernel: runtime.int8_kernel().map(|k| k.label()),
        weights: format!("{:?}", e.weights_format()),
        max_batch_tokens: s.batch_tokens,
        max_queue_tokens: s.max_queue_tokens,
        max_request_tokens: s.max_request_tokens,
        max_client_batch_size: s.limits.max_texts,
        max_input_chars: s.limits.max_chars,
        collection,
        models,
    }))
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(get, path = "/metrics", responses((status = 200, content_type = "text/plain", body = String)))]
pub async fn metrics(State(s): S) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.metrics.render(),
    )
}

#[derive(OpenApi)]
#[openapi(
    info(title = "concord", description = "Which passages of a set of articles agree with or overlap each other."),
    paths(
        crate::api_collection::search,
        crate::api_collection::overlaps,
        crate::api_collection::put_document,
        crate::api_collection::list_documents,
        crate::api_collection::get_document,
        crate::api_collection::delete_document,
        crate::api_pages::clusters,
        crate::api_embed::openai_embeddings,
        crate::api_embed::tei_embed,
        crate::api_embed::tei_similarity,
        crate::api_embed::tei_compat,
        crate::api_embed::tei_tokenize,
        crate::api_embed::tei_decode,
        health,
        info,
        metrics,
    ),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The OpenAPI 3.1 description of this API.
pub async fn openapi() -> impl IntoResponse {
    Json(ApiDoc::openapi())
}
