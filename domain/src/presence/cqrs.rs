//! cqrs-es glue (see [`crate::cqrs`]).

use super::{Presence, PresenceCommand, PresenceEvent, SCHEMA_VERSION};

crate::cqrs::pure_aggregate!(
    Presence,
    "presence",
    PresenceCommand,
    PresenceEvent,
    SCHEMA_VERSION
);
