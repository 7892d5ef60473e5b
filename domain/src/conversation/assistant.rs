//! What the assistant records with each answer it posts: why it said what it
//! said, so that a replay shows the sources, the provider and the outcome.

use serde::{Deserialize, Serialize};

use crate::ids::MessageId;

/// The user id under which the assistant posts its answers.
pub const ASSISTANT_USER: &str = "parley-assistant";

/// How an answer came about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplyOutcome {
    /// Answered from the cited sources.
    Answered,
    /// Nothing in the knowledge base matched: the answer says so and
    /// offers a human.
    NoMatch,
    /// The responder failed or timed out: the answer tells the customer.
    Failed,
}

impl ReplyOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Answered => "answered",
            Self::NoMatch => "no_match",
            Self::Failed => "failed",
        }
    }
}

/// A knowledge-base article an answer drew on, as it was then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRef {
    pub article_id: String,
    pub version: u64,
    pub title: String,
}

/// The provenance of an assistant's answer. Only a service may post a
/// message that carries one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// The customer message answered.
    pub in_reply_to: MessageId,
    pub outcome: ReplyOutcome,
    /// The articles cited, in the order cited.
    #[serde(default)]
    pub sources: Vec<SourceRef>,
    /// `embedded`, or `openai` for an OpenAI-compatible endpoint.
    pub provider: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The assistant offered a human (nothing matched, or it failed).
    #[serde(default)]
    pub handoff_offered: bool,
    /// The assistant thinks the issue is resolved (helpdesk's
    /// `close_support` hint).
    #[serde(default)]
    pub close_suggested: bool,
}
