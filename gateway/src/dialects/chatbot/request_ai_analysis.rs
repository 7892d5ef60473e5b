//! `request-ai-analysis {message, analysisType}` → `ai-analysis-result
//! {analysisType, result, confidence}`.

use assistant::analysis::{self, AnalysisType};
use domain::message::MessageBody;
use serde::Deserialize;
use serde_json::json;

use crate::dialect::{Inbound, Request};
use crate::error::WireError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Analyse {
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
