//! Embedding endpoints in the shapes other tools already speak:
//! `POST /v1/embeddings` as OpenAI's API (so its official clients work unchanged), and
//! `POST /embed`, `POST /similarity` and `POST /` as text-embeddings-inference (so
//! `huggingface_hub`'s `InferenceClient` works unchanged).
//!
//! Each route takes the `model` field of these APIs: a model the server runs by name
//! (`GET /info` lists them), the collection's when absent; another name is 404 on a
//! server that runs several models and ignored on one that runs one.
//! Texts are embedded as given, with no prefix, as these APIs expect; e5 models work
//! best with `query: ` or `passage: ` in front, which callers add themselves (or, on the
//! text-embeddings-inference routes, ask for the model's prompt with `prompt_name`). Texts longer than the
//! model window are never truncated: they are embedded window by window and pooled, so
//! `truncate` and `truncation_direction` are accepted and have nothing to do. Fields
//! these APIs define and concord has no use for (`user`) are ignored.

use crate::error::{ApiError, ApiJson, ApiResult, ErrorBody};
use crate::state::{AppState, ServedModel};
use axum::extract::State;
use axum::Json;
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use concord_embed::Prefix;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;

type S = State<Arc<AppState>>;

/// `input` of an OpenAI request: one text, several, or token ids (refused: the
/// vocabulary is the model's own, not OpenAI's).
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
pub enum OpenAiInput {
    One(String),
    Many(Vec<String>),
    Tokens(Vec<u32>),
    TokenLists(Vec<Vec<u32>>),
}

#[derive(Deserialize, ToSchema)]
pub struct OpenAiRequest {
    pub input: OpenAiInput,
    /// Which served model embeds (`GET /info` lists them); the collection's when absent,
    /// and whatever is named when the server runs one model. The answer names the model.
    pub model: Option<String>,
    /// `float` (default) or `base64` (little-endian f32, as OpenAI's clients decode it).
    pub encoding_format: Option<String>,
    /// Must equal the model's dimension when given.
    pub dimensions: Option<usize>,
}

#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum OpenAiVector {
    Float(Vec<f32>),
    Base64(String),
}

#[derive(Serialize, ToSchema)]
pub struct OpenAiEmbedding {
    pub object: &'static str,
    pub index: usize,
    pub embedding: OpenAiVector,
}

#[derive(Serialize, ToSchema)]
pub struct OpenAiUsage {
    pub prompt_tokens: usize,
    pub total_tokens: usize,
}

#[derive(Serialize, ToSchema)]
pub struct OpenAiResponse {
    pub object: &'static str,
    pub data: Vec<OpenAiEmbedding>,
    pub model: String,
    pub usage: OpenAiUsage,
}

/// Embeddings, OpenAI-compatible.
#[utoipa::path(post, path = "/v1/embeddings", request_body = OpenAiRequest,
    responses((status = 200, body = OpenAiResponse), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn openai_embeddings(
    State(s): S,
    ApiJson(req): ApiJson<OpenAiRequest>,
) -> ApiResult<Json<OpenAiResponse>> {
    let texts = match req.input {
        OpenAiInput::One(t) => vec![t],
        OpenAiInput::Many(v) => v,
        OpenAiInput::Tokens(ids) => return Err(token_input(ids.len())),
        OpenAiInput::TokenLists(lists) => {
            return Err(token_input(lists.iter().map(Vec::len).sum()))
        }
    };
    let base64 = match req.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(ApiError::validation(format!(
                "encoding_format {other:?} is not supported (float or base64)"
            )))
        }
    };
    let model = s.model(req.model.as_deref())?;
    check_dimensions(model, req.dimensions)?;
    s.check_texts(&texts, "input")?;
    let embedded = s.embed_with(model, texts, Prefix::None).await?;
    let tokens = embedded.iter().map(|e| e.tokens).sum();
    let data = embedded
        .into_iter()
        .enumerate()
        .map(|(index, e)| OpenAiEmbedding {
            object: "embedding",
            index,
            embedding: if base64 {
                OpenAiVector::Base64(B64.encode(e.to_le_bytes()))
            } else {
                OpenAiVector::Float(e.vector)
            },
        })
        .collect();
    Ok(Json(OpenAiResponse {
        object: "list",
        data,
        model: model.name.clone(),
        usage: OpenAiUsage {
            prompt_tokens: tokens,
            total_tokens: tokens,
        },
    }))
}

fn token_input(n: usize) -> ApiError {
    ApiError::validation(format!(
        "token id input ({n} ids) is not supported; send the text"
    ))
}

