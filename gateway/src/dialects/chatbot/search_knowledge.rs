//! `search-knowledge {query, category?, tags?}` →
//! `knowledge-search-results {query, results, totalResults}`.

use projections::knowledge::{self, KnowledgeQuery};
use serde::Deserialize;
use serde_json::{Value, json};

use super::knowledge::{SEARCH_LIMIT, hit_json, query_text};
use crate::dialect::{Inbound, Request};
use crate::error::WireError;

#[derive(Deserialize)]
pub(super) struct Search {
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
