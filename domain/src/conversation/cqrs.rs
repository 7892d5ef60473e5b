//! cqrs-es glue (see [`crate::cqrs`]).

use super::{Conversation, ConversationCommand, ConversationEvent, SCHEMA_VERSION};

crate::cqrs::pure_aggregate!(
    Conversation,
    "conversation",
    ConversationCommand,
    ConversationEvent,
    SCHEMA_VERSION
);
