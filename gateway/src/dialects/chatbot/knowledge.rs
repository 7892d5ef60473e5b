//! The seed's AI and knowledge events. Queries, not commands: they read the
//! knowledge base and the conversation and record nothing.
//!
//! - `join-knowledge-room {tenantId}` → `knowledge-room-joined {tenantId}`
//!   (the caller's own tenant only; otherwise the seed's
//!   `JOIN_KNOWLEDGE_ERROR`).
//! - `search-knowledge {query, category?, tags?}` →
//!   `knowledge-search-results {query, results, totalResults}`.
//! - `request-rag-response {query}` → `rag-response {query, response,
//!   sources, noMatch}`.
//! - `request-rag-response-stream {query}` → `rag-response-start {query,
//!   responseId}`, then `rag-response-chunk {query, responseId, chunk}` per
//!   token, then the final `rag-response` as above with the `responseId`.
//! - `request-ai-analysis {message, analysisType}` → `ai-analysis-result
//!   {analysisType, result, confidence}`.
//! - `request-conversation-summary` → `conversation-summary {summary,
//!   keyPoints, sentiment, conversationId}` for the conversation the caller
//!   joined last.

use assistant::analysis::{self, AnalysisType};
use assistant::{Answer, AssistantError, Question, Turn};
use domain::actor::Role;
use domain::message::MessageBody;
use projections::Room;
use projections::conversation_messages::{self, Cursor, Visibility};
use projections::knowledge::{self, ArticleHit, KnowledgeQuery};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::socket_state;
use crate::dialect::{Inbound, Request};
use crate::error::WireError;

/// The longest query accepted, in characters.
const MAX_QUERY_CHARS: usize = 1_000;
/// Search results per request.
const SEARCH_LIMIT: u32 = 10;
/// Messages a summary reads (the latest).
const SUMMARY_MESSAGES: u32 = 500;

