//! `request-rag-response-stream {query}` → `rag-response-start {query,
//! responseId}`, then `rag-response-chunk {query, responseId, chunk}` per
//! token, then the final `rag-response` with the `responseId`.

use serde_json::json;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::knowledge::{decode_rag, question, rag_json, respond};
use crate::dialect::Request;
use crate::error::WireError;

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