fn check_dimensions(model: &ServedModel, dimensions: Option<usize>) -> ApiResult<()> {
    match dimensions {
        Some(d) if d != model.embedder.dim() => Err(ApiError::validation(format!(
            "dimensions {d} is not available: {} gives {}-dimensional vectors and was not              trained for shorter ones (cut and renormalised, they would lose accuracy);              leave dimensions out or ask for {}",
            model.name,
            model.embedder.dim(),
            model.embedder.dim()
        ))),
        _ => Ok(()),
    }
}

/// One text or several, as text-embeddings-inference takes them.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
pub enum TeiInput {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize, ToSchema)]
pub struct TeiEmbedRequest {
    pub inputs: TeiInput,
    /// Unit-length vectors (default true).
    #[serde(default = "yes")]
    pub normalize: bool,
    /// `query` or `passage`: the model's prompt put in front of each text (e5's
    /// `query: ` / `passage: `).
    pub prompt_name: Option<String>,
    pub dimensions: Option<usize>,
    /// Which served model embeds; the collection's when absent.
    pub model: Option<String>,
}

impl TeiInput {
    fn into_texts(self) -> Vec<String> {
        match self {
            TeiInput::One(t) => vec![t],
            TeiInput::Many(v) => v,
        }
    }
}

fn yes() -> bool {
    true
}

fn prompt(name: Option<&str>) -> ApiResult<Prefix> {
    match name {
        None => Ok(Prefix::None),
        Some("query") => Ok(Prefix::Query),
        Some("passage") => Ok(Prefix::Passage),
        Some(other) => Err(ApiError::validation(format!(
            "prompt_name {other:?} is unknown (query or passage)"
        ))),
    }
}

