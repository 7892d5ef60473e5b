//! The assistant on the gateway: answers customers while their
//! conversation is in AI handling, streaming tokens to the dialects that
//! take streams and recording each finished answer with its provenance.
//!
//! - [`runner`]: [`AssistantRunner`], the policy that answers.
//! - [`replies`]: [`Replies`], the answers being written on this node.
//!
//! The responder is the embedded one (extractive, from the knowledge base,
//! no network) unless `PARLEY_LLM_URL` names an OpenAI-compatible endpoint;
//! `PARLEY_ASSISTANT=off` turns answering off.

pub mod replies;
pub mod runner;

pub use replies::{InProgress, Replies, ReplyEvent, ReplyKey};
pub use runner::{AssistantRunner, answer_id, assistant_actor};

use assistant::Responder;
use assistant::embedded::Embedded;
use assistant::openai::{OpenAiCompatible, OpenAiConfig};
use std::sync::Arc;
use std::time::Duration;

use crate::GatewayError;
use crate::config::Config;

/// What the runner and the dialects share of the assistant.
pub struct Assistant {
    pub replies: Replies,
    /// `None` when answering is off.
    pub responder: Option<Arc<dyn Responder>>,
    /// The longest an answer may take, from question to last token.
    pub timeout: Duration,
}

impl Assistant {
    pub fn from_config(config: &Config) -> Result<Self, GatewayError> {
        let responder: Option<Arc<dyn Responder>> = if !config.assistant_enabled() {
            None
        } else if let Some(url) = &config.llm_url {
            let model = config.llm_model.clone().ok_or_else(|| {
                GatewayError::Config("PARLEY_LLM_URL is set: PARLEY_LLM_MODEL must be too".into())
            })?;
            let provider = OpenAiCompatible::new(OpenAiConfig {
                url: url.clone(),
                model,
                api_key: config.llm_api_key.as_ref().map(|k| k.expose().to_owned()),
            })
            .map_err(|e| GatewayError::Config(format!("the LLM provider: {e}")))?;
            tracing::info!(
                provider = "openai",
                "assistant answers with an OpenAI-compatible endpoint"
            );
            Some(Arc::new(provider))
        } else {
            Some(Arc::new(
                Embedded::new().with_token_delay(config.assistant_token_delay()),
            ))
        };
        Ok(Self {
            replies: Replies::default(),
            responder,
            timeout: config.assistant_timeout(),
        })
    }
}
