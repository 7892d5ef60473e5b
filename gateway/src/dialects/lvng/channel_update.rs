//! `channel:update {channelId, updates: {name?, description?, topic?}}` →
//! `channel:update {channelId, updates, channel, updatedBy, updatedByName,
//! timestamp}` to the channel's room (the caller included), through the
//! projection. Allowed to the channel's creator and staff. Unknown keys in
//! `updates` are ignored; at least one known key must be given.

use domain::Room;
use domain::conversation::{Action, ChannelChanges, ChannelName, ChannelText};
use serde::Deserialize;
use serde_json::json;

use super::{DIALECT, Target};
use crate::dialect::{Inbound, Request};
use crate::error::WireError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Update {
    #[serde(flatten)]
    target: Target,
    updates: Option<Updates>,
}

#[derive(Deserialize)]
struct Updates {
    name: Option<String>,
    description: Option<String>,
    topic: Option<String>,
}

/// The channel and its changes (no IO).
pub(super) fn decode(input: &Inbound) -> Result<(Room, ChannelChanges), WireError> {
    let request: Update = input.parse()?;
    let room = request.target.channel(input)?;
    let updates = request
        .updates
        .ok_or_else(|| WireError::validation("updates is required"))?;
    let changes = ChannelChanges {
        name: updates.name.map(ChannelName::parse).transpose()?,
        description: updates
            .description
            .map(|d| ChannelText::parse("description", d))
            .transpose()?,
        topic: updates
            .topic
            .map(|t| ChannelText::parse("topic", t))
            .transpose()?,
    };
    Ok((room, changes))
}

pub async fn handle(req: &Request) -> Result<(), WireError> {
    let (room, changes) = decode(&req.inbound())?;
    req.state
        .commands
        .on_conversation(
            &req.origin(DIALECT),
            "channel:update",
            &room,
            Action::UpdateChannel(changes),
            None,
        )
        .await?;
    req.answer(&json!({ "success": true, "channelId": room.id.as_str() }));
    Ok(())
}