/// Embeddings, text-embeddings-inference-compatible: one vector per input.
#[utoipa::path(post, path = "/embed", request_body = TeiEmbedRequest,
    responses((status = 200, body = Vec<Vec<f32>>), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn tei_embed(
    State(s): S,
    ApiJson(req): ApiJson<TeiEmbedRequest>,
) -> ApiResult<Json<Vec<Vec<f32>>>> {
    let texts = req.inputs.into_texts();
    let prefix = prompt(req.prompt_name.as_deref())?;
    let model = s.model(req.model.as_deref())?;
    check_dimensions(model, req.dimensions)?;
    s.check_texts(&texts, "inputs")?;
    let embedded = s.embed_with(model, texts, prefix).await?;
    Ok(Json(
        embedded
            .into_iter()
            .map(|e| {
                if req.normalize {
                    e.vector
                } else {
                    e.vector.iter().map(|x| x * e.norm).collect()
                }
            })
            .collect(),
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct SimilarityInputs {
    pub source_sentence: String,
    pub sentences: Vec<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct TeiSimilarityRequest {
    pub inputs: SimilarityInputs,
    /// `query` or `passage`: the model's prompt put in front of each text.
    pub prompt_name: Option<String>,
    /// Which served model embeds; the collection's when absent.
    pub model: Option<String>,
}

/// Cosine similarity of `source_sentence` to each of `sentences`.
#[utoipa::path(post, path = "/similarity", request_body = TeiSimilarityRequest,
    responses((status = 200, body = Vec<f32>), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn tei_similarity(
    State(s): S,
    ApiJson(req): ApiJson<TeiSimilarityRequest>,
) -> ApiResult<Json<Vec<f32>>> {
    let prefix = prompt(req.prompt_name.as_deref())?;
    let model = s.model(req.model.as_deref())?;
    s.check_text(&req.inputs.source_sentence, "inputs.source_sentence")?;
    s.check_texts(&req.inputs.sentences, "inputs.sentences")?;
    let mut texts = vec![req.inputs.source_sentence];
    texts.extend(req.inputs.sentences);
    let embedded = s.embed_with(model, texts, prefix).await?;
    let (source, rest) = embedded
        .split_first()
        .ok_or_else(|| ApiError::internal("no embedding returned"))?;
    Ok(Json(rest.iter().map(|e| source.cosine(e)).collect()))
}

/// text-embeddings-inference's route at `/`, which `huggingface_hub`'s
/// `InferenceClient` posts to when given the server's address: a body whose `inputs`
/// holds `source_sentence` is a similarity request, any other an embedding request.
#[utoipa::path(post, path = "/", request_body = Object,
    responses((status = 200, description = "as POST /embed or POST /similarity", body = Object),
              (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn tei_compat(
    state: S,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let similarity = body["inputs"].get("source_sentence").is_some();
    let bad = |e: serde_json::Error| ApiError::validation(format!("invalid request: {e}"));
    Ok(if similarity {
        let req = serde_json::from_value(body).map_err(bad)?;
        tei_similarity(state, ApiJson(req)).await?.into_response()
    } else {
        let req = serde_json::from_value(body).map_err(bad)?;
        tei_embed(state, ApiJson(req)).await?.into_response()
    })
}

#[derive(Deserialize, ToSchema)]
pub struct TokenizeRequest {
    pub inputs: TeiInput,
    /// Put the model's start and end tokens around each text (default true).
    #[serde(default = "yes")]
    pub add_special_tokens: bool,
    /// `query` or `passage`: tokenize with the model's prompt in front.
    pub prompt_name: Option<String>,
    /// Which served model's tokenizer; the collection's when absent.
    pub model: Option<String>,
}

/// One token, as text-embeddings-inference's `/tokenize` gives it.
#[derive(Serialize, ToSchema)]
pub struct TokenOut {
    pub id: u32,
    pub text: String,
    pub special: bool,
    /// Character offsets in the text (prompt included); null for added specials.
    pub start: Option<usize>,
    pub stop: Option<usize>,
}

/// The tokens of each input, text-embeddings-inference-compatible.
#[utoipa::path(post, path = "/tokenize", request_body = TokenizeRequest,
    responses((status = 200, body = Vec<Vec<TokenOut>>), (status = 404, body = ErrorBody),
              (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn tei_tokenize(
    State(s): S,
    ApiJson(req): ApiJson<TokenizeRequest>,
) -> ApiResult<Json<Vec<Vec<TokenOut>>>> {
    let texts = req.inputs.into_texts();
    let prefix = prompt(req.prompt_name.as_deref())?;
    let model = s.model(req.model.as_deref())?;
    s.check_texts(&texts, "inputs")?;
    let embedder = model.embedder.clone();
    let specials = req.add_special_tokens;
    let tokens = tokio::task::spawn_blocking(move || {
        let prompt = embedder.profile().prompts.get(prefix).to_string();
        texts
            .iter()
            .map(|t| embedder.tokenizer().tokens(t, &prompt, specials))
            .collect::<anyhow::Result<Vec<_>>>()
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(Json(
        tokens
            .into_iter()
            .map(|ts| {
                ts.into_iter()
                    .map(|t| TokenOut {
                        id: t.id,
                        text: t.text,
                        special: t.special,
                        start: t.start,
                        stop: t.stop,
                    })
                    .collect()
            })
            .collect(),
    ))
}

/// Token ids: one sequence or several.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
pub enum DecodeInput {
    One(Vec<u32>),
    Many(Vec<Vec<u32>>),
}

#[derive(Deserialize, ToSchema)]
pub struct DecodeRequest {
    pub ids: DecodeInput,
    /// Leave out the start, end and other special tokens (default true).
    #[serde(default = "yes")]
    pub skip_special_tokens: bool,
    /// Which served model's tokenizer; the collection's when absent.
    pub model: Option<String>,
}

/// The text of each id sequence, text-embeddings-inference-compatible.
#[utoipa::path(post, path = "/decode", request_body = DecodeRequest,
    responses((status = 200, body = Vec<String>), (status = 404, body = ErrorBody),
              (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn tei_decode(
    State(s): S,
    ApiJson(req): ApiJson<DecodeRequest>,
) -> ApiResult<Json<Vec<String>>> {
    let lists = match req.ids {
        DecodeInput::One(ids) => vec![ids],
        DecodeInput::Many(lists) => lists,
    };
    let model = s.model(req.model.as_deref())?;
    if lists.is_empty() || lists.len() > s.limits.max_texts {
        return Err(ApiError::validation(format!(
            "ids must hold 1 to {} sequences",
            s.limits.max_texts
        )));
    }
    let total: usize = lists.iter().map(Vec::len).sum();
    if total > s.max_request_tokens {
        return Err(ApiError::too_large(format!(
            "{total} ids; at most {} per request",
            s.max_request_tokens
        )));
    }
    let vocab = model.embedder.config().vocab_size as u32;
    if let Some(bad) = lists.iter().flatten().find(|&&id| id >= vocab) {
        return Err(ApiError::validation(format!(
            "id {bad} is outside the vocabulary of {} ({vocab} ids)",
            model.name
        )));
    }
    let embedder = model.embedder.clone();
    let skip = req.skip_special_tokens;
    let texts = tokio::task::spawn_blocking(move || {
        lists
            .iter()
            .map(|ids| embedder.tokenizer().decode(ids, skip))
            .collect::<anyhow::Result<Vec<_>>>()
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(Json(texts))
}
