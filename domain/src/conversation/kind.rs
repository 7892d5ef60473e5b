//! The two kinds of conversation.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A support conversation, or a team channel. A channel is a conversation
/// of another kind (as in Slack's conversations API): the same membership,
/// messages, edits, reactions, typing and read state, but any member of the
/// tenant may join it, and it has a name and a topic that its creator or
/// staff may change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    #[default]
    Conversation,
    Channel,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Conversation => "conversation",
            Kind::Channel => "channel",
        }
    }

    /// Events leave the default kind out, so that every event recorded
    /// before channels existed reads as what it was: a conversation's.
    pub fn is_conversation(&self) -> bool {
        *self == Kind::Conversation
    }

    /// The stream prefix: each kind has its own streams, so a channel and a
    /// conversation may share an id.
    pub fn stream_prefix(self) -> &'static str {
        match self {
            Kind::Conversation => "conversation/",
            Kind::Channel => "channel/",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "conversation" => Some(Kind::Conversation),
            "channel" => Some(Kind::Channel),
            _ => None,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