fn knowledge_room(req: &Request) -> String {
    format!("chatbot:{}:knowledge", req.actor.tenant)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JoinKnowledge {
    tenant_id: Option<String>,
}

/// The seed's code for every refusal of `join-knowledge-room`.
fn join_failed(message: impl Into<String>) -> WireError {
    WireError::new("JOIN_KNOWLEDGE_ERROR", message)
}

/// Whether the caller may join the room the payload names (no IO).
pub(super) fn decode_join(req: &Inbound) -> Result<(), WireError> {
    let request: JoinKnowledge = req.parse().map_err(|e| join_failed(e.message))?;
    if let Some(tenant) = &request.tenant_id
        && tenant != req.actor.tenant.as_str()
    {
        return Err(join_failed("tenantId is not the caller's tenant"));
    }
    Ok(())
}

pub async fn join(req: &Request) -> Result<(), WireError> {
    decode_join(&req.inbound())?;
    req.socket.join(knowledge_room(req));
    req.reply(
        "knowledge-room-joined",
        &json!({ "tenantId": req.actor.tenant.as_str() }),
    );
    Ok(())
}

#[derive(Deserialize)]
struct Search {
    query: Option<String>,
    category: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
}

/// The search the payload asks for (no IO).
pub(super) fn decode_search(req: &Inbound) -> Result<KnowledgeQuery, WireError> {
    let request: Search = req.parse()?;
    let text = query_text(request.query)?;
    Ok(KnowledgeQuery {
        text,
        category: request.category.filter(|c| !c.trim().is_empty()),
        tags: request.tags,
        limit: SEARCH_LIMIT,
    })
}

pub async fn search(req: &Request) -> Result<(), WireError> {
    let query = decode_search(&req.inbound())?;
    let text = query.text.clone();
    let hits = knowledge::search(req.state.log.db(), &req.actor.tenant, &query).await?;
    let results: Vec<Value> = hits.iter().map(hit_json).collect();
    req.reply(
        "knowledge-search-results",
        &json!({ "query": text, "totalResults": results.len(), "results": results }),
    );
    Ok(())
}

fn hit_json(hit: &ArticleHit) -> Value {
    json!({
        "id": hit.article.article_id.as_str(),
        "version": hit.article.version,
        "title": hit.article.title,
        "category": hit.article.category,
        "tags": hit.article.tags,
        "snippet": hit.snippet,
        "score": hit.score,
    })
}

/// A query: present, not blank, not too long.
fn query_text(raw: Option<String>) -> Result<String, WireError> {
    let text = raw
        .map(|q| q.trim().to_owned())
        .filter(|q| !q.is_empty())
        .ok_or_else(|| WireError::validation("query is required"))?;
    if text.chars().nth(MAX_QUERY_CHARS).is_some() {
        return Err(WireError::validation(format!(
            "query must be at most {MAX_QUERY_CHARS} characters"
        )));
    }
    Ok(text)
}

#[derive(Deserialize)]
struct Rag {
    query: Option<String>,
}

/// The question of a RAG request (no IO).
pub(super) fn decode_rag(req: &Inbound) -> Result<String, WireError> {
    let request: Rag = req.parse()?;
    query_text(request.query)
}

pub async fn rag(req: &Request) -> Result<(), WireError> {
    let text = decode_rag(&req.inbound())?;
    let question = question(req, &text).await?;
    let (tokens, mut received) = mpsc::channel(64);
    // Nobody streams this one: drain the tokens as they come.
    let drain = async { while received.recv().await.is_some() {} };
    let answer = respond(req, &question, tokens, drain).await?;
    req.reply("rag-response", &rag_json(&text, &question, &answer, None));
    Ok(())
}

pub async fn rag_stream(req: &Request) -> Result<(), WireError> {
    let text = decode_rag(&req.inbound())?;
    let question = question(req, &text).await?;
    let response_id = Uuid::now_v7().to_string();
    req.emit(
        "rag-response-start",
        &json!({ "query": text, "responseId": response_id }),
    );
    let (tokens, mut received) = mpsc::channel::<String>(64);
    let forward = async {
        while let Some(chunk) = received.recv().await {
            req.emit(
                "rag-response-chunk",
                &json!({ "query": text, "responseId": response_id, "chunk": chunk }),
            );
        }
    };
    let answer = respond(req, &question, tokens, forward).await?;
    req.reply(
        "rag-response",
        &rag_json(&text, &question, &answer, Some(&response_id)),
    );
    Ok(())
}

/// The question with the tenant's best articles for it (as the assistant
/// retrieves them for conversations).
async fn question(req: &Request, text: &str) -> Result<Question, WireError> {
    let sources = crate::assistant::runner::retrieve(&req.state, &req.actor.tenant, text).await?;
    Ok(Question {
        text: text.to_owned(),
        history: Vec::new(),
        sources,
    })
}

/// Ask the responder, with the assistant's timeout, while `listen` takes
/// the tokens.
async fn respond(
    req: &Request,
    question: &Question,
    tokens: mpsc::Sender<String>,
    listen: impl Future<Output = ()>,
) -> Result<Answer, WireError> {
    let assistant = &req.state.assistant;
    let responder = assistant.responder.clone().ok_or_else(|| {
        WireError::new(
            "ASSISTANT_UNAVAILABLE",
            "the assistant is turned off on this server",
        )
    })?;
    let both = async { tokio::join!(responder.respond(question, tokens), listen).0 };
    let outcome = tokio::time::timeout(assistant.timeout, both)
        .await
        .unwrap_or_else(|_| Err(AssistantError::Provider("timed out".into())));
    outcome.map_err(|error| {
        tracing::warn!(socket = %req.socket.id, %error, "assistant failed");
        WireError::new(
            "ASSISTANT_FAILED",
            "the assistant could not answer just now; try again or ask for a human",
        )
    })
}

fn rag_json(text: &str, question: &Question, answer: &Answer, id: Option<&str>) -> Value {
    let sources: Vec<Value> = answer
        .cited
        .iter()
        .filter_map(|i| question.sources.get(*i))
        .map(|s| json!({ "id": s.article_id, "version": s.version, "title": s.title }))
        .collect();
    let mut body = json!({
        "query": text,
        "response": answer.text,
        "sources": sources,
        "noMatch": answer.no_match,
    });
    if let Some(id) = id {
        body["responseId"] = json!(id);
    }
    body
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Analyse {
    message: Option<String>,
    analysis_type: Option<String>,
}

/// The message and the analysis asked for (no IO).
pub(super) fn decode_analysis(req: &Inbound) -> Result<(AnalysisType, MessageBody), WireError> {
    let request: Analyse = req.parse()?;
    let kind = request
        .analysis_type
        .as_deref()
        .ok_or_else(|| WireError::validation("analysisType is required"))
        .and_then(|raw| {
            AnalysisType::parse(raw).ok_or_else(|| {
                WireError::validation(format!(
                    "analysisType must be intent, sentiment, pii or language, not {raw:?}"
                ))
            })
        })?;
    let message = request
        .message
        .ok_or_else(|| WireError::validation("message is required"))?;
    // Held to a message's limits: analysis is of messages.
    let message = MessageBody::parse(message)
        .map_err(|e| WireError::validation(format!("invalid message: {e}")))?;
    Ok((kind, message))
}

pub async fn analyse(req: &Request) -> Result<(), WireError> {
    let (kind, message) = decode_analysis(&req.inbound())?;
    let analysis = analysis::analyze(message.as_str(), kind);
    req.reply(
        "ai-analysis-result",
        &json!({
            "analysisType": analysis.analysis_type.as_str(),
            "result": analysis.result,
            "confidence": analysis.confidence,
        }),
    );
    Ok(())
}

pub async fn summary(req: &Request) -> Result<(), WireError> {
    let current = socket_state(req).with(|s| s.current.clone());
    let id = current.ok_or_else(|| {
        WireError::new(
            "NOT_IN_CONVERSATION",
            "join a conversation (join-conversation) before asking for its summary",
        )
    })?;
    let room = Room::new(
        req.actor.tenant.clone(),
        domain::conversation::Kind::Conversation,
        id,
    );
    req.state
        .read_your_writes(conversation_messages::NAME)
        .await;
    let page = conversation_messages::page(
        req.state.log.db(),
        &room,
        Visibility::for_role(req.actor.role),
        &Cursor::Latest,
        SUMMARY_MESSAGES,
    )
    .await?;
    let turns: Vec<Turn> = page
        .messages
        .into_iter()
        .filter(|m| m.deleted.is_none())
        .map(|m| Turn {
            from_customer: m.author_role == Role::Customer,
            text: m.content,
        })
        .collect();
    let summary = assistant::summary::summarize(&turns);
    req.reply(
        "conversation-summary",
        &json!({
            "conversationId": room.id.as_str(),
            "summary": summary.summary,
            "keyPoints": summary.key_points,
            "sentiment": summary.sentiment,
        }),
    );
    Ok(())
}
