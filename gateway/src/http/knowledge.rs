//! The knowledge base over REST:
//! - `POST /api/v1/kb/articles` `{title, body, category?, tags?}` → 201
//!   `{article}`; `PUT /api/v1/kb/articles/{id}` (a full replace) → 200
//!   `{article}`; `DELETE /api/v1/kb/articles/{id}` → 204. Admins only.
//! - `GET /api/v1/kb/articles?category=&page=&limit=` → `{articles,
//!   pagination}` and `GET /api/v1/kb/articles/{id}` → `{article}`: staff.
//! - `GET /api/v1/kb/search?q=&category=&tags=a,b&limit=` → `{query,
//!   results, totalResults}`: anyone of the tenant (the articles are for
//!   customers too).
//!
//! An article is `{id, version, title, body, category, tags, createdAt,
//! updatedAt}`. Another tenant's article is 404, like a missing one.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use domain::actor::{Actor, Role};
use domain::ids::ArticleId;
use domain::knowledge::{
    Article, ArticleAction, ArticleBody, ArticleCommand, ArticleContent, ArticleTitle, Category,
    Tags,
};
use projections::knowledge::{self, ArticleView, KnowledgeQuery};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::Caller;
use crate::commands::{Command, Origin};
use crate::error::WireError;
use crate::state::AppState;
use crate::wire_time;

/// Articles per page unless asked otherwise.
const PAGE: u32 = 20;
/// Results per search unless asked otherwise.
const RESULTS: u32 = 10;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Written {
    title: String,
    body: String,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
}

fn content(body: Result<Bytes, BytesRejection>) -> Result<ArticleContent, WireError> {
    let body = body.map_err(|rejection| WireError::validation(rejection.body_text()))?;
    let written: Written = serde_json::from_slice(&body).map_err(|e| {
        WireError::validation(
            "the body must be {\"title\", \"body\", \"category\"?, \"tags\"?: [string]}",
        )
        .with_details(e.to_string())
    })?;
    Ok(ArticleContent {
        title: ArticleTitle::parse(&written.title)?,
        body: ArticleBody::parse(&written.body)?,
        category: written
            .category
            .as_deref()
            .map(Category::parse)
            .transpose()?,
        tags: Tags::parse(&written.tags)?,
    })
}

fn admin(actor: Actor) -> Result<Actor, WireError> {
    if actor.role == Role::Admin {
        Ok(actor)
    } else {
        Err(WireError::forbidden(format!(
            "only admins write articles, not the {} role",
            actor.role
        )))
    }
}

fn staff(actor: &Actor) -> Result<(), WireError> {
    if actor.role.is_staff() {
        Ok(())
    } else {
        Err(WireError::forbidden(format!(
            "only staff list articles, not the {} role",
            actor.role
        )))
    }
}

/// Run `action` on the article, then read it back as written.
async fn write(
    state: &AppState,
    actor: &Actor,
    command: &'static str,
    article: &ArticleId,
    action: ArticleAction,
) -> Result<Option<ArticleView>, WireError> {
    let origin = Origin {
        actor,
        dialect: "http",
        socket_id: None,
    };
    let stream = Article::stream_id(&actor.tenant, article);
    state
        .commands
        .run(
            &state.commands.articles,
            Command {
                origin: &origin,
                name: command,
                stream: &stream,
                id: None,
                make: |at| ArticleCommand {
                    article: article.clone(),
                    actor: actor.clone(),
                    at,
                    action: action.clone(),
                },
            },
        )
        .await?;
    state.read_your_writes(knowledge::NAME).await;
    Ok(knowledge::get(state.log.db(), &actor.tenant, article).await?)
}

fn render(a: &ArticleView) -> Value {
    json!({
        "id": a.article_id.as_str(),
        "version": a.version,
        "title": a.title,
        "body": a.body,
        "category": a.category,
        "tags": a.tags,
        "createdAt": wire_time(a.created_at),
        "updatedAt": wire_time(a.updated_at),
    })
}

fn article_id(raw: String) -> Result<ArticleId, WireError> {
    ArticleId::parse(raw).map_err(|_| WireError::not_found("no such article"))
}

pub(super) async fn create(
    State(state): State<AppState>,
    Caller(actor): Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), WireError> {
    let actor = admin(actor)?;
    let content = content(body)?;
    let id = ArticleId::parse(format!("kb_{}", Uuid::now_v7().simple()))?;
    let article = write(
        &state,
        &actor,
        "kb:create",
        &id,
        ArticleAction::Create(content),
    )
    .await?
    .ok_or_else(|| WireError::internal(&"the article was written but cannot be read"))?;
    tracing::info!(tenant = %actor.tenant, article = %id, "article created");
    Ok((
        StatusCode::CREATED,
        Json(json!({ "article": render(&article) })),
    ))
}

