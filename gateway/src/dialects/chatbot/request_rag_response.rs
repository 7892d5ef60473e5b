//! `request-rag-response {query}` → `rag-response {query, response,
//! sources, noMatch}`.

use tokio::sync::mpsc;

use super::knowledge::{decode_rag, question, rag_json, respond};
use crate::dialect::Request;
use crate::error::WireError;

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
