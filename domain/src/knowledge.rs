//! The `Article` aggregate: a tenant's knowledge base, written by admins,
//! read by the assistant and by anyone searching it.
//!
//! One aggregate per article, stream `kb_article/{tenant}/{article}`. Rules:
//! - only admins create, update and delete articles;
//! - an article is created once; updating or deleting one that does not
//!   exist (or was deleted) is not found;
//! - an update replaces title, body, category and tags; one that changes
//!   nothing records nothing;
//! - every change bumps the article's version (1 when created), which
//!   answers cite.

use serde::{Deserialize, Serialize};

use crate::actor::{Actor, Role};
use crate::ids::{ArticleId, TenantId, UserId};
use crate::{DomainError, Timestamp};

/// Schema version of every article event; bump per type with an upcaster.
pub const SCHEMA_VERSION: u32 = 1;

/// Every stream of this aggregate starts with this.
pub const STREAM_PREFIX: &str = "kb_article/";

/// Common English words that say nothing about the subject.
const STOP_WORDS: &[&str] = &[
    "a", "about", "after", "again", "all", "am", "an", "and", "any", "are", "as", "at", "be",
    "been", "before", "being", "but", "by", "can", "could", "did", "do", "does", "doing", "for",
    "from", "get", "got", "had", "has", "have", "having", "he", "her", "here", "him", "his", "how",
    "i", "if", "in", "into", "is", "it", "its", "just", "me", "my", "myself", "no", "not", "now",
    "of", "on", "once", "only", "or", "other", "our", "out", "over", "please", "she", "should",
    "so", "some", "such", "than", "that", "the", "their", "them", "then", "there", "these", "they",
    "this", "those", "to", "too", "up", "very", "want", "was", "we", "were", "what", "when",
    "where", "which", "while", "who", "why", "will", "with", "would", "you", "your",
];

pub fn is_stop_word(word: &str) -> bool {
    STOP_WORDS.binary_search(&word).is_ok()
}

/// The words of a search query worth looking for: lowercase letters and
/// digits, stop words left out, each once, in order. Safe to quote into any
/// full-text query syntax.
pub fn query_terms(text: &str) -> Vec<String> {
    let mut terms: Vec<String> = Vec::new();
    for word in text.split(|c: char| !c.is_alphanumeric()) {
        let word = word.to_lowercase();
        // Single letters are mostly what apostrophes leave behind ("it's").
        let meaningful = word.chars().count() > 1 || word.chars().all(|c| c.is_ascii_digit());
        if !word.is_empty() && meaningful && !is_stop_word(&word) && !terms.contains(&word) {
            terms.push(word);
        }
    }
    terms
}

