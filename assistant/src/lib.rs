//! Parley's assistant: answers customers from their tenant's knowledge base,
//! and analyses text (intent, sentiment, personal data, language) and
//! conversations (summaries).
//!
//! Nothing here knows the event log, the read models or the wire: the
//! gateway retrieves the sources, calls a [`Responder`], streams its tokens
//! and records the final answer with its provenance.
//!
//! # Layout
//! - [`Responder`]: what answers a [`Question`] from its [`Source`]s,
//!   streaming tokens and returning the [`Answer`].
//! - [`embedded`]: the default responder, extractive, no network.
//! - [`openai`]: a responder backed by an OpenAI-compatible endpoint.
//! - [`analysis`]: language, sentiment, personal data and intent of a text.
//! - [`summary`]: extractive conversation summaries.
//! - `text`: words, stemmed terms, sentences and stream tokens.

pub mod analysis;
pub mod embedded;
pub mod openai;
pub mod summary;
mod text;

use async_trait::async_trait;
use tokio::sync::mpsc;

/// A knowledge-base article retrieved for a question, best match first.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub article_id: String,
    pub version: u64,
    pub title: String,
    pub body: String,
    /// Retrieval score (higher is better); only its order matters.
    pub score: f64,
}

/// One earlier turn of the conversation, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    /// The customer wrote it (else the assistant or an agent did).
    pub from_customer: bool,
    pub text: String,
}

/// What the assistant is asked.
#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    pub text: String,
    pub history: Vec<Turn>,
    /// Retrieved from the tenant's knowledge base, best first; may be empty.
    pub sources: Vec<Source>,
}

/// The complete answer, once every token was sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The whole text: the concatenation of the tokens sent.
    pub text: String,
    /// Indexes into `Question::sources` of the articles cited.
    pub cited: Vec<usize>,
    /// Nothing matched: the text says so and offers a human.
    pub no_match: bool,
    /// The issue looks resolved (the customer thanked, said it worked).
    pub close_suggested: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum AssistantError {
    /// The provider could not be reached or answered with an error.
    #[error("provider failed: {0}")]
    Provider(String),
    /// The provider's answer could not be understood.
    #[error("provider answered something unreadable: {0}")]
    Protocol(String),
    /// Whoever takes the tokens stopped listening.
    #[error("the listener went away")]
    Cancelled,
}

/// Answers questions, streaming the text token by token on `tokens` (each
/// token is a piece of the final text, spaces included) and returning the
/// complete [`Answer`].
#[async_trait]
pub trait Responder: Send + Sync {
    /// `embedded`, `openai`, …: recorded in each answer's provenance.
    fn provider(&self) -> &str;
    fn model(&self) -> Option<&str>;
    async fn respond(
        &self,
        question: &Question,
        tokens: mpsc::Sender<String>,
    ) -> Result<Answer, AssistantError>;
}
