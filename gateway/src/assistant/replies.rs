//! Answers being written, on this node: the text so far of each, and a feed
//! of their tokens for the dialects that stream.
//!
//! A client that connects or rejoins while an answer is being written asks
//! [`Replies::catch_up`]: it gets the text so far and a receiver for the
//! rest, taken under one lock so that no token falls between the two.
//! Tokens are not events: only the finished answer is recorded, so a node
//! that dies mid-answer loses the partial text and the question is answered
//! again by the next node that sees it unanswered.

use domain::ids::{ConversationId, MessageId, TenantId};
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::broadcast;

/// Tokens in flight per node before a slow listener lags.
const FEED_CAPACITY: usize = 4096;

/// The conversation an answer is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReplyKey {
    pub tenant: TenantId,
    pub conversation: ConversationId,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ReplyEvent {
    /// The assistant started answering; `reply_id` will be the message id.
    Started { key: ReplyKey, reply_id: MessageId },
    Token {
        key: ReplyKey,
        reply_id: MessageId,
        token: String,
    },
    /// The answer is recorded (its `MessagePosted` is in the log).
    Finished { key: ReplyKey, reply_id: MessageId },
    /// The answer was abandoned (it failed; a notice is recorded instead, or
    /// the server is stopping).
    Failed { key: ReplyKey, reply_id: MessageId },
}

impl ReplyEvent {
    pub fn key(&self) -> &ReplyKey {
        match self {
            Self::Started { key, .. }
            | Self::Token { key, .. }
            | Self::Finished { key, .. }
            | Self::Failed { key, .. } => key,
        }
    }

    pub fn reply_id(&self) -> &MessageId {
        match self {
            Self::Started { reply_id, .. }
            | Self::Token { reply_id, .. }
            | Self::Finished { reply_id, .. }
            | Self::Failed { reply_id, .. } => reply_id,
        }
    }
}

/// An answer being written.
#[derive(Debug, Clone, PartialEq)]
pub struct InProgress {
    pub reply_id: MessageId,
    pub text: String,
}

pub struct Replies {
    writing: Mutex<HashMap<ReplyKey, InProgress>>,
    feed: broadcast::Sender<ReplyEvent>,
}

impl Default for Replies {
    fn default() -> Self {
        Self {
            writing: Mutex::new(HashMap::new()),
            feed: broadcast::channel(FEED_CAPACITY).0,
        }
    }
}

impl Replies {
    /// Every reply event of this node from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<ReplyEvent> {
        self.feed.subscribe()
    }

    /// The answer being written for `key`, if any, and the events that
    /// follow it.
    pub fn catch_up(
        &self,
        key: &ReplyKey,
    ) -> (Option<InProgress>, broadcast::Receiver<ReplyEvent>) {
        let writing = self.lock();
        (writing.get(key).cloned(), self.feed.subscribe())
    }

    /// Whether an answer is being written for `key`.
    pub fn is_writing(&self, key: &ReplyKey) -> bool {
        self.lock().contains_key(key)
    }

    /// Begin an answer; `false` if one is already being written for `key`.
    pub fn start(&self, key: &ReplyKey, reply_id: &MessageId) -> bool {
        let mut writing = self.lock();
        if writing.contains_key(key) {
            return false;
        }
        writing.insert(
            key.clone(),
            InProgress {
                reply_id: reply_id.clone(),
                text: String::new(),
            },
        );
        self.send(ReplyEvent::Started {
            key: key.clone(),
            reply_id: reply_id.clone(),
        });
        true
    }

    pub fn token(&self, key: &ReplyKey, token: &str) {
        let mut writing = self.lock();
        let Some(reply) = writing.get_mut(key) else {
            return;
        };
        reply.text.push_str(token);
        let reply_id = reply.reply_id.clone();
        self.send(ReplyEvent::Token {
            key: key.clone(),
            reply_id,
            token: token.to_owned(),
        });
    }

    /// The answer is recorded.
    pub fn finish(&self, key: &ReplyKey) {
        if let Some(reply) = self.lock().remove(key) {
            self.send(ReplyEvent::Finished {
                key: key.clone(),
                reply_id: reply.reply_id,
            });
        }
    }

    /// The answer was abandoned.
    pub fn fail(&self, key: &ReplyKey) {
        if let Some(reply) = self.lock().remove(key) {
            self.send(ReplyEvent::Failed {
                key: key.clone(),
                reply_id: reply.reply_id,
            });
        }
    }

    // Sent under the lock, so that `catch_up` sees either the text with a
    // token or the token on its receiver, never neither.
    fn send(&self, event: ReplyEvent) {
        // No listener is fine: nobody streams on this node.
        let _ = self.feed.send(event);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ReplyKey, InProgress>> {
        // A panic while holding this lock cannot leave the map torn (every
        // change is one insert, push or remove), so a poisoned lock is used.
        self.writing.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ReplyKey {
        ReplyKey {
            tenant: TenantId::parse("acme").unwrap(),
            conversation: ConversationId::parse("c-1").unwrap(),
        }
    }

    #[test]
    fn a_late_listener_gets_the_text_so_far_and_then_the_rest() {
        let replies = Replies::default();
        let id = MessageId::parse("m-1").unwrap();
        assert!(replies.start(&key(), &id));
        replies.token(&key(), "Hello");
        let (so_far, mut rest) = replies.catch_up(&key());
        assert_eq!(so_far.unwrap().text, "Hello");
        replies.token(&key(), " there");
        replies.finish(&key());
        assert!(
            matches!(rest.try_recv().unwrap(), ReplyEvent::Token { token, .. } if token == " there")
        );
        assert!(matches!(
            rest.try_recv().unwrap(),
            ReplyEvent::Finished { .. }
        ));
        assert!(!replies.is_writing(&key()));
    }

    #[test]
    fn one_answer_at_a_time_per_conversation() {
        let replies = Replies::default();
        let id = MessageId::parse("m-1").unwrap();
        assert!(replies.start(&key(), &id));
        assert!(!replies.start(&key(), &MessageId::parse("m-2").unwrap()));
        replies.fail(&key());
        assert!(replies.start(&key(), &MessageId::parse("m-2").unwrap()));
    }
}