pub(super) async fn update(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(raw): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, WireError> {
    let actor = admin(actor)?;
    let id = article_id(raw)?;
    let content = content(body)?;
    let article = write(
        &state,
        &actor,
        "kb:update",
        &id,
        ArticleAction::Update(content),
    )
    .await?
    .ok_or_else(|| WireError::not_found("no such article"))?;
    Ok(Json(json!({ "article": render(&article) })))
}

pub(super) async fn remove(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(raw): Path<String>,
) -> Result<StatusCode, WireError> {
    let actor = admin(actor)?;
    let id = article_id(raw)?;
    write(&state, &actor, "kb:delete", &id, ArticleAction::Delete).await?;
    tracing::info!(tenant = %actor.tenant, article = %id, "article deleted");
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn get_one(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(raw): Path<String>,
) -> Result<Json<Value>, WireError> {
    staff(&actor)?;
    let id = article_id(raw)?;
    state.read_your_writes(knowledge::NAME).await;
    let article = knowledge::get(state.log.db(), &actor.tenant, &id)
        .await?
        .ok_or_else(|| WireError::not_found("no such article"))?;
    Ok(Json(json!({ "article": render(&article) })))
}

#[derive(Deserialize)]
pub(super) struct Listing {
    category: Option<String>,
    page: Option<u32>,
    limit: Option<u32>,
}

pub(super) async fn list(
    State(state): State<AppState>,
    Caller(actor): Caller,
    query: Result<Query<Listing>, QueryRejection>,
) -> Result<Json<Value>, WireError> {
    staff(&actor)?;
    let Query(query) = query.map_err(|e| WireError::validation(e.body_text()))?;
    let page = query.page.unwrap_or(1);
    let limit = query.limit.unwrap_or(PAGE);
    if page == 0 || !(1..=knowledge::MAX_LIMIT).contains(&limit) {
        return Err(WireError::validation(format!(
            "page counts from 1 and limit is 1 to {}",
            knowledge::MAX_LIMIT
        )));
    }
    state.read_your_writes(knowledge::NAME).await;
    let (articles, total) = knowledge::list(
        state.log.db(),
        &actor.tenant,
        query.category.as_deref(),
        (page - 1).saturating_mul(limit),
        limit,
    )
    .await?;
    Ok(Json(json!({
        "articles": articles.iter().map(render).collect::<Vec<_>>(),
        "pagination": {
            "page": page,
            "limit": limit,
            "total": total,
            "totalPages": total.div_ceil(u64::from(limit)),
        },
    })))
}

#[derive(Deserialize)]
pub(super) struct Search {
    q: Option<String>,
    category: Option<String>,
    tags: Option<String>,
    limit: Option<u32>,
}

pub(super) async fn search(
    State(state): State<AppState>,
    Caller(actor): Caller,
    query: Result<Query<Search>, QueryRejection>,
) -> Result<Json<Value>, WireError> {
    let Query(query) = query.map_err(|e| WireError::validation(e.body_text()))?;
    let text = query.q.unwrap_or_default();
    if text.chars().count() > 1_000 {
        return Err(WireError::validation("q must be at most 1000 characters"));
    }
    let limit = query.limit.unwrap_or(RESULTS);
    if !(1..=knowledge::MAX_LIMIT).contains(&limit) {
        return Err(WireError::validation(format!(
            "limit is 1 to {}",
            knowledge::MAX_LIMIT
        )));
    }
    let tags: Vec<String> = query
        .tags
        .as_deref()
        .map(|t| {
            t.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    state.read_your_writes(knowledge::NAME).await;
    let hits = knowledge::search(
        state.log.db(),
        &actor.tenant,
        &KnowledgeQuery {
            text: text.clone(),
            category: query.category.filter(|c| !c.trim().is_empty()),
            tags,
            limit,
        },
    )
    .await?;
    let results: Vec<Value> = hits
        .iter()
        .map(|h| {
            json!({
                "id": h.article.article_id.as_str(),
                "version": h.article.version,
                "title": h.article.title,
                "category": h.article.category,
                "tags": h.article.tags,
                "snippet": h.snippet,
                "score": h.score,
            })
        })
        .collect();
    Ok(Json(json!({
        "query": text,
        "totalResults": results.len(),
        "results": results,
    })))
}