/// Text without control characters (line breaks and tabs allowed where
/// `multiline`), trimmed, within `max` characters.
fn parse_text(
    field: &'static str,
    raw: &str,
    max: usize,
    multiline: bool,
) -> Result<String, DomainError> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(DomainError::invalid(field, "must not be empty"));
    }
    if text.chars().nth(max).is_some() {
        return Err(DomainError::invalid(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    let allowed = |c: char| !c.is_control() || (multiline && matches!(c, '\n' | '\r' | '\t'));
    if let Some(bad) = text.chars().find(|c| !allowed(*c)) {
        return Err(DomainError::invalid(
            field,
            format!("must not contain control characters (found {bad:?})"),
        ));
    }
    Ok(text.to_owned())
}

/// An article's title: 1 to 200 characters, one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArticleTitle(String);

impl ArticleTitle {
    pub const MAX_CHARS: usize = 200;

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        parse_text("title", raw, Self::MAX_CHARS, false).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An article's text: 1 to 20,000 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArticleBody(String);

impl ArticleBody {
    pub const MAX_CHARS: usize = 20_000;

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        parse_text("body", raw, Self::MAX_CHARS, true).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A category: 1 to 64 characters, one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category(String);

impl Category {
    pub const MAX_CHARS: usize = 64;

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        parse_text("category", raw, Self::MAX_CHARS, false).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Up to 20 tags, each 1 to 40 characters, lowercased, each once (first
/// occurrence kept, in order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tags(Vec<String>);

impl Tags {
    pub const MAX_TAGS: usize = 20;
    pub const MAX_CHARS: usize = 40;

    pub fn parse<S: AsRef<str>>(raw: &[S]) -> Result<Self, DomainError> {
        let mut tags: Vec<String> = Vec::new();
        for tag in raw {
            let tag = parse_text("tags", tag.as_ref(), Self::MAX_CHARS, false)?.to_lowercase();
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        if tags.len() > Self::MAX_TAGS {
            return Err(DomainError::invalid(
                "tags",
                format!("at most {} tags", Self::MAX_TAGS),
            ));
        }
        Ok(Self(tags))
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

/// An article as written: what create and update carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArticleContent {
    pub title: ArticleTitle,
    pub body: ArticleBody,
    pub category: Option<Category>,
    pub tags: Tags,
}

/// One command: who asks, when, of which article, to do what.
#[derive(Debug, Clone, PartialEq)]
pub struct ArticleCommand {
    pub article: ArticleId,
    pub actor: Actor,
    pub at: Timestamp,
    pub action: ArticleAction,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ArticleAction {
    Create(ArticleContent),
    Update(ArticleContent),
    Delete,
}

/// What happened to an article. Past tense, stable names, versioned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ArticleEvent {
    ArticleCreated(ArticleWritten),
    ArticleUpdated(ArticleWritten),
    ArticleDeleted(ArticleDeleted),
}

impl ArticleEvent {
    /// The stable name stored as `event_type`; equal to the serde tag.
    pub fn name(&self) -> &'static str {
        match self {
            Self::ArticleCreated(_) => "ArticleCreated",
            Self::ArticleUpdated(_) => "ArticleUpdated",
            Self::ArticleDeleted(_) => "ArticleDeleted",
        }
    }

    pub fn tenant(&self) -> &TenantId {
        match self {
            Self::ArticleCreated(e) | Self::ArticleUpdated(e) => &e.tenant,
            Self::ArticleDeleted(e) => &e.tenant,
        }
    }
}

/// An article as it now reads (created, or updated to this).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArticleWritten {
    pub tenant: TenantId,
    pub article_id: ArticleId,
    pub version: u64,
    pub title: String,
    pub body: String,
    pub category: Option<String>,
    pub tags: Vec<String>,
    pub by: UserId,
    pub by_name: String,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArticleDeleted {
    pub tenant: TenantId,
    pub article_id: ArticleId,
    pub version: u64,
    pub by: UserId,
    pub by_name: String,
    pub at: Timestamp,
}

/// The decision state of one article: enough to tell a no-op update.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Article {
    tenant: Option<TenantId>,
    version: u64,
    deleted: bool,
    title: String,
    body: String,
    category: Option<String>,
    tags: Vec<String>,
}

impl Article {
    /// The event-log stream of an article.
    pub fn stream_id(tenant: &TenantId, article: &ArticleId) -> String {
        format!("{STREAM_PREFIX}{tenant}/{article}")
    }

    /// Does this stream hold an article?
    pub fn owns_stream(stream_id: &str) -> bool {
        stream_id.starts_with(STREAM_PREFIX)
    }

    fn exists(&self) -> bool {
        self.version > 0 && !self.deleted
    }

    /// Decide what happens. Pure: no clock, no IO; refusals produce no events.
    pub fn handle(&self, cmd: ArticleCommand) -> Result<Vec<ArticleEvent>, DomainError> {
        let ArticleCommand {
            article,
            actor,
            at,
            action,
        } = cmd;
        let not_found = || DomainError::NotFound(format!("article {article}"));
        // Streams are per tenant, so this only guards against a caller bug.
        if self.tenant.as_ref().is_some_and(|t| *t != actor.tenant) {
            return Err(not_found());
        }
        if actor.role != Role::Admin {
            return Err(DomainError::Forbidden(
                "only admins write knowledge-base articles".into(),
            ));
        }
        let written = |content: ArticleContent, version| ArticleWritten {
            tenant: actor.tenant.clone(),
            article_id: article.clone(),
            version,
            title: content.title.0,
            body: content.body.0,
            category: content.category.map(|c| c.0),
            tags: content.tags.0,
            by: actor.user.clone(),
            by_name: actor.display_name().to_owned(),
            at,
        };
        match action {
            ArticleAction::Create(content) => {
                if self.version > 0 {
                    return Err(DomainError::InvalidState(format!(
                        "article {article} exists already"
                    )));
                }
                Ok(vec![ArticleEvent::ArticleCreated(written(content, 1))])
            }
            ArticleAction::Update(content) => {
                if !self.exists() {
                    return Err(not_found());
                }
                let unchanged = content.title.0 == self.title
                    && content.body.0 == self.body
                    && content.category.as_ref().map(|c| &c.0) == self.category.as_ref()
                    && content.tags.0 == self.tags;
                if unchanged {
                    return Ok(vec![]);
                }
                Ok(vec![ArticleEvent::ArticleUpdated(written(
                    content,
                    self.version + 1,
                ))])
            }
            ArticleAction::Delete => {
                if !self.exists() {
                    return Err(not_found());
                }
                Ok(vec![ArticleEvent::ArticleDeleted(ArticleDeleted {
                    tenant: actor.tenant.clone(),
                    article_id: article,
                    version: self.version + 1,
                    by: actor.user.clone(),
                    by_name: actor.display_name().to_owned(),
                    at,
                })])
            }
        }
    }

    /// Evolve the state. Never fails: an event that was recorded happened.
    pub fn apply(&mut self, event: ArticleEvent) {
        match event {
            ArticleEvent::ArticleCreated(e) | ArticleEvent::ArticleUpdated(e) => {
                self.tenant = Some(e.tenant);
                self.version = e.version;
                self.title = e.title;
                self.body = e.body;
                self.category = e.category;
                self.tags = e.tags;
            }
            ArticleEvent::ArticleDeleted(e) => {
                self.version = e.version;
                self.deleted = true;
            }
        }
    }
}

// cqrs-es glue (see [`crate::cqrs`]).
crate::cqrs::pure_aggregate!(
    Article,
    "kb_article",
    ArticleCommand,
    ArticleEvent,
    SCHEMA_VERSION
);

#[cfg(test)]
mod tests;
