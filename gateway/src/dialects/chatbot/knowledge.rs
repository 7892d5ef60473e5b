//! What the seed's AI and knowledge events share. They are queries, not
//! commands: they read the knowledge base and the conversation and record
//! nothing.

use assistant::{Answer, AssistantError, Question};
use projections::knowledge::ArticleHit;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::dialect::{Inbound, Request};
use crate::error::{ErrorCode, WireError};

/// The longest query accepted, in characters.
pub(super) const MAX_QUERY_CHARS: usize = 1_000;

/// Search results per request.
pub(super) const SEARCH_LIMIT: u32 = 10;

/// Messages a summary reads (the latest).
pub(super) const SUMMARY_MESSAGES: u32 = 500;

pub(super) fn knowledge_room(req: &Request) -> String {
    format!("chatbot:{}:knowledge", req.actor.tenant)
}

pub(super) fn hit_json(hit: &ArticleHit) -> Value {
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
pub(super) fn query_text(raw: Option<String>) -> Result<String, WireError> {
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
pub(super) struct Rag {
    query: Option<String>,
}

/// The question of a RAG request (no IO).
pub(super) fn decode_rag(req: &Inbound) -> Result<String, WireError> {
    let request: Rag = req.parse()?;
    query_text(request.query)
}

/// The question with the tenant's best articles for it (as the assistant
/// retrieves them for conversations).
pub(super) async fn question(req: &Request, text: &str) -> Result<Question, WireError> {
    let sources = crate::assistant::runner::retrieve(&req.state, &req.actor.tenant, text).await?;
    Ok(Question {
        text: text.to_owned(),
        history: Vec::new(),
        sources,
    })
}

/// Ask the responder, with the assistant's timeout, while `listen` takes
/// the tokens.
pub(super) async fn respond(
    req: &Request,
    question: &Question,
    tokens: mpsc::Sender<String>,
    listen: impl Future<Output = ()>,
) -> Result<Answer, WireError> {
    let assistant = &req.state.assistant;
    let responder = assistant.responder.clone().ok_or_else(|| {
        WireError::new(
            ErrorCode::AssistantUnavailable,
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
            ErrorCode::AssistantFailed,
            "the assistant could not answer just now; try again or ask for a human",
        )
    })
}

pub(super) fn rag_json(
    text: &str,
    question: &Question,
    answer: &Answer,
    id: Option<&str>,
) -> Value {
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
