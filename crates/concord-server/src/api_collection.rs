//! The collection endpoints: `POST /search`, `POST /overlaps`, and the live documents
//! (`POST /documents`, `GET /documents`, `GET|DELETE /documents/{id}`). Writes are in
//! the change log, synced, before they are acknowledged.

use crate::error::{ApiError, ApiJson, ApiResult, ErrorBody};
use crate::state::{fold_log, AppState};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use concord_embed::Prefix;
use concord_ingest::Written;
use concord_overlap::{Label, PairMatch, QueryOptions};
use concord_text::{Article, ArticleMeta};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

type S = State<Arc<AppState>>;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    /// The text to look for (embedded as a query).
    pub text: String,
    /// Passages returned.
    #[serde(default = "default_k")]
    pub k: usize,
    /// Only passages of these articles.
    #[serde(default)]
    pub docs: Vec<String>,
}

fn default_k() -> usize {
    10
}

#[derive(Serialize, ToSchema)]
pub struct SearchHit {
    pub doc: String,
    /// Passage id, `doc#index`.
    pub passage: String,
    /// Cosine similarity to the query.
    pub score: f32,
    /// Character offsets `[start, end)` of the passage in its article.
    pub start: u32,
    pub end: u32,
    pub section: Option<String>,
    pub text: String,
}

#[derive(Serialize, ToSchema)]
pub struct SearchResponse {
    pub results: Vec<SearchHit>,
}

/// Nearest passages to a text.
#[utoipa::path(post, path = "/search", request_body = SearchRequest,
    responses((status = 200, body = SearchResponse),
              (status = 404, description = "an article in `docs` does not exist", body = ErrorBody),
              (status = 413, body = ErrorBody), (status = 422, body = ErrorBody),
              (status = 429, description = "inference queue full", body = ErrorBody)))]
pub async fn search(
    State(s): S,
    ApiJson(req): ApiJson<SearchRequest>,
) -> ApiResult<Json<SearchResponse>> {
    s.check_text(&req.text, "text")?;
    let k = s.check_k(req.k)?;
    let docs: Vec<String> = req.docs.into_iter().map(lookup_id).collect();
    check_docs_exist(&s, docs.clone()).await?;
    let v = s.embed_one(req.text, Prefix::Query).await?;
    let results = s
        .blocking(move |live| {
            let c = live.read();
            c.search(&v.vector, k, &|p| docs.is_empty() || docs.contains(&p.doc))
                .into_iter()
                .filter_map(|h| {
                    let p = c.passage(h.slot)?;
                    Some(SearchHit {
                        doc: p.doc.clone(),
                        passage: p.id(),
                        score: h.cosine,
                        start: p.passage.start,
                        end: p.passage.end,
                        section: p.passage.section.clone(),
                        text: p.passage.text.clone(),
                    })
                })
                .collect()
        })
        .await?;
    Ok(Json(SearchResponse { results }))
}

async fn check_docs_exist(s: &AppState, ids: Vec<String>) -> ApiResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    s.blocking(move |live| {
        let c = live.read();
        match ids.iter().find(|d| c.doc(d).is_none()) {
            Some(d) => Err(ApiError::not_found(format!("no article {d:?}"))),
            None => Ok(()),
        }
    })
    .await?
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OverlapsRequest {
    /// Free text to match against the collection (embedded as a passage) ...
    pub text: Option<String>,
    /// ... or every passage of this article ...
    pub doc_id: Option<String>,
    /// ... or one passage, `doc#index`.
    pub passage_id: Option<String>,
    /// With `doc_id`: align that article with this one, passage by passage.
    pub with_doc: Option<String>,
    /// Weakest label reported: `duplicate`, `overlap`, `conflict`, `agree` (default)
    /// or `related`.
    #[schema(value_type = Option<String>)]
    pub min_label: Option<Label>,
    /// Also return `boilerplate` pairs (shared notices and prompts; default false).
    pub boilerplate: Option<bool>,
    /// Most pairs returned (default 50).
    pub k: Option<usize>,
    /// Candidates drawn from the index per passage (default 24).
    pub candidates: Option<usize>,
}

#[derive(Serialize, ToSchema)]
pub struct OverlapsResponse {
    /// Pairs `{a, b, label, score, evidence}`, strongest first, as `concord overlaps`
    /// prints them; `a` is the queried side.
    #[schema(value_type = Vec<Object>)]
    pub pairs: Vec<PairMatch>,
}

/// Passages of other articles that duplicate, overlap, agree with or contradict.
#[utoipa::path(post, path = "/overlaps", request_body = OverlapsRequest,
    responses((status = 200, body = OverlapsResponse),
              (status = 404, description = "unknown article or passage", body = ErrorBody),
              (status = 413, body = ErrorBody), (status = 422, body = ErrorBody),
              (status = 429, body = ErrorBody),
              (status = 501, description = "the collection's model is not the one the pair judge was trained with", body = ErrorBody)))]
pub async fn overlaps(
    State(s): S,
    ApiJson(req): ApiJson<OverlapsRequest>,
) -> ApiResult<Json<OverlapsResponse>> {
    // Held until the answer is ready: judging runs on the blocking pool, and without a
    // bound its latency would grow with every client.
    s.check_judge()?;
    let _slot = s
        .overlap_slots
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::busy("overlap queries"))?;
    let k = s.check_k(req.k.unwrap_or(50))?;
    let candidates = req.candidates.unwrap_or(QueryOptions::default().candidates);
    if candidates == 0 || candidates > s.limits.max_k {
        return Err(ApiError::validation(format!(
            "candidates must be between 1 and {}",
            s.limits.max_k
        )));
    }
    let opts = QueryOptions {
        min_label: req.min_label.unwrap_or(Label::Agree),
        candidates,
        boilerplate: req.boilerplate.unwrap_or(false),
    };
    let given = [
        req.text.is_some(),
        req.doc_id.is_some(),
        req.passage_id.is_some(),
    ];
    if given.iter().filter(|g| **g).count() != 1 {
        return Err(ApiError::validation(
            "give exactly one of text, doc_id and passage_id",
        ));
    }
    if req.with_doc.is_some() && req.doc_id.is_none() {
        return Err(ApiError::validation("with_doc needs doc_id"));
    }
    let mut pairs = if let Some(text) = req.text {
        s.check_text(&text, "text")?;
        let v = s.embed_one(text.clone(), Prefix::Passage).await?;
        s.blocking(move |live| live.overlaps(|ix| ix.for_text(&text, &v.vector, &opts)))
            .await?
    } else if let Some(doc) = req.doc_id.map(lookup_id) {
        let with = req.with_doc.map(lookup_id);
        s.blocking(move |live| {
            live.overlaps(|ix| {
                for d in std::iter::once(&doc).chain(&with) {
                    if ix.collection().doc(d).is_none() {
                        return Err(ApiError::not_found(format!("no article {d:?}")));
                    }
                }
                Ok(match &with {
                    Some(b) => ix.align(&doc, b, &opts),
                    None => ix.all_pairs(Some(&doc), &opts),
                })
            })
        })
        .await??
    } else {
        let id = lookup_id(req.passage_id.unwrap_or_default());
        s.blocking(move |live| {
            live.overlaps(|ix| match ix.collection().find_passage(&id) {
                Some(slot) => Ok(ix.for_slot(slot, &opts)),
                None => Err(ApiError::not_found(format!("no passage {id:?}"))),
            })
        })
        .await??
    };
    pairs.truncate(k);
    Ok(Json(OverlapsResponse { pairs }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentRequest {
    /// Article id, stored in NFC; an article with this id is replaced. At most 256
    /// bytes, not blank or invisible-only, without control or bidi-override characters.
    pub id: String,
    pub title: Option<String>,
    /// Where the article came from (a file name, a feed).
    pub source: Option<String>,
    /// The article, plain text or Markdown (YAML front matter and a
    /// `> source: ...; date: ...` line are read as metadata, as in files).
    pub text: String,
    /// The outlet that published it; this and the fields below win over the text's own
    /// metadata.
    pub outlet: Option<String>,
    /// When it was published (ISO 8601 sorts as text).
    pub published: Option<String>,
    pub url: Option<String>,
    /// A language tag (`zh-Hant`, `zh-Hans`, `en`...).
    pub language: Option<String>,
    pub author: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct DocumentWritten {
    pub id: String,
    /// Passages the article was cut into.
    pub passages: usize,
    /// Tokens embedded.
    pub tokens: usize,
    /// False when an article with this id was replaced (or kept).
    pub created: bool,
    /// True when the collection already held the article with this title and these
    /// passages: nothing was embedded or written.
    pub unchanged: bool,
}

/// The id of a written article, by the rule `concord ingest` applies to files and JSONL
/// records too (`concord_text::check_article_id`): normalised to NFC, refused (422) when
/// empty, too long, invisible-only or holding control or bidi-override characters.
fn check_id(id: &str) -> ApiResult<String> {
    concord_text::check_article_id(id).map_err(ApiError::validation)
}

/// An id to look up, in the stored form (NFC) when it follows the id rule; one that does
/// not is kept as given and so is simply not found.
fn lookup_id(id: String) -> String {
    concord_text::check_article_id(&id).unwrap_or(id)
}

/// Adds an article, or replaces the one with the same id. Durable once answered.
#[utoipa::path(post, path = "/documents", request_body = DocumentRequest,
    responses((status = 201, description = "added", body = DocumentWritten),
              (status = 200, description = "replaced", body = DocumentWritten),
              (status = 401, body = ErrorBody), (status = 413, body = ErrorBody),
              (status = 422, description = "bad id, or no passage in the text", body = ErrorBody),
              (status = 429, body = ErrorBody)))]
pub async fn put_document(
    State(s): S,
    ApiJson(req): ApiJson<DocumentRequest>,
) -> ApiResult<(StatusCode, Json<DocumentWritten>)> {
    let id = check_id(&req.id)?;
    if req.text.len() > s.limits.max_article_bytes {
        return Err(ApiError::too_large(format!(
            "the article has {} bytes; at most {}",
            req.text.len(),
            s.limits.max_article_bytes
        )));
    }
    if req.text.contains('\0') {
        return Err(ApiError::validation(
            "the article text contains NUL characters",
        ));
    }
    let meta = ArticleMeta {
        outlet: req.outlet,
        published: req.published,
        url: req.url,
        language: req.language,
        author: req.author,
    };
    let article = Article::new(id.clone(), req.text, req.title, req.source, meta);
    let (passages, tokens, created) = match s.write_article(article).await? {
        Written::Empty => {
            return Err(ApiError::validation(
                "the article has no passages (only headings, images or very short lines)",
            ))
        }
        Written::Unchanged { passages } => {
            return Ok((
                StatusCode::OK,
                Json(DocumentWritten {
                    id,
                    passages,
                    tokens: 0,
                    created: false,
                    unchanged: true,
                }),
            ));
        }
        Written::Stored {
            passages,
            tokens,
            created,
        } => (passages, tokens, created),
    };
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(DocumentWritten {
            id,
            passages,
            tokens,
            created,
            unchanged: false,
        }),
    ))
}

#[derive(Serialize, ToSchema)]
pub struct DocumentSummary {
    pub id: String,
    pub title: Option<String>,
    pub source: Option<String>,
    pub passages: usize,
}

#[derive(Serialize, ToSchema)]
pub struct DocumentList {
    /// Articles in the collection, by id.
    pub documents: Vec<DocumentSummary>,
    /// Articles in the whole collection.
    pub total: usize,
}

#[derive(Deserialize, IntoParams)]
pub struct Page {
    /// Articles skipped.
    #[serde(default)]
    pub offset: usize,
    /// Articles returned (default 1000).
    pub limit: Option<usize>,
}

/// Lists articles, by id.
#[utoipa::path(get, path = "/documents", params(Page), responses((status = 200, body = DocumentList)))]
pub async fn list_documents(
    State(s): S,
    Query(page): Query<Page>,
) -> ApiResult<Json<DocumentList>> {
    let limit = page.limit.unwrap_or(1000);
    s.blocking(move |live| {
        let c = live.read();
        Json(DocumentList {
            documents: c
                .docs()
                .skip(page.offset)
                .take(limit)
                .map(|d| DocumentSummary {
                    id: d.id.clone(),
                    title: d.title.clone(),
                    source: d.source.clone(),
                    passages: d.slots.len(),
                })
                .collect(),
            total: c.doc_count(),
        })
    })
    .await
}

#[derive(Serialize, ToSchema)]
pub struct PassageOut {
    /// `doc#index`.
    pub id: String,
    pub index: u32,
    pub start: u32,
    pub end: u32,
    pub section: Option<String>,
    pub text: String,
}

#[derive(Serialize, ToSchema)]
pub struct DocumentDetail {
    pub id: String,
    pub title: Option<String>,
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outlet: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    pub passages: Vec<PassageOut>,
}

/// One article with its passages.
#[utoipa::path(get, path = "/documents/{id}", params(("id" = String, Path, description = "article id")),
    responses((status = 200, body = DocumentDetail), (status = 404, body = ErrorBody)))]
pub async fn get_document(State(s): S, Path(id): Path<String>) -> ApiResult<Json<DocumentDetail>> {
    let id = lookup_id(id);
    s.blocking(move |live| {
        let c = live.read();
        let d = c
            .doc(&id)
            .ok_or_else(|| ApiError::not_found(format!("no article {id:?}")))?;
        let passages = d
            .slots
            .iter()
            .filter_map(|&slot| c.passage(slot))
            .map(|p| PassageOut {
                id: p.id(),
                index: p.passage.index,
                start: p.passage.start,
                end: p.passage.end,
                section: p.passage.section.clone(),
                text: p.passage.text.clone(),
            })
            .collect();
        let m = d.meta.clone();
        Ok(Json(DocumentDetail {
            id: d.id.clone(),
            title: d.title.clone(),
            source: d.source.clone(),
            outlet: m.outlet,
            published: m.published,
            url: m.url,
            language: m.language,
            author: m.author,
            passages,
        }))
    })
    .await?
}

#[derive(Serialize, ToSchema)]
pub struct Deleted {
    pub id: String,
    pub deleted: bool,
}

/// Deletes an article. Durable once answered.
#[utoipa::path(delete, path = "/documents/{id}", params(("id" = String, Path, description = "article id")),
    responses((status = 200, body = Deleted), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_document(State(s): S, Path(id): Path<String>) -> ApiResult<Json<Deleted>> {
    let id = lookup_id(id);
    let commit_after = s.commit_after;
    s.blocking(move |live| {
        let mut c = live.write();
        if !c.remove_logged(&id).map_err(ApiError::internal)? {
            return Err(ApiError::not_found(format!("no article {id:?}")));
        }
        fold_log(&mut c, commit_after);
        Ok(Json(Deleted { id, deleted: true }))
    })
    .await?
}
